"""The periods screens ask for: [start, end), each end with a UTC offset, at most six weeks,
and how many rows one period may hold."""

from __future__ import annotations

import functools
from collections import namedtuple
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
    (calendar_rows) whatever their number. The rows are plain tuples (Plain), not ORM entities:
    they are read to be shown, and an entity costs several times a tuple to make."""

    appointments: list[Any]
    jobs: list[Any]
    clients: list[Any]
    tasks: list[Any]
    contacts: list[Any]
    # Messages per appointment that did not fail (models.sms.sms_count).
    sms_counts: dict[int, int]
    # Whether each number shown (every recipient's, every client's own) has opted out.
    opted_out: dict[str, bool]


SHOWN = (Appointment, Job, Client, Task, Contact)


@functools.cache
def plain(model: type) -> type:
    """A named tuple with the model's columns as its fields: the model's row, read only."""
    return namedtuple(f"Plain{model.__name__}", [c.key for c in model.__table__.c])  # noqa: PYI024


async def calendar_rows(
    session: AsyncSession, user_id: int, start: datetime, end: datetime
) -> CalendarRows:
    """in_period's appointments, each with its job, client, task, contact and SMS count in
    the same statement, then the opt-outs of the numbers they show in one more."""
    check_period(start, end)
    a, j, c, t, k = (model.__table__ for model in SHOWN)
    rows = (
        await session.execute(
            select(*a.c, *j.c, *c.c, *t.c, *k.c, sms_count(a.c.id))
            .select_from(
                a.join(j, j.c.id == a.c.job_id)
                .join(c, c.c.id == j.c.client_id)
                .outerjoin(t, t.c.id == a.c.task_id)
                .outerjoin(k, k.c.id == a.c.contact_id)
            )
            .where(a.c.user_id == user_id, a.c.start < end, a.c.end > start)
            .order_by(a.c.start, a.c.id)
            .limit(MAX_PERIOD_ROWS + 1)
        )
    ).all()
    refuse_past_the_limit(len(rows), Appointment)
    # Each row, split into its tables' plain rows (None for no task or contact).
    split = []
    for row in rows:
        parts, at = [], 0
        for model in SHOWN:
            width = len(model.__table__.c)
            part = row[at : at + width]
            parts.append(plain(model)._make(part) if part[0] is not None else None)
            at += width
        split.append((*parts, row[at]))
    numbers: set[str] = set()
    for _, _, client, _, contact, _ in split:
        numbers.update(n for n in (client.sms_number, client_sms_number(client)) if n)
        if contact is not None and contact.sms_number:
            numbers.add(contact.sms_number)
    out = await opted_out_numbers(session, numbers)
    return CalendarRows(
        appointments=[row[0] for row in split],
        jobs=unique(row[1] for row in split),
        clients=unique(row[2] for row in split),
        tasks=unique(row[3] for row in split if row[3] is not None),
        contacts=unique(row[4] for row in split if row[4] is not None),
        sms_counts={row[0].id: row[5] for row in split},
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
