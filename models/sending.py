"""A manual SMS: validated and written as QUEUED in one transaction, before any send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from models.access import require_can_send
from models.company import GlobalSettings, Profile, User
from models.enums import SmsSource, SmsStatus, SmsTemplateKind
from models.errors import DomainError, ErrorCode
from models.location import check_location
from models.recipients import RecipientRef, load_recipient, recipient_of_client
from models.segments import check_message, smart_encode
from models.sms import SmsMessage, SmsMessageAppointment, SmsTemplate
from models.status_reports import status_changed
from models.subjects import load_subject
from models.templates import render

MAX_IDEMPOTENCY_KEY = 128


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy_meters: float | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class ManualSms:
    appointment_id: int | None
    time_entry_id: int | None
    recipient: RecipientRef | None
    template_id: int | None
    body: str | None
    location: Location | None
    idempotency_key: str | None
    source: SmsSource


async def earlier_send(session: AsyncSession, sender: User, key: str | None) -> SmsMessage | None:
    if not key:
        return None
    return (
        await session.exec(
            select(SmsMessage).where(
                SmsMessage.sent_by_id == sender.id, SmsMessage.idempotency_key == key
            )
        )
    ).first()


async def template_for_manual_send(session: AsyncSession, template_id: int) -> SmsTemplate:
    template = await session.get(SmsTemplate, template_id)
    if template is None or template.kind is not SmsTemplateKind.APPOINTMENT or not template.active:
        raise DomainError(
            ErrorCode.INVALID_TEMPLATE, "Choose an active appointment template.", field="templateId"
        )
    return template


async def queue_manual_sms(
    session: AsyncSession,
    request: ManualSms,
    sender: User,
    profile: Profile,
    company: GlobalSettings,
) -> tuple[SmsMessage, bool]:
    """The QUEUED message for a manual send and True, or the earlier one with its key and False.

    Anyone with Send SMS may message about any appointment or time entry."""
    require_can_send(profile, company)
    key = request.idempotency_key
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"An idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} characters.",
            field="idempotencyKey",
        )
    earlier = await earlier_send(session, sender, key)
    if earlier is not None:
        return earlier, False
    if request.source is SmsSource.REMINDER:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Reminders are sent by scheduled events.", field="source"
        )
    subject = await load_subject(session, request.appointment_id, request.time_entry_id)
    if request.recipient is not None:
        recipient = await recipient_of_client(session, subject.client.id, request.recipient)
    else:
        recipient = await load_recipient(session, subject.default_recipient)
    number = recipient.require_sms()
    if request.body is not None:
        text = request.body
    elif request.template_id is not None:
        template = await template_for_manual_send(session, request.template_id)
        text = render(template.body, subject.values(recipient, company), field="templateId")
    else:
        raise DomainError(
            ErrorCode.MESSAGE_EMPTY, "Type a message or choose a template.", field="body"
        )
    sent = smart_encode(text, company.plain_vowels_for_macrons)
    field = "body" if request.body is not None else "templateId"
    length = check_message(sent.text, field, size=sent.size)
    location = request.location
    if location is not None:
        check_location(location.latitude, location.longitude, location.accuracy_meters)
    message = SmsMessage(
        to_number=number,
        body=sent.text,
        status=SmsStatus.QUEUED,
        source=request.source,
        recipient_kind=recipient.kind,
        recipient_id=recipient.id,
        client_id=subject.client.id,
        appointment_id=subject.appointment.id if subject.appointment else None,
        time_entry_id=subject.time_entry.id if subject.time_entry else None,
        job_id=subject.job.id,
        sent_by_id=sender.id,
        latitude=location.latitude if location else None,
        longitude=location.longitude if location else None,
        accuracy_meters=location.accuracy_meters if location else None,
        location_captured_at=location.captured_at if location else None,
        segments=length.segments,
        encoding=length.encoding,
        idempotency_key=request.idempotency_key,
    )
    session.add(message)
    await session.flush()
    status_changed(session, message.id, message.status, message.source)
    if subject.appointment is not None:
        session.add(
            SmsMessageAppointment(message_id=message.id, appointment_id=subject.appointment.id)
        )
    return message, True
