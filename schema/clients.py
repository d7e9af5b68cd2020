"""Clients, contacts, recipients and phone checks as the API shows them."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from models import Client as ClientRow
from models import Contact as ContactRow
from models.contact_numbers import mobile_matches_sms
from models.enums import RecipientKind as RecipientKindEnum
from models.phone import PhoneCheck
from models.recipients import Recipient as RecipientRule
from models.recipients import RecipientRef, client_recipient, client_sms_number, contact_recipient
from schema.context import Info
from schema.errors import ErrorCode
from schema.loaders import MISSING, Missing, now_or_later

RecipientKind = strawberry.enum(RecipientKindEnum, name="RecipientKind")


@strawberry.type(description="Result of checking or formatting a phone number as an SMS number.")
class PhoneNumberCheck:
    input: str
    valid: bool
    e164: str | None = strawberry.field(
        description="E.164 when the input is, or can be formatted into, a NZ or AU mobile."
    )
    formatted: str | None = strawberry.field(
        description="National display format, e.g. 021 123 4567."
    )
    country: str | None = strawberry.field(description="NZ or AU when recognised.")
    message: str | None = strawberry.field(description="Why it is not valid, when it is not.")

    @classmethod
    def from_check(cls, check: PhoneCheck) -> PhoneNumberCheck:
        return cls(
            input=check.input,
            valid=check.valid,
            e164=check.e164,
            formatted=check.formatted,
            country=check.country,
            message=check.message,
        )


def is_opted_out(info: Info, number: str | None) -> bool | Awaitable[bool]:
    if not number:
        return False
    return now_or_later(info.context.loaders.opted_out, number, bool)


@strawberry.type
class Client:
    row: strawberry.Private[ClientRow]
    id: strawberry.ID
    name: str
    active: bool
    mobile_country_code: str | None = strawberry.field(
        description="+64 or +61, or null when no mobile is set."
    )
    mobile_number: str | None
    sms_number: str | None = strawberry.field(
        description="E.164 of the client's mobile when it is a valid SMS number."
    )
    sms_reminders: bool = strawberry.field(
        description="Receives SMS appointment reminders; false on new clients."
    )

    @classmethod
    def from_row(cls, row: ClientRow) -> Client:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            name=row.name,
            active=row.active,
            mobile_country_code=row.mobile_country_code,
            mobile_number=row.mobile_number,
            sms_number=row.sms_number,
            sms_reminders=row.sms_reminders,
        )

    @strawberry.field(description="The client's mobile has opted out (replied STOP).")
    def opted_out(self, info: Info) -> bool:
        return is_opted_out(info, self.row.sms_number)

    @strawberry.field
    async def contacts(self, info: Info, active_only: bool | None = True) -> list[Contact]:
        rows = await info.context.loaders.contacts_of_client.load(self.row.id)
        return [Contact.from_row(r) for r in rows if r.active or active_only is False]


def client_by_id(info: Info, client_id: int) -> Client | Awaitable[Client]:
    return now_or_later(info.context.loaders.clients, client_id, Client.from_row)


@strawberry.type
class Contact:
    row: strawberry.Private[ContactRow]
    id: strawberry.ID
    name: str
    active: bool
    phone: str | None
    mobile: str | None
    sms_number: str | None
    copy_mobile_to_sms: bool = strawberry.field(
        description="True whenever the mobile formats to the SMS number, however the numbers "
        "got there; the edit form opens with Copy mobile number to SMS ticked then, and the "
        "SMS number keeps in step with the mobile."
    )

    @classmethod
    def from_row(cls, row: ContactRow) -> Contact:
        return cls(
            row=row,
            id=strawberry.ID(str(row.id)),
            name=row.name,
            active=row.active,
            phone=row.phone,
            mobile=row.mobile,
            sms_number=row.sms_number,
            copy_mobile_to_sms=mobile_matches_sms(row),
        )

    @strawberry.field
    def client(self, info: Info) -> Client:
        return client_by_id(info, self.row.client_id)

    @strawberry.field
    def opted_out(self, info: Info) -> bool:
        return is_opted_out(info, self.row.sms_number)


@strawberry.type(description="Who an SMS goes to: the client itself or one of its contacts.")
class Recipient:
    kind: RecipientKind
    id: strawberry.ID
    name: str
    sms_number: str | None
    opted_out: bool
    can_receive_sms: bool
    problem: ErrorCode | None = strawberry.field(
        description="Why this recipient cannot receive SMS (INVALID_RECIPIENT for a contact "
        "no longer active, NO_SMS_NUMBER, INVALID_SMS_NUMBER, OPTED_OUT), else null."
    )

    @classmethod
    def from_rule(cls, rule: RecipientRule) -> Recipient:
        return cls(
            kind=rule.kind,
            id=strawberry.ID(str(rule.id)),
            name=rule.name,
            sms_number=rule.sms_number,
            opted_out=rule.opted_out,
            can_receive_sms=rule.can_receive_sms,
            problem=rule.problem,
        )


async def recipient_for(info: Info, ref: RecipientRef) -> RecipientRule | None:
    """The recipient's eligibility, loaded through the operation's DataLoaders."""
    loaders = info.context.loaders
    client = ref.kind is RecipientKindEnum.CLIENT
    row = await (loaders.clients if client else loaders.contacts).load(ref.id)
    if row is not None and (number := recipient_number(ref, row)):
        await loaders.opted_out.load(number)
    return known_recipient(info, ref)  # all loaded now


def known_recipient(info: Info, ref: RecipientRef) -> RecipientRule | None | Missing:
    """The recipient's eligibility from what the operation holds already, else MISSING."""
    loaders = info.context.loaders
    client = ref.kind is RecipientKindEnum.CLIENT
    row = (loaders.clients if client else loaders.contacts).known(ref.id)
    if row is None or row is MISSING:
        return row
    number = recipient_number(ref, row)
    out = loaders.opted_out.known(number) if number else False
    if out is MISSING:
        return MISSING
    opted_out = {number} if out else set()
    return client_recipient(row, opted_out) if client else contact_recipient(row, opted_out)


def recipient_number(ref: RecipientRef, row: ClientRow | ContactRow) -> str | None:
    return client_sms_number(row) if ref.kind is RecipientKindEnum.CLIENT else row.sms_number


async def stored_recipient(
    info: Info, kind: RecipientKindEnum | None, recipient_id: int | None
) -> Recipient | None:
    """The recipient a stored message or reply names, if it names one that still exists."""
    if kind is None or recipient_id is None:
        return None
    rule = await recipient_for(info, RecipientRef(kind, recipient_id))
    return Recipient.from_rule(rule) if rule else None
