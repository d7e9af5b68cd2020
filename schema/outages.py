"""A database that is away for a moment is a clear, retryable error, not an internal one."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from models.outages import is_outage

UNAVAILABLE = "The database is unavailable for a moment; nothing was changed. Try again shortly."
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"


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
