"""Parsing the API's opaque IDs back into row ids."""

from __future__ import annotations

from models.errors import DomainError, ErrorCode


def row_id(value: str | None, field: str) -> int:
    try:
        parsed = int(str(value))
    except (TypeError, ValueError):
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {field}.", field=field) from None
    if not 0 < parsed < 2**63:
        raise DomainError(ErrorCode.NOT_FOUND, f"No such {field}.", field=field)
    return parsed


def optional_row_id(value: str | None, field: str) -> int | None:
    return None if value is None else row_id(value, field)
