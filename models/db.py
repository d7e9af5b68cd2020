"""Async engines and session factories for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

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


class RequestReads:
    """One database session for the reads of one request: the sign-in's, then a resolver's
    (a calendar answers from the session its token was read in). Used by one reader at a time:
    one that finds it in use (two root fields resolved together) opens a session of its own.
    Only for reading: what writes opens its own transaction. Closed with the request; after a
    failed read it is dropped, and the next reader starts a new one."""

    def __init__(self, sessions: Sessions):
        self.sessions = sessions
        self.session: AsyncSession | None = None
        self.lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        if self.lock.locked():
            async with self.sessions() as session:
                yield session
            return
        async with self.lock:
            if self.session is None:
                self.session = self.sessions()
            try:
                yield self.session
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        """Give the connection back; one the database dropped is let go of quietly."""
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()


# A factory of sessions to read in: Sessions itself, or a request's RequestReads.
ReadSessions = Callable[[], contextlib.AbstractAsyncContextManager[AsyncSession]]
