"""Sending SMS by hand, and running a reminder event now."""

from __future__ import annotations

import logging
from datetime import datetime

import strawberry
from sqlalchemy.exc import IntegrityError

from models.channels import enqueue_send
from models.enums import SmsSource as SmsSourceEnum
from models.errors import DomainError, ErrorCode
from models.reminders import hand_over, run_event
from models.sending import Location, ManualSms, earlier_send, queue_manual_sms
from models.sms import ReminderEvent
from models.status_feed import MessageFacts, announce
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import optional_row_id, row_id
from schema.messages import SmsMessage, SmsSource
from schema.mutations.clients import BulkPayload
from schema.permissions import IsAuthenticated
from schema.queries.sms import RecipientInput


@strawberry.input
class GeoLocationInput:
    latitude: float
    longitude: float
    accuracy_meters: float | None = None
    captured_at: datetime | None = None


@strawberry.input
class SendSmsInput:
    appointment_id: strawberry.ID | None = None
    time_entry_id: strawberry.ID | None = None
    recipient: RecipientInput | None = strawberry.field(
        default=None,
        description="Defaults to the appointment's contact, or the time entry's default recipient.",
    )
    template_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="An APPOINTMENT template, rendered for the appointment; ignored "
        "when body is given.",
    )
    body: str | None = None
    location: GeoLocationInput | None = strawberry.field(
        default=None,
        description="Where the App was when sending, if the user granted location permission.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key returns the first message instead of sending again.",
    )
    source: SmsSource | None = SmsSource.APP


@strawberry.type
class SendSmsPayload:
    message: SmsMessage | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


log = logging.getLogger(__name__)


def manual_sms(input: SendSmsInput) -> ManualSms:
    location = input.location
    return ManualSms(
        appointment_id=optional_row_id(input.appointment_id, "appointmentId"),
        time_entry_id=optional_row_id(input.time_entry_id, "timeEntryId"),
        recipient=input.recipient.ref() if input.recipient else None,
        template_id=optional_row_id(input.template_id, "templateId"),
        body=input.body,
        location=Location(
            location.latitude, location.longitude, location.accuracy_meters, location.captured_at
        )
        if location
        else None,
        idempotency_key=input.idempotency_key,
        source=input.source or SmsSourceEnum.APP,
    )


async def hand_to_worker(info: Info, message_id: int) -> None:
    """Enqueue the send; a QUEUED row that misses this is enqueued again by the sweeper."""
    try:
        await enqueue_send(info.context.queue, message_id)
    except Exception:
        log.exception("could not enqueue message %s; it stays QUEUED", message_id)


@strawberry.type
class SendingMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(SendSmsPayload)
    async def send_sms(self, info: Info, input: SendSmsInput) -> SendSmsPayload:
        user, profile = info.context.require_user()
        company = await info.context.company()
        request = manual_sms(input)
        try:
            async with info.context.sessions.begin() as session:
                message, fresh = await queue_manual_sms(session, request, user, profile, company)
        except IntegrityError:
            # A concurrent retry with the same key committed first: answer with its message.
            async with info.context.sessions() as session:
                message = await earlier_send(session, user, request.idempotency_key)
            if message is None:
                raise
            fresh = False
        if fresh:
            await announce(info.context.queue, message.id, message.status, MessageFacts.of(message))
            await hand_to_worker(info, message.id)
        return SendSmsPayload(message=SmsMessage.from_row(message))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Run a reminder event now (admin); the once-per-day-per-job rule still "
        "holds. affectedCount is the number of messages the run wrote, FAILED ones (no usable "
        "number, opted out, too long) included; 0 when the event already ran today.",
    )
    @user_errors(BulkPayload)
    async def run_reminder_event(self, info: Info, id: strawberry.ID) -> BulkPayload:
        info.context.require_admin()
        await info.context.require_reminders_enabled()
        async with info.context.sessions.begin() as session:
            event = await session.get(ReminderEvent, row_id(id, "id"))
            if event is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such reminder event.", field="id")
            if not event.enabled:
                raise DomainError(
                    ErrorCode.INVALID_INPUT, "The reminder event is disabled.", field="id"
                )
            result = await run_event(session, event.id)
        await hand_over(info.context.queue, result)
        return BulkPayload(affected_count=result.written)
