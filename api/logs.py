"""One logging set-up for every command: readable lines, or JSON lines with LOG_FORMAT=json.

The standard library's logging, with a small JSON formatter, rather than structlog: arq,
uvicorn, strawberry and SQLAlchemy all log through it already, so one handler on the root logger
formats every line alike, and the service takes no dependency for it. Each line carries the id
of the request or arq job that caused it (models.log_context).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

from models.log_context import LogContext

# Attributes every LogRecord has; any others were given with `extra=` and become JSON fields.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "job_id", "taskName", "ids"}
    # uvicorn's coloured copy of its message.
    | {"color_message"}
)
# A last guard: whatever a library logs, a bearer token or basic credentials are not shown.
_CREDENTIALS = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# Chatty at INFO (httpx logs every request it makes, alembic its dialect at every start, and
# each step of a migration, which `migrate` sums up); their warnings still show.
_QUIETER = ("httpx", "httpcore", "aiosqlite", "asyncio", "multipart", "alembic")


_HANDLER = "timetrak-sms"


class _PathOnly(logging.Filter):
    """uvicorn's access lines without the query string: a GraphQL GET carries its query and
    variables there (a login's password among them), and nothing else in a query string is
    worth a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].partition("?")[0], args[3], args[4])
        return True


_ACCESS_FILTER = _PathOnly()


def scrubbed(text: str) -> str:
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)} ***", text)


class TextFormatter(logging.Formatter):
    """`2026-12-01 09:30:00.123 INFO timetrak_sms.messages [request 3f…] message 12 SENT …`"""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03d %(levelname)s %(name)s%(ids)s %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
        )

    def format(self, record: logging.LogRecord) -> str:
        ids = [f"request {record.request_id}"] if getattr(record, "request_id", None) else []
        ids += [f"job {record.job_id}"] if getattr(record, "job_id", None) else []
        record.ids = f" [{', '.join(ids)}]" if ids else ""
        return scrubbed(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id / job_id when there is
    one, the fields given with `extra=`, and the traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrubbed(record.getMessage()),
        }
        for key in ("request_id", "job_id"):
            if getattr(record, key, None):
                line[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                plain = value is None or isinstance(value, int | float)
                line.setdefault(key, value if plain else scrubbed(str(value)))
        if record.exc_info:
            line["exception"] = scrubbed(self.formatException(record.exc_info))
        elif record.stack_info:
            line["stack"] = scrubbed(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(
    format: str = "text", level: str = "INFO", stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's lines to `stream` (standard error) in `format`; the handler made.

    Replaces the handler an earlier call made, so calling it again (a test, a second command)
    leaves one, not two; other handlers (a test's capture) stay.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else TextFormatter())
    handler.addFilter(LogContext())
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    for name in _QUIETER:
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if _ACCESS_FILTER not in access.filters:
        access.addFilter(_ACCESS_FILTER)
    return handler
