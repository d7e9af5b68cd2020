"""Each GraphQL operation seen from outside: its time in timetrak_graphql_request_seconds, and
over a websocket an id of its own in the logs (the connection's, with a suffix)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from models import log_context
from models.metrics import GRAPHQL_REQUEST_SECONDS

# Operation names are the client's to choose: only plain ones become label values, and only so
# many of them per process, so a client inventing names cannot grow the metric without bound.
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MOST_NAMES = 200
_names: set[str] = set()


def shown_name(name: str | None) -> str:
    """The operation's name for a log line: the client's text only when it is a plain name."""
    if not name:
        return "anonymous"
    return name if PLAIN_NAME.fullmatch(name) else "(unplain name)"


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if name in _names:
        return name
    if PLAIN_NAME.fullmatch(name) and len(_names) < MOST_NAMES:
        _names.add(name)
        return name
    return "other"


class OperationRecords(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        if isinstance(request, WebSocket):
            # Each operation on a connection runs in a task of its own: this id stays in it.
            connection = log_context.request_id.get()
            operation = log_context.new_request_id()[:8]
            log_context.request_id.set(f"{connection}/{operation}" if connection else operation)
        started = time.perf_counter()
        yield
        try:
            kind = self.execution_context.operation_type
        except RuntimeError:  # not parsed: the request was refused before that
            kind = None
        if kind is OperationType.SUBSCRIPTION:
            return  # lasts as long as the client listens: no request time
        GRAPHQL_REQUEST_SECONDS.labels(
            operation_label(self.execution_context.operation_name)
        ).observe(time.perf_counter() - started)
