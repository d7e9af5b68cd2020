"""The SMS form's helpers: recipients, templates, previews; and the Admin Console's events."""

from __future__ import annotations

import strawberry
from sqlalchemy import true
from sqlmodel import select

from models import ReminderEvent as ReminderEventRow
from models import SmsTemplate as SmsTemplateRow
from models.errors import DomainError, ErrorCode
from models.recipients import RecipientRef, load_recipient, recipients_of_client
from models.segments import check_message, measure
from models.sending import template_for_manual_send
from models.subjects import Subject, load_subject
from models.templates import render
from schema.clients import Recipient, RecipientKind
from schema.context import Info
from schema.errors import UserError
from schema.ids import optional_row_id, row_id
from schema.messages import ReminderEvent, SmsTemplate, SmsTemplateKind
from schema.permissions import IsAuthenticated, coded_errors, denied, require_admin


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


async def visible_subject(info: Info, session, appointment_id, time_entry_id) -> Subject:
    user, profile = info.context.require_user()
    subject = await load_subject(
        session,
        optional_row_id(appointment_id, "appointmentId"),
        optional_row_id(time_entry_id, "timeEntryId"),
    )
    if subject.owner_id != user.id and not profile.global_administrator:
        raise denied("Only a Global Administrator can message about other users' appointments.")
    return subject


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
            subject = await visible_subject(info, session, appointment_id, time_entry_id)
            recipients = await recipients_of_client(session, subject.client.id)
        default = subject.default_recipient
        recipients.sort(key=lambda r: r.ref != default)
        return [Recipient.from_rule(r) for r in recipients]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Contact-switch validation on the SMS form.",
    )
    @coded_errors
    async def check_recipient(self, info: Info, recipient: RecipientInput) -> Recipient:
        await info.context.require_sms_enabled()
        async with info.context.sessions() as session:
            rule = await load_recipient(session, recipient.ref())
        if rule is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such client or contact.", field="recipient")
        return Recipient.from_rule(rule)

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def sms_templates(
        self, info: Info, kind: SmsTemplateKind | None = None, active_only: bool | None = True
    ) -> list[SmsTemplate]:
        await info.context.require_sms_enabled()
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
        text, errors = body or "", []
        use_template = body is None and template_id is not None
        try:
            # The appointment or time entry is checked whenever one is named, so a preview
            # never answers for someone else's work, body or template alike.
            if use_template or appointment_id is not None or time_entry_id is not None:
                async with info.context.sessions() as session:
                    subject = await visible_subject(info, session, appointment_id, time_entry_id)
                    if use_template:
                        template = await template_for_manual_send(
                            session, row_id(template_id, "templateId")
                        )
                        recipient = await load_recipient(session, subject.default_recipient)
            if use_template:
                text = render(template.body, subject.values(recipient, company), field="templateId")
            check_message(text)
        except DomainError as error:
            if error.code in (
                ErrorCode.PERMISSION_DENIED,
                ErrorCode.NOT_FOUND,
                ErrorCode.INVALID_INPUT,
            ):
                raise
            errors.append(UserError.from_domain(error))
        length = measure(text)
        return SmsPreview(
            body=text,
            length=length.length,
            segments=length.segments,
            encoding=length.encoding,
            errors=errors,
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def reminder_events(self, info: Info) -> list[ReminderEvent]:
        _, profile = info.context.require_user()
        require_admin(profile)
        await info.context.require_reminders_enabled()
        async with info.context.sessions() as session:
            stmt = select(ReminderEventRow).order_by(ReminderEventRow.id)
            rows = (await session.exec(stmt)).all()
        return [ReminderEvent.from_row(r) for r in rows]
