"""Calendars, appointment details and time entries: every user's, for every signed-in user."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.periods import MAX_PERIOD, MAX_PERIOD_ROWS, calendar_rows
from schema.appointments import Appointment, TimeEntry
from schema.context import Info
from schema.ids import optional_row_id, row_id
from schema.permissions import IsAuthenticated, coded_errors


@strawberry.type
class CalendarQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def appointment(self, info: Info, id: strawberry.ID) -> Appointment | None:
        row = await info.context.loaders.appointments.load(row_id(id, "id"))
        return Appointment.from_row(row) if row else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Appointments overlapping [start, end), of one user (default: "
        "me), ordered by start. A period is at most "
        f"{MAX_PERIOD.days} days and {MAX_PERIOD_ROWS} appointments (INVALID_INPUT on end "
        "beyond either).",
    )
    @coded_errors
    async def calendar(
        self, info: Info, start: datetime, end: datetime, user_id: strawberry.ID | None = None
    ) -> list[Appointment]:
        user, _ = info.context.require_user()
        owner_id = optional_row_id(user_id, "userId") or user.id
        async with info.context.sessions() as session:
            found = await calendar_rows(session, owner_id, start, end)
        info.context.loaders.prime_calendar(found)
        return [Appointment.from_row(r) for r in found.appointments]

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def time_entry(self, info: Info, id: strawberry.ID) -> TimeEntry | None:
        row = await info.context.loaders.time_entries.load(row_id(id, "id"))
        return TimeEntry.from_row(row) if row else None
