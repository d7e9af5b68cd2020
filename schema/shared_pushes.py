"""One answer per status event for all the subscriptions of a process that ask the same of it.

Each subscription that wants a status event executes its document over the event's message,
and the message is the same object for all of them (schema.subscriptions reads it once per
process). When a document asks only for what follows from the message itself (its plain
values, and resolvers that take neither `info` nor arguments: nothing that depends on who is
asking or on the variables), the answer is the same for every subscription with that
document, so it is made once per event and handed to the others. In a burst of events (a
reminder run's failures announced together, to every failure watcher) that is most of the work
of each push. Anything else (other fields, fragments, directives, middleware, an answer with
errors or still to be awaited) is executed for each subscription, as graphql-core always does.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_nullable_type,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter

from schema.fast_lists import FastLists


class SharedAnswers(FastLists):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared with the executor of each event (a copy of this one): decided once.
        self.sharing: dict[str, bool] = {}

    def execute_operation(self, serially: bool | None = None) -> Any:
        answers = getattr(self.root_value, "shared_answers", None)
        if answers is None or not self.shares_answers():
            return super().execute_operation(serially)
        operation = self.operation
        # By identity: the parser's cache gives the subscriptions of one document the same node.
        made = answers.get(id(operation))
        if made is not None and made[0] is operation:
            return made[1]
        result = super().execute_operation(serially)
        if not self.is_awaitable(result) and not result.errors:
            answers[id(operation)] = (operation, result)
        return result

    def shares_answers(self) -> bool:
        shares = self.sharing.get("answers")
        if shares is None:
            middleware = self.middleware_manager
            shares = self.sharing["answers"] = (
                not (middleware and middleware.middlewares)
                and self.hooks is None
                and asks_only_the_event(self.schema, self.operation)
            )
        return shares


def asks_only_the_event(schema: GraphQLSchema, operation: OperationDefinitionNode) -> bool:
    """Whether each event's answer to this subscription follows from the event alone."""
    roots = operation.selection_set.selections
    if operation.operation is not OperationType.SUBSCRIPTION or len(roots) != 1:
        return False
    root = roots[0]
    # The root field's arguments choose the events, not what is answered of each.
    if not isinstance(root, FieldNode) or root.directives or root.selection_set is None:
        return False
    root_type = schema.subscription_type
    field_def = root_type.fields.get(root.name.value) if root_type else None
    if field_def is None:
        return False
    object_type = get_nullable_type(field_def.type)
    return isinstance(object_type, GraphQLObjectType) and all(
        is_plain_value(object_type, node) for node in root.selection_set.selections
    )


def is_plain_value(object_type: GraphQLObjectType, node: Any) -> bool:
    """A scalar or enum field read from the object alone, the same whoever asks."""
    if not isinstance(node, FieldNode) or node.directives or node.arguments or node.selection_set:
        return False
    if node.name.value == "__typename":
        return True
    field_def = object_type.fields.get(node.name.value)
    if field_def is None or not is_leaf_type(get_nullable_type(field_def.type)):
        return False
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    # Permissions and other field extensions ask who is asking.
    if field is None or field.arguments or field.extensions:
        return False
    resolver = field.base_resolver
    return resolver is None or (
        resolver.self_parameter is not None
        and resolver.info_parameter is None
        and not resolver.arguments
    )
