"""Jobs, their tasks and time entries: the work an SMS form starts from, open to every user."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import or_
from sqlmodel import col, select

from models import Client as ClientRow
from models import Job as JobRow
from models import TimeEntry as TimeEntryRow
from models.periods import MAX_PERIOD, MAX_PERIOD_ROWS, in_period
from models.search import holds, like
from schema.appointments import Job, TimeEntry
from schema.context import Info
from schema.ids import optional_row_id, row_id
from schema.pagination import Keyset, PageInfo, fetch_page
from schema.permissions import IsAuthenticated, coded_errors


@strawberry.input
class JobFilter:
    client_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches the job title or the client's name."
    )


@strawberry.type
class JobConnection:
    total_count: int
    page_info: PageInfo
    nodes: list[Job]


JOB_ORDER = Keyset(col(JobRow.title), col(JobRow.id))


def jobs_matching(filter: JobFilter | None):
    stmt = select(JobRow)
    if filter is None:
        return stmt
    if filter.client_id is not None:
        stmt = stmt.where(JobRow.client_id == row_id(filter.client_id, "clientId"))
    if filter.search and filter.search.strip():
        pattern = like(filter.search)
        stmt = stmt.join(ClientRow, col(ClientRow.id) == JobRow.client_id).where(
            or_(
                holds(JobRow.title, pattern),
                holds(ClientRow.name, pattern),
            )
        )
    return stmt


@strawberry.type
class WorkQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        row = await info.context.loaders.jobs.load(row_id(id, "id"))
        return Job.from_row(row) if row else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def jobs(
        self,
        info: Info,
        filter: JobFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> JobConnection:
        async with info.context.sessions() as session:
            total, rows, page = await fetch_page(
                session, jobs_matching(filter), JOB_ORDER, first, after, "title"
            )
        info.context.loaders.prime(JobRow, rows)
        return JobConnection(
            total_count=total, page_info=page, nodes=[Job.from_row(r) for r in rows]
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Time entries overlapping [start, end), of one user (default: me), "
        f"ordered by start. A period is at most {MAX_PERIOD.days} days and "
        f"{MAX_PERIOD_ROWS} time entries (INVALID_INPUT on end beyond either).",
    )
    @coded_errors
    async def time_entries(
        self, info: Info, start: datetime, end: datetime, user_id: strawberry.ID | None = None
    ) -> list[TimeEntry]:
        user, _ = info.context.require_user()
        owner_id = optional_row_id(user_id, "userId") or user.id
        async with info.context.sessions() as session:
            rows = await in_period(session, TimeEntryRow, owner_id, start, end)
        info.context.loaders.prime(TimeEntryRow, rows)
        return [TimeEntry.from_row(r) for r in rows]
