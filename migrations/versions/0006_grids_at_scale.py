"""Grids at a million rows: the phone rules' facts about each contact's numbers and its opt-out
stored, an index per Contact Bulk Updates category, keyset-order indexes for the history, and on
PostgreSQL trigram indexes for searching text anywhere in a column

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.contact_numbers import number_facts

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
# Contact Bulk Updates: (index, SQLite condition, PostgreSQL condition), each on (name, id).
CONTACT_GRID = (
    ("ix_contact_grid", "active = 1", "active"),
    (
        "ix_contact_grid_invalid_number",
        "active = 1 AND invalid_number = 1",
        "active AND invalid_number",
    ),
    (
        "ix_contact_grid_sms_differs",
        "active = 1 AND sms_differs_from_mobile = 1",
        "active AND sms_differs_from_mobile",
    ),
    (
        "ix_contact_grid_missing_sms_number",
        "active = 1 AND sms_number IS NULL",
        "active AND sms_number IS NULL",
    ),
    ("ix_contact_grid_opted_out", "active = 1 AND opted_out = 1", "active AND opted_out"),
)
# The columns the grids search, as models.search.TRIGRAM_COLUMNS had them at this revision;
# indexed lower-cased, as models.search.holds searches them, so no `=` on a column takes them.
TRIGRAM_COLUMNS = (
    ("client", "name"),
    ("contact", "name"),
    ("contact", "phone"),
    ("contact", "mobile"),
    ("contact", "sms_number"),
    ("sms_message", "to_number"),
    ("sms_message", "body"),
)


def upgrade() -> None:
    for column in ("invalid_number", "sms_differs_from_mobile", "opted_out"):
        op.add_column(
            "contact", sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    fill_number_facts()
    op.execute(
        "UPDATE contact SET opted_out = true WHERE sms_number IN "
        "(SELECT number FROM opt_out WHERE opted_out = true)"
    )
    for name, sqlite, postgresql in CONTACT_GRID:
        op.create_index(
            name,
            "contact",
            ["name", "id"],
            sqlite_where=sa.text(sqlite),
            postgresql_where=sa.text(postgresql),
        )
    op.create_index("ix_client_grid", "client", ["name", "id"])
    op.drop_index("ix_sms_message_status_created", table_name="sms_message")
    op.drop_index("ix_sms_message_created", table_name="sms_message")
    op.create_index("ix_sms_message_status_newest", "sms_message", ["status", "created_at", "id"])
    op.create_index("ix_sms_message_newest", "sms_message", ["created_at", "id"])
    op.create_index("ix_sms_message_recipient", "sms_message", ["recipient_id", "recipient_kind"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in TRIGRAM_COLUMNS:
            op.execute(
                f"CREATE INDEX ix_{table}_{column}_trigram ON {table} "
                f"USING gin (lower({column}) gin_trgm_ops)"
            )


def fill_number_facts() -> None:
    """Every contact with a number, in batches by id; the others keep false, their default."""
    bind = op.get_bind()
    contacts = sa.table(
        "contact",
        sa.column("id", sa.Integer()),
        sa.column("mobile", sa.String()),
        sa.column("sms_number", sa.String()),
        sa.column("invalid_number", sa.Boolean()),
        sa.column("sms_differs_from_mobile", sa.Boolean()),
    )
    facts = (
        sa.update(contacts)
        .where(contacts.c.id == sa.bindparam("contact_id"))
        .values(
            invalid_number=sa.bindparam("invalid"), sms_differs_from_mobile=sa.bindparam("differs")
        )
    )
    after = 0
    while rows := bind.execute(
        sa.select(contacts.c.id, contacts.c.mobile, contacts.c.sms_number)
        .where(contacts.c.id > after)
        .where(sa.or_(contacts.c.mobile.is_not(None), contacts.c.sms_number.is_not(None)))
        .order_by(contacts.c.id)
        .limit(BATCH)
    ).all():
        changes = []
        for contact_id, mobile, sms in rows:
            invalid, differs = number_facts(mobile, sms)
            if invalid or differs:
                changes.append({"contact_id": contact_id, "invalid": invalid, "differs": differs})
        if changes:
            bind.execute(facts, changes)
        after = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX ix_{table}_{column}_trigram")
    op.drop_index("ix_sms_message_recipient", table_name="sms_message")
    op.drop_index("ix_sms_message_newest", table_name="sms_message")
    op.drop_index("ix_sms_message_status_newest", table_name="sms_message")
    op.create_index("ix_sms_message_created", "sms_message", ["created_at"])
    op.create_index("ix_sms_message_status_created", "sms_message", ["status", "created_at"])
    op.drop_index("ix_client_grid", table_name="client")
    for name, _, _ in CONTACT_GRID:
        op.drop_index(name, table_name="contact")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("opted_out")
        batch.drop_column("sms_differs_from_mobile")
        batch.drop_column("invalid_number")
