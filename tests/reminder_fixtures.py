"""A small company built row by row, for reminder tests that need exact days, zones and contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

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
    User,
)
from models.company import SETTINGS_ID
from models.db import Sessions
from models.enums import OptOutMethod, SmsTemplateKind

REMINDER_BODY = "Hi {contact_name}, {user_name} visits on {appointment_date} at {appointment_time}."
GOOD_NUMBER = "+64211234567"


@dataclass
class Shop:
    """One company in one time zone: two users, a client with a mobile, a reminder template."""

    sessions: Sessions
    time_zone: str
    users: list[int]
    client_id: int
    template_id: int

    def at(self, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
        """The UTC instant of a local wall-clock time in the shop's zone."""
        zone = ZoneInfo(self.time_zone)
        local = datetime.combine(day, time(hour, minute, fold=fold), tzinfo=zone)
        return local.astimezone(UTC)

    async def contact(self, name: str = "Mere", sms_number: str | None = GOOD_NUMBER,
                      opted_out: bool = False) -> int:
        async with self.sessions.begin() as session:
            row = Contact(client_id=self.client_id, name=name, sms_number=sms_number,
                          mobile=sms_number)
            session.add(row)
            if opted_out:
                session.add(OptOut(number=sms_number, method=OptOutMethod.KEYWORD))
        return row.id

    async def job(self, title: str = "Hot water cylinder") -> int:
        async with self.sessions.begin() as session:
            row = Job(client_id=self.client_id, title=title)
            session.add(row)
        return row.id

    async def appointment(self, job_id: int, start: datetime, contact_id: int | None,
                          user: int = 0, sms_reminder: bool = True) -> int:
        async with self.sessions.begin() as session:
            row = Appointment(user_id=self.users[user], job_id=job_id, start=start,
                              end=start + timedelta(hours=1), contact_id=contact_id,
                              sms_reminder=sms_reminder)
            session.add(row)
        return row.id

    async def visit(self, start: datetime, name: str = "Mere",
                    sms_number: str | None = GOOD_NUMBER) -> int:
        """An appointment on a job of its own, for its own contact."""
        job_id = await self.job(f"Job for {name}")
        return await self.appointment(job_id, start, await self.contact(name, sms_number))

    async def event(self, interval_days: int = 1, run_at: time = time(17, 0),
                    last_run_on: date | None = None, template_id: int | None = None,
                    enabled: bool = True) -> int:
        async with self.sessions.begin() as session:
            row = ReminderEvent(description=f"{interval_days} days ahead",
                                interval_days=interval_days,
                                template_id=template_id or self.template_id, run_at=run_at,
                                last_run_on=last_run_on, enabled=enabled)
            session.add(row)
        return row.id

    async def template(self, body: str) -> int:
        async with self.sessions.begin() as session:
            row = SmsTemplate(name="Another", kind=SmsTemplateKind.REMINDER_EVENT, body=body)
            session.add(row)
        return row.id

    async def settings(self, **values) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(GlobalSettings, SETTINGS_ID)
            for name, value in values.items():
                setattr(row, name, value)

    async def last_run_on(self, event_id: int) -> date | None:
        async with self.sessions() as session:
            return (await session.get(ReminderEvent, event_id)).last_run_on

    async def messages(self) -> list[SmsMessage]:
        async with self.sessions() as session:
            return list((await session.exec(select(SmsMessage).order_by(SmsMessage.id))).all())

    async def covered(self, message_id: int) -> set[int]:
        """The appointments a message is linked to."""
        async with self.sessions() as session:
            rows = await session.exec(select(SmsMessageAppointment.appointment_id).where(
                SmsMessageAppointment.message_id == message_id))
            return set(rows.all())

    async def reminded(self) -> set[int]:
        """Every appointment any message is linked to."""
        async with self.sessions() as session:
            rows = await session.exec(select(SmsMessageAppointment.appointment_id))
            return set(rows.all())

    async def messages_about(self, appointment_id: int) -> list[SmsMessage]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(SmsMessage).join(SmsMessageAppointment,
                                        col(SmsMessageAppointment.message_id) == SmsMessage.id)
                .where(SmsMessageAppointment.appointment_id == appointment_id))
            return list(rows.all())


async def open_shop(sessions: Sessions, time_zone: str = "Pacific/Auckland",
                    body: str = REMINDER_BODY) -> Shop:
    async with sessions.begin() as session:
        session.add(GlobalSettings(id=SETTINGS_ID, company_name="Tui Plumbing", sms_enabled=True,
                                   sms_reminders_enabled=True, time_zone=time_zone))
        profile = Profile(name="Technician", send_sms_to_client=True)
        session.add(profile)
        await session.flush()
        users = [User(email=f"{name.lower()}@tui.example", name=name, password_hash="-",
                      profile_id=profile.id) for name in ("Aroha", "Ben")]
        client = Client(name="Harbour Flats", mobile_country_code="+64",
                        mobile_number="021 765 4321", sms_number="+64217654321",
                        sms_reminders=True)
        template = SmsTemplate(name="Reminder", kind=SmsTemplateKind.REMINDER_EVENT, body=body)
        session.add_all([*users, client, template])
        await session.flush()
    return Shop(sessions, time_zone, [u.id for u in users], client.id, template.id)
