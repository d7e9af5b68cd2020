"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa


class UtcDateTime(sa.TypeDecorator):
    """An aware UTC datetime in and out, whatever the database keeps.

    SQLite has no time zones and hands back naive values; PostgreSQL keeps
    timestamptz. Both come back as aware UTC so comparisons never mix kinds.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(kind: type[enum.Enum]) -> sa.Enum:
    """An enum stored as its name in a plain string column (no native PostgreSQL type)."""
    return sa.Enum(kind, native_enum=False, create_constraint=False, length=24)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Row ids are integer columns: 32 bits on PostgreSQL. A larger id names no row, and must not
# reach the database, whose driver refuses to send it.
MAX_ROW_ID = 2**31 - 1
