"""Clients, contacts, the Contact Bulk Updates grid and phone checks."""

from __future__ import annotations

import strawberry
from sqlalchemy import or_, true
from sqlmodel import col, select

from models import Client as ClientRow
from models import Contact as ContactRow
from models.access import require_edit_contact
from models.enums import ContactCategory as ContactCategoryEnum
from models.phone import check_mobile
from models.search import holds, like, searching
from schema.clients import Client, Contact, PhoneNumberCheck
from schema.context import Info
from schema.ids import row_id
from schema.pagination import Keyset, PageInfo, fetch_page
from schema.permissions import IsAuthenticated, coded_errors

ContactCategory = strawberry.enum(ContactCategoryEnum, name="ContactCategory")


@strawberry.input
class ClientFilter:
    search: str | None = None
    active: bool | None = None
    sms_reminders: bool | None = None


@strawberry.input
class ContactFilter:
    category: ContactCategory | None = ContactCategoryEnum.ALL
    search: str | None = None


@strawberry.type
class ClientConnection:
    total_count: int
    page_info: PageInfo
    nodes: list[Client]


@strawberry.type
class ContactConnection:
    total_count: int
    page_info: PageInfo
    nodes: list[Contact]


def clients_matching(filter: ClientFilter | None):
    stmt = select(ClientRow)
    if filter is None:
        return stmt
    if searching(filter.search):
        stmt = stmt.where(holds(ClientRow.name, like(filter.search)))
    if filter.active is not None:
        stmt = stmt.where(ClientRow.active == filter.active)
    if filter.sms_reminders is not None:
        stmt = stmt.where(ClientRow.sms_reminders == filter.sms_reminders)
    return stmt


CLIENT_ORDER = Keyset(col(ClientRow.name), col(ClientRow.id))
CONTACT_ORDER = Keyset(col(ContactRow.name), col(ContactRow.id))


def contacts_matching(filter: ContactFilter | None):
    category = (filter.category if filter else None) or ContactCategoryEnum.ALL
    stmt = select(ContactRow).where(ContactRow.active == true())
    if filter and searching(filter.search):
        pattern = like(filter.search)
        searched = (ContactRow.name, ContactRow.phone, ContactRow.mobile, ContactRow.sms_number)
        stmt = stmt.where(or_(*(holds(column, pattern) for column in searched)))
    if category is ContactCategoryEnum.MISSING_SMS_NUMBER:
        stmt = stmt.where(col(ContactRow.sms_number).is_(None))
    elif category is ContactCategoryEnum.INVALID_NUMBER:
        stmt = stmt.where(ContactRow.invalid_number == true())
    elif category is ContactCategoryEnum.SMS_DIFFERS_FROM_MOBILE:
        stmt = stmt.where(ContactRow.sms_differs_from_mobile == true())
    elif category is ContactCategoryEnum.OPTED_OUT:
        stmt = stmt.where(ContactRow.opted_out == true())
    return stmt


@strawberry.type
class ClientsQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def client(self, info: Info, id: strawberry.ID) -> Client | None:
        row = await info.context.loaders.clients.load(row_id(id, "id"))
        return Client.from_row(row) if row else None

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def clients(
        self,
        info: Info,
        filter: ClientFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> ClientConnection:
        async with info.context.sessions() as session:
            total, rows, page = await fetch_page(
                session,
                clients_matching(filter),
                CLIENT_ORDER,
                first,
                after,
                "name",
                searched=searching(filter and filter.search),
            )
        info.context.loaders.prime(ClientRow, rows)
        return ClientConnection(
            total_count=total, page_info=page, nodes=[Client.from_row(r) for r in rows]
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    @coded_errors
    async def contact(self, info: Info, id: strawberry.ID) -> Contact | None:
        row = await info.context.loaders.contacts.load(row_id(id, "id"))
        return Contact.from_row(row) if row else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The Contact Bulk Updates grid: active contacts, filtered by category.",
    )
    @coded_errors
    async def contacts_for_bulk_update(
        self,
        info: Info,
        filter: ContactFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> ContactConnection:
        _, profile = info.context.require_user()
        await info.context.require_sms_enabled()
        require_edit_contact(profile)
        async with info.context.sessions() as session:
            total, rows, page = await fetch_page(
                session,
                contacts_matching(filter),
                CONTACT_ORDER,
                first,
                after,
                "name",
                searched=searching(filter and filter.search),
            )
        info.context.loaders.prime(ContactRow, rows)
        return ContactConnection(
            total_count=total, page_info=page, nodes=[Contact.from_row(r) for r in rows]
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Judge a number as an SMS mobile. With countryCode (+64, +61, NZ, AU) it "
        "is judged as a client's mobile with that code, by the rule updateClient applies: "
        "valid here exactly when the client form would save it.",
    )
    def check_phone_number(self, input: str, country_code: str | None = None) -> PhoneNumberCheck:
        return PhoneNumberCheck.from_check(check_mobile(input, country_code))
