"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import migrations
from models.db import create_engine


def differences(url: str) -> list:
    async def compare() -> list:
        engine = create_engine(url)
        async with engine.connect() as connection:
            found = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
        await engine.dispose()
        return found

    return asyncio.run(compare())


def test_an_empty_sqlite_database_migrates_to_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    migrations.upgrade(url)

    assert differences(url) == []


def test_migrating_twice_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    migrations.upgrade(url)

    migrations.upgrade(url)

    assert differences(url) == []


def test_the_test_database_matches_the_models(migrated):
    # migrated is the session's database: PostgreSQL when DATABASE_URL names one.
    assert differences(migrated) == []
