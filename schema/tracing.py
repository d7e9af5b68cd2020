"""OpenTelemetry spans for GraphQL operations: imported only when tracing is on (the `otel` extra).

strawberry's extension, with three changes. The operation's span is the current one while it
runs, so the SQL, Redis and provider spans beneath nest in it. Only root fields get spans of
their own: a span for every field of a two-week calendar would cost more than the answer. And
neither resolver arguments nor the document go into a span: a login's password, a message's text
or a phone number are no trace's business (the operation's name says what it was).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from inspect import isawaitable
from typing import Any

from opentelemetry import context, trace
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension


def _no_arguments(args: dict[str, Any], info: Any) -> dict[str, Any]:
    return {}


class TracedOperations(OpenTelemetryExtension):
    def __init__(self, *, execution_context: Any = None):
        super().__init__(execution_context=execution_context, arg_filter=_no_arguments)

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        query, execution.query = execution.query, None
        steps = super().on_operation()
        try:
            next(steps)
        finally:
            execution.query = query
        span = self._span_holder[LifecycleStep.OPERATION]
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            context.detach(token)
            with contextlib.suppress(StopIteration):
                next(steps)

    async def resolve(self, _next: Callable, root: Any, info: Any, *args: Any, **kwargs: Any):
        if info.path.prev is None:
            return await super().resolve(_next, root, info, *args, **kwargs)
        result = _next(root, info, *args, **kwargs)
        if isawaitable(result):
            result = await result
        return result


def traced_operations() -> TracedOperations:
    return TracedOperations()
