"""The one rule for the names people type: clients, contacts, templates, profiles, users."""

from __future__ import annotations

from models.errors import DomainError, ErrorCode

MAX_NAME = 200


def required_name(name: str | None, limit: int = MAX_NAME, field: str = "name") -> str:
    """`name` trimmed; blank or longer than `limit` is INVALID_INPUT on `field`."""
    name = (name or "").strip()
    if not name:
        raise DomainError(ErrorCode.INVALID_INPUT, "A name is required.", field=field)
    if len(name) > limit:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"A name is at most {limit} characters.", field=field
        )
    return name
