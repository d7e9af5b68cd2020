"""What clients are told of errors: the request's own faults coded INVALID_INPUT, naming the
variable or field at fault; anything unexpected masked in production.

Errors graphql-core raises about the request itself (a variable that is not a DateTime, an
unknown enum value, NaN for an Int, a syntax error) carry the driver's exception as their
cause, so a mask that hides "errors with a cause" used to hide them too: in production every
bad variable read "Unexpected error.". Coding them first leaves only the unexpected to mask.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, VariableDefinitionNode
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionContext

from models.errors import DomainError, ErrorCode
from models.outages import is_outage
from schema.operations import shown_name
from schema.outages import UNAVAILABLE_CODE
from schema.shared_pushes import SharedAnswers

log = logging.getLogger("timetrak_sms.graphql")

INVALID_INPUT = ErrorCode.INVALID_INPUT.value


def shown_to_clients(error: GraphQLError) -> bool:
    """Errors with a product code (and validation errors) are the client's to read; others hide."""
    if error.original_error is None:
        return True
    return "code" in (error.extensions or {})


def with_code(
    error: GraphQLError, code: str, field: str | None = None, message: str | None = None
) -> GraphQLError:
    extensions = {**(error.extensions or {}), "code": code}
    if field is not None:
        extensions["field"] = field
    return GraphQLError(
        message or error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def coded(error: GraphQLError) -> GraphQLError:
    """The error with the code (and field) the client needs to act on it, when it has one."""
    if "code" in (error.extensions or {}):
        return error
    original = error.original_error
    if isinstance(original, DomainError):
        # A rule refused something where no resolver wrapper caught it (a flush, say).
        return with_code(error, original.code.value, original.field, original.message)
    if error.path is not None:
        return error
    nodes = error.nodes or []
    if nodes and isinstance(nodes[0], VariableDefinitionNode):
        return with_code(error, INVALID_INPUT, nodes[0].variable.name.value)
    if original is None:
        # Parsing, validation, choosing the operation: about the request, before anything ran.
        return with_code(error, INVALID_INPUT)
    return error


class ClientErrors(MaskErrors):
    def __init__(self, mask: bool):
        should_mask: Callable[[GraphQLError], bool] = (
            (lambda error: not shown_to_clients(error)) if mask else (lambda error: False)
        )
        super().__init__(should_mask_error=should_mask)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return super()._process_errors([coded(error) for error in errors])

    def _process_result(self, result: object) -> None:
        # Asked of every subscription push: MaskErrors' isinstance against a runtime-checkable
        # Protocol cost more than the rest of a push's error handling.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


class QuietExecutionContext(SharedAnswers):
    """Execution without "Did you mean …?" in its errors (unknown enum values in variables):
    production does not hand out the schema's names that introspection would have."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """The schema's process_errors: what a user was refused is one line at INFO with its code
    (a database outage one at WARNING), and only the unexpected is an ERROR with its traceback.

    The error's message is left out of the expected lines: it can quote what the client sent.
    """
    operation = shown_name(execution_context.operation_name if execution_context else None)
    for error in errors:
        where = ".".join(map(str, error.path)) if error.path else "the request"
        if is_outage(error.original_error):
            log.warning("%s: %s at %s (database away)", operation, UNAVAILABLE_CODE, where)
            continue
        extensions = coded(error).extensions or {}
        code = extensions.get("code")
        if code is not None:
            field = extensions.get("field")
            log.info(
                "%s: %s at %s%s",
                operation,
                code,
                where,
                f" (field {field})" if field else "",
                extra={"operation": operation, "code": code},
            )
        else:
            log.error(
                "%s: unexpected error at %s",
                operation,
                where,
                exc_info=error.original_error or error,
                extra={"operation": operation},
            )
