"""Clients and their contacts, with the numbers SMS goes to."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Client(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    active: bool = True
    mobile_country_code: str | None = Field(default=None, max_length=4)
    mobile_number: str | None = Field(default=None, max_length=40)
    # E.164 of the mobile when it is a valid SMS number; kept in step on every save.
    sms_number: str | None = Field(default=None, max_length=16, index=True)
    sms_reminders: bool = False


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    name: str = Field(max_length=200, index=True)
    active: bool = True
    phone: str | None = Field(default=None, max_length=40)
    mobile: str | None = Field(default=None, max_length=40)
    # E.164 SMS number; "Copy mobile number to SMS" is derived from it and the mobile
    # (models.contact_numbers.mobile_matches_sms), never stored, so it cannot drift.
    sms_number: str | None = Field(default=None, max_length=16, index=True)
