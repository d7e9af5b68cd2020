"""An appointment's contact and SMS reminder flag: defaults, checks and layout locks."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.clients import Client, Contact
from models.company import Profile
from models.enums import FieldVisibility, RecipientKind
from models.errors import DomainError, ErrorCode
from models.recipients import RecipientRef, default_appointment_contact, recipient_of_client
from models.work import Job, Task


def contact_id_of(ref: RecipientRef, client_id: int) -> int | None:
    return None if ref.kind is RecipientKind.CLIENT and ref.id == client_id else ref.id


async def default_contact(session: AsyncSession, task: Task | None, job: Job) -> int | None:
    """The task contact, else the job contact, else None (the client); inactive ones passed over."""

    async def active(contact_id: int | None) -> int | None:
        contact = await session.get(Contact, contact_id) if contact_id is not None else None
        return contact_id if contact is not None and contact.active else None

    return default_appointment_contact(
        await active(task.contact_id if task else None), await active(job.contact_id)
    )


async def chosen_contact(
    session: AsyncSession, client: Client, ref: RecipientRef, default: int | None
) -> int | None:
    """A given contact must be the client or one of its active contacts.

    An inactive contact cannot be made the appointment's contact; one that already is (the
    default on an update that keeps the job) may stay, so the rest of the appointment can
    still be saved by a user whose layout locks the contact field.
    """
    recipient = await recipient_of_client(session, client.id, ref, active_only=False)
    contact_id = contact_id_of(ref, client.id)
    if not recipient.active and contact_id != default:
        raise DomainError(
            ErrorCode.INVALID_RECIPIENT,
            f"{recipient.name} is no longer active, so cannot be the appointment's contact.",
            field="contact",
        )
    return contact_id


async def reminder_problem(
    session: AsyncSession, client: Client, contact_id: int | None, profile: Profile
) -> tuple[DomainError | None, DomainError | None]:
    """(error, warning) for an appointment whose SMS reminder is on.

    With the layout field VISIBLE a contact that cannot receive SMS stops the save;
    otherwise the user could not have changed it, so the save goes on with a warning.
    """
    recipient = await recipient_of_client(
        session, client.id, RecipientRef.for_contact(contact_id, client.id), active_only=False
    )
    try:
        recipient.require_sms()
    except DomainError as problem:
        problem.field = "smsReminder"
        problem.message = f"SMS reminders cannot be sent: {problem.message}"
        if profile.layout_appointment_sms_reminder is FieldVisibility.VISIBLE:
            return problem, None
        return None, problem
    return None, None
