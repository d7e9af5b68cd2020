"""Replies from clients and appointment confirmations, as the API shows them; the replies
list, marking them read, and the live feed of new ones."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlmodel import col, select

from models import InboundMessage
from models.access import may_see_replies, require_may_see_replies
from models.columns import utcnow
from models.enums import ConfirmationStatus as ConfirmationStatusEnum
from models.enums import ReplyEffect as ReplyEffectEnum
from models.replies import Confirmation, is_about_appointment, mark_read
from schema.clients import Recipient, stored_recipient
from schema.context import Info
from schema.errors import user_errors
from schema.ids import row_id
from schema.messages import SmsMessage
from schema.mutations.clients import BulkPayload
from schema.pagination import Keyset, PageInfo, fetch_page
from schema.permissions import IsAuthenticated, coded_errors

if TYPE_CHECKING:
    from schema.appointments import Appointment, Job

ReplyEffect = strawberry.enum(
    ReplyEffectEnum,
    name="ReplyEffect",
    description="What an incoming SMS did besides being recorded.",
)
ConfirmationStatus = strawberry.enum(ConfirmationStatusEnum, name="ConfirmationStatus")


@strawberry.type
class SmsReply:
    row: strawberry.Private[InboundMessage]
    id: strawberry.ID
    from_number: str
    body: str
    received_at: datetime
    effect: ReplyEffect
    read: bool

    @classmethod
    def from_row(cls, row: InboundMessage) -> SmsReply:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            from_number=row.from_number,
            body=row.body,
            received_at=row.received_at,
            effect=row.effect,
            read=row.read_at is not None,
        )

    @strawberry.field(
        description="The client or contact whose SMS number it came from, when there is one."
    )
    async def recipient(self, info: Info) -> Recipient | None:
        return await stored_recipient(info, self.row.recipient_kind, self.row.recipient_id)

    @strawberry.field(
        description="The latest message we sent to that number before the reply came, if any."
    )
    async def in_reply_to(self, info: Info) -> SmsMessage | None:
        if self.row.in_reply_to_id is None:
            return None
        row = await info.context.loaders.messages.load(self.row.in_reply_to_id)
        return SmsMessage.from_row(row) if row else None

    @strawberry.field
    def appointment(
        self, info: Info
    ) -> Annotated[Appointment, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import appointment_by_id

        return appointment_by_id(info, self.row.appointment_id)

    @strawberry.field
    def job(self, info: Info) -> Annotated[Job, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import job_by_id

        return job_by_id(info, self.row.job_id) if self.row.job_id else None


@strawberry.type
class SmsReplyConnection:
    total_count: int
    page_info: PageInfo
    nodes: list[SmsReply]


@strawberry.type
class AppointmentConfirmation:
    status: ConfirmationStatus
    at: datetime | None
    reply: SmsReply | None = strawberry.field(description="The reply that set the status.")

    @classmethod
    def of(cls, confirmation: Confirmation, show_reply: bool) -> AppointmentConfirmation:
        reply = confirmation.reply if show_reply else None
        return cls(
            status=confirmation.status,
            at=confirmation.at,
            reply=SmsReply.from_row(reply) if reply is not None else None,
        )


@strawberry.input
class SmsReplyFilter:
    unread_only: bool | None = False
    appointment_id: strawberry.ID | None = None
    client_id: strawberry.ID | None = None


NEWEST_FIRST = Keyset(
    col(InboundMessage.received_at), col(InboundMessage.id), descending=True, is_datetime=True
)


def replies_matching(filter: SmsReplyFilter | None):
    stmt = select(InboundMessage)
    if filter is None:
        return stmt
    if filter.unread_only:
        stmt = stmt.where(col(InboundMessage.read_at).is_(None))
    if filter.appointment_id is not None:
        stmt = stmt.where(is_about_appointment(row_id(filter.appointment_id, "appointmentId")))
    if filter.client_id is not None:
        stmt = stmt.where(InboundMessage.client_id == row_id(filter.client_id, "clientId"))
    return stmt


def sees_replies(info: Info) -> bool:
    _, profile = info.context.require_user()
    return may_see_replies(profile)


@coded_errors
async def replies_allowed(info: Info) -> int:
    user, profile = info.context.require_user()
    require_may_see_replies(profile)
    return user.id


@strawberry.type
class RepliesQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Replies, newest first: users who may send SMS, and Global Administrators.",
    )
    @coded_errors
    async def sms_replies(
        self,
        info: Info,
        filter: SmsReplyFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> SmsReplyConnection:
        await replies_allowed(info)
        async with info.context.sessions() as session:
            total, rows, page = await fetch_page(
                session, replies_matching(filter), NEWEST_FIRST, first, after, "received_at"
            )
        return SmsReplyConnection(
            total_count=total, page_info=page, nodes=[SmsReply.from_row(r) for r in rows]
        )


@strawberry.type
class RepliesMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Mark replies read for everyone: one person handling a reply clears it "
        "for the office.",
    )
    @user_errors(BulkPayload)
    async def mark_sms_replies_read(self, info: Info, ids: list[strawberry.ID]) -> BulkPayload:
        user, profile = info.context.require_user()
        require_may_see_replies(profile)
        wanted = [row_id(i, "ids") for i in ids]
        async with info.context.sessions.begin() as session:
            affected = await mark_read(session, wanted, user.id, utcnow())
        return BulkPayload(affected_count=affected)


async def read_reply(info: Info, reply_id: int) -> InboundMessage | None:
    async with info.context.sessions() as session:
        return await session.get(InboundMessage, reply_id)


@strawberry.type
class RepliesSubscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Each reply as it arrives, to users who may see it.",
    )
    async def sms_reply_received(self, info: Info) -> AsyncGenerator[SmsReply, None]:
        user_id = await replies_allowed(info)
        feed = info.context.feed
        async for heard in feed.replies(user_id):
            row = await feed.shared.get(heard, read_reply, info, heard.event)
            if row is not None:
                info.context.fresh_loaders()
                yield SmsReply.from_row(row)
