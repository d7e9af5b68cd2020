"""Throwaway benchmark databases: a fresh migrated SQLite file or PostgreSQL database, filled
in bulk with Core executemany inserts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import asyncpg
from sqlalchemy import Table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

import migrations

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
SQLITE_DIR = Path("/tmp/timetrak-bench")
CHUNK = 10_000


def fresh_database(kind: str, name: str, postgres: str = POSTGRES) -> str:
    """An empty, migrated database called `name`; any earlier one of that name is dropped."""
    if kind == "sqlite":
        SQLITE_DIR.mkdir(exist_ok=True)
        path = SQLITE_DIR / f"{name}.db"
        for leftover in SQLITE_DIR.glob(f"{name}.db*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
    else:
        asyncio.run(_recreate_postgres(postgres, name))
        url = make_url(postgres).set(database=name).render_as_string(False)
    migrations.upgrade(url)
    return url


async def _recreate_postgres(server: str, name: str) -> None:
    connection = await asyncpg.connect(
        make_url(server).set(database="postgres").render_as_string(False)
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def chunks(rows: Iterable[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


async def insert_rows(connection: AsyncConnection, table: Table, rows: Iterable[dict]) -> int:
    """Core INSERT executemany in chunks; returns the row count."""
    count = 0
    for batch in chunks(rows):
        await connection.execute(table.insert(), batch)
        count += len(batch)
    return count


async def after_bulk_load(connection: AsyncConnection, tables: list[Table]) -> None:
    """Move PostgreSQL id sequences past the explicit ids and refresh planner statistics."""
    if connection.dialect.name == "postgresql":
        for table in tables:
            if "id" in table.c:
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                    )
                )
        await connection.execute(text("ANALYZE"))
    else:
        await connection.execute(text("ANALYZE"))


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_) -> None:
        self.seconds = time.perf_counter() - self.start
