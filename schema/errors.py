"""How domain errors reach clients: UserErrors on mutations, coded GraphQL errors on queries."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import strawberry
from graphql import GraphQLError

from models.errors import DomainError
from models.errors import ErrorCode as DomainErrorCode

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
    """A GraphQL execution error carrying `extensions.code`; safe to show even when masking."""

    def __init__(self, code: DomainErrorCode, message: str):
        super().__init__(message, extensions={"code": code.value})


def unauthenticated() -> CodedError:
    return CodedError(DomainErrorCode.UNAUTHENTICATED, "Sign in first: no or invalid bearer token.")


def permission_denied(what: str = "You do not have permission to do that.") -> CodedError:
    return CodedError(DomainErrorCode.PERMISSION_DENIED, what)


def query_error(error: DomainError) -> CodedError:
    return CodedError(error.code, error.message)


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
                return payload(errors=[UserError.from_domain(error)])

        return run

    return wrap
