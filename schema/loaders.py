"""Per-operation DataLoaders: one query per relation, however many rows ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from strawberry.dataloader import DataLoader

from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    OptOut,
    Profile,
    ReminderEvent,
    SmsMessage,
    SmsMessageAppointment,
    SmsTemplate,
    Task,
    TimeEntry,
    User,
)
from models.company import SETTINGS_ID
from models.db import Sessions
from models.enums import SmsStatus


def by_id(sessions: Sessions, model: type[SQLModel]) -> DataLoader[int, Any]:
    async def load(ids: Sequence[int]) -> list[Any]:
        async with sessions() as session:
            rows = (await session.exec(select(model).where(col(model.id).in_(ids)))).all()
        found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def grouped(
    sessions: Sessions, model: type[SQLModel], key: Any, order: Sequence[Any]
) -> DataLoader[int, list[Any]]:
    async def load(keys: Sequence[int]) -> list[list[Any]]:
        async with sessions() as session:
            rows = (
                await session.exec(select(model).where(col(key).in_(keys)).order_by(*order))
            ).all()
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, key.key)].append(row)
        return [groups.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


def opt_outs(sessions: Sessions) -> DataLoader[str, bool]:
    async def load(numbers: Sequence[str]) -> list[bool]:
        async with sessions() as session:
            rows = await session.exec(
                select(OptOut.number).where(
                    col(OptOut.number).in_(numbers), OptOut.opted_out == True  # noqa: E712
                )
            )
            out = set(rows.all())
        return [n in out for n in numbers]

    return DataLoader(load_fn=load)


def sms_counts(sessions: Sessions) -> DataLoader[int, int]:
    """Messages per appointment, manual and reminders, that did not fail."""

    async def load(ids: Sequence[int]) -> list[int]:
        link = SmsMessageAppointment
        async with sessions() as session:
            rows = await session.exec(
                select(link.appointment_id, func.count())
                .join(SmsMessage, col(SmsMessage.id) == link.message_id)
                .where(col(link.appointment_id).in_(ids), SmsMessage.status != SmsStatus.FAILED)
                .group_by(link.appointment_id)
            )
            counts = dict(rows.all())
        return [counts.get(i, 0) for i in ids]

    return DataLoader(load_fn=load)


def messages_of_appointments(sessions: Sessions) -> DataLoader[int, list[SmsMessage]]:
    """Each appointment's message history, newest first."""

    async def load(ids: Sequence[int]) -> list[list[SmsMessage]]:
        link = SmsMessageAppointment
        async with sessions() as session:
            rows = await session.exec(
                select(link.appointment_id, SmsMessage)
                .join(SmsMessage, col(SmsMessage.id) == link.message_id)
                .where(col(link.appointment_id).in_(ids))
                .order_by(col(SmsMessage.created_at).desc(), col(SmsMessage.id).desc())
            )
            groups: dict[int, list[SmsMessage]] = defaultdict(list)
            for appointment_id, message in rows.all():
                groups[appointment_id].append(message)
        return [groups.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def company(sessions: Sessions, default_time_zone: str) -> DataLoader[int, GlobalSettings]:
    async def load(keys: Sequence[int]) -> list[GlobalSettings]:
        async with sessions() as session:
            row = await session.get(GlobalSettings, SETTINGS_ID)
        return [row or GlobalSettings(time_zone=default_time_zone) for _ in keys]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    sessions: Sessions
    default_time_zone: str
    _made: dict[Hashable, DataLoader] = field(default_factory=dict)

    def _get(self, name: Hashable, make: Callable[[], DataLoader]) -> DataLoader:
        loader = self._made.get(name)
        if loader is None:
            loader = self._made[name] = make()
        return loader

    def row(self, model: type[SQLModel]) -> DataLoader[int, Any]:
        return self._get(model, lambda: by_id(self.sessions, model))

    @property
    def users(self) -> DataLoader[int, User | None]:
        return self.row(User)

    @property
    def profiles(self) -> DataLoader[int, Profile | None]:
        return self.row(Profile)

    @property
    def clients(self) -> DataLoader[int, Client | None]:
        return self.row(Client)

    @property
    def contacts(self) -> DataLoader[int, Contact | None]:
        return self.row(Contact)

    @property
    def jobs(self) -> DataLoader[int, Job | None]:
        return self.row(Job)

    @property
    def tasks(self) -> DataLoader[int, Task | None]:
        return self.row(Task)

    @property
    def appointments(self) -> DataLoader[int, Appointment | None]:
        return self.row(Appointment)

    @property
    def time_entries(self) -> DataLoader[int, TimeEntry | None]:
        return self.row(TimeEntry)

    @property
    def templates(self) -> DataLoader[int, SmsTemplate | None]:
        return self.row(SmsTemplate)

    @property
    def reminder_events(self) -> DataLoader[int, ReminderEvent | None]:
        return self.row(ReminderEvent)

    @property
    def contacts_of_client(self) -> DataLoader[int, list[Contact]]:
        return self._get("contacts_of_client", lambda: grouped(
            self.sessions, Contact, Contact.client_id, (Contact.name, Contact.id)))

    @property
    def opted_out(self) -> DataLoader[str, bool]:
        return self._get("opted_out", lambda: opt_outs(self.sessions))

    @property
    def sms_counts(self) -> DataLoader[int, int]:
        return self._get("sms_counts", lambda: sms_counts(self.sessions))

    @property
    def appointment_messages(self) -> DataLoader[int, list[SmsMessage]]:
        return self._get("appointment_messages", lambda: messages_of_appointments(self.sessions))

    async def company(self) -> GlobalSettings:
        loader = self._get("company", lambda: company(self.sessions, self.default_time_zone))
        return await loader.load(SETTINGS_ID)

    def prime(self, model: type[SQLModel], rows: Sequence[Any]) -> None:
        loader = self.row(model)
        for row in rows:
            loader.prime(row.id, row)
