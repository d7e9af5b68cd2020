"""An index on auth_token.expires_at, for the daily clean-up of expired tokens

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_auth_token_expires_at", "auth_token", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_token_expires_at", table_name="auth_token")
