"""Templates, reminder events, messages and activities as the API shows them."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import InboundMessage
from models import ReminderEvent as ReminderEventRow
from models import SmsMessage as SmsMessageRow
from models import SmsTemplate as SmsTemplateRow
from models.enums import SmsSource as SmsSourceEnum
from models.enums import SmsStatus as SmsStatusEnum
from models.enums import SmsTemplateKind as SmsTemplateKindEnum
from models.errors import ErrorCode as ErrorCodeEnum
from models.location import distance_meters
from schema.clients import Recipient, stored_recipient
from schema.context import Info
from schema.errors import ErrorCode
from schema.people import User, user_by_id

if TYPE_CHECKING:
    from schema.appointments import Appointment, Job, TimeEntry
    from schema.replies import SmsReply

SmsStatus = strawberry.enum(SmsStatusEnum, name="SmsStatus")
SmsSource = strawberry.enum(SmsSourceEnum, name="SmsSource")
SmsTemplateKind = strawberry.enum(SmsTemplateKindEnum, name="SmsTemplateKind")


@strawberry.enum
class ActivityKind(enum.Enum):
    SMS_SENT = "SMS_SENT"
    SMS_FAILED = "SMS_FAILED"
    REMINDER_SENT = "REMINDER_SENT"
    REPLY_RECEIVED = "REPLY_RECEIVED"


@strawberry.type
class SmsTemplate:
    id: strawberry.ID
    name: str
    kind: SmsTemplateKind
    body: str = strawberry.field(
        description="Text with tokens such as {client_name}, "
        "{appointment_date}, {appointment_time}, {job_title}, {user_name}, and {reply_hint} "
        '("Reply C to confirm, R to reschedule").'
    )
    active: bool

    @classmethod
    def from_row(cls, row: SmsTemplateRow) -> SmsTemplate:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            kind=row.kind,
            body=row.body,
            active=row.active,
        )


@strawberry.type
class ReminderEvent:
    row: strawberry.Private[ReminderEventRow]
    id: strawberry.ID
    description: str
    interval_days: int = strawberry.field(
        description="0 = today (future start times only) .. 28 = four weeks ahead."
    )
    run_at: time = strawberry.field(
        description="Local time of day (Settings.timeZone) at which the event runs, once a day."
    )
    enabled: bool
    last_run_on: date | None

    @classmethod
    def from_row(cls, row: ReminderEventRow) -> ReminderEvent:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            description=row.description,
            interval_days=row.interval_days,
            run_at=row.run_at,
            enabled=row.enabled,
            last_run_on=row.last_run_on,
        )

    @strawberry.field
    async def template(self, info: Info) -> SmsTemplate:
        return SmsTemplate.from_row(await info.context.loaders.templates.load(self.row.template_id))


@strawberry.type
class GeoLocation:
    latitude: float
    longitude: float
    accuracy_meters: float | None
    captured_at: datetime | None
    distance_from_job_meters: float | None = strawberry.field(
        description="Great-circle distance to the job's site, when the job has coordinates."
    )


async def location_of(info: Info, row: SmsMessageRow) -> GeoLocation | None:
    if row.latitude is None or row.longitude is None:
        return None
    job = await info.context.loaders.jobs.load(row.job_id) if row.job_id else None
    return GeoLocation(
        latitude=row.latitude,
        longitude=row.longitude,
        accuracy_meters=row.accuracy_meters,
        captured_at=row.location_captured_at,
        distance_from_job_meters=distance_meters(
            row.latitude, row.longitude, job and job.latitude, job and job.longitude
        ),
    )


def error_code(row: SmsMessageRow) -> ErrorCodeEnum | None:
    """Provider codes are kept in the message; the API shows the product's code for them."""
    if row.error_code is None:
        return None
    try:
        return ErrorCodeEnum(row.error_code)
    except ValueError:
        return ErrorCodeEnum.PROVIDER_ERROR


@strawberry.type
class SmsMessage:
    row: strawberry.Private[SmsMessageRow]
    id: strawberry.ID
    to_number: str
    body: str
    status: SmsStatus
    error_code: ErrorCode | None
    error_message: str | None
    source: SmsSource
    segments: int
    encoding: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    # A message pushed to many subscriptions: their answers made once (schema.shared_pushes).
    shared_answers: strawberry.Private[dict[int, Any] | None] = None

    @classmethod
    def from_row(cls, row: SmsMessageRow) -> SmsMessage:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            to_number=row.to_number,
            body=row.body,
            status=row.status,
            error_code=error_code(row),
            error_message=row.error_message,
            source=row.source,
            segments=row.segments,
            encoding=row.encoding,
            created_at=row.created_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
        )

    @strawberry.field
    async def recipient(self, info: Info) -> Recipient | None:
        return await stored_recipient(info, self.row.recipient_kind, self.row.recipient_id)

    @strawberry.field
    def appointment(
        self, info: Info
    ) -> Annotated[Appointment, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import appointment_by_id

        return appointment_by_id(info, self.row.appointment_id)

    @strawberry.field
    async def time_entry(
        self, info: Info
    ) -> Annotated[TimeEntry, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import TimeEntry

        if self.row.time_entry_id is None:
            return None
        row = await info.context.loaders.time_entries.load(self.row.time_entry_id)
        return TimeEntry.from_row(row) if row else None

    @strawberry.field
    def job(self, info: Info) -> Annotated[Job, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import job_by_id

        return job_by_id(info, self.row.job_id) if self.row.job_id else None

    @strawberry.field
    def sent_by(self, info: Info) -> User | None:
        return user_by_id(info, self.row.sent_by_id)

    @strawberry.field
    async def reminder_event(self, info: Info) -> ReminderEvent | None:
        if self.row.reminder_event_id is None:
            return None
        row = await info.context.loaders.reminder_events.load(self.row.reminder_event_id)
        return ReminderEvent.from_row(row) if row else None

    @strawberry.field
    async def location(self, info: Info) -> GeoLocation | None:
        return await location_of(info, self.row)


def activity_kind(row: SmsMessageRow) -> ActivityKind:
    if row.status is SmsStatusEnum.FAILED:
        return ActivityKind.SMS_FAILED
    if row.source is SmsSourceEnum.REMINDER:
        return ActivityKind.REMINDER_SENT
    return ActivityKind.SMS_SENT


def activity_summary(row: SmsMessageRow) -> str:
    what = "Reminder SMS" if row.source is SmsSourceEnum.REMINDER else "SMS"
    if row.status is SmsStatusEnum.FAILED:
        reason = f": {row.error_message}" if row.error_message else ""
        return f"{what} to {row.to_number} failed{reason}"
    return f"{what} to {row.to_number}: {row.body}"


@strawberry.type
class Activity:
    """A message we sent about the appointment, or a reply the client sent us."""

    row: strawberry.Private[SmsMessageRow | None]
    reply_row: strawberry.Private[InboundMessage | None]
    kind: ActivityKind
    at: datetime
    summary: str

    @classmethod
    def from_row(cls, row: SmsMessageRow) -> Activity:
        return cls(
            row=row,
            reply_row=None,
            kind=activity_kind(row),
            at=row.sent_at or row.created_at,
            summary=activity_summary(row),
        )

    @classmethod
    def from_reply(cls, reply: InboundMessage) -> Activity:
        return cls(
            row=None,
            reply_row=reply,
            kind=ActivityKind.REPLY_RECEIVED,
            at=reply.received_at,
            summary=f"Reply from {reply.from_number}: {reply.body}",
        )

    @strawberry.field
    def user(self, info: Info) -> User | None:
        return user_by_id(info, self.row.sent_by_id) if self.row else None

    @strawberry.field(description="The message sent, or the one the reply answers.")
    async def message(self, info: Info) -> SmsMessage | None:
        if self.row is not None:
            return SmsMessage.from_row(self.row)
        answered = self.reply_row.in_reply_to_id if self.reply_row else None
        row = await info.context.loaders.messages.load(answered) if answered else None
        return SmsMessage.from_row(row) if row else None

    @strawberry.field
    async def location(self, info: Info) -> GeoLocation | None:
        return await location_of(info, self.row) if self.row else None

    @strawberry.field
    def reply(self) -> Annotated[SmsReply, strawberry.lazy("schema.replies")] | None:
        from schema.replies import SmsReply

        return SmsReply.from_row(self.reply_row) if self.reply_row else None
