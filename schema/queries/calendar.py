"""Calendars, appointment details and time entries."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlmodel import col, select

from models import Appointment as AppointmentRow
from models import Profile, User
from models.errors import DomainError, ErrorCode
from schema.appointments import Appointment, TimeEntry
from schema.context import Info
from schema.ids import optional_row_id, row_id
from schema.permissions import IsAuthenticated, coded_errors, denied


def require_calendar_of(user: User, profile: Profile, owner_id: int) -> None:
    """Another user's calendar needs a reason: being a Global Administrator."""
    if owner_id != user.id and not profile.global_administrator:
        raise denied("Only a Global Administrator can see other users' appointments.")


@strawberry.type
class CalendarQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def appointment(self, info: Info, id: strawberry.ID) -> Appointment | None:
        user, profile = info.context.require_user()
        row = await info.context.loaders.appointments.load(row_id(id, "id"))
        if row is None:
            return None
        require_calendar_of(user, profile, row.user_id)
        return Appointment.from_row(row)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Appointments overlapping [start, end), of one user (default: "
        "me), ordered by start.",
    )
    @coded_errors
    async def calendar(
        self, info: Info, start: datetime, end: datetime, user_id: strawberry.ID | None = None
    ) -> list[Appointment]:
        user, profile = info.context.require_user()
        owner_id = optional_row_id(user_id, "userId") or user.id
        require_calendar_of(user, profile, owner_id)
        if start.tzinfo is None or end.tzinfo is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "start and end need a UTC offset.", field="start"
            )
        if end <= start:
            raise DomainError(ErrorCode.INVALID_INPUT, "end must be after start.", field="end")
        async with info.context.sessions() as session:
            rows = (
                await session.exec(
                    select(AppointmentRow)
                    .where(
                        AppointmentRow.user_id == owner_id,
                        col(AppointmentRow.start) < end,
                        col(AppointmentRow.end) > start,
                    )
                    .order_by(AppointmentRow.start, AppointmentRow.id)
                )
            ).all()
        info.context.loaders.prime(AppointmentRow, rows)
        return [Appointment.from_row(r) for r in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def time_entry(self, info: Info, id: strawberry.ID) -> TimeEntry | None:
        user, profile = info.context.require_user()
        row = await info.context.loaders.time_entries.load(row_id(id, "id"))
        if row is None:
            return None
        require_calendar_of(user, profile, row.user_id)
        return TimeEntry.from_row(row)
