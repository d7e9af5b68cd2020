"""Async engines and session factories for SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext import asyncio as sqlalchemy_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

# Registers what every flush does: checks the text it writes (lengths, NUL, valid Unicode) and
# keeps the stored facts about contacts' numbers (the phone rules', their opt-out) in step.
from models import contact_numbers, input_limits, opt_outs  # noqa: F401

Sessions = async_sessionmaker[AsyncSession]


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
