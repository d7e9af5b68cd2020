"""The periods screens ask for: [start, end), each end with a UTC offset, at most six weeks,
and how many rows one period may hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.clients import Client, Contact
from models.errors import DomainError, ErrorCode
from models.recipients import client_sms_number, opted_out_numbers
from models.sms import sms_count
from models.work import Appointment, Job, Task, TimeEntry

MAX_PERIOD = timedelta(days=42)
# More appointments (or time entries) than this in one period is not a calendar a person
# reads; it is refused rather than cut short, so no screen silently misses rows.
MAX_PERIOD_ROWS = 2000


def check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "start and end need a UTC offset.", field="start"
        )
    if end <= start:
        raise DomainError(ErrorCode.INVALID_INPUT, "end must be after start.", field="end")
    if end - start > MAX_PERIOD:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A period is at most {MAX_PERIOD.days} days; ask for a shorter one.",
            field="end",
        )


@dataclass
class CalendarRows:
    """A period's appointments with what the calendar shows of each, read in two statements
    (calendar_rows) whatever their number."""

    appointments: list[Appointment]
    jobs: list[Job]
    clients: list[Client]
    tasks: list[Task]
    contacts: list[Contact]
    # Messages per appointment that did not fail (models.recipients' count, as a column).
    sms_counts: dict[int, int]
    # Whether each number shown (every recipient's, every client's own) has opted out.
    opted_out: dict[str, bool]


async def calendar_rows(
    session: AsyncSession, user_id: int, start: datetime, end: datetime
) -> CalendarRows:
    """in_period's appointments, each with its job, client, task, contact and SMS count in
    the same statement, then the opt-outs of the numbers they show in one more."""
    check_period(start, end)
    counted = sms_count(Appointment.id).label("sms_count")
    rows = (
        await session.exec(
            select(Appointment, Job, Client, Task, Contact, counted)
            .join(Job, col(Job.id) == Appointment.job_id)
            .join(Client, col(Client.id) == Job.client_id)
            .outerjoin(Task, col(Task.id) == Appointment.task_id)
            .outerjoin(Contact, col(Contact.id) == Appointment.contact_id)
            .where(
                Appointment.user_id == user_id,
                col(Appointment.start) < end,
                col(Appointment.end) > start,
            )
            .order_by(Appointment.start, Appointment.id)
            .limit(MAX_PERIOD_ROWS + 1)
        )
    ).all()
    refuse_past_the_limit(len(rows), Appointment)
    numbers: set[str] = set()
    for _, _, client, _, contact, _ in rows:
        numbers.update(n for n in (client.sms_number, client_sms_number(client)) if n)
        if contact is not None and contact.sms_number:
            numbers.add(contact.sms_number)
    out = await opted_out_numbers(session, numbers)
    return CalendarRows(
        appointments=[row[0] for row in rows],
        jobs=unique(row[1] for row in rows),
        clients=unique(row[2] for row in rows),
        tasks=unique(row[3] for row in rows if row[3] is not None),
        contacts=unique(row[4] for row in rows if row[4] is not None),
        sms_counts={row[0].id: row[5] for row in rows},
        opted_out={number: number in out for number in numbers},
    )


def unique(rows: Iterable[Any]) -> list[Any]:
    return list({row.id: row for row in rows}.values())


async def in_period(
    session: AsyncSession, model: type[Appointment | TimeEntry], user_id: int, start, end
) -> list:
    """One user's appointments or time entries overlapping [start, end), ordered by start;
    a period too long, or holding more than MAX_PERIOD_ROWS, is refused, never cut short."""
    check_period(start, end)
    rows = (
        await session.exec(
            select(model)
            .where(model.user_id == user_id, col(model.start) < end, col(model.end) > start)
            .order_by(model.start, model.id)
            .limit(MAX_PERIOD_ROWS + 1)
        )
    ).all()
    refuse_past_the_limit(len(rows), model)
    return list(rows)


def refuse_past_the_limit(found: int, model: type[Appointment | TimeEntry]) -> None:
    if found > MAX_PERIOD_ROWS:
        what = "appointments" if model is Appointment else "time entries"
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"There are more than {MAX_PERIOD_ROWS} {what} in that period; ask for a shorter one.",
            field="end",
        )
