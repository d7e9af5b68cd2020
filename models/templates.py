"""SMS templates: the tokens a body may use, checking a body, and rendering it for a visit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from models.errors import DomainError, ErrorCode
from models.replies import REPLY_HINT
from models.segments import SmsLength, check_message

# Kept in this order so error messages list tokens the way the editor shows them.
TOKEN_NAMES = (
    "client_name",
    "contact_name",
    "appointment_date",
    "appointment_time",
    "job_title",
    "task_name",
    "user_name",
    "company_name",
    "reply_hint",
)
TOKENS: frozenset[str] = frozenset(TOKEN_NAMES)

# Either a whole {...} or a lone brace. The name part is deliberately loose so that "{0.__class__}"
# or "{client_name!r}" is caught as an unknown token rather than slipping through as text.
_BRACES = re.compile(r"\{([^{}]*)\}|[{}]")

# Fixed English names: strftime's %a and %b follow the server's locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class TemplateValues:
    """What the tokens stand for; `appointment_start` is shown in `time_zone`."""

    client_name: str = ""
    contact_name: str = ""
    appointment_start: datetime | None = None
    job_title: str = ""
    task_name: str = ""
    user_name: str = ""
    company_name: str = ""
    time_zone: str = "Pacific/Auckland"
    # {reply_hint} invites C or R, which only a message about an appointment acts on.
    about_appointment: bool = True

    def __post_init__(self) -> None:
        if self.appointment_start is not None:
            _require_aware(self.appointment_start)


MAX_TEMPLATE_LENGTH = 2000


def checked_template_body(body: str) -> str:
    """A template as the Admin Console saves it: within its column, tokens all known."""
    if len(body) > MAX_TEMPLATE_LENGTH:
        raise DomainError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"A template is at most {MAX_TEMPLATE_LENGTH} characters.",
            field="body",
        )
    validate_template(body)
    return body


def validate_template(body: str | None, field: str = "body") -> None:
    if body is None or not body.strip():
        raise DomainError(ErrorCode.MESSAGE_EMPTY, "Template is empty.", field)
    tokens_in(body, field)


def tokens_in(body: str, field: str = "body") -> list[str]:
    """Token names in `body`, first use first, each once; raises on any bad brace or token."""
    names: list[str] = []
    for match in _BRACES.finditer(body):
        name = _token_name(match, field)
        if name not in names:
            names.append(name)
    return names


def _token_name(match: re.Match[str], field: str) -> str:
    name = match.group(1)
    if name is None:
        raise DomainError(ErrorCode.INVALID_TEMPLATE, _brace_message(match), field)
    if name not in TOKENS:
        known = ", ".join(f"{{{token}}}" for token in TOKEN_NAMES)
        message = f"Unknown token {{{name}}}; use one of {known}."
        raise DomainError(ErrorCode.INVALID_TEMPLATE, message, field)
    return name


def _brace_message(match: re.Match[str]) -> str:
    problem = "Unclosed {" if match.group(0) == "{" else "Stray }"
    return f"{problem} at position {match.start() + 1}; tokens look like {{client_name}}."


def render(body: str, values: TemplateValues, field: str = "body") -> str:
    """Fill every token in one pass, so a value that itself looks like a token stays literal."""
    parts = _parts(body, field)
    return "".join(part if i % 2 == 0 else _fill(part, values) for i, part in enumerate(parts))


@lru_cache(maxsize=256)
def _parts(body: str, field: str) -> tuple[str, ...]:
    """`body` checked once and split into text and token names, alternating, text first.

    A reminder run renders one template for thousands of jobs.
    """
    tokens_in(body, field)
    return tuple(_BRACES.split(body))


def render_checked(body: str, values: TemplateValues, field: str = "body") -> tuple[str, SmsLength]:
    text = render(body, values, field)
    return text, check_message(text, field)


def _fill(name: str, values: TemplateValues) -> str:
    start = values.appointment_start
    if name == "appointment_date":
        return format_date(start, values.time_zone) if start else ""
    if name == "appointment_time":
        return format_time(start, values.time_zone) if start else ""
    if name == "reply_hint":
        return REPLY_HINT if values.about_appointment else ""
    # An explicit table rather than getattr, so no template text ever names an attribute.
    text = {
        "client_name": values.client_name,
        "contact_name": values.contact_name,
        "job_title": values.job_title,
        "task_name": values.task_name,
        "user_name": values.user_name,
        "company_name": values.company_name,
    }[name]
    return (text or "").strip()


def format_date(dt: datetime, tz: str | tzinfo) -> str:
    """NZ/AU short date, e.g. "Tue 3 Dec"."""
    local = _local(dt, tz)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def format_time(dt: datetime, tz: str | tzinfo) -> str:
    """12-hour clock without a leading zero, e.g. "9:30am", "12:05am"."""
    local = _local(dt, tz)
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"


def _local(dt: datetime, tz: str | tzinfo) -> datetime:
    _require_aware(dt)
    return dt.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)


def _require_aware(dt: datetime) -> None:
    # astimezone() would read a naive time in the server's own zone and shift it silently.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("appointment_start must be timezone-aware")
