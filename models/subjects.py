"""What an SMS is about: an appointment or a time entry, with everything around it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import null
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.clients import Client
from models.company import GlobalSettings, User
from models.errors import DomainError, ErrorCode
from models.recipients import Recipient, RecipientRef, default_time_entry_recipient
from models.templates import TemplateValues
from models.work import Appointment, Job, Task, TimeEntry


@dataclass(frozen=True)
class Subject:
    job: Job
    client: Client
    user: User
    task: Task | None
    appointment: Appointment | None
    time_entry: TimeEntry | None
    default_recipient: RecipientRef

    def values(self, recipient: Recipient | None, company: GlobalSettings) -> TemplateValues:
        start = self.appointment.start if self.appointment else self.time_entry.start
        return TemplateValues(
            client_name=self.client.name,
            contact_name=recipient.name if recipient else "",
            appointment_start=start,
            job_title=self.job.title,
            task_name=self.task.name if self.task else "",
            user_name=self.user.name,
            company_name=company.company_name,
            time_zone=company.time_zone,
            about_appointment=self.appointment is not None,
        )


async def load_subject(
    session: AsyncSession, appointment_id: int | None, time_entry_id: int | None
) -> Subject:
    """The appointment or time entry an SMS is about; exactly one of the two must be given."""
    if (appointment_id is None) == (time_entry_id is None):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Give either an appointment or a time entry.",
            field="appointmentId",
        )
    if time_entry_id is not None:
        work_model, missing = TimeEntry, ("No such time entry.", "timeEntryId")
        stmt = (
            select(TimeEntry, Appointment)
            .outerjoin(Appointment, col(Appointment.id) == TimeEntry.appointment_id)
            .where(TimeEntry.id == time_entry_id)
        )
    else:
        work_model, missing = Appointment, ("No such appointment.", "appointmentId")
        stmt = select(Appointment, null()).where(Appointment.id == appointment_id)
    # One read for the work and everything around it.
    found = (
        await session.exec(
            stmt.add_columns(Job, Client, User, Task)
            .join(Job, col(Job.id) == work_model.job_id)
            .join(Client, col(Client.id) == Job.client_id)
            .join(User, col(User.id) == work_model.user_id)
            .outerjoin(Task, col(Task.id) == work_model.task_id)
        )
    ).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, missing[0], field=missing[1])
    work, linked, job, client, user, task = found
    time_entry = work if time_entry_id is not None else None
    appointment = linked if time_entry_id is not None else work
    appointment_contact = (
        RecipientRef.for_contact(appointment.contact_id, client.id) if appointment else None
    )
    if time_entry is None:
        default = appointment_contact
    else:
        default = default_time_entry_recipient(
            client.id, appointment_contact, task.contact_id if task else None, job.contact_id
        )
    return Subject(
        job=job,
        client=client,
        user=user,
        task=task,
        appointment=appointment,
        time_entry=time_entry,
        default_recipient=default,
    )
