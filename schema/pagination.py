"""Cursor pagination over (sort value, id) keys: stable while rows are added."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

from models.columns import MAX_ROW_ID
from models.errors import DomainError, ErrorCode
from models.input_limits import text_problem

MAX_PAGE = 200
T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def page_size(first: int | None) -> int:
    """Every connection's page: 50 unless asked, never more than MAX_PAGE."""
    if first is None:
        return 50
    if not 0 <= first <= MAX_PAGE:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be between 0 and {MAX_PAGE}.", field="first"
        )
    return first


def encode_cursor(value: Any, row_id: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([raw, row_id]).encode()).decode()


def decode_cursor(cursor: str, is_datetime: bool) -> tuple[Any, int]:
    """The (sort value, row id) a cursor of encode_cursor's holds; anything else, however it
    was crafted, is INVALID_INPUT before it reaches a query."""
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if type(row_id) is not int or not 0 < row_id <= MAX_ROW_ID or not isinstance(value, str):
            raise ValueError
        if text_problem(value) is not None:
            raise ValueError
        if not is_datetime:
            return value, row_id
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError
        return moment.astimezone(UTC), row_id
    except (ValueError, TypeError, OverflowError, UnicodeError, RecursionError):
        raise DomainError(
            ErrorCode.INVALID_INPUT, "That cursor is not one this API gave out.", field="after"
        ) from None


class Keyset(Generic[T]):
    """Orders by `sort` then `id`, ascending or descending, and resumes after a cursor."""

    def __init__(
        self,
        sort: ColumnElement,
        id_column: ColumnElement,
        descending: bool = False,
        is_datetime: bool = False,
    ):
        self.sort, self.id, self.descending, self.is_datetime = (
            sort,
            id_column,
            descending,
            is_datetime,
        )

    def order(self, stmt: Select, sort_matches: bool = False) -> Select:
        """In keyset order. With `sort_matches` the sort value is ordered as an expression
        (`name || ''`, the same order), which no index gives: the database finds the matching
        rows first (a search's own index) and sorts them, instead of reading the whole table in
        index order for the few that match, which it may guess to be cheaper."""
        sort = self.sort.concat("") if sort_matches else self.sort
        if self.descending:
            return stmt.order_by(sort.desc(), self.id.desc())
        return stmt.order_by(sort, self.id)

    def after(self, stmt: Select, cursor: str | None) -> Select:
        if not cursor:
            return stmt
        value, row_id = decode_cursor(cursor, self.is_datetime)
        if self.descending:
            return stmt.where(or_(self.sort < value, and_(self.sort == value, self.id < row_id)))
        return stmt.where(or_(self.sort > value, and_(self.sort == value, self.id > row_id)))

    def cursor(self, value: Any, row_id: int) -> str:
        return encode_cursor(value, row_id)


async def fetch_page(
    session,
    stmt: Select,
    keyset: Keyset,
    first: int | None,
    after: str | None,
    sort_key: str,
    searched: bool = False,
) -> tuple[int, Sequence[Any], PageInfo]:
    """Total count of `stmt`, one page of its rows (ORM entities), and where the page ends.
    `searched`: `stmt` looks for text, whose matches its index finds (Keyset.order)."""
    size = page_size(first)
    total = await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    total_count = total.scalar_one()
    page = keyset.order(keyset.after(stmt, after), sort_matches=searched).limit(size + 1)
    rows = (await session.execute(page)).scalars().all()
    has_next = len(rows) > size
    rows = rows[:size]
    end = keyset.cursor(getattr(rows[-1], sort_key), rows[-1].id) if rows else None
    return total_count, rows, PageInfo(has_next_page=has_next, end_cursor=end)
