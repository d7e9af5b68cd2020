"""Templates, reminder events, messages, opt-outs and inbound replies."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Field, SQLModel, col, select

from models.columns import UtcDateTime, enum_column, utcnow
from models.enums import (
    OptOutMethod,
    RecipientKind,
    ReplyEffect,
    SmsSource,
    SmsStatus,
    SmsTemplateKind,
)


class SmsTemplate(SQLModel, table=True):
    __tablename__ = "sms_template"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: SmsTemplateKind = Field(sa_type=enum_column(SmsTemplateKind))
    body: str = Field(max_length=2000)
    active: bool = True


class ReminderEvent(SQLModel, table=True):
    __tablename__ = "reminder_event"

    id: int | None = Field(default=None, primary_key=True)
    description: str = Field(max_length=300)
    interval_days: int = 1
    template_id: int = Field(foreign_key="sms_template.id")
    run_at: time
    enabled: bool = True
    last_run_on: date | None = None


class SmsMessage(SQLModel, table=True):
    """One SMS, written before it is attempted; its status only ever moves forward."""

    __tablename__ = "sms_message"
    __table_args__ = (
        # A reminder event reaches a job once per run date, whatever retries or races happen.
        sa.UniqueConstraint("job_id", "reminder_event_id", "run_date", name="uq_sms_reminder_once"),
        # A retried send with the same key is the same message.
        sa.UniqueConstraint("sent_by_id", "idempotency_key", name="uq_sms_idempotency"),
        # The history's and the failure search's keyset order (newest first), overall and
        # within a status; and the messages to a contact, for a search by the contact's name.
        sa.Index("ix_sms_message_status_newest", "status", "created_at", "id"),
        sa.Index("ix_sms_message_newest", "created_at", "id"),
        sa.Index("ix_sms_message_recipient", "recipient_id", "recipient_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    to_number: str = Field(max_length=40, index=True)
    body: str = Field(max_length=2000)
    status: SmsStatus = Field(default=SmsStatus.QUEUED, sa_type=enum_column(SmsStatus))
    error_code: str | None = Field(default=None, max_length=40)
    error_message: str | None = Field(default=None, max_length=500)
    source: SmsSource = Field(sa_type=enum_column(SmsSource))
    recipient_kind: RecipientKind | None = Field(default=None, sa_type=enum_column(RecipientKind))
    recipient_id: int | None = None
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id", index=True)
    time_entry_id: int | None = Field(default=None, foreign_key="time_entry.id")
    job_id: int | None = Field(default=None, foreign_key="job.id")
    sent_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    reminder_event_id: int | None = Field(default=None, foreign_key="reminder_event.id")
    run_date: date | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_meters: float | None = None
    location_captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    segments: int = 1
    encoding: str = Field(default="GSM-7", max_length=8)
    provider_message_id: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )
    idempotency_key: str | None = Field(default=None, max_length=128)
    attempts: int = 0
    # SENDING with retry_at set: the provider was unreachable, try again then. SENDING without
    # it: handed to the provider, outcome awaited from its callback (never sent blindly again).
    retry_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    send_started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SmsMessageText(SQLModel, table=True):
    """A message's number and text as the history searches them (models.search).

    Kept by database triggers (migration 0007): written with the message, written again only
    when its number or text is, and removed with it. The trigram indexes a `%…%` search needs
    are costly to keep, and on sms_message every status change would rewrite them (PostgreSQL
    writes a new entry in every index of a row whose indexed columns change, and the status is
    indexed). A migration that rebuilds sms_message (SQLite's batch mode) must make the
    triggers again."""

    __tablename__ = "sms_message_text"

    message_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("sms_message.id", ondelete="CASCADE"), primary_key=True
        )
    )
    to_number: str = Field(max_length=40)
    body: str = Field(max_length=2000)


class SmsMessageAppointment(SQLModel, table=True):
    """Every appointment a message is about: one for a manual send, all the job's for a reminder."""

    __tablename__ = "sms_message_appointment"

    message_id: int = Field(foreign_key="sms_message.id", primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", primary_key=True, index=True)


class OptOut(SQLModel, table=True):
    __tablename__ = "opt_out"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    opted_out: bool = True
    method: OptOutMethod = Field(sa_type=enum_column(OptOutMethod))
    opted_out_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    opted_in_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class InboundMessage(SQLModel, table=True):
    """An SMS a client sent us: a reply, linked to the message it answers when there is one
    (models.replies decides the link and the effect)."""

    __tablename__ = "inbound_message"
    __table_args__ = (sa.Index("ix_inbound_message_received", "received_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    from_number: str = Field(max_length=40, index=True)
    to_number: str = Field(max_length=40)
    body: str = Field(max_length=2000)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    provider_message_id: str | None = Field(
        default=None, max_length=64, sa_column_kwargs={"unique": True}
    )
    in_reply_to_id: int | None = Field(default=None, foreign_key="sms_message.id", index=True)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    client_id: int | None = Field(default=None, foreign_key="client.id", index=True)
    recipient_kind: RecipientKind | None = Field(default=None, sa_type=enum_column(RecipientKind))
    recipient_id: int | None = None
    effect: ReplyEffect = Field(default=ReplyEffect.NONE, sa_type=enum_column(ReplyEffect))
    # Read by anyone in the office is read for everyone.
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    read_by_id: int | None = Field(default=None, foreign_key="app_user.id")


def sms_count(appointment_id: Any) -> Any:
    """How many messages are about the appointment (its own and the reminders linking it), the
    failed ones not counted: a column of any query that reads the appointment's id."""
    return (
        select(func.count())
        .select_from(SmsMessageAppointment)
        .join(SmsMessage, col(SmsMessage.id) == SmsMessageAppointment.message_id)
        .where(
            SmsMessageAppointment.appointment_id == appointment_id,
            SmsMessage.status != SmsStatus.FAILED,
        )
        .scalar_subquery()
    )
