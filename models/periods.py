"""The periods screens ask for: [start, end), each end with a UTC offset, at most six weeks,
and how many rows one period may hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.errors import DomainError, ErrorCode
from models.work import Appointment, TimeEntry

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
    if len(rows) > MAX_PERIOD_ROWS:
        what = "appointments" if model is Appointment else "time entries"
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"There are more than {MAX_PERIOD_ROWS} {what} in that period; ask for a shorter one.",
            field="end",
        )
    return list(rows)
