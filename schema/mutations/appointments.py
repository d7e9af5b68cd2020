"""Creating and changing appointments, with their contact and SMS reminder rules."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import Appointment as AppointmentRow
from models import Client as ClientRow
from models import Job as JobRow
from models import Profile
from models import Task as TaskRow
from models import User as UserRow
from models.access import require_visible
from models.appointment_rules import (
    chosen_contact,
    default_contact,
    reminder_problem,
)
from models.errors import DomainError, ErrorCode
from schema.appointments import Appointment
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import existing_row, row_id
from schema.permissions import IsAuthenticated
from schema.queries.sms import RecipientInput


@strawberry.input
class AppointmentInput:
    user_id: strawberry.ID | None = None
    job_id: strawberry.ID | None = None
    task_id: strawberry.ID | None = None
    start: datetime | None = None
    end: datetime | None = None
    contact: RecipientInput | None = strawberry.field(
        default=None,
        description="Omit on create for the default: task contact, else job "
        "contact, else the client.",
    )
    sms_reminder: bool | None = strawberry.field(
        default=None,
        description="Omit on create to inherit the client's SMS Appointment Reminders setting.",
    )


@strawberry.type
class AppointmentPayload:
    appointment: Appointment | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
    warnings: list[UserError] = strawberry.field(
        default_factory=list,
        description="Problems that did not stop the save (e.g. reminder "
        "validation when the field is read-only for this user).",
    )


def check_times(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "Times need a UTC offset.", field="start")
    if end <= start:
        raise DomainError(ErrorCode.INVALID_INPUT, "The end must be after the start.", field="end")


def new_appointment(input: AppointmentInput, user: UserRow) -> AppointmentRow:
    if input.job_id is None or input.start is None or input.end is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "An appointment needs a job, a start and an end.",
            field="jobId",
        )
    return AppointmentRow(
        user_id=user.id, job_id=row_id(input.job_id, "jobId"), start=input.start, end=input.end
    )


async def set_owner(session, row: AppointmentRow, input: AppointmentInput) -> None:
    """Anyone may book anyone: the office books the technicians."""
    if input.user_id is None:
        return
    row.user_id = (await existing_row(session, UserRow, input.user_id, "userId")).id


async def set_work(
    session, row: AppointmentRow, input: AppointmentInput, creating: bool
) -> tuple[JobRow, TaskRow | None, bool]:
    """The job and task; a new job drops the old job's task. True when the job is new."""
    job_changed = creating or (
        input.job_id is not None and row_id(input.job_id, "jobId") != row.job_id
    )
    job_id = input.job_id if input.job_id is not None else str(row.job_id)
    job = await existing_row(session, JobRow, job_id, "jobId")
    row.job_id = job.id
    if input.task_id is not None:
        row.task_id = (await existing_row(session, TaskRow, input.task_id, "taskId")).id
    elif job_changed:
        row.task_id = None
    task = await session.get(TaskRow, row.task_id) if row.task_id else None
    if task is not None and task.job_id != job.id:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "That task belongs to another job.", field="taskId"
        )
    return job, task, job_changed


async def set_contact(
    session,
    row: AppointmentRow,
    input: AppointmentInput,
    client: ClientRow,
    default: int | None,
    profile: Profile,
) -> None:
    """The given contact, or the default; a user whose layout locks the field keeps the default."""
    if input.contact is None:
        row.contact_id = default
        return
    contact_id = await chosen_contact(session, client, input.contact.ref(), default)
    if contact_id != default:
        require_visible(profile.layout_appointment_contact, "Appointment > Contact", "contact")
    row.contact_id = contact_id


async def set_reminder(
    info: Info, row: AppointmentRow, input: AppointmentInput, default: bool, profile: Profile
) -> None:
    if input.sms_reminder is None or input.sms_reminder == default:
        row.sms_reminder = default
        return
    await info.context.require_reminders_enabled()
    require_visible(
        profile.layout_appointment_sms_reminder, "Appointment > SMS Reminders", "smsReminder"
    )
    row.sms_reminder = input.sms_reminder


async def save(
    info: Info, existing: AppointmentRow | None, input: AppointmentInput
) -> AppointmentPayload:
    """Create (existing None) or update an appointment; nothing is written when a rule refuses."""
    user, profile = info.context.require_user()
    company = await info.context.company()
    creating = existing is None
    async with info.context.sessions.begin() as session:
        if creating:
            row = new_appointment(input, user)
        else:
            row = await session.get(AppointmentRow, existing.id)
        await set_owner(session, row, input)
        job, task, job_changed = await set_work(session, row, input, creating)
        row.start, row.end = input.start or row.start, input.end or row.end
        check_times(row.start, row.end)
        client = await session.get(ClientRow, job.client_id)
        contact_default = (
            await default_contact(session, task, job) if job_changed else row.contact_id
        )
        await set_contact(session, row, input, client, contact_default, profile)
        reminder_default = client.sms_reminders if creating else row.sms_reminder
        await set_reminder(info, row, input, reminder_default, profile)
        warnings = []
        if row.sms_reminder and company.sms_enabled and company.sms_reminders_enabled:
            error, warning = await reminder_problem(session, client, row.contact_id, profile)
            if error:
                raise error
            if warning:
                warnings.append(UserError.from_domain(warning))
        session.add(row)
    return AppointmentPayload(appointment=Appointment.from_row(row), warnings=warnings)


@strawberry.type
class AppointmentsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(AppointmentPayload)
    async def create_appointment(self, info: Info, input: AppointmentInput) -> AppointmentPayload:
        return await save(info, None, input)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(AppointmentPayload)
    async def update_appointment(
        self, info: Info, id: strawberry.ID, input: AppointmentInput
    ) -> AppointmentPayload:
        async with info.context.sessions() as session:
            row = await existing_row(session, AppointmentRow, id, what="appointment")
        return await save(info, row, input)
