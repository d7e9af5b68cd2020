"""Schema migrations; `upgrade()` brings a database to the latest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None) -> None:
    """Apply every pending migration; runs its own event loop, so call it from sync code."""
    command.upgrade(alembic_config(database_url), "head")
