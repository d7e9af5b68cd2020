"""A database that is away for a moment is a clear, retryable error, not an internal one."""

from __future__ import annotations

from graphql import GraphQLError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.extensions import SchemaExtension

UNAVAILABLE = "The database is unavailable for a moment; nothing was changed. Try again shortly."
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"


def is_outage(error: BaseException | None) -> bool:
    """Connection trouble, as opposed to a statement the database refused on its merits.

    Drivers disagree on how to say "not accepting connections" (asyncpg raises a plain
    DBAPIError for it), so anything from the driver that is not about the statement counts.
    """
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    return not isinstance(error, IntegrityError | DataError | ProgrammingError | NotSupportedError)


def outage_error(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        UNAVAILABLE, nodes=error.nodes, path=error.path, extensions={"code": UNAVAILABLE_CODE}
    )


class DatabaseOutages(SchemaExtension):
    def on_execute(self):
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [
                outage_error(e) if is_outage(e.original_error) else e for e in result.errors
            ]
