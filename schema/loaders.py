"""Per-operation DataLoaders: one query per relation, however many rows ask."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlmodel import SQLModel, col, select

from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    InboundMessage,
    Job,
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
from models.periods import CalendarRows
from models.recipients import opted_out_numbers
from models.replies import Confirmation, about_appointments, confirmations
from models.sms import sms_count

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
LoadFn = Callable[[Sequence[Any]], Awaitable[list[Any]]]

# How many event-loop turns a wave waits for resolvers to ask for more, when the loop cannot say
# that it has nothing left to run.
SETTLE_TURNS = 32


class Waves:
    """Runs an operation's batches in waves, one wave at a time.

    Every load asked for while a wave's queries run, or as the resolvers they wake settle, goes
    into the next wave. So how many statements an operation makes follows from the shape of the
    query alone, never from which of two concurrent queries happened to finish first (with plain
    per-loader batching, loads woken by two queries land in one batch or two by timing).
    """

    def __init__(self) -> None:
        self.pending: dict[BatchLoader, dict[Any, asyncio.Future]] = {}
        self.runner: asyncio.Task | None = None

    def ask(self, loader: BatchLoader, key: Any) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.pending.setdefault(loader, {})[key] = future
        if self.runner is None:
            self.runner = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        try:
            while True:
                await settle()
                if not self.pending:
                    return
                wave, self.pending = self.pending, {}
                await asyncio.gather(*(loader.fetch(futures) for loader, futures in wave.items()))
        finally:
            self.runner = None


async def settle() -> None:
    """Let every resolver that can run without the database run first."""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return


class BatchLoader(Generic[K, V]):
    """A DataLoader whose batches run in the operation's waves; caches per operation."""

    def __init__(self, waves: Waves, load_fn: Callable[[Sequence[K]], Awaitable[list[V]]]):
        self.waves = waves
        self.load_fn = load_fn
        self.cache: dict[K, asyncio.Future] = {}
        # The values this operation holds already, primed or loaded: `known` reads them at once.
        self.values: dict[K, V] = {}

    def load(self, key: K) -> Awaitable[V]:
        future = self.cache.get(key)
        if future is None:
            future = self.cache[key] = self.waves.ask(self, key)
        return future

    def known(self, key: K) -> V | Missing:
        """The value this operation already holds for `key`, primed or loaded, else MISSING."""
        return self.values.get(key, MISSING)

    def prime(self, key: K, value: V) -> None:
        if key not in self.cache:
            self.replace(key, value)

    def replace(self, key: K, value: V) -> None:
        """The value for `key` from now on in this operation, whatever was loaded before."""
        future = asyncio.get_running_loop().create_future()
        future.set_result(value)
        self.cache[key] = future
        self.values[key] = value

    async def fetch(self, futures: dict[K, asyncio.Future]) -> None:
        try:
            values = list(await self.load_fn(list(futures)))
        except Exception as error:  # every waiting resolver sees the failure
            for future in futures.values():
                if not future.done():
                    future.set_exception(error)
            return
        for (key, future), value in zip(futures.items(), values, strict=True):
            if not future.done():
                future.set_result(value)
                self.values[key] = value


class Missing:
    """Not held by the operation yet (BatchLoader.known)."""


MISSING = Missing()
R = TypeVar("R")


def now_or_later(loader: BatchLoader[K, V], key: K, then: Callable[[V], R]) -> R | Awaitable[R]:
    """`then(value)` at once when the operation already holds the key's value, else an
    awaitable of it. A field answered at once is completed without a task or an await, which
    is most of what a large answer costs GraphQL; a calendar primes what its fields show.
    A resolver returning it keeps its GraphQL type as its annotation: GraphQL awaits what it
    gets when that is awaitable."""
    value = loader.known(key)
    if value is not MISSING:
        return then(value)
    return _later(loader, key, then)


async def _later(loader: BatchLoader[K, V], key: K, then: Callable[[V], R]) -> R:
    return then(await loader.load(key))


def shown(kind: Any) -> Callable[[Any], Any]:
    """kind.from_row(row), or None for no row: a `then` of now_or_later."""
    return lambda row: kind.from_row(row) if row is not None else None


def by_id(sessions: Sessions, model: type[SQLModel]) -> LoadFn:
    async def load(ids: Sequence[int]) -> list[Any]:
        async with sessions() as session:
            rows = (await session.exec(select(model).where(col(model.id).in_(ids)))).all()
        found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    return load


def grouped(sessions: Sessions, model: type[SQLModel], key: Any, order: Sequence[Any]) -> LoadFn:
    async def load(keys: Sequence[int]) -> list[list[Any]]:
        async with sessions() as session:
            rows = (
                await session.exec(select(model).where(col(key).in_(keys)).order_by(*order))
            ).all()
        groups: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, key.key)].append(row)
        return [groups.get(k, []) for k in keys]

    return load


def opt_outs(sessions: Sessions) -> LoadFn:
    async def load(numbers: Sequence[str]) -> list[bool]:
        async with sessions() as session:
            out = await opted_out_numbers(session, numbers)
        return [n in out for n in numbers]

    return load


def sms_counts(sessions: Sessions) -> LoadFn:
    """Messages per appointment, manual and reminders, that did not fail."""

    async def load(ids: Sequence[int]) -> list[int]:
        async with sessions() as session:
            rows = await session.exec(
                select(Appointment.id, sms_count(Appointment.id)).where(
                    col(Appointment.id).in_(ids)
                )
            )
            counts = dict(rows.all())
        return [counts.get(i, 0) for i in ids]

    return load


def messages_of_appointments(sessions: Sessions) -> LoadFn:
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

    return load


def appointment_confirmations(sessions: Sessions) -> LoadFn:
    async def load(ids: Sequence[int]) -> list[Confirmation]:
        async with sessions() as session:
            found = await confirmations(session, ids)
        return [found[i] for i in ids]

    return load


def replies_of_appointments(sessions: Sessions) -> LoadFn:
    """Each appointment's replies, newest first: those answering a message about it."""

    async def load(ids: Sequence[int]) -> list[list[InboundMessage]]:
        newest_first = (col(InboundMessage.received_at).desc(), col(InboundMessage.id).desc())
        async with sessions() as session:
            rows = await session.exec(about_appointments(ids).order_by(*newest_first))
            groups: dict[int, list[InboundMessage]] = defaultdict(list)
            for appointment_id, reply in rows.all():
                groups[appointment_id].append(reply)
        return [groups.get(i, []) for i in ids]

    return load


def company(sessions: Sessions, default_time_zone: str) -> LoadFn:
    async def load(keys: Sequence[int]) -> list[GlobalSettings]:
        async with sessions() as session:
            row = await session.get(GlobalSettings, SETTINGS_ID)
        return [row or GlobalSettings(time_zone=default_time_zone) for _ in keys]

    return load


@dataclass
class Loaders:
    sessions: Sessions
    default_time_zone: str
    waves: Waves = field(default_factory=Waves)
    _made: dict[Hashable, BatchLoader] = field(default_factory=dict)

    def _get(self, name: Hashable, make: Callable[[], LoadFn]) -> BatchLoader:
        loader = self._made.get(name)
        if loader is None:
            loader = self._made[name] = BatchLoader(self.waves, make())
        return loader

    def row(self, model: type[SQLModel]) -> BatchLoader[int, Any]:
        # Asked for on every relation a resolver reads: no closure made once the loader is.
        loader = self._made.get(model)
        if loader is None:
            loader = self._made[model] = BatchLoader(self.waves, by_id(self.sessions, model))
        return loader

    @property
    def users(self) -> BatchLoader[int, User | None]:
        return self.row(User)

    @property
    def profiles(self) -> BatchLoader[int, Profile | None]:
        return self.row(Profile)

    @property
    def clients(self) -> BatchLoader[int, Client | None]:
        return self.row(Client)

    @property
    def contacts(self) -> BatchLoader[int, Contact | None]:
        return self.row(Contact)

    @property
    def jobs(self) -> BatchLoader[int, Job | None]:
        return self.row(Job)

    @property
    def tasks(self) -> BatchLoader[int, Task | None]:
        return self.row(Task)

    @property
    def appointments(self) -> BatchLoader[int, Appointment | None]:
        return self.row(Appointment)

    @property
    def time_entries(self) -> BatchLoader[int, TimeEntry | None]:
        return self.row(TimeEntry)

    @property
    def templates(self) -> BatchLoader[int, SmsTemplate | None]:
        return self.row(SmsTemplate)

    @property
    def reminder_events(self) -> BatchLoader[int, ReminderEvent | None]:
        return self.row(ReminderEvent)

    @property
    def messages(self) -> BatchLoader[int, SmsMessage | None]:
        return self.row(SmsMessage)

    @property
    def contacts_of_client(self) -> BatchLoader[int, list[Contact]]:
        return self._get(
            "contacts_of_client",
            lambda: grouped(self.sessions, Contact, Contact.client_id, (Contact.name, Contact.id)),
        )

    @property
    def tasks_of_job(self) -> BatchLoader[int, list[Task]]:
        return self._get(
            "tasks_of_job", lambda: grouped(self.sessions, Task, Task.job_id, (Task.id,))
        )

    @property
    def opted_out(self) -> BatchLoader[str, bool]:
        return self._get("opted_out", lambda: opt_outs(self.sessions))

    @property
    def sms_counts(self) -> BatchLoader[int, int]:
        return self._get("sms_counts", lambda: sms_counts(self.sessions))

    @property
    def appointment_messages(self) -> BatchLoader[int, list[SmsMessage]]:
        return self._get("appointment_messages", lambda: messages_of_appointments(self.sessions))

    @property
    def appointment_replies(self) -> BatchLoader[int, list[InboundMessage]]:
        return self._get("appointment_replies", lambda: replies_of_appointments(self.sessions))

    @property
    def confirmations(self) -> BatchLoader[int, Confirmation]:
        return self._get("confirmations", lambda: appointment_confirmations(self.sessions))

    def _company(self) -> BatchLoader[int, GlobalSettings]:
        return self._get("company", lambda: company(self.sessions, self.default_time_zone))

    async def company(self) -> GlobalSettings:
        return await self._company().load(SETTINGS_ID)

    def prime_company(self, row: GlobalSettings) -> None:
        """The settings as read with the request's token, or as a mutation of this request has
        just saved them: what the rest of the request goes by."""
        self._company().replace(SETTINGS_ID, row)

    def prime(self, model: type[SQLModel], rows: Sequence[Any]) -> None:
        loader = self.row(model)
        for row in rows:
            loader.prime(row.id, row)

    def prime_calendar(self, found: CalendarRows) -> None:
        """Everything a calendar's fields show, as read with its appointments: those fields
        answer at once (now_or_later); any other field loads what it needs as usual."""
        for model, rows in (
            (Appointment, found.appointments),
            (Job, found.jobs),
            (Client, found.clients),
            (Task, found.tasks),
            (Contact, found.contacts),
        ):
            self.prime(model, rows)
        for appointment_id, count in found.sms_counts.items():
            self.sms_counts.prime(appointment_id, count)
        for number, out in found.opted_out.items():
            self.opted_out.prime(number, out)
