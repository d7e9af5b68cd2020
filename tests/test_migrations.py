"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import migrations
from models.db import create_engine
from models.search import TRIGRAM_COLUMNS, trigram_index

TRIGRAM_INDEXES = {trigram_index(table, column) for table, column in TRIGRAM_COLUMNS}


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
        return [d for d in found if not is_trigram_index(d)]

    return asyncio.run(compare())


def is_trigram_index(difference) -> bool:
    """PostgreSQL's trigram indexes, which the migration makes and the models cannot declare
    for one database only (models.search.TRIGRAM_COLUMNS lists them)."""
    kind, index = difference[0], difference[-1]
    return kind == "remove_index" and index.name in TRIGRAM_INDEXES


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


def test_postgresql_has_a_trigram_index_for_each_searched_column(migrated):
    if not migrated.startswith("postgresql"):
        pytest.skip("trigram indexes are PostgreSQL's")

    async def index_names() -> set[str]:
        engine = create_engine(migrated)
        async with engine.connect() as connection:
            found = await connection.execute(text(
                "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%'"))
            names = {name for (name,) in found}
        await engine.dispose()
        return names

    assert asyncio.run(index_names()) == TRIGRAM_INDEXES
