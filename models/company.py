"""The company's global settings, user profiles, users and their sign-in tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.columns import UtcDateTime, enum_column, utcnow
from models.enums import FieldVisibility

SETTINGS_ID = 1


class GlobalSettings(SQLModel, table=True):
    __tablename__ = "global_settings"

    id: int = Field(default=SETTINGS_ID, primary_key=True)
    company_name: str = Field(default="", max_length=200)
    sms_enabled: bool = False
    sms_reminders_enabled: bool = False
    time_zone: str = Field(default="Pacific/Auckland", max_length=64)
    # Write ā ē ī ō ū as plain vowels when that keeps a message in one SMS.
    plain_vowels_for_macrons: bool = False


class Profile(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    edit_contact: bool = False
    send_sms_to_client: bool = False
    show_sms_errors: bool = False
    global_administrator: bool = False
    layout_appointment_contact: FieldVisibility = Field(
        default=FieldVisibility.VISIBLE, sa_type=enum_column(FieldVisibility)
    )
    layout_appointment_sms_reminder: FieldVisibility = Field(
        default=FieldVisibility.VISIBLE, sa_type=enum_column(FieldVisibility)
    )
    layout_client_sms_reminders: FieldVisibility = Field(
        default=FieldVisibility.VISIBLE, sa_type=enum_column(FieldVisibility)
    )


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)
    profile_id: int = Field(foreign_key="profile.id", index=True)


class AuthToken(SQLModel, table=True):
    """A bearer token, kept only as its SHA-256 so a leaked table signs nobody in."""

    __tablename__ = "auth_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # Indexed for the daily clean-up of expired tokens (jobs/tokens.py).
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)


class AlertAcknowledgement(SQLModel, table=True):
    """A user dismissed the SMS failure alert: it covers the failures there were then, that day."""

    __tablename__ = "alert_acknowledgement"
    __table_args__ = (sa.Index("ix_alert_ack_user_at", "user_id", "acknowledged_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    acknowledged_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
