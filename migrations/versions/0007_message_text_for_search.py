"""The history's searched text in a table of its own, written once by triggers: status changes
no longer rewrite its trigram indexes

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCHED = ("to_number", "body")

POSTGRESQL_TRIGGERS = (
    # One statement for every row an INSERT adds (a reminder run adds thousands at once).
    """
    CREATE FUNCTION sms_message_text_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sms_message_text (message_id, to_number, body)
        SELECT id, to_number, body FROM added;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER sms_message_text_added AFTER INSERT ON sms_message
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION sms_message_text_added()
    """,
    # Only an UPDATE that sets the number or the text: a status change fires nothing.
    """
    CREATE FUNCTION sms_message_text_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE sms_message_text SET to_number = NEW.to_number, body = NEW.body
        WHERE message_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER sms_message_text_changed AFTER UPDATE OF to_number, body ON sms_message
    FOR EACH ROW EXECUTE FUNCTION sms_message_text_changed()
    """,
)
# SQLite's foreign key (ON DELETE CASCADE) holds only where a connection turns it on; this
# trigger holds everywhere. A batch migration that rebuilds sms_message must make them again.
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER sms_message_text_removed AFTER DELETE ON sms_message BEGIN
        DELETE FROM sms_message_text WHERE message_id = OLD.id;
    END
    """,
    """
    CREATE TRIGGER sms_message_text_added AFTER INSERT ON sms_message BEGIN
        INSERT INTO sms_message_text (message_id, to_number, body)
        VALUES (NEW.id, NEW.to_number, NEW.body);
    END
    """,
    """
    CREATE TRIGGER sms_message_text_changed AFTER UPDATE OF to_number, body ON sms_message
    BEGIN
        UPDATE sms_message_text SET to_number = NEW.to_number, body = NEW.body
        WHERE message_id = NEW.id;
    END
    """,
)


def upgrade() -> None:
    op.create_table(
        "sms_message_text",
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("sms_message.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("to_number", sa.String(length=40), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    # The triggers first: making them waits for the writes under way, and holds off new ones
    # until this commits, so no message is written between the copy and its trigger.
    for trigger in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute(
        "INSERT INTO sms_message_text (message_id, to_number, body) "
        "SELECT id, to_number, body FROM sms_message"
    )
    if postgresql:
        for column in SEARCHED:
            op.execute(f"DROP INDEX ix_sms_message_{column}_trigram")
            op.execute(
                f"CREATE INDEX ix_sms_message_text_{column}_trigram ON sms_message_text "
                f"USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger in ("sms_message_text_added", "sms_message_text_changed"):
        op.execute(f"DROP TRIGGER {trigger}" + (" ON sms_message" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {trigger}()")
    if not postgresql:
        op.execute("DROP TRIGGER sms_message_text_removed")
    if postgresql:
        for column in SEARCHED:
            op.execute(
                f"CREATE INDEX ix_sms_message_{column}_trigram ON sms_message "
                f"USING gin (lower({column}) gin_trgm_ops)"
            )
    op.drop_table("sms_message_text")
