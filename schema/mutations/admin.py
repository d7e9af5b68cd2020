"""The Admin Console: SMS templates and reminder scheduled events."""

from __future__ import annotations

from datetime import time

import strawberry
from sqlalchemy import true
from sqlmodel import select

from models import ReminderEvent as ReminderEventRow
from models import SmsTemplate as SmsTemplateRow
from models.enums import SmsTemplateKind as SmsTemplateKindEnum
from models.errors import DomainError, ErrorCode
from models.names import required_name
from models.reminder_rules import (
    check_event_template,
    check_interval,
    check_run_at,
    event_description,
)
from models.templates import checked_template_body
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import existing_row, row_id
from schema.messages import ReminderEvent, SmsTemplate, SmsTemplateKind
from schema.permissions import IsAuthenticated


@strawberry.input
class SmsTemplateInput:
    name: str | None = None
    kind: SmsTemplateKind | None = None
    body: str | None = None
    active: bool | None = None


@strawberry.type
class SmsTemplatePayload:
    template: SmsTemplate | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ReminderEventInput:
    description: str | None = None
    interval_days: int | None = None
    template_id: strawberry.ID | None = None
    run_at: time | None = None
    enabled: bool | None = None


@strawberry.type
class ReminderEventPayload:
    event: ReminderEvent | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


async def events_using(session, template_id: int) -> list[ReminderEventRow]:
    return list(
        (
            await session.exec(
                select(ReminderEventRow).where(
                    ReminderEventRow.template_id == template_id, ReminderEventRow.enabled == true()
                )
            )
        ).all()
    )


@strawberry.type
class AdminMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(SmsTemplatePayload)
    async def create_sms_template(self, info: Info, input: SmsTemplateInput) -> SmsTemplatePayload:
        info.context.require_admin()
        if input.kind is None:
            raise DomainError(ErrorCode.INVALID_INPUT, "Choose the template's kind.", field="kind")
        row = SmsTemplateRow(
            name=required_name(input.name),
            kind=input.kind,
            body=checked_template_body(input.body or ""),
            active=input.active if input.active is not None else True,
        )
        async with info.context.sessions.begin() as session:
            session.add(row)
        return SmsTemplatePayload(template=SmsTemplate.from_row(row))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(SmsTemplatePayload)
    async def update_sms_template(
        self, info: Info, id: strawberry.ID, input: SmsTemplateInput
    ) -> SmsTemplatePayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await existing_row(session, SmsTemplateRow, id, what="template")
            if input.name is not None:
                row.name = required_name(input.name)
            if input.body is not None:
                row.body = checked_template_body(input.body)
            if input.kind is not None:
                row.kind = input.kind
            if input.active is not None:
                row.active = input.active
            in_use = await events_using(session, row.id)
            if in_use and (not row.active or row.kind is not SmsTemplateKindEnum.REMINDER_EVENT):
                raise DomainError(
                    ErrorCode.INVALID_TEMPLATE,
                    f"The reminder event {in_use[0].description!r} uses this "
                    "template; choose another template for it first.",
                    field="active",
                )
        return SmsTemplatePayload(template=SmsTemplate.from_row(row))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ReminderEventPayload)
    async def create_reminder_event(
        self, info: Info, input: ReminderEventInput
    ) -> ReminderEventPayload:
        info.context.require_admin()
        if input.interval_days is None or input.run_at is None or input.template_id is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "A reminder event needs an interval, a template and a time to run.",
                field="intervalDays"
                if input.interval_days is None
                else "runAt"
                if input.run_at is None
                else "templateId",
            )
        async with info.context.sessions.begin() as session:
            template = check_event_template(
                await session.get(SmsTemplateRow, row_id(input.template_id, "templateId"))
            )
            row = ReminderEventRow(
                description=event_description(input.description),
                interval_days=check_interval(input.interval_days),
                template_id=template.id,
                run_at=check_run_at(input.run_at),
                enabled=input.enabled if input.enabled is not None else True,
            )
            session.add(row)
        return ReminderEventPayload(event=ReminderEvent.from_row(row))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ReminderEventPayload)
    async def update_reminder_event(
        self, info: Info, id: strawberry.ID, input: ReminderEventInput
    ) -> ReminderEventPayload:
        info.context.require_admin()
        async with info.context.sessions.begin() as session:
            row = await existing_row(session, ReminderEventRow, id, what="reminder event")
            if input.description is not None:
                row.description = event_description(input.description)
            if input.interval_days is not None:
                row.interval_days = check_interval(input.interval_days)
            if input.template_id is not None:
                row.template_id = check_event_template(
                    await session.get(SmsTemplateRow, row_id(input.template_id, "templateId"))
                ).id
            if input.run_at is not None:
                row.run_at = check_run_at(input.run_at)
            if input.enabled is not None:
                row.enabled = input.enabled
            if row.enabled and input.template_id is None:
                # Re-enabling an event whose template was deactivated while it was off.
                check_event_template(await session.get(SmsTemplateRow, row.template_id))
        return ReminderEventPayload(event=ReminderEvent.from_row(row))
