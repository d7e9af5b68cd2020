"""Client and contact edits, and the bulk SMS Appointment Reminders flag."""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry
from sqlalchemy import update
from sqlmodel import col, func, select

from models import Client as ClientRow
from models import Contact as ContactRow
from models import contact_numbers
from models.access import require_edit_contact, require_sms_enabled, require_visible
from models.contact_numbers import NumberField, clean_number
from models.errors import DomainError, ErrorCode
from models.names import required_name
from models.phone import check_client_mobile
from schema.clients import Client, Contact
from schema.context import Info
from schema.errors import UserError, user_errors
from schema.ids import existing_row, row_id
from schema.permissions import IsAuthenticated
from schema.queries.clients import ClientFilter, clients_matching


@strawberry.enum
class ContactNumberField(enum.Enum):
    PHONE = "PHONE"
    MOBILE = "MOBILE"


@strawberry.input
class ClientInput:
    name: str | None = None
    active: bool | None = None
    mobile_country_code: str | None = None
    mobile_number: str | None = None
    sms_reminders: bool | None = None


@strawberry.type
class ClientPayload:
    client: Client | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ContactInput:
    client_id: strawberry.ID | None = None
    name: str | None = None
    active: bool | None = None
    phone: str | None = None
    mobile: str | None = None
    sms_number: str | None = None
    copy_mobile_to_sms: bool | None = None


@strawberry.type
class ContactPayload:
    contact: Contact | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BulkPayload:
    affected_count: int = strawberry.field(
        default=0, description="How many records were (or, with dryRun, would be) changed."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


async def sms_reminder_editor(info: Info) -> None:
    """Only users who see the client's SMS Appointment Reminders field may change it."""
    _, profile = info.context.require_user()
    await info.context.require_reminders_enabled()
    require_visible(profile.layout_client_sms_reminders, "Client > SMS Appointment Reminders")


async def contact_editor(info: Info, input: ContactInput | None = None) -> None:
    """Contacts stay editable with SMS off; only their SMS fields wait for SMS to be on."""
    _, profile = info.context.require_user()
    require_edit_contact(profile)
    if input is not None:
        sms_fields = {"smsNumber": input.sms_number, "copyMobileToSms": input.copy_mobile_to_sms}
        for field, value in sms_fields.items():
            if value is not None:
                require_sms_enabled(await info.context.company(), field)


async def sms_tool_user(info: Info) -> None:
    """Contact Bulk Updates and its copy buttons are SMS screens: Enable SMS and Edit Contact."""
    await contact_editor(info)
    await info.context.require_sms_enabled()


def apply_mobile(client: ClientRow, input: ClientInput) -> None:
    code = (
        input.mobile_country_code
        if input.mobile_country_code is not None
        else client.mobile_country_code
    )
    number = input.mobile_number if input.mobile_number is not None else client.mobile_number
    mobile = check_client_mobile(
        clean_number(code, "mobileCountryCode"), clean_number(number, "mobileNumber")
    )
    client.mobile_country_code = mobile.country_code if mobile else None
    client.mobile_number = mobile.number if mobile else None
    client.sms_number = mobile.e164 if mobile else None


async def apply_client_input(info: Info, client: ClientRow, input: ClientInput) -> None:
    """The one path of a client save, new or existing: what the input gives, under one rule set."""
    if input.name is not None:
        client.name = required_name(input.name)
    if input.active is not None:
        client.active = input.active
    if input.mobile_country_code is not None or input.mobile_number is not None:
        apply_mobile(client, input)
    if input.sms_reminders is not None and input.sms_reminders != client.sms_reminders:
        await sms_reminder_editor(info)
        client.sms_reminders = input.sms_reminders


@strawberry.type
class ClientsMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A new client; SMS Appointment Reminders is off unless the input says "
        "otherwise.",
    )
    @user_errors(ClientPayload)
    async def create_client(self, info: Info, input: ClientInput) -> ClientPayload:
        info.context.require_user()
        client = ClientRow(name=required_name(input.name), sms_reminders=False)
        async with info.context.sessions.begin() as session:
            await apply_client_input(info, client, input)
            session.add(client)
        return ClientPayload(client=Client.from_row(client))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ClientPayload)
    async def update_client(
        self, info: Info, id: strawberry.ID, input: ClientInput
    ) -> ClientPayload:
        info.context.require_user()
        async with info.context.sessions.begin() as session:
            client = await existing_row(session, ClientRow, id, what="client")
            await apply_client_input(info, client, input)
        return ClientPayload(client=Client.from_row(client))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Bulk-set SMS Appointment Reminders on the given clients, or "
        "on all matching the filter.",
    )
    @user_errors(BulkPayload)
    async def set_clients_sms_reminders(
        self,
        info: Info,
        enabled: bool,
        ids: list[strawberry.ID] | None = None,
        filter: ClientFilter | None = None,
        dry_run: bool | None = False,
    ) -> BulkPayload:
        await sms_reminder_editor(info)
        if ids is None and filter is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "Give the clients' ids or a filter.", field="ids"
            )
        chosen = clients_matching(filter).where(ClientRow.sms_reminders != enabled)
        if ids is not None:
            chosen = chosen.where(col(ClientRow.id).in_([row_id(i, "ids") for i in ids]))
        async with info.context.sessions.begin() as session:
            affected = (
                await session.exec(select(func.count()).select_from(chosen.subquery()))
            ).one()
            if not dry_run and affected:
                await session.execute(
                    update(ClientRow)
                    .where(col(ClientRow.id).in_(chosen.with_only_columns(ClientRow.id)))
                    .values(sms_reminders=enabled)
                    .execution_options(synchronize_session=False)
                )
        return BulkPayload(affected_count=affected)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ContactPayload)
    async def create_contact(self, info: Info, input: ContactInput) -> ContactPayload:
        await contact_editor(info, input)
        if input.client_id is None:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "A contact needs a client.", field="clientId"
            )
        async with info.context.sessions.begin() as session:
            client = await session.get(ClientRow, row_id(input.client_id, "clientId"))
            if client is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such client.", field="clientId")
            contact = ContactRow(
                client_id=client.id,
                name=required_name(input.name),
                active=input.active if input.active is not None else True,
                phone=clean_number(input.phone, "phone"),
                mobile=clean_number(input.mobile, "mobile"),
                sms_number=contact_numbers.valid_sms_number(input.sms_number),
            )
            contact_numbers.set_on_create(contact, sms_given=input.sms_number is not None)
            contact_numbers.require_copy_matches(contact, input.copy_mobile_to_sms)
            session.add(contact)
        return ContactPayload(contact=Contact.from_row(contact))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ContactPayload)
    async def update_contact(
        self, info: Info, id: strawberry.ID, input: ContactInput
    ) -> ContactPayload:
        await contact_editor(info, input)
        async with info.context.sessions.begin() as session:
            contact = await existing_row(session, ContactRow, id, what="contact")
            if (
                input.client_id is not None
                and row_id(input.client_id, "clientId") != contact.client_id
            ):
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "A contact cannot move to another client.",
                    field="clientId",
                )
            if input.name is not None:
                contact.name = required_name(input.name)
            if input.active is not None:
                contact.active = input.active
            if input.phone is not None:
                contact.phone = clean_number(input.phone, "phone")
            sms_given = input.sms_number is not None
            given = contact_numbers.valid_sms_number(input.sms_number) if sms_given else None
            mobile = clean_number(
                input.mobile if input.mobile is not None else contact.mobile, "mobile"
            )
            contact_numbers.set_on_edit(contact, mobile, given, sms_given, input.copy_mobile_to_sms)
        return ContactPayload(contact=Contact.from_row(contact))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Inline edit in Contact Bulk Updates; the SMS number follows "
        "when it matched the old number or was empty.",
    )
    @user_errors(ContactPayload)
    async def update_contact_number(
        self, info: Info, id: strawberry.ID, field: ContactNumberField, value: str | None = None
    ) -> ContactPayload:
        await sms_tool_user(info)
        async with info.context.sessions.begin() as session:
            contact = await existing_row(session, ContactRow, id, what="contact")
            contact_numbers.set_number(contact, NumberField[field.name], value)
        return ContactPayload(contact=Contact.from_row(contact))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    @user_errors(ContactPayload)
    async def copy_contact_number_to_sms(
        self,
        info: Info,
        id: strawberry.ID,
        from_: Annotated[ContactNumberField, strawberry.argument(name="from")],
    ) -> ContactPayload:
        await sms_tool_user(info)
        async with info.context.sessions.begin() as session:
            contact = await existing_row(session, ContactRow, id, what="contact")
            contact_numbers.copy_to_sms(contact, NumberField[from_.name])
        return ContactPayload(contact=Contact.from_row(contact))
