"""Clients and their contacts, with the numbers SMS goes to."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def grid_index(name: str, sqlite: str, postgresql: str) -> sa.Index:
    """An index on (name, id), the order of a grid's keyset pages, over the rows of one of its
    filters only; the condition is written as each database's queries say it."""
    return sa.Index(
        name, "name", "id", sqlite_where=sa.text(sqlite), postgresql_where=sa.text(postgresql)
    )


class Client(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_client_grid", "name", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    active: bool = True
    mobile_country_code: str | None = Field(default=None, max_length=4)
    mobile_number: str | None = Field(default=None, max_length=40)
    # E.164 of the mobile when it is a valid SMS number; kept in step on every save.
    sms_number: str | None = Field(default=None, max_length=16, index=True)
    sms_reminders: bool = False


class Contact(SQLModel, table=True):
    # Contact Bulk Updates lists active contacts; each category has its own index.
    __table_args__ = (
        grid_index("ix_contact_grid", "active = 1", "active"),
        grid_index(
            "ix_contact_grid_invalid_number",
            "active = 1 AND invalid_number = 1",
            "active AND invalid_number",
        ),
        grid_index(
            "ix_contact_grid_sms_differs",
            "active = 1 AND sms_differs_from_mobile = 1",
            "active AND sms_differs_from_mobile",
        ),
        grid_index(
            "ix_contact_grid_missing_sms_number",
            "active = 1 AND sms_number IS NULL",
            "active AND sms_number IS NULL",
        ),
        grid_index(
            "ix_contact_grid_opted_out", "active = 1 AND opted_out = 1", "active AND opted_out"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    name: str = Field(max_length=200, index=True)
    active: bool = True
    phone: str | None = Field(default=None, max_length=40)
    mobile: str | None = Field(default=None, max_length=40)
    # E.164 SMS number; "Copy mobile number to SMS" is derived from it and the mobile
    # (models.contact_numbers.mobile_matches_sms), never stored, so it cannot drift.
    sms_number: str | None = Field(default=None, max_length=16, index=True)
    # What the phone rules say of the numbers above, stored so the Contact Bulk Updates grid
    # filters and counts in SQL. Set on every flush that changes a number
    # (models.contact_numbers.keep_number_facts), by the backfill and by migration 0006.
    invalid_number: bool = False
    sms_differs_from_mobile: bool = False
    # Whether the SMS number has opted out (models.opt_outs keeps it, with the opt-out itself).
    opted_out: bool = False
