"""Live message updates over graphql-transport-ws, from whichever process made the change."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from sqlmodel import select

from models import SmsMessage as SmsMessageRow
from models import SmsMessageAppointment
from models.enums import SmsStatus
from schema.context import Info
from schema.ids import optional_row_id
from schema.messages import SmsMessage
from schema.permissions import IsAuthenticated, coded_errors, require_show_sms_errors
from schema.queries.calendar import require_calendar_of


async def message_event(
    info: Info, message_id: int, status: SmsStatus
) -> tuple[SmsMessage, set[int]] | None:
    """The message with the status it changed to, and the appointments it is about."""
    info.context.fresh_loaders()
    async with info.context.sessions() as session:
        row = await session.get(SmsMessageRow, message_id)
        if row is None:
            return None
        linked = (
            await session.exec(
                select(SmsMessageAppointment.appointment_id).where(
                    SmsMessageAppointment.message_id == message_id
                )
            )
        ).all()
    appointments = set(linked) | ({row.appointment_id} if row.appointment_id else set())
    # The row may have moved on before this event was read; each push shows its own change.
    # Set after the session closed, so nothing is flushed.
    row.status = status
    return SmsMessage.from_row(row), appointments


@coded_errors
async def failures_allowed(info: Info) -> None:
    _, profile = info.context.require_user()
    await info.context.require_sms_enabled()
    require_show_sms_errors(profile)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Each SMS that fails to send, as it fails; users with Show SMS Errors only.",
    )
    async def sms_failures(self, info: Info) -> AsyncGenerator[SmsMessage, None]:
        await failures_allowed(info)
        async for message_id, status in info.context.feed.listen():
            if status is not SmsStatus.FAILED:
                continue
            event = await message_event(info, message_id, status)
            if event is not None:
                yield event[0]

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="Status changes of messages, optionally of one appointment.",
    )
    async def sms_status_changed(
        self, info: Info, appointment_id: strawberry.ID | None = None
    ) -> AsyncGenerator[SmsMessage, None]:
        user, profile = info.context.require_user()
        await coded_errors(info.context.require_sms_enabled)()
        wanted = await coded_errors(visible_appointment)(info, appointment_id)
        async for message_id, status in info.context.feed.listen():
            event = await message_event(info, message_id, status)
            if event is None:
                continue
            message, appointments = event
            if wanted is not None and wanted not in appointments:
                continue
            if wanted is None and not (
                profile.global_administrator or message.row.sent_by_id == user.id
            ):
                continue
            yield message


async def visible_appointment(info: Info, appointment_id: strawberry.ID | None) -> int | None:
    wanted = optional_row_id(appointment_id, "appointmentId")
    if wanted is None:
        return None
    user, profile = info.context.require_user()
    row = await info.context.loaders.appointments.load(wanted)
    if row is not None:
        require_calendar_of(user, profile, row.user_id)
    return wanted
