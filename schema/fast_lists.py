"""Completing a calendar's appointments without graphql-core's machinery for each field.

graphql-core completes a value field by field: for each, a resolve info, the resolver through
strawberry's wrappers, and a completion that asks whether the value is awaitable, null, a list,
a leaf or an object. For a calendar that is some 5,000 fields, and it was most of what the
query cost once the calendar's rows are read together (models.periods.calendar_rows).

FastLists completes the lists of the root fields in FAST_FIELDS itself: for each field asked
for, the same resolver strawberry would call (or the same attribute), and the same scalar
serialisation, straight into the answer. Whatever it does not do in that simple way goes
through graphql-core as usual, field by field: fields with arguments, permissions or field
extensions, resolvers without `self`, abstract types, and any resolver that answers with an
awaitable (data the calendar did not read). Anything unexpected (an error, a null where the
schema says non-null, @defer) and the whole list is completed by graphql-core instead, which
then reports it as it always does. Off when a schema extension resolves fields itself
(tracing), so that each field still goes through it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# (parent type, field) of the root fields whose lists are completed here.
FAST_FIELDS = {("Query", "calendar")}
FAST_NAMES = {name for _, name in FAST_FIELDS}

FieldDetailsList = list[FieldDetails]


class Fallback(Exception):
    """The list is not completed here: graphql-core completes it."""


class ResolverInfo:
    """What the resolvers completed here are given as their `info`: the request's context.
    A resolver wanting more raises AttributeError, and the list falls back to graphql-core."""

    __slots__ = ("context",)

    def __init__(self, context: Any):
        self.context = context


@dataclass(frozen=True)
class Shape:
    """A field's type, as completing a value of it needs it."""

    non_null: bool
    kind: str  # "leaf", "object", "list", or "other" (left to graphql-core)
    serialize: Any = None
    object_type: GraphQLObjectType | None = None
    item: Shape | None = None


@functools.cache
def shape_of(return_type: GraphQLOutputType) -> Shape:
    """Once per type of the schema."""
    non_null = isinstance(return_type, GraphQLNonNull)
    named = return_type.of_type if non_null else return_type
    if is_leaf_type(named):
        return Shape(non_null, "leaf", serialize=named.serialize)
    if isinstance(named, GraphQLObjectType):
        return Shape(non_null, "object", object_type=named)
    if isinstance(named, GraphQLList):
        return Shape(non_null, "list", item=shape_of(named.of_type))
    return Shape(non_null, "other")


@dataclass(frozen=True)
class Step:
    """How one response key of an object is completed."""

    key: str
    details: FieldDetailsList
    # "typename"; "attribute" or "resolver" (read here, completed here); "general" (all of it
    # by graphql-core).
    how: str
    field_def: Any = None
    shape: Shape | None = None
    read: Any = None
    takes_info: bool = False


# Where a value is in the answer, made into a graphql-core Path only when one is needed: the
# calendar's own Path, or (where, key, typename) below it.
Where = Any


def path_of(where: Where) -> Path:
    if isinstance(where, Path):
        return where
    parent, key, typename = where
    return Path(path_of(parent), key, typename)


class FastLists(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans: dict[int, list[Step]] = {}
        self.resolver_info = ResolverInfo(self.context_value)

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if (
            info.field_name in FAST_NAMES
            and (info.parent_type.name, info.field_name) in FAST_FIELDS
            and not (self.middleware_manager and self.middleware_manager.middlewares)
            and isinstance(result, list)
        ):
            pending: list[tuple[dict, str, Awaitable]] = []
            try:
                completed = self.fast_value(
                    shape_of(return_type), field_details_list, path, result, pending
                )
            except BaseException as error:
                for _, _, awaitable in pending:
                    close(awaitable)
                if not isinstance(error, Fallback):
                    raise
            else:
                return self.settled(completed, pending) if pending else completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    async def settled(self, completed: Any, pending: list[tuple[dict, str, Awaitable]]) -> Any:
        """The answer once the fields graphql-core completes asynchronously are done (a
        failure is graphql-core's to report, as for any field it completes)."""
        values = await asyncio.gather(*(awaitable for _, _, awaitable in pending))
        for (container, key, _), value in zip(pending, values, strict=True):
            container[key] = value
        return completed

    def fast_value(
        self,
        shape: Shape,
        details: FieldDetailsList,
        where: Where,
        value: Any,
        pending: list[tuple[dict, str, Awaitable]],
    ) -> Any:
        if value is None:
            if shape.non_null:
                raise Fallback
            return None
        kind = shape.kind
        if kind == "leaf":
            serialized = shape.serialize(value)
            if serialized is None or serialized is Undefined:
                raise Fallback
            return serialized
        if kind == "object":
            return self.fast_object(shape.object_type, details, where, value, pending)
        if kind == "list" and isinstance(value, list | tuple):
            item = shape.item
            return [
                self.fast_value(item, details, (where, index, None), each, pending)
                for index, each in enumerate(value)
            ]
        raise Fallback  # an abstract type, or a list that is not one

    def fast_object(
        self,
        object_type: GraphQLObjectType,
        details: FieldDetailsList,
        where: Where,
        source: Any,
        pending: list[tuple[dict, str, Awaitable]],
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        typename = object_type.name
        for step in self.plan(object_type, details):
            key, how = step.key, step.how
            if how == "attribute":
                value = step.read(source)
                shape = step.shape
                if shape.kind == "leaf" and value is not None:  # most fields: inline
                    serialized = shape.serialize(value)
                    if serialized is None or serialized is Undefined:
                        raise Fallback
                    answer[key] = serialized
                else:
                    answer[key] = self.fast_value(
                        shape, step.details, (where, key, typename), value, pending
                    )
                continue
            if how == "resolver":
                try:
                    value = (
                        step.read(source, self.resolver_info)
                        if step.takes_info
                        else step.read(source)
                    )
                except Exception as error:
                    raise Fallback from error
                if not self.is_awaitable(value):
                    answer[key] = self.fast_value(
                        step.shape, step.details, (where, key, typename), value, pending
                    )
                    continue
                path = path_of((where, key, typename))
                info = self.build_resolve_info(
                    step.field_def, [d.node for d in step.details], object_type, path
                )
                value = self.complete_awaitable_value(
                    step.field_def.type, step.details, info, path, value, None
                )
            elif how == "general":
                path = path_of((where, key, typename))
                value = self.execute_field(object_type, source, step.details, path, None)
                if not self.is_awaitable(value):
                    answer[key] = value
                    continue
            else:  # __typename
                answer[key] = typename
                continue
            answer[key] = value
            pending.append((answer, key, value))
        return answer

    def plan(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> list[Step]:
        """How each field asked of `object_type` at this place in the query is completed;
        made once per place, however many objects are completed there."""
        cached = self.plans.get(id(details))
        if cached is not None:
            return cached
        grouped, deferred, _ = self.collect_subfields(object_type, details)
        if deferred:
            raise Fallback
        steps = [self.step(object_type, key, field) for key, field in grouped.items()]
        # `details` is kept alive by graphql-core's own cache, so its id is not reused; and it
        # is one field of the query, of one object type (abstract types are not completed here).
        self.plans[id(details)] = steps
        return steps

    def step(self, object_type: GraphQLObjectType, key: str, details: FieldDetailsList) -> Step:
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            return Step(key, details, "typename")
        field_def = self.schema.get_field(object_type, name)
        field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if field is None or field.arguments or field.extensions or node.arguments:
            return Step(key, details, "general", field_def)
        shape = shape_of(field_def.type)
        resolver = field.base_resolver
        if resolver is None:
            return Step(key, details, "attribute", field_def, shape, attrgetter(field.python_name))
        if resolver.self_parameter is None or resolver.arguments:
            return Step(key, details, "general", field_def)
        return Step(
            key,
            details,
            "resolver",
            field_def,
            shape,
            resolver.wrapped_func,
            takes_info=resolver.info_parameter is not None,
        )


def close(awaitable: Any) -> None:
    """Let go of an awaitable that will not be awaited, without a warning."""
    if asyncio.iscoroutine(awaitable):
        awaitable.close()
    elif isinstance(awaitable, asyncio.Future):
        awaitable.cancel()
