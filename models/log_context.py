"""Which request or job a log line belongs to: ids held in context variables, for every line.

The API sets a request id for each HTTP request, websocket connection and operation on it; the
worker sets the arq job id for each job. asyncio copies context variables into the tasks a
request or job starts, and SQLAlchemy's greenlets share their caller's, so a line logged
anywhere beneath carries the id without it being passed along.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Iterator
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

# An id a client sent (X-Request-ID) is kept when it is this plain: it ends up in every line.
_SANE = re.compile(r"[A-Za-z0-9._:/+=-]{1,64}")


def new_request_id() -> str:
    return secrets.token_hex(8)


def sane_request_id(given: str | None) -> str | None:
    return given if given is not None and _SANE.fullmatch(given) else None


@contextlib.contextmanager
def bound(var: ContextVar[str | None], value: str) -> Iterator[str]:
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)


class LogContext(logging.Filter):
    """Puts the current request and job ids on each record (`request_id`, `job_id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True
