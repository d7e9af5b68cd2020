"""Jobs, tasks, appointments and time entries as the API shows them."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

import strawberry

from models import Appointment as AppointmentRow
from models import Job as JobRow
from models import Task as TaskRow
from models import TimeEntry as TimeEntryRow
from models.recipients import RecipientRef, default_time_entry_recipient
from schema.clients import (
    Client,
    Contact,
    Recipient,
    client_by_id,
    known_recipient,
    recipient_for,
)
from schema.context import Info
from schema.loaders import MISSING, now_or_later, shown
from schema.messages import Activity, SmsMessage
from schema.people import User, user_by_id
from schema.replies import AppointmentConfirmation, SmsReply, sees_replies


def contact_by_id(info: Info, contact_id: int | None) -> Contact | None | Awaitable[Contact | None]:
    if contact_id is None:
        return None
    return now_or_later(info.context.loaders.contacts, contact_id, shown(Contact))


@strawberry.type
class Job:
    row: strawberry.Private[JobRow]
    id: strawberry.ID
    title: str
    latitude: float | None
    longitude: float | None

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            title=row.title,
            latitude=row.latitude,
            longitude=row.longitude,
        )

    @strawberry.field
    def client(self, info: Info) -> Client:
        return client_by_id(info, self.row.client_id)

    @strawberry.field
    def contact(self, info: Info) -> Contact | None:
        return contact_by_id(info, self.row.contact_id)

    @strawberry.field(description="In the order they were added to the job.")
    async def tasks(self, info: Info) -> list[Task]:
        rows = await info.context.loaders.tasks_of_job.load(self.row.id)
        return [Task.from_row(r) for r in rows]


def job_by_id(info: Info, job_id: int) -> Job | Awaitable[Job]:
    return now_or_later(info.context.loaders.jobs, job_id, Job.from_row)


@strawberry.type
class Task:
    row: strawberry.Private[TaskRow]
    id: strawberry.ID
    name: str

    @classmethod
    def from_row(cls, row: TaskRow) -> Task:
        return cls(row=row, id=strawberry.ID(str(row.id)), name=row.name)

    @strawberry.field
    def job(self, info: Info) -> Job:
        return job_by_id(info, self.row.job_id)

    @strawberry.field
    def contact(self, info: Info) -> Contact | None:
        return contact_by_id(info, self.row.contact_id)


def task_by_id(info: Info, task_id: int | None) -> Task | None | Awaitable[Task | None]:
    if task_id is None:
        return None
    return now_or_later(info.context.loaders.tasks, task_id, shown(Task))


async def appointment_contact(info: Info, row: AppointmentRow) -> RecipientRef:
    job = await info.context.loaders.jobs.load(row.job_id)
    return RecipientRef.for_contact(row.contact_id, job.client_id)


def known_appointment_contact(info: Info, row: AppointmentRow) -> Recipient | None:
    """The appointment's contact when the operation holds all it takes (a calendar), else
    None."""
    job = info.context.loaders.jobs.known(row.job_id)
    if job is MISSING:
        return None
    rule = known_recipient(info, RecipientRef.for_contact(row.contact_id, job.client_id))
    return None if rule is MISSING or rule is None else Recipient.from_rule(rule)


@strawberry.type
class Appointment:
    row: strawberry.Private[AppointmentRow]
    id: strawberry.ID
    start: datetime
    end: datetime
    sms_reminder: bool

    @classmethod
    def from_row(cls, row: AppointmentRow) -> Appointment:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            start=row.start,
            end=row.end,
            sms_reminder=row.sms_reminder,
        )

    @strawberry.field
    def user(self, info: Info) -> User:
        return user_by_id(info, self.row.user_id)

    @strawberry.field
    def job(self, info: Info) -> Job:
        return job_by_id(info, self.row.job_id)

    @strawberry.field
    def task(self, info: Info) -> Task | None:
        return task_by_id(info, self.row.task_id)

    @strawberry.field(
        description="The appointment's contact; the default recipient of every SMS about it."
    )
    def contact(self, info: Info) -> Recipient:
        return known_appointment_contact(info, self.row) or self.loaded_contact(info)

    async def loaded_contact(self, info: Info) -> Recipient:
        rule = await recipient_for(info, await appointment_contact(info, self.row))
        return Recipient.from_rule(rule)

    @strawberry.field(
        description="How many SMS messages were sent for this appointment (manual and reminders)."
    )
    def sms_count(self, info: Info) -> int:
        return now_or_later(info.context.loaders.sms_counts, self.row.id, int)

    @strawberry.field(description="Message history, newest first.")
    async def sms_messages(self, info: Info) -> list[SmsMessage]:
        rows = await info.context.loaders.appointment_messages.load(self.row.id)
        return [SmsMessage.from_row(r) for r in rows]

    @strawberry.field(
        description="Messages sent and, to users who may see replies, replies received; "
        "newest first."
    )
    async def activities(self, info: Info) -> list[Activity]:
        loaders = info.context.loaders
        messages = await loaders.appointment_messages.load(self.row.id)
        activities = [Activity.from_row(r) for r in messages]
        if sees_replies(info):
            replies = await loaders.appointment_replies.load(self.row.id)
            activities += [Activity.from_reply(r) for r in replies]
        return sorted(activities, key=lambda activity: activity.at, reverse=True)

    @strawberry.field(
        description="Its status to everyone; the reply behind it to users who may see replies."
    )
    async def confirmation(self, info: Info) -> AppointmentConfirmation:
        confirmation = await info.context.loaders.confirmations.load(self.row.id)
        return AppointmentConfirmation.of(confirmation, show_reply=sees_replies(info))

    @strawberry.field(
        description="Replies linked to this appointment, newest first; empty for users who may "
        "not see replies (Send SMS, or Global Administrator)."
    )
    async def replies(self, info: Info) -> list[SmsReply]:
        if not sees_replies(info):
            return []
        rows = await info.context.loaders.appointment_replies.load(self.row.id)
        return [SmsReply.from_row(r) for r in rows]


def appointment_by_id(
    info: Info, appointment_id: int | None
) -> Appointment | None | Awaitable[Appointment | None]:
    if appointment_id is None:
        return None
    return now_or_later(info.context.loaders.appointments, appointment_id, shown(Appointment))


async def time_entry_recipient(info: Info, row: TimeEntryRow) -> RecipientRef:
    loaders = info.context.loaders
    job = await loaders.jobs.load(row.job_id)
    appointment = (
        await loaders.appointments.load(row.appointment_id) if row.appointment_id else None
    )
    task = await loaders.tasks.load(row.task_id) if row.task_id else None
    return default_time_entry_recipient(
        job.client_id,
        RecipientRef.for_contact(appointment.contact_id, job.client_id) if appointment else None,
        task.contact_id if task else None,
        job.contact_id,
    )


@strawberry.type
class TimeEntry:
    row: strawberry.Private[TimeEntryRow]
    id: strawberry.ID
    start: datetime
    end: datetime

    @classmethod
    def from_row(cls, row: TimeEntryRow) -> TimeEntry:
        return cls(row=row, id=strawberry.ID(str(row.id)), start=row.start, end=row.end)

    @strawberry.field
    def user(self, info: Info) -> User:
        return user_by_id(info, self.row.user_id)

    @strawberry.field
    def job(self, info: Info) -> Job:
        return job_by_id(info, self.row.job_id)

    @strawberry.field
    def task(self, info: Info) -> Task | None:
        return task_by_id(info, self.row.task_id)

    @strawberry.field
    def appointment(self, info: Info) -> Appointment | None:
        return appointment_by_id(info, self.row.appointment_id)

    @strawberry.field(
        description="Appointment contact when the entry came from one, else the task "
        "or job contact, else the client."
    )
    async def default_recipient(self, info: Info) -> Recipient:
        return Recipient.from_rule(
            await recipient_for(info, await time_entry_recipient(info, self.row))
        )
