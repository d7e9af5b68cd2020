"""Clients, contacts, recipients and phone checks as the API shows them."""

from __future__ import annotations

import strawberry

from models import Client as ClientRow
from models import Contact as ContactRow
from models.enums import RecipientKind as RecipientKindEnum
from models.phone import PhoneCheck
from models.recipients import Recipient as RecipientRule
from models.recipients import RecipientRef, client_recipient, client_sms_number, contact_recipient
from schema.context import Info
from schema.errors import ErrorCode

RecipientKind = strawberry.enum(RecipientKindEnum, name="RecipientKind")


@strawberry.type(description="Result of checking or formatting a phone number as an SMS number.")
class PhoneNumberCheck:
    input: str
    valid: bool
    e164: str | None = strawberry.field(
        description="E.164 when the input is, or can be formatted into, a NZ or AU mobile.")
    formatted: str | None = strawberry.field(
        description="National display format, e.g. 021 123 4567.")
    country: str | None = strawberry.field(description="NZ or AU when recognised.")
    message: str | None = strawberry.field(description="Why it is not valid, when it is not.")

    @classmethod
    def from_check(cls, check: PhoneCheck) -> PhoneNumberCheck:
        return cls(input=check.input, valid=check.valid, e164=check.e164,
                   formatted=check.formatted, country=check.country, message=check.message)


async def is_opted_out(info: Info, number: str | None) -> bool:
    return bool(number) and await info.context.loaders.opted_out.load(number)


@strawberry.type
class Client:
    row: strawberry.Private[ClientRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def active(self) -> bool:
        return self.row.active

    @strawberry.field(description="+64 or +61, or null when no mobile is set.")
    def mobile_country_code(self) -> str | None:
        return self.row.mobile_country_code

    @strawberry.field
    def mobile_number(self) -> str | None:
        return self.row.mobile_number

    @strawberry.field(description="E.164 of the client's mobile when it is a valid SMS number.")
    def sms_number(self) -> str | None:
        return self.row.sms_number

    @strawberry.field(description="Receives SMS appointment reminders; false on new clients.")
    def sms_reminders(self) -> bool:
        return self.row.sms_reminders

    @strawberry.field(description="The client's mobile has opted out (replied STOP).")
    async def opted_out(self, info: Info) -> bool:
        return await is_opted_out(info, self.row.sms_number)

    @strawberry.field
    async def contacts(self, info: Info, active_only: bool | None = True) -> list[Contact]:
        rows = await info.context.loaders.contacts_of_client.load(self.row.id)
        return [Contact(row=r) for r in rows if r.active or active_only is False]


@strawberry.type
class Contact:
    row: strawberry.Private[ContactRow]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    async def client(self, info: Info) -> Client:
        return Client(row=await info.context.loaders.clients.load(self.row.client_id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def active(self) -> bool:
        return self.row.active

    @strawberry.field
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field
    def mobile(self) -> str | None:
        return self.row.mobile

    @strawberry.field
    def sms_number(self) -> str | None:
        return self.row.sms_number

    @strawberry.field(description="Keep the SMS number in step with the mobile number.")
    def copy_mobile_to_sms(self) -> bool:
        return self.row.copy_mobile_to_sms

    @strawberry.field
    async def opted_out(self, info: Info) -> bool:
        return await is_opted_out(info, self.row.sms_number)


@strawberry.type(description="Who an SMS goes to: the client itself or one of its contacts.")
class Recipient:
    rule: strawberry.Private[RecipientRule]

    @strawberry.field
    def kind(self) -> RecipientKind:
        return self.rule.kind

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.rule.id))

    @strawberry.field
    def name(self) -> str:
        return self.rule.name

    @strawberry.field
    def sms_number(self) -> str | None:
        return self.rule.sms_number

    @strawberry.field
    def opted_out(self) -> bool:
        return self.rule.opted_out

    @strawberry.field
    def can_receive_sms(self) -> bool:
        return self.rule.can_receive_sms

    @strawberry.field(description="Why this recipient cannot receive SMS (NO_SMS_NUMBER, "
                      "INVALID_SMS_NUMBER, OPTED_OUT), else null.")
    def problem(self) -> ErrorCode | None:
        return self.rule.problem


async def recipient_for(info: Info, ref: RecipientRef) -> RecipientRule | None:
    """The recipient's eligibility, loaded through the operation's DataLoaders."""
    loaders = info.context.loaders
    if ref.kind is RecipientKindEnum.CLIENT:
        client = await loaders.clients.load(ref.id)
        if client is None:
            return None
        number = client_sms_number(client)
        return client_recipient(client, {number} if await is_opted_out(info, number) else set())
    contact = await loaders.contacts.load(ref.id)
    if contact is None:
        return None
    number = contact.sms_number
    return contact_recipient(contact, {number} if await is_opted_out(info, number) else set())
