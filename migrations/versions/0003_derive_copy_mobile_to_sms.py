"""Copy mobile number to SMS is derived from the mobile and SMS number, no longer stored

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN on SQLite too (3.35+): batch mode would copy the
    # table, and dropping the old one trips the foreign keys jobs, tasks and appointments hold.
    op.drop_column("contact", "copy_mobile_to_sms")


def downgrade() -> None:
    op.add_column(
        "contact",
        sa.Column("copy_mobile_to_sms", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
