"""Creating and changing appointments, with their contact and SMS reminder rules."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import Appointment as AppointmentRow
from models import Client as ClientRow
from models import Job as JobRow
from models import Task as TaskRow
from models import User as UserRow
from models.appointment_rules import (
    chosen_contact,
    default_contact,
    reminder_problem,
    require_unlocked,
)
from models.errors import DomainError, ErrorCode
from schema.appointments import Appointment
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import row_id
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


async def fetch(session, model, id: strawberry.ID, field: str):
    row = await session.get(model, row_id(id, field))
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {field.removesuffix('Id')}.", field=field)
    return row


def check_times(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "Times need a UTC offset.", field="start")
    if end <= start:
        raise DomainError(ErrorCode.INVALID_INPUT, "The end must be after the start.", field="end")


async def save(
    info: Info, row: AppointmentRow | None, input: AppointmentInput
) -> AppointmentPayload:
    """Create (row None) or update an appointment; nothing is written when a rule refuses."""
    user, profile = info.context.require_user()
    company = await info.context.company()
    creating = row is None
    async with info.context.sessions.begin() as session:
        if creating:
            if input.job_id is None or input.start is None or input.end is None:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "An appointment needs a job, a start and an end.",
                    field="jobId",
                )
            row = AppointmentRow(user_id=user.id, job_id=0, start=input.start, end=input.end)
        elif row.user_id != user.id and not profile.global_administrator:
            raise DomainError(
                ErrorCode.PERMISSION_DENIED,
                "Only a Global Administrator can change other users' appointments.",
            )
        else:
            row = await session.get(AppointmentRow, row.id)

        if input.user_id is not None:
            owner = await fetch(session, UserRow, input.user_id, "userId")
            if owner.id != user.id and not profile.global_administrator:
                raise DomainError(
                    ErrorCode.PERMISSION_DENIED,
                    "Only a Global Administrator can book other users.",
                    field="userId",
                )
            row.user_id = owner.id
        job_changed = input.job_id is not None and row_id(input.job_id, "jobId") != row.job_id
        job = (
            await fetch(session, JobRow, input.job_id, "jobId")
            if input.job_id is not None
            else await session.get(JobRow, row.job_id)
        )
        row.job_id = job.id
        if input.task_id is not None:
            row.task_id = (await fetch(session, TaskRow, input.task_id, "taskId")).id
        elif job_changed:
            row.task_id = None
        task = await session.get(TaskRow, row.task_id) if row.task_id else None
        if task is not None and task.job_id != job.id:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "That task belongs to another job.", field="taskId"
            )
        row.start = input.start or row.start
        row.end = input.end or row.end
        check_times(row.start, row.end)
        client = await session.get(ClientRow, job.client_id)

        default = default_contact(task, job) if creating or job_changed else row.contact_id
        if input.contact is not None:
            contact_id = await chosen_contact(session, client, input.contact.ref())
            if contact_id != default:
                require_unlocked(
                    profile.layout_appointment_contact, "Appointment > Contact", "contact"
                )
            row.contact_id = contact_id
        else:
            row.contact_id = default

        reminder_default = client.sms_reminders if creating else row.sms_reminder
        if input.sms_reminder is not None and input.sms_reminder != reminder_default:
            await info.context.require_reminders_enabled()
            require_unlocked(
                profile.layout_appointment_sms_reminder,
                "Appointment > SMS Reminders",
                "smsReminder",
            )
            row.sms_reminder = input.sms_reminder
        else:
            row.sms_reminder = reminder_default

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
            row = await fetch(session, AppointmentRow, id, "id")
        return await save(info, row, input)
