"""How domain errors reach clients: UserErrors on mutations, coded GraphQL errors on queries."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError

from models.errors import DomainError
from models.errors import ErrorCode as DomainErrorCode

log = logging.getLogger("timetrak_sms.graphql")

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode")


@strawberry.type
class UserError:
    code: ErrorCode
    field: str | None = strawberry.field(
        default=None, description="The input field at fault, camelCase, when one is."
    )
    message: str

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        return cls(code=error.code, field=error.field, message=error.message)


class CodedError(GraphQLError):
    """A GraphQL execution error carrying `extensions.code` (and `field`, the input at fault,
    when there is one); safe to show even when masking.

    The code is a product ErrorCode, or a string for limits of the transport that are not the
    product's (SERVICE_UNAVAILABLE, TOO_MANY_SUBSCRIPTIONS).
    """

    def __init__(self, code: DomainErrorCode | str, message: str, field: str | None = None):
        extensions = {"code": code.value if isinstance(code, DomainErrorCode) else code}
        if field is not None:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)


def unauthenticated() -> CodedError:
    return CodedError(DomainErrorCode.UNAUTHENTICATED, "Sign in first: no or invalid bearer token.")


def permission_denied(what: str = "You do not have permission to do that.") -> CodedError:
    return CodedError(DomainErrorCode.PERMISSION_DENIED, what)


def query_error(error: DomainError) -> CodedError:
    return CodedError(error.code, error.message, error.field)


P = ParamSpec("P")
Payload = TypeVar("Payload")


def user_errors(payload: Callable[..., Payload]):
    """Turn a DomainError raised by a mutation into its payload with `errors`.

    The mutation's transaction is rolled back by the raise, so a refused change
    writes nothing.
    """

    def wrap(resolver: Callable[P, Awaitable[Payload]]) -> Callable[P, Awaitable[Payload]]:
        @functools.wraps(resolver)
        async def run(*args: P.args, **kwargs: P.kwargs) -> Payload:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as error:
                # The code and field, not the message: it can quote what the user typed.
                log.info(
                    "%s refused: %s%s",
                    resolver.__name__,
                    error.code.value,
                    f" (field {error.field})" if error.field else "",
                    extra={"mutation": resolver.__name__, "code": error.code.value},
                )
                return payload(errors=[UserError.from_domain(error)])

        return run

    return wrap
