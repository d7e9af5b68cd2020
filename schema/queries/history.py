"""The SMS history grid, the failure search and the failure alert."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import union
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from models import Client as ClientRow
from models import Contact as ContactRow
from models import SmsMessage as SmsMessageRow
from models import SmsMessageAppointment, SmsMessageText
from models.access import require_show_sms_errors
from models.alerts import RECENT_FAILURES, FailureAlert, failure_alert
from models.columns import utcnow
from models.enums import RecipientKind
from models.enums import SmsStatus as SmsStatusEnum
from models.search import holds, like, searching
from schema.context import Info
from schema.ids import row_id
from schema.messages import SmsMessage, SmsSource, SmsStatus
from schema.pagination import Keyset, PageInfo, fetch_page
from schema.permissions import IsAuthenticated, coded_errors


@strawberry.input
class SmsMessageFilter:
    status: list[SmsStatus] | None = None
    source: list[SmsSource] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches number, body, client or contact name."
    )
    client_id: strawberry.ID | None = None
    appointment_id: strawberry.ID | None = None


@strawberry.type
class SmsMessageConnection:
    total_count: int
    page_info: PageInfo
    nodes: list[SmsMessage]


@strawberry.type
class SmsFailureAlert:
    failed_last_24_hours: int = strawberry.field(name="failedLast24Hours")
    should_alert: bool = strawberry.field(
        description="True when a failure of the last 24 hours is not covered by this user's "
        "acknowledgement today. An acknowledgement covers the failures there were when it was "
        "made: the alert pops once a day while there are recent failures, and again when "
        "another message fails after it was dismissed."
    )
    last_acknowledged_at: datetime | None

    @classmethod
    def from_alert(cls, alert: FailureAlert) -> SmsFailureAlert:
        return cls(
            failed_last_24_hours=alert.failed_last_24_hours,
            should_alert=alert.should_alert,
            last_acknowledged_at=alert.last_acknowledged_at,
        )


NEWEST_FIRST = Keyset(
    col(SmsMessageRow.created_at), col(SmsMessageRow.id), descending=True, is_datetime=True
)


def messages_matching(filter: SmsMessageFilter | None):
    stmt = select(SmsMessageRow)
    if filter is None:
        return stmt
    if filter.status:
        stmt = stmt.where(col(SmsMessageRow.status).in_(filter.status))
    if filter.source:
        stmt = stmt.where(col(SmsMessageRow.source).in_(filter.source))
    if filter.from_:
        stmt = stmt.where(col(SmsMessageRow.created_at) >= filter.from_)
    if filter.to:
        stmt = stmt.where(col(SmsMessageRow.created_at) < filter.to)
    if filter.client_id is not None:
        stmt = stmt.where(SmsMessageRow.client_id == row_id(filter.client_id, "clientId"))
    if filter.appointment_id is not None:
        appointment_id = row_id(filter.appointment_id, "appointmentId")
        # A message names one appointment; a reminder's links name every visit it covered.
        about = union(
            select(SmsMessageRow.id).where(SmsMessageRow.appointment_id == appointment_id),
            select(SmsMessageAppointment.message_id).where(
                SmsMessageAppointment.appointment_id == appointment_id
            ),
        )
        stmt = stmt.where(col(SmsMessageRow.id).in_(about))
    if searching(filter.search):
        stmt = stmt.where(col(SmsMessageRow.id).in_(searched(like(filter.search))))
    return stmt


def searched(pattern: str):
    """The ids of messages whose number or text, client's name or contact's name holds the
    pattern: one SELECT per place, each able to use its own index (models.search), rather
    than one OR that would read every message."""
    message, text = SmsMessageRow, SmsMessageText

    def has(column) -> ColumnElement[bool]:
        return holds(column, pattern)

    return union(
        select(text.message_id).where(has(text.to_number)),
        select(text.message_id).where(has(text.body)),
        select(message.id)
        .join(ClientRow, col(ClientRow.id) == message.client_id)
        .where(has(ClientRow.name)),
        select(message.id)
        .join(ContactRow, col(ContactRow.id) == message.recipient_id)
        .where(message.recipient_kind == RecipientKind.CONTACT, has(ContactRow.name)),
    )


async def message_page(info: Info, stmt, first, after) -> SmsMessageConnection:
    async with info.context.sessions() as session:
        total, rows, page = await fetch_page(
            session, stmt, NEWEST_FIRST, first, after, "created_at"
        )
    return SmsMessageConnection(
        total_count=total, page_info=page, nodes=[SmsMessage.from_row(r) for r in rows]
    )


@strawberry.type
class HistoryQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="SMS history grid; Global Administrator only.",
    )
    @coded_errors
    async def sms_messages(
        self,
        info: Info,
        filter: SmsMessageFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> SmsMessageConnection:
        info.context.require_admin()
        return await message_page(info, messages_matching(filter), first, after)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="SMS failure search; Show SMS Errors only. recentOnly = the last 5 days.",
    )
    @coded_errors
    async def sms_failures(
        self,
        info: Info,
        recent_only: bool | None = True,
        first: int | None = 50,
        after: str | None = None,
    ) -> SmsMessageConnection:
        _, profile = info.context.require_user()
        require_show_sms_errors(profile)
        await info.context.require_sms_enabled()
        stmt = select(SmsMessageRow).where(SmsMessageRow.status == SmsStatusEnum.FAILED)
        if recent_only is not False:
            stmt = stmt.where(col(SmsMessageRow.created_at) >= utcnow() - RECENT_FAILURES)
        return await message_page(info, stmt, first, after)

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def sms_failure_alert(self, info: Info) -> SmsFailureAlert:
        user, profile = info.context.require_user()
        require_show_sms_errors(profile)
        company = await info.context.require_sms_enabled()
        async with info.context.sessions() as session:
            alert = await failure_alert(session, user.id, utcnow(), company.time_zone)
        return SmsFailureAlert.from_alert(alert)
