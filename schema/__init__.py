"""The GraphQL schema of the App and TimeTrak Professional."""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from schema.client_errors import (
    ClientErrors,
    QuietExecutionContext,
    log_errors,
    shown_to_clients,
)
from schema.mutations.account import AccountMutation
from schema.mutations.admin import AdminMutation
from schema.mutations.appointments import AppointmentsMutation
from schema.mutations.clients import ClientsMutation
from schema.mutations.people import PeopleMutation
from schema.mutations.sending import SendingMutation
from schema.operations import OperationRecords
from schema.outages import DatabaseOutages
from schema.queries.account import AccountQuery
from schema.queries.calendar import CalendarQuery
from schema.queries.clients import ClientsQuery
from schema.queries.history import HistoryQuery
from schema.queries.people import PeopleQuery
from schema.queries.sms import SmsQuery
from schema.queries.work import WorkQuery
from schema.query_cost import QueryCostRule
from schema.replies import RepliesMutation, RepliesQuery, RepliesSubscription
from schema.scalars import SCALAR_OVERRIDES
from schema.shared_pushes import SharedAnswers
from schema.subscriptions import StatusSubscription
from schema.text_inputs import TextInputs
from schema.validation import Validation

Query = merge_types(
    "Query",
    (
        AccountQuery,
        CalendarQuery,
        ClientsQuery,
        SmsQuery,
        HistoryQuery,
        PeopleQuery,
        WorkQuery,
        RepliesQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        ClientsMutation,
        AppointmentsMutation,
        AdminMutation,
        SendingMutation,
        PeopleMutation,
        RepliesMutation,
    ),
)
Subscription = merge_types("Subscription", (StatusSubscription, RepliesSubscription))

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000

# The same rule classes for every request, so each document's validation is cached once
# (a limiter extension built per request would make new classes, and miss the cache).
LIMITS = (
    depth_rule(MAX_DEPTH, should_ignore=None),
    alias_rule(MAX_ALIASES),
    QueryCostRule,
)


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        log_errors(errors, execution_context)


@functools.cache
def build_schema(
    production: bool = False, introspection: bool = True, tracing: bool = False
) -> strawberry.Schema:
    """`introspection` is for development only; `production` also hides unexpected errors
    and the "Did you mean …?" hints that would spell out the schema. `tracing` adds
    OpenTelemetry spans (api.telemetry turns it on; the `otel` extra).

    Cached: building a schema is slow, and a schema holds no per-request state.
    """
    # Factories, not instances: each request gets its own; the caches are shared module-wide.
    extensions = [
        OperationRecords,
        lambda: AddValidationRules(list(LIMITS)),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: Validation(quiet=production),
        TextInputs,
        DatabaseOutages,
        # Codes the request's own faults, then (in production) masks the unexpected.
        lambda: ClientErrors(mask=production),
    ]
    if production or not introspection:
        extensions.append(DisableIntrospection)
    if tracing:
        from schema.tracing import traced_operations

        extensions.insert(0, traced_operations)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
        execution_context_class=QuietExecutionContext if production else SharedAnswers,
    )


schema = build_schema()

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS", "build_schema", "schema", "shown_to_clients"]
