"""Reminder runs: which events are due, which appointments they cover, one message per job."""

from __future__ import annotations

import asyncio
import logging
import time as clock
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import and_, or_, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.channels import enqueue_send_batch
from models.clients import Client, Contact
from models.columns import utcnow
from models.company import SETTINGS_ID, GlobalSettings, User
from models.enums import RecipientKind, SmsSource, SmsStatus
from models.errors import DomainError
from models.metrics import REMINDER_RUN_SECONDS
from models.recipients import Recipient, client_number, eligibility, opted_out_numbers
from models.segments import check_message, smart_encode
from models.sms import ReminderEvent, SmsMessage, SmsMessageAppointment, SmsTemplate
from models.status_feed import MessageFacts, announce, message_facts
from models.status_reports import created_in_bulk, on_commit
from models.templates import TemplateValues, render
from models.work import Appointment, Job, Task

log = logging.getLogger("timetrak_sms.reminders")

BATCH = 2000
# Tokens can render a text longer than the body column; a refused one is kept cut to fit.
BODY_LIMIT = SmsMessage.__table__.c.body.type.length


@dataclass
class RunResult:
    queued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # What each failed message is about, for announcing it (models.status_feed).
    failed_facts: dict[int, MessageFacts] = field(default_factory=dict)
    ran: bool = True

    @property
    def written(self) -> int:
        """Messages the run wrote, FAILED ones included: every job it reached on its day."""
        return len(self.queued) + len(self.failed)


def local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


def is_due(event: ReminderEvent, now: datetime, time_zone: str) -> bool:
    """Enabled, its local run time has passed today, and it has not run today.

    A worker that was down at run time catches up the same local day; earlier days are
    not replayed because only today is ever claimed.
    """
    local = now.astimezone(ZoneInfo(time_zone))
    already = event.last_run_on is not None and event.last_run_on >= local.date()
    return event.enabled and not already and local.time() >= event.run_at


def day_window(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC instants bounding a local calendar day (23 or 25 hours long on DST days)."""
    zone = ZoneInfo(time_zone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def target_window(event: ReminderEvent, now: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The appointments' start range: today + interval, and only the future when that is today."""
    start, end = day_window(
        local_today(now, time_zone) + timedelta(days=event.interval_days), time_zone
    )
    return (max(start, now) if event.interval_days == 0 else start), end


async def claim_run(session: AsyncSession, event_id: int, today: date) -> bool:
    """Move last_run_on to today in one conditional update; False when it already ran today."""
    result = await session.execute(
        update(ReminderEvent)
        .where(
            col(ReminderEvent.id) == event_id,
            ReminderEvent.enabled == true(),
            or_(col(ReminderEvent.last_run_on).is_(None), col(ReminderEvent.last_run_on) < today),
        )
        .values(last_run_on=today)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class Due:
    """One due appointment with what its reminder needs, read in a single joined query."""

    appointment_id: int
    job_id: int
    start: datetime
    contact_id: int | None
    client_id: int
    client_name: str
    client_sms: str | None
    client_code: str | None
    client_mobile: str | None
    contact_name: str | None
    contact_sms: str | None
    contact_active: bool | None
    job_title: str
    task_name: str | None
    user_name: str

    def recipient(self, opted_out: set[str]) -> Recipient:
        if self.contact_id is None:
            kind, rid, name = RecipientKind.CLIENT, self.client_id, self.client_name
            number = client_number(self.client_sms, self.client_code, self.client_mobile)
        else:
            kind, rid, name, number = (
                RecipientKind.CONTACT,
                self.contact_id,
                self.contact_name,
                self.contact_sms,
            )
        out = number in opted_out
        active = self.contact_active is not False
        return Recipient(
            kind, rid, self.client_id, name, number, out, eligibility(number, out, active), active
        )


async def due_appointments(session: AsyncSession, start: datetime, end: datetime) -> list[Due]:
    rows = await session.execute(
        select(
            Appointment.id,
            Appointment.job_id,
            Appointment.start,
            Appointment.contact_id,
            Client.id,
            Client.name,
            Client.sms_number,
            Client.mobile_country_code,
            Client.mobile_number,
            Contact.name,
            Contact.sms_number,
            Contact.active,
            Job.title,
            Task.name,
            User.name,
        )
        .join(Job, col(Job.id) == Appointment.job_id)
        .join(Client, col(Client.id) == Job.client_id)
        .join(User, col(User.id) == Appointment.user_id)
        .outerjoin(Contact, col(Contact.id) == Appointment.contact_id)
        .outerjoin(Task, col(Task.id) == Appointment.task_id)
        .where(
            Appointment.sms_reminder == true(),
            col(Appointment.start) >= start,
            col(Appointment.start) < end,
        )
        .order_by(Appointment.job_id, Appointment.start, Appointment.id)
    )
    return [Due(*row) for row in rows.all()]


def reminder_row(
    group: Sequence[Due],
    event: ReminderEvent,
    template: SmsTemplate,
    company: GlobalSettings,
    today: date,
    opted_out: set[str],
    now: datetime,
) -> dict:
    """The message for one job's day: to the earliest appointment's contact, or FAILED with why."""
    first = group[0]
    recipient = first.recipient(opted_out)
    row = dict(
        to_number=recipient.sms_number or "",
        body=template.body,
        status=SmsStatus.QUEUED,
        error_code=None,
        error_message=None,
        source=SmsSource.REMINDER,
        recipient_kind=recipient.kind,
        recipient_id=recipient.id,
        client_id=first.client_id,
        appointment_id=first.appointment_id,
        job_id=first.job_id,
        reminder_event_id=event.id,
        run_date=today,
        segments=1,
        encoding="GSM-7",
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    values = TemplateValues(
        client_name=first.client_name,
        contact_name=recipient.name,
        appointment_start=first.start,
        job_title=first.job_title,
        task_name=first.task_name or "",
        user_name=first.user_name,
        company_name=company.company_name,
        time_zone=company.time_zone,
    )
    problem: DomainError | None = None
    try:
        sent = smart_encode(render(template.body, values), company.plain_vowels_for_macrons)
        # Even a text refused as too long is stored as it would have been sent.
        size = sent.size
        row.update(body=sent.text[:BODY_LIMIT], segments=size.segments, encoding=size.encoding)
        check_message(sent.text, size=sent.size)
    except DomainError as error:
        problem = error
    try:
        recipient.require_sms()
    except DomainError as error:
        # Who cannot receive comes first, as for a manual send; code and message stay a pair.
        problem = error
    if problem is not None:
        row.update(
            status=SmsStatus.FAILED, error_code=problem.code.value, error_message=problem.message
        )
    return row


async def insert_new(session: AsyncSession, table: sa.Table, rows: list[dict], returning=()):
    """INSERT of `rows` that skips those a unique key already holds: the database keeps "once".

    On PostgreSQL the rows go as one array per column, unnested by the server: one statement
    whatever their number, and no per-value parameter for the driver to process.
    """
    names = list(rows[0])
    if session.bind.dialect.name == "postgresql":
        columns = [
            sa.bindparam(name, [row[name] for row in rows], type_=ARRAY(table.c[name].type))
            for name in names
        ]
        unnested = sa.select(*(sa.func.unnest(column) for column in columns))
        stmt = postgresql.insert(table).from_select(names, unnested).on_conflict_do_nothing()
        return await session.execute(stmt.returning(*returning) if returning else stmt)
    stmt = sqlite.insert(table).on_conflict_do_nothing()
    return await session.execute(stmt.returning(*returning) if returning else stmt, rows)


async def run_event(
    session: AsyncSession,
    event_id: int,
    now: datetime | None = None,
    claim: bool = True,
) -> RunResult:
    """Run one reminder event for today inside the caller's transaction.

    The claim and every insert commit together: a run that dies half way leaves the day
    unclaimed and nothing written, and runs again.
    """
    started = clock.monotonic()
    now = now or utcnow()
    company = await session.get(GlobalSettings, SETTINGS_ID)
    if company is None or not (company.sms_enabled and company.sms_reminders_enabled):
        return RunResult(ran=False)
    event = await session.get(ReminderEvent, event_id)
    if event is None or not event.enabled:
        return RunResult(ran=False)
    today = local_today(now, company.time_zone)
    if claim and not await claim_run(session, event.id, today):
        return RunResult(ran=False)
    template = await session.get(SmsTemplate, event.template_id)
    start, end = target_window(event, now, company.time_zone)
    due = await due_appointments(session, start, end)
    groups = [list(g) for _, g in groupby(due, key=lambda d: d.job_id)]
    first_numbers = [
        g[0].contact_sms
        if g[0].contact_id
        else client_number(g[0].client_sms, g[0].client_code, g[0].client_mobile)
        for g in groups
    ]
    opted_out = await opted_out_numbers(session, first_numbers)
    result = RunResult()
    failed_codes: Counter[str] = Counter()
    messages = SmsMessage.__table__
    for i in range(0, len(groups), BATCH):
        batch = groups[i : i + BATCH]
        rows = [reminder_row(g, event, template, company, today, opted_out, now) for g in batch]
        codes = {row["job_id"]: row["error_code"] for row in rows}
        inserted = await insert_new(
            session, messages, rows, (messages.c.id, messages.c.job_id, messages.c.status)
        )
        ids = {job_id: (message_id, status) for message_id, job_id, status in inserted.all()}
        links = [
            {"message_id": ids[g[0].job_id][0], "appointment_id": d.appointment_id}
            for g in batch
            if g[0].job_id in ids
            for d in g
        ]
        if links:
            await insert_new(session, SmsMessageAppointment.__table__, links)
        for job_id, (message_id, status) in ids.items():
            (result.failed if status is SmsStatus.FAILED else result.queued).append(message_id)
            if status is SmsStatus.FAILED:
                failed_codes[codes[job_id]] += 1
    result.failed_facts = await message_facts(session, result.failed)
    report_run(session, event.id, today, result, failed_codes, clock.monotonic() - started)
    return result


def report_run(
    session: AsyncSession,
    event_id: int,
    day: date,
    result: RunResult,
    failed_codes: Counter[str],
    seconds: float,
) -> None:
    """The run's counts, logged and measured once it commits."""
    created_in_bulk(
        session,
        Counter(
            {
                (SmsStatus.QUEUED, SmsSource.REMINDER): len(result.queued),
                (SmsStatus.FAILED, SmsSource.REMINDER): len(result.failed),
            }
        ),
    )

    def report() -> None:
        REMINDER_RUN_SECONDS.observe(seconds)
        why = ", ".join(f"{code} {n}" for code, n in sorted(failed_codes.items()))
        log.info(
            "reminder event %d ran for %s: %d queued, %d failed%s in %.2f s",
            event_id,
            day.isoformat(),
            len(result.queued),
            len(result.failed),
            f" ({why})" if why else "",
            seconds,
            extra={
                "reminder_event_id": event_id,
                "run_date": day.isoformat(),
                "queued": len(result.queued),
                "failed": len(result.failed),
                "seconds": round(seconds, 3),
            },
        )

    on_commit(session, report)


async def due_events(session: AsyncSession, now: datetime) -> list[int]:
    company = await session.get(GlobalSettings, SETTINGS_ID)
    if company is None or not (company.sms_enabled and company.sms_reminders_enabled):
        return []
    events = (
        await session.exec(
            select(ReminderEvent).where(
                ReminderEvent.enabled == true(),
                or_(
                    col(ReminderEvent.last_run_on).is_(None),
                    and_(col(ReminderEvent.last_run_on) < local_today(now, company.time_zone)),
                ),
            )
        )
    ).all()
    return [e.id for e in events if is_due(e, now, company.time_zone)]


SEND_BATCH = 50


async def hand_over(redis, result: RunResult) -> None:
    """Enqueue the run's sends, a batch of messages per job, and announce its failures."""
    batches = [result.queued[i : i + SEND_BATCH] for i in range(0, len(result.queued), SEND_BATCH)]
    for i in range(0, len(batches), 100):
        await asyncio.gather(*(enqueue_send_batch(redis, b) for b in batches[i : i + 100]))
    for message_id in result.failed:
        await announce(redis, message_id, SmsStatus.FAILED, result.failed_facts.get(message_id))
