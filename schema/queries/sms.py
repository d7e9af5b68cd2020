"""The SMS form's helpers: recipients, templates, previews; and the Admin Console's events."""

from __future__ import annotations

import strawberry
from sqlalchemy import true
from sqlmodel import select

from models import ReminderEvent as ReminderEventRow
from models import SmsTemplate as SmsTemplateRow
from models.access import require_templates_readable
from models.errors import DomainError, ErrorCode
from models.recipients import (
    RecipientRef,
    checked_recipient,
    load_recipient,
    recipients_of_client,
)
from models.segments import check_message, smart_encode
from models.sending import template_for_manual_send
from models.subjects import Subject, load_subject
from models.templates import render
from schema.clients import Recipient, RecipientKind
from schema.context import Info
from schema.errors import UserError
from schema.ids import optional_row_id, row_id
from schema.messages import ReminderEvent, SmsTemplate, SmsTemplateKind
from schema.permissions import IsAuthenticated, coded_errors


@strawberry.input
class RecipientInput:
    kind: RecipientKind
    id: strawberry.ID

    def ref(self) -> RecipientRef:
        return RecipientRef(self.kind, row_id(self.id, "recipient"))


@strawberry.type
class SmsPreview:
    body: str
    length: int
    segments: int
    encoding: str = strawberry.field(description="GSM-7 or UCS-2.")
    errors: list[UserError]
    replaced_characters: list[str] = strawberry.field(
        description="Characters of the text that were replaced by their plain look-alikes to "
        "keep the message in GSM-7, each once."
    )


async def subject_of(session, appointment_id, time_entry_id) -> Subject:
    return await load_subject(
        session,
        optional_row_id(appointment_id, "appointmentId"),
        optional_row_id(time_entry_id, "timeEntryId"),
    )


@strawberry.type
class SmsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Who an SMS about this appointment or time entry may go to: the "
        "client and its active contacts, each with its eligibility.",
    )
    @coded_errors
    async def sms_recipients(
        self,
        info: Info,
        appointment_id: strawberry.ID | None = None,
        time_entry_id: strawberry.ID | None = None,
    ) -> list[Recipient]:
        await info.context.require_sms_enabled()
        async with info.context.sessions() as session:
            subject = await subject_of(session, appointment_id, time_entry_id)
            recipients = await recipients_of_client(session, subject.client.id)
        default = subject.default_recipient
        recipients.sort(key=lambda r: r.ref != default)
        return [Recipient.from_rule(r) for r in recipients]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Contact-switch validation on the SMS form. Given the appointment or "
        "time entry, a recipient that is neither its client nor one of the client's contacts "
        "is refused with INVALID_RECIPIENT. An inactive contact cannot receive: canReceiveSms "
        "false, problem INVALID_RECIPIENT.",
    )
    @coded_errors
    async def check_recipient(
        self,
        info: Info,
        recipient: RecipientInput,
        appointment_id: strawberry.ID | None = None,
        time_entry_id: strawberry.ID | None = None,
    ) -> Recipient:
        await info.context.require_sms_enabled()
        async with info.context.sessions() as session:
            client_id = None
            if appointment_id is not None or time_entry_id is not None:
                subject = await subject_of(session, appointment_id, time_entry_id)
                client_id = subject.client.id
            rule = await checked_recipient(session, recipient.ref(), client_id)
        return Recipient.from_rule(rule)

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def sms_templates(
        self, info: Info, kind: SmsTemplateKind | None = None, active_only: bool | None = True
    ) -> list[SmsTemplate]:
        _, profile = info.context.require_user()
        require_templates_readable(profile, await info.context.company())
        stmt = select(SmsTemplateRow).order_by(SmsTemplateRow.name, SmsTemplateRow.id)
        if kind is not None:
            stmt = stmt.where(SmsTemplateRow.kind == kind)
        if active_only is not False:
            stmt = stmt.where(SmsTemplateRow.active == true())
        async with info.context.sessions() as session:
            rows = (await session.exec(stmt)).all()
        return [SmsTemplate.from_row(r) for r in rows]

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def preview_sms(
        self,
        info: Info,
        appointment_id: strawberry.ID | None = None,
        time_entry_id: strawberry.ID | None = None,
        template_id: strawberry.ID | None = None,
        body: str | None = None,
    ) -> SmsPreview:
        company = await info.context.require_sms_enabled()
        plain_vowels = company.plain_vowels_for_macrons
        sent, errors = smart_encode(body or "", plain_vowels), []
        use_template = body is None and template_id is not None
        try:
            # The appointment or time entry is checked whenever one is named: a preview of a
            # body for work that does not exist is NOT_FOUND, as a send would be.
            if use_template or appointment_id is not None or time_entry_id is not None:
                async with info.context.sessions() as session:
                    subject = await subject_of(session, appointment_id, time_entry_id)
                    if use_template:
                        template = await template_for_manual_send(
                            session, row_id(template_id, "templateId")
                        )
                        recipient = await load_recipient(session, subject.default_recipient)
            if use_template:
                text = render(template.body, subject.values(recipient, company), field="templateId")
                sent = smart_encode(text, plain_vowels)
            check_message(sent.text, size=sent.size)
        except DomainError as error:
            if error.code in (
                ErrorCode.PERMISSION_DENIED,
                ErrorCode.NOT_FOUND,
                ErrorCode.INVALID_INPUT,
            ):
                raise
            errors.append(UserError.from_domain(error))
        return SmsPreview(
            body=sent.text,
            length=sent.size.length,
            segments=sent.size.segments,
            encoding=sent.size.encoding,
            errors=errors,
            replaced_characters=list(sent.replaced),
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def reminder_events(self, info: Info) -> list[ReminderEvent]:
        info.context.require_admin()
        async with info.context.sessions() as session:
            stmt = select(ReminderEventRow).order_by(ReminderEventRow.id)
            rows = (await session.exec(stmt)).all()
        return [ReminderEvent.from_row(r) for r in rows]
