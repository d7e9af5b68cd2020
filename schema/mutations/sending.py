"""Sending SMS by hand, and running a reminder event now."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.errors import DomainError, ErrorCode
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.messages import SmsMessage, SmsSource
from schema.mutations.clients import BulkPayload
from schema.permissions import IsAuthenticated, require_admin
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
        default=None, description="Defaults to the appointment's contact, or the time entry's "
        "default recipient.")
    template_id: strawberry.ID | None = strawberry.field(
        default=None, description="An APPOINTMENT template, rendered for the appointment; ignored "
        "when body is given.")
    body: str | None = None
    location: GeoLocationInput | None = strawberry.field(
        default=None, description="Where the App was when sending, if the user granted location "
        "permission.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key returns the first message instead of "
        "sending again.")
    source: SmsSource | None = SmsSource.APP


@strawberry.type
class SendSmsPayload:
    message: SmsMessage | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


NOT_YET = "Sending is not available in this release of the service."


@strawberry.type
class SendingMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(SendSmsPayload)
    async def send_sms(self, info: Info, input: SendSmsInput) -> SendSmsPayload:
        info.context.require_user()
        await info.context.require_sms_enabled()
        raise DomainError(ErrorCode.PROVIDER_ERROR, NOT_YET)

    @strawberry.mutation(permission_classes=[IsAuthenticated],
                         description="Run a reminder event now (admin); the once-per-day-per-job "
                         "rule still holds.")
    @user_errors(BulkPayload)
    async def run_reminder_event(self, info: Info, id: strawberry.ID) -> BulkPayload:
        _, profile = info.context.require_user()
        require_admin(profile)
        await info.context.require_reminders_enabled()
        raise DomainError(ErrorCode.PROVIDER_ERROR, NOT_YET)
