"""Async engines and session factories for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

# Registers what every flush does: checks the text it writes (lengths, NUL, valid Unicode) and
# keeps the stored facts about contacts' numbers (the phone rules', their opt-out) in step.
from models import contact_numbers, input_limits, opt_outs  # noqa: F401

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")
# The live feed's connections: a process reads one batch at a time, and a few for events
# published without their facts.
FEED_POOL = dict(pool_size=2, max_overflow=3)


def async_url(url: str) -> str:
    """The driver-qualified form of a plain database URL (sqlite:// or postgresql://)."""
    parsed = make_url(url)
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(False) if driver else url


def create_engine(url: str, **kwargs) -> AsyncEngine:
    # pre-ping: after a database restart a pooled connection is replaced, not handed out broken.
    kwargs.setdefault("pool_pre_ping", True)
    # Looked up at each call, so OpenTelemetry's instrumentation (api.telemetry) sees it.
    engine = sqlalchemy_asyncio.create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def feed_engine(url: str) -> AsyncEngine:
    """Connections for the live feed's small reads, many a second under a busy run: each in
    autocommit (no BEGIN and ROLLBACK around it) and without a ping at checkout; `read_retried`
    answers for a connection the database dropped. Two round trips fewer than the pool's
    pinged transactions, and half the CPU of a one-row read."""
    return create_engine(url, pool_pre_ping=False, isolation_level="AUTOCOMMIT", **FEED_POOL)


async def read_retried(sessions: Sessions, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`read(session)`, once more if its pooled connection turned out dropped (the database
    restarted since): the failure invalidates the pool, so the second try connects afresh."""
    try:
        async with sessions() as session:
            return await read(session)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    async with sessions() as session:
        return await read(session)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL and a busy timeout let the API and a worker share one file without "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
