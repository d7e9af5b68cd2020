"""Validating each document once: the cached result of graphql-core's rules and ours, without
"Did you mean …?" hints in production, and refusing a document of several operations that does
not say which to run (strawberry would quietly run the first)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from models.errors import ErrorCode

CACHE_SIZE = 256


@functools.lru_cache(maxsize=CACHE_SIZE)
def validated(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    quiet: bool,
) -> tuple[GraphQLError, ...]:
    """The errors of a document; cached, so the rules must be the same classes each time."""
    # Strawberry's own rules, which its validation adds to whatever it is given.
    every_rule = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return tuple(validate(schema, document, every_rule, hide_suggestions=quiet))


def unnamed_choice(document: DocumentNode, operation_name: str | None) -> GraphQLError | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) < 2 or operation_name is not None:
        return None
    return GraphQLError(
        f"The document has {len(operations)} operations: name the one to run in operationName.",
        extensions={"code": ErrorCode.INVALID_INPUT.value, "field": "operationName"},
    )


class Validation(SchemaExtension):
    def __init__(self, quiet: bool):
        self.quiet = quiet

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        errors = list(
            validated(context.schema._schema, document, context.validation_rules, self.quiet)
        )
        # The name the request gave, before strawberry defaults it to the first operation's.
        given = getattr(context, "_provided_operation_name", context.operation_name)
        choice = unnamed_choice(document, given)
        if choice is not None:
            errors.append(choice)
        # Set before validation proper: strawberry then skips its own, uncached, run.
        context.pre_execution_errors = errors
        yield
