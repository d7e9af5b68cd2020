"""Authentication for every field, and coded errors for queries; the rules are models.access."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from strawberry.permission import BasePermission

from models.errors import DomainError, ErrorCode
from schema.errors import query_error


class IsAuthenticated(BasePermission):
    message = "Sign in first: no or invalid bearer token."
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.user is not None


P = ParamSpec("P")
R = TypeVar("R")


def coded_errors(resolver: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Queries answer a refused rule with a GraphQL error carrying its code, never with data."""

    @functools.wraps(resolver)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await resolver(*args, **kwargs)
        except DomainError as error:
            raise query_error(error) from None

    return run
