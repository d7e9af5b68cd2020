"""What counts as a database outage: the database away or busy, not a statement it refused.

An outage is answered "try again" (SERVICE_UNAVAILABLE, HTTP 503, a job retried); anything else
is a bug or bad input and stays an error. The drivers say "away" in many ways, often wrapped:
asyncpg raises a bare OSError when nothing listens and its own errors during a restart,
SQLAlchemy wraps driver errors (`.orig`) and times out its pool, aiosqlite raises sqlite3's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes of PostgreSQL errors about the server rather than the statement:
# 08 connection exception, 53 insufficient resources (too many connections, disk full),
# 57 operator intervention (shutting down, starting up, crash recovery, query cancelled).
POSTGRES_OUTAGE_CLASSES = ("08", "53", "57")
POSTGRES_IO_ERROR = "58030"
# A database closed to connections (ALTER DATABASE ... ALLOW_CONNECTIONS false) says 55000, a
# state most often about a statement; told apart by the server function that refuses it.
POSTGRES_CLOSED_DATABASE = ("55000", "CheckMyDatabase")
# SQLite result codes (the primary code, the low byte) of a database file that cannot be
# reached or written for now: busy or locked by another process, cannot be opened, I/O or
# locking-protocol error.
SQLITE_OUTAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
SQLITE_OUTAGE_WORDS = ("unable to open database", "database is locked", "disk i/o error")


def is_outage(error: BaseException | None) -> bool:
    """Whether `error`, or anything it was raised from, says the database is away for now."""
    return any(_says_away(link) for link in chain(error))


def chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error, what it wraps (SQLAlchemy's `.orig`) and what it was raised from, each once.

    A context the code dismissed (`raise ... from None`) is not followed.
    """
    seen: set[int] = set()
    waiting = [error]
    while waiting:
        link = waiting.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        context = None if link.__suppress_context__ else link.__context__
        waiting += [orig if isinstance(orig, BaseException) else None, link.__cause__, context]


def _says_away(error: BaseException) -> bool:
    if isinstance(error, PoolTimeout | DisconnectionError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, asyncpg.PostgresError):
        state = error.sqlstate or ""
        refused_by = (state, getattr(error, "server_source_function", None))
        return (
            state[:2] in POSTGRES_OUTAGE_CLASSES
            or state == POSTGRES_IO_ERROR
            or refused_by == POSTGRES_CLOSED_DATABASE
        )
    if isinstance(error, asyncpg.InterfaceError):
        # Also "another operation is in progress", which is our bug, not an outage.
        return "connection is closed" in str(error) or "connection was closed" in str(error)
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in SQLITE_OUTAGE_CODES
        return any(words in str(error).lower() for words in SQLITE_OUTAGE_WORDS)
    # Refused, reset or timed out sockets: asyncpg raises these bare while connecting.
    return isinstance(error, OSError)
