"""24.1 upgrade: contacts without an SMS number get one from their mobile, else their phone

Revision ID: 0002
Revises: 0001

A data migration: Alembic records it as applied, so it runs once per database, inside the
upgrade's transaction. The rule is models.backfill's, the one `backfill-sms-numbers` uses.
"""

from collections.abc import Sequence

from alembic import op

from models.backfill import backfill_in_migration

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    backfill_in_migration(op.get_bind())


def downgrade() -> None:
    # The numbers it set cannot be told from numbers users typed since; they stay.
    pass
