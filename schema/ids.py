"""Parsing the API's opaque IDs back into row ids."""

from __future__ import annotations

from models.columns import MAX_ROW_ID
from models.errors import DomainError, ErrorCode


def row_id(value: str | None, field: str) -> int:
    """The row id an ID names: a whole number from 1 to MAX_ROW_ID, else INVALID_INPUT (an id
    this API could never have given out); whether that row exists is for the caller."""
    try:
        parsed = int(str(value))
    except (TypeError, ValueError):
        parsed = 0
    if not 0 < parsed <= MAX_ROW_ID:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"An id is a whole number from 1 to {MAX_ROW_ID}.",
            field=field,
        )
    return parsed


async def existing_row(
    session, model, value: str | None, field: str = "id", what: str | None = None
):
    """The row `value` names, or NOT_FOUND on the input field that named it."""
    row = await session.get(model, row_id(value, field))
    if row is None:
        name = what or field.removesuffix("Id")
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {name}.", field=field)
    return row


def optional_row_id(value: str | None, field: str) -> int | None:
    return None if value is None else row_id(value, field)
