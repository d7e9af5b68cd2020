"""Templates, reminder events, messages and activities as the API shows them."""

from __future__ import annotations

import enum

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import ReminderEvent as ReminderEventRow
from models import SmsMessage as SmsMessageRow
from models import SmsTemplate as SmsTemplateRow
from models.enums import SmsSource as SmsSourceEnum
from models.enums import SmsStatus as SmsStatusEnum
from models.enums import SmsTemplateKind as SmsTemplateKindEnum
from models.errors import ErrorCode as ErrorCodeEnum
from models.location import distance_meters
from models.recipients import RecipientRef
from schema.clients import Recipient, recipient_for
from schema.context import Info
from schema.errors import ErrorCode
from schema.people import User, user_by_id

if TYPE_CHECKING:
    from schema.appointments import Appointment, Job, TimeEntry

SmsStatus = strawberry.enum(SmsStatusEnum, name="SmsStatus")
SmsSource = strawberry.enum(SmsSourceEnum, name="SmsSource")
SmsTemplateKind = strawberry.enum(SmsTemplateKindEnum, name="SmsTemplateKind")


@strawberry.enum
class ActivityKind(enum.Enum):
    SMS_SENT = "SMS_SENT"
    SMS_FAILED = "SMS_FAILED"
    REMINDER_SENT = "REMINDER_SENT"


@strawberry.type
class SmsTemplate:
    row: strawberry.Private[SmsTemplateRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def kind(self) -> SmsTemplateKind:
        return self.row.kind

    @strawberry.field(description="Text with tokens such as {client_name}, {appointment_date}, "
                      "{appointment_time}, {job_title}, {user_name}.")
    def body(self) -> str:
        return self.row.body

    @strawberry.field
    def active(self) -> bool:
        return self.row.active


@strawberry.type
class ReminderEvent:
    row: strawberry.Private[ReminderEventRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field(description="0 = today (future start times only) .. 28 = four weeks ahead.")
    def interval_days(self) -> int:
        return self.row.interval_days

    @strawberry.field
    async def template(self, info: Info) -> SmsTemplate:
        return SmsTemplate(row=await info.context.loaders.templates.load(self.row.template_id))

    @strawberry.field(description="Local time of day (Settings.timeZone) at which the event runs, "
                      "once a day.")
    def run_at(self) -> time:
        return self.row.run_at

    @strawberry.field
    def enabled(self) -> bool:
        return self.row.enabled

    @strawberry.field
    def last_run_on(self) -> date | None:
        return self.row.last_run_on


@strawberry.type
class GeoLocation:
    latitude: float
    longitude: float
    accuracy_meters: float | None
    captured_at: datetime | None
    distance_from_job_meters: float | None = strawberry.field(
        description="Great-circle distance to the job's site, when the job has coordinates.")


async def location_of(info: Info, row: SmsMessageRow) -> GeoLocation | None:
    if row.latitude is None or row.longitude is None:
        return None
    job = await info.context.loaders.jobs.load(row.job_id) if row.job_id else None
    return GeoLocation(
        latitude=row.latitude, longitude=row.longitude, accuracy_meters=row.accuracy_meters,
        captured_at=row.location_captured_at,
        distance_from_job_meters=distance_meters(
            row.latitude, row.longitude, job and job.latitude, job and job.longitude),
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

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def to_number(self) -> str:
        return self.row.to_number

    @strawberry.field
    def body(self) -> str:
        return self.row.body

    @strawberry.field
    def status(self) -> SmsStatus:
        return self.row.status

    @strawberry.field
    def error_code(self) -> ErrorCode | None:
        return error_code(self.row)

    @strawberry.field
    def error_message(self) -> str | None:
        return self.row.error_message

    @strawberry.field
    def source(self) -> SmsSource:
        return self.row.source

    @strawberry.field
    async def recipient(self, info: Info) -> Recipient | None:
        if self.row.recipient_kind is None or self.row.recipient_id is None:
            return None
        rule = await recipient_for(info, RecipientRef(self.row.recipient_kind, self.row.recipient_id))
        return Recipient(rule=rule) if rule else None

    @strawberry.field
    async def appointment(
        self, info: Info
    ) -> Annotated[Appointment, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import Appointment

        if self.row.appointment_id is None:
            return None
        row = await info.context.loaders.appointments.load(self.row.appointment_id)
        return Appointment(row=row) if row else None

    @strawberry.field
    async def time_entry(
        self, info: Info
    ) -> Annotated[TimeEntry, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import TimeEntry

        if self.row.time_entry_id is None:
            return None
        row = await info.context.loaders.time_entries.load(self.row.time_entry_id)
        return TimeEntry(row=row) if row else None

    @strawberry.field
    async def job(self, info: Info) -> Annotated[Job, strawberry.lazy("schema.appointments")] | None:
        from schema.appointments import Job

        if self.row.job_id is None:
            return None
        row = await info.context.loaders.jobs.load(self.row.job_id)
        return Job(row=row) if row else None

    @strawberry.field
    async def sent_by(self, info: Info) -> User | None:
        return await user_by_id(info, self.row.sent_by_id)

    @strawberry.field
    async def reminder_event(self, info: Info) -> ReminderEvent | None:
        if self.row.reminder_event_id is None:
            return None
        row = await info.context.loaders.reminder_events.load(self.row.reminder_event_id)
        return ReminderEvent(row=row) if row else None

    @strawberry.field
    async def location(self, info: Info) -> GeoLocation | None:
        return await location_of(info, self.row)

    @strawberry.field
    def segments(self) -> int:
        return self.row.segments

    @strawberry.field
    def encoding(self) -> str:
        return self.row.encoding

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def sent_at(self) -> datetime | None:
        return self.row.sent_at

    @strawberry.field
    def delivered_at(self) -> datetime | None:
        return self.row.delivered_at


@strawberry.type
class Activity:
    row: strawberry.Private[SmsMessageRow]

    @strawberry.field
    def kind(self) -> ActivityKind:
        if self.row.status is SmsStatusEnum.FAILED:
            return ActivityKind.SMS_FAILED
        if self.row.source is SmsSourceEnum.REMINDER:
            return ActivityKind.REMINDER_SENT
        return ActivityKind.SMS_SENT

    @strawberry.field
    def at(self) -> datetime:
        return self.row.sent_at or self.row.created_at

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self.row.sent_by_id)

    @strawberry.field
    def summary(self) -> str:
        what = "Reminder SMS" if self.row.source is SmsSourceEnum.REMINDER else "SMS"
        if self.row.status is SmsStatusEnum.FAILED:
            reason = f": {self.row.error_message}" if self.row.error_message else ""
            return f"{what} to {self.row.to_number} failed{reason}"
        return f"{what} to {self.row.to_number}: {self.row.body}"

    @strawberry.field
    def message(self) -> SmsMessage:
        return SmsMessage(row=self.row)

    @strawberry.field
    async def location(self, info: Info) -> GeoLocation | None:
        return await location_of(info, self.row)
