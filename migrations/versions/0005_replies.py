"""Replies: each inbound SMS linked to the message it answers, with its effect and read state;
the company setting for plain vowels in place of macrons

Revision ID: 0005
Revises: 0004
"""

import re
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EFFECTS = ("NONE", "OPTED_OUT", "OPTED_IN", "CONFIRMED", "RESCHEDULE_REQUESTED")
# The opt-out and opt-in words as they were when these replies came: only they had an effect.
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}
LINK_DAYS = 14
# A message that reached, or may have reached, the handset (models.replies.ANSWERABLE).
ANSWERABLE = ("SENDING", "SENT", "DELIVERED")
# The message's columns a reply takes over: its id (as in_reply_to_id) and what it is about.
LINKED = ("id", "appointment_id", "job_id", "client_id", "recipient_kind", "recipient_id")


def upgrade() -> None:
    columns = [
        sa.Column("in_reply_to_id", sa.Integer(), sa.ForeignKey("sms_message.id"), nullable=True),
        sa.Column("appointment_id", sa.Integer(), sa.ForeignKey("appointment.id"), nullable=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("job.id"), nullable=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("client.id"), nullable=True),
        sa.Column(
            "recipient_kind",
            sa.Enum("CLIENT", "CONTACT", name="recipientkind", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column(
            "effect",
            sa.Enum(*EFFECTS, name="replyeffect", native_enum=False, length=24),
            nullable=False,
            server_default="NONE",
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=True),
    ]
    if op.get_bind().dialect.name == "sqlite":
        # Alembic would add each foreign key apart, which SQLite cannot; it takes them inline.
        for column in columns:
            target = next(iter(column.foreign_keys), None)
            if target is None:
                op.add_column("inbound_message", column)
                continue
            table, key = target.target_fullname.split(".")
            op.execute(
                f"ALTER TABLE inbound_message ADD COLUMN {column.name} INTEGER "
                f"REFERENCES {table} ({key})"
            )
    else:
        for column in columns:
            op.add_column("inbound_message", column)
    op.create_index("ix_inbound_message_in_reply_to_id", "inbound_message", ["in_reply_to_id"])
    op.create_index("ix_inbound_message_appointment_id", "inbound_message", ["appointment_id"])
    op.create_index("ix_inbound_message_client_id", "inbound_message", ["client_id"])
    op.create_index("ix_inbound_message_received", "inbound_message", ["received_at", "id"])
    op.add_column(
        "global_settings",
        sa.Column(
            "plain_vowels_for_macrons", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    backfill()


def backfill() -> None:
    """Replies stored before this revision: their opt-out effect, and the message each answers
    (the latest that left us for that number within 14 days before it came)."""
    bind = op.get_bind()
    replies = sa.table(
        "inbound_message",
        sa.column("id", sa.Integer()),
        sa.column("from_number", sa.String()),
        sa.column("body", sa.String()),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    messages = sa.table(
        "sms_message",
        *(sa.column(name, sa.Integer()) for name in LINKED if name != "recipient_kind"),
        sa.column("recipient_kind", sa.String()),
        sa.column("to_number", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("status", sa.String()),
    )
    for reply_id, number, body, received_at in bind.execute(sa.select(replies)).all():
        word = re.sub(r"^[\W_]+|[\W_]+$", "", body or "").upper()
        values: dict = {
            "effect": "OPTED_OUT"
            if word in OPT_OUT_WORDS
            else "OPTED_IN"
            if word in OPT_IN_WORDS
            else "NONE"
        }
        found = bind.execute(
            sa.select(*(messages.c[name] for name in LINKED))
            .where(
                messages.c.to_number == number,
                messages.c.created_at <= received_at,
                messages.c.created_at >= received_at - timedelta(days=LINK_DAYS),
                messages.c.status.in_(ANSWERABLE),
            )
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(1)
        ).first()
        if found is not None:
            values |= dict(zip(("in_reply_to_id", *LINKED[1:]), found, strict=True))
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        bind.execute(
            sa.text(f"UPDATE inbound_message SET {assignments} WHERE id = :reply_id"),
            {**values, "reply_id": reply_id},
        )


def downgrade() -> None:
    op.drop_column("global_settings", "plain_vowels_for_macrons")
    # Nothing refers to inbound_message, so on SQLite the batch may copy it to drop the columns
    # that hold foreign keys.
    with op.batch_alter_table("inbound_message") as batch:
        for index in ("received", "client_id", "appointment_id", "in_reply_to_id"):
            batch.drop_index(f"ix_inbound_message_{index}")
        for column in (
            "read_by_id",
            "read_at",
            "effect",
            "recipient_id",
            "recipient_kind",
            "client_id",
            "job_id",
            "appointment_id",
            "in_reply_to_id",
        ):
            batch.drop_column(column)
