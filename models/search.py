"""Searching the grids for text anywhere in a column (`%…%`), and the indexes that make it fast.

A `LIKE '%…%'` can use no ordinary index. On PostgreSQL each searched column has a trigram index
(pg_trgm, GIN) on its lower-cased text, which a search uses for patterns of three characters or
more; shorter ones match so much of the table that reading it is as fast. SQLite reads the
table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement

# (table, column) of every column a grid searches; on PostgreSQL each has the index
# trigram_index names (migrations 0006 and 0007), which the models cannot declare for one
# database only.
TRIGRAM_COLUMNS = (
    ("client", "name"),
    ("contact", "name"),
    ("contact", "phone"),
    ("contact", "mobile"),
    ("contact", "sms_number"),
    ("sms_message_text", "to_number"),
    ("sms_message_text", "body"),
)


def trigram_index(table: str, column: str) -> str:
    return f"ix_{table}_{column}_trigram"


def searching(text: str | None) -> bool:
    return bool(text and text.strip())


def like(text: str) -> str:
    """The pattern for text anywhere in a column, its wildcards escaped (ESCAPE '\\')."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def holds(column: Any, pattern: str) -> ColumnElement[bool]:
    """`lower(column) LIKE pattern`: the expression each trigram index is built on, so that
    only a search uses it (an index on the bare column would be offered to every `=` on it)."""
    return func.lower(column).like(pattern, escape="\\")
