"""DateTime as the API takes it: ISO 8601 with a UTC offset, between 1900 and 2999.

Strawberry's own DateTime accepts naive values and any year Python can hold; a naive time is
ambiguous here (whose local time?) and a year-1 time with a positive offset cannot even be
turned into UTC. Refusing both while the variable is read makes each a clear INVALID_INPUT
naming the variable, before any resolver or query sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dateutil.parser
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def refused(value: object, why: str) -> StrawberryInputCoercionError:
    shown = str(value)
    shown = shown if len(shown) <= 40 else shown[:40] + "…"
    return StrawberryInputCoercionError(f'Value cannot represent a DateTime: "{shown}". {why}')


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise refused(value, "Expected a string.")
    try:
        parsed = dateutil.parser.isoparse(value)
    except (ValueError, OverflowError) as error:
        raise refused(value, f"Expected ISO 8601 ({error}).") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise refused(value, "It needs a UTC offset, e.g. 2026-03-05T09:00:00+13:00 or …Z.")
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise refused(value, f"It must fall between {EARLIEST.year} and {LATEST.year - 1}.")
    return parsed


DateTime = ScalarDefinition(
    name="DateTime",
    description="Date with time (isoformat)",
    specified_by_url=None,
    serialize=datetime.isoformat,
    parse_value=parse_datetime,
    parse_literal=None,
    origin=datetime,
)

SCALAR_OVERRIDES = {datetime: DateTime}
