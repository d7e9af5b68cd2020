"""The GraphQL schema of the App and TimeTrak Professional."""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from schema.mutations.account import AccountMutation
from schema.mutations.admin import AdminMutation
from schema.mutations.appointments import AppointmentsMutation
from schema.mutations.clients import ClientsMutation
from schema.mutations.sending import SendingMutation
from schema.outages import DatabaseOutages
from schema.queries.account import AccountQuery
from schema.queries.calendar import CalendarQuery
from schema.queries.clients import ClientsQuery
from schema.queries.history import HistoryQuery
from schema.queries.sms import SmsQuery
from schema.subscriptions import Subscription

Query = merge_types("Query", (AccountQuery, CalendarQuery, ClientsQuery, SmsQuery, HistoryQuery))
Mutation = merge_types(
    "Mutation",
    (AccountMutation, ClientsMutation, AppointmentsMutation, AdminMutation, SendingMutation),
)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000


def shown_to_clients(error: GraphQLError) -> bool:
    """Errors with a product code (and validation errors) are the client's to read; others hide."""
    if error.original_error is None:
        return True
    return "code" in (error.extensions or {})


@functools.cache
def build_schema(production: bool = False, introspection: bool = True) -> strawberry.Schema:
    """`introspection` is for development only; `production` also hides unexpected errors.

    Cached: building a schema is slow, and a schema holds no per-request state.
    """
    # Factories, not instances: each request gets its own; the caches are shared module-wide.
    extensions = [
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        DatabaseOutages,
    ]
    if production or not introspection:
        extensions.append(DisableIntrospection)
    if production:
        extensions.append(lambda: MaskErrors(should_mask_error=lambda e: not shown_to_clients(e)))
    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions
    )


schema = build_schema()
