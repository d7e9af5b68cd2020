"""Text the database can keep: within its column's length, no NUL, valid Unicode.

Checked on every flush, for every new or changed string attribute of every table, so no text
column relies on each mutation remembering its limit: an over-long name or a NUL byte is a
DomainError(INVALID_INPUT) naming the field, never a driver error ("value too long",
"invalid byte sequence") that would surface as an internal error or an outage.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Mapper, Session

from models.errors import DomainError, ErrorCode


def text_problem(value: str) -> str | None:
    """What makes `value` text no database column can hold, or None when nothing does."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate, which is not valid Unicode"
    return None


def keepable(value: str, length: int) -> str:
    """Text from outside (a provider's webhook) made storable rather than refused: the client's
    words are kept as far as they can be, without NULs or unpaired surrogates, cut to fit."""
    cleaned = value.replace("\x00", "")
    if text_problem(cleaned) is not None:
        cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned[:length]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def label(name: str) -> str:
    return name.replace("_", " ").capitalize()


@functools.cache
def text_columns(mapper: Mapper) -> tuple[tuple[str, int | None], ...]:
    """(attribute, longest length or None) of each string column of a mapped class."""
    found = []
    for prop in mapper.column_attrs:
        kind = prop.columns[0].type
        # SQLModel's str columns are AutoString, a decorator over String.
        stored = kind.impl_instance if isinstance(kind, sa.TypeDecorator) else kind
        if isinstance(stored, sa.String) and not isinstance(stored, sa.Enum):
            found.append((prop.key, getattr(kind, "length", None) or stored.length))
    return tuple(found)


def check_text(obj: object, changed_only: bool) -> None:
    state = inspect(obj)
    for key, length in text_columns(state.mapper):
        if changed_only:
            added = state.attrs[key].history.added
            if not added:
                continue
            value = added[-1]
        else:
            value = state.dict.get(key)
        if not isinstance(value, str):
            continue
        if length is not None and len(value) > length:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"{label(key)} is at most {length} characters.",
                field=camel(key),
            )
        problem = text_problem(value)
        if problem is not None:
            raise DomainError(ErrorCode.INVALID_INPUT, f"{label(key)} {problem}.", field=camel(key))


@event.listens_for(Session, "before_flush")
def refuse_text_the_database_cannot_keep(session: Session, flush_context, instances) -> None:
    for obj in session.new:
        check_text(obj, changed_only=False)
    for obj in session.dirty:
        check_text(obj, changed_only=True)
