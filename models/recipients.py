"""Who an SMS goes to: defaults for appointments and time entries, and who can receive one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from models.clients import Client, Contact
from models.enums import RecipientKind
from models.errors import DomainError, ErrorCode
from models.phone import is_sms_number
from models.sms import OptOut


@dataclass(frozen=True)
class RecipientRef:
    kind: RecipientKind
    id: int

    @classmethod
    def for_contact(cls, contact_id: int | None, client_id: int) -> RecipientRef:
        """An appointment's contact column: a contact id, or None meaning the client itself."""
        if contact_id is None:
            return cls(RecipientKind.CLIENT, client_id)
        return cls(RecipientKind.CONTACT, contact_id)


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    id: int
    client_id: int
    name: str
    sms_number: str | None
    opted_out: bool
    problem: ErrorCode | None
    # A contact made inactive keeps its numbers but receives nothing; clients are always active.
    active: bool = True

    @property
    def can_receive_sms(self) -> bool:
        return self.problem is None

    @property
    def ref(self) -> RecipientRef:
        return RecipientRef(self.kind, self.id)

    def require_sms(self) -> str:
        """The number to send to, or the DomainError saying why there is none."""
        if self.problem is not None:
            raise DomainError(self.problem, problem_message(self), field="recipient")
        assert self.sms_number is not None
        return self.sms_number


def default_appointment_contact(
    task_contact_id: int | None, job_contact_id: int | None
) -> int | None:
    """The task contact, else the job contact, else None: the client."""
    return task_contact_id if task_contact_id is not None else job_contact_id


def default_time_entry_recipient(
    client_id: int,
    appointment_contact: RecipientRef | None,
    task_contact_id: int | None,
    job_contact_id: int | None,
) -> RecipientRef:
    """The appointment's contact when the entry came from one, else task, job contact, client."""
    if appointment_contact is not None:
        return appointment_contact
    return RecipientRef.for_contact(
        default_appointment_contact(task_contact_id, job_contact_id), client_id
    )


def eligibility(sms_number: str | None, opted_out: bool, active: bool = True) -> ErrorCode | None:
    """Why a recipient cannot receive SMS, or None; an inactive contact is no recipient at all."""
    if not active:
        return ErrorCode.INVALID_RECIPIENT
    if not sms_number:
        return ErrorCode.NO_SMS_NUMBER
    if not is_sms_number(sms_number):
        return ErrorCode.INVALID_SMS_NUMBER
    if opted_out:
        return ErrorCode.OPTED_OUT
    return None


def problem_message(recipient: Recipient) -> str:
    match recipient.problem:
        case ErrorCode.INVALID_RECIPIENT:
            return f"{recipient.name} is no longer active."
        case ErrorCode.NO_SMS_NUMBER:
            return f"{recipient.name} has no SMS number."
        case ErrorCode.INVALID_SMS_NUMBER:
            return (
                f"{recipient.name}'s SMS number {recipient.sms_number} is not a valid "
                "New Zealand or Australian mobile number."
            )
        case ErrorCode.OPTED_OUT:
            return f"{recipient.name} has opted out of SMS messages (replied STOP)."
    return ""


def client_number(sms: str | None, country_code: str | None, mobile: str | None) -> str | None:
    """The client's SMS number: its E.164 when valid, else the raw mobile so it shows as invalid."""
    if sms:
        return sms
    raw = " ".join(p for p in (country_code, mobile) if p)
    return raw or None


def client_sms_number(client: Client) -> str | None:
    return client_number(client.sms_number, client.mobile_country_code, client.mobile_number)


def client_recipient(client: Client, opted_out: set[str]) -> Recipient:
    number = client_sms_number(client)
    is_out = number in opted_out
    return Recipient(
        RecipientKind.CLIENT,
        client.id,
        client.id,
        client.name,
        number,
        is_out,
        eligibility(number, is_out),
    )


def contact_recipient(contact: Contact, opted_out: set[str]) -> Recipient:
    number = contact.sms_number
    is_out = number in opted_out
    return Recipient(
        RecipientKind.CONTACT,
        contact.id,
        contact.client_id,
        contact.name,
        number,
        is_out,
        eligibility(number, is_out, contact.active),
        contact.active,
    )


# Keeps IN (...) lists inside every database's parameter limit.
LOOKUP_CHUNK = 5000


# A number has opted out while its opt-out row says so (a START reply keeps the row, cleared).
STILL_OPTED_OUT = OptOut.opted_out == true()


async def opted_out_numbers(session: AsyncSession, numbers: Iterable[str | None]) -> set[str]:
    """Which of these numbers have opted out, in as few queries as the databases allow."""
    wanted = sorted({n for n in numbers if n})
    out: set[str] = set()
    for i in range(0, len(wanted), LOOKUP_CHUNK):
        rows = await session.exec(
            select(OptOut.number).where(
                col(OptOut.number).in_(wanted[i : i + LOOKUP_CHUNK]), STILL_OPTED_OUT
            )
        )
        out.update(rows.all())
    return out


def has_opted_out(number: ColumnElement) -> ColumnElement[bool]:
    """The same, as a column of a query that reads the number: no second read."""
    return exists().where(OptOut.number == number, STILL_OPTED_OUT)


async def load_recipient(session: AsyncSession, ref: RecipientRef) -> Recipient | None:
    if ref.kind is RecipientKind.CLIENT:
        client = await session.get(Client, ref.id)
        if client is None:
            return None
        return client_recipient(
            client, await opted_out_numbers(session, [client_sms_number(client)])
        )
    found = (
        await session.exec(
            select(Contact, has_opted_out(Contact.sms_number)).where(Contact.id == ref.id)
        )
    ).first()
    if found is None:
        return None
    contact, opted_out = found
    return contact_recipient(contact, {contact.sms_number} if opted_out else set())


async def recipient_of_client(
    session: AsyncSession, client_id: int, ref: RecipientRef, active_only: bool = True
) -> Recipient:
    """The recipient, checked to be the client or one of its (active) contacts.

    Anyone else is INVALID_RECIPIENT. With active_only False an inactive contact of the
    client is returned, its problem saying it cannot receive.
    """
    recipient = await load_recipient(session, ref)
    if recipient is None or recipient.client_id != client_id:
        raise DomainError(
            ErrorCode.INVALID_RECIPIENT,
            "The recipient is neither the client nor one of the client's contacts.",
            field="recipient",
        )
    if active_only and not recipient.active:
        raise DomainError(ErrorCode.INVALID_RECIPIENT, problem_message(recipient), "recipient")
    return recipient


async def checked_recipient(
    session: AsyncSession, ref: RecipientRef, client_id: int | None = None
) -> Recipient:
    """The SMS form's contact switch: who the recipient is and whether they can receive.

    Given the client of the appointment or time entry, anyone but that client and its
    contacts is INVALID_RECIPIENT, as a send would say; an inactive contact of the client is
    answered, with the problem that it cannot receive.
    """
    if client_id is not None:
        return await recipient_of_client(session, client_id, ref, active_only=False)
    recipient = await load_recipient(session, ref)
    if recipient is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such client or contact.", field="recipient")
    return recipient


async def recipients_of_client(session: AsyncSession, client_id: int) -> list[Recipient]:
    """The client itself and its active contacts, by name."""
    client = await session.get(Client, client_id)
    if client is None:
        return []
    contacts = (
        await session.exec(
            select(Contact)
            .where(Contact.client_id == client_id, Contact.active == true())
            .order_by(Contact.name, Contact.id)
        )
    ).all()
    out = await opted_out_numbers(
        session, [client_sms_number(client)] + [c.sms_number for c in contacts]
    )
    return [client_recipient(client, out)] + [contact_recipient(c, out) for c in contacts]
