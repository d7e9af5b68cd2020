"""Text no part of the service can handle is refused on the way in: a NUL character or an
unpaired surrogate anywhere in the request's variables or string literals.

Either would reach a resolver as a Python str and fail far from the input: PostgreSQL refuses
NUL in text, argon2 and every driver refuse to encode a lone surrogate ("\\ud800" in a password
was an internal error). One check here, before execution, makes each an INVALID_INPUT naming
the field, for every query, mutation and subscription alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import ArgumentNode, ObjectFieldNode, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from models.errors import ErrorCode
from models.input_limits import text_problem
from schema.errors import CodedError


def variable_problems(variables: dict[str, Any] | None) -> Iterator[tuple[str, str, str]]:
    """(path, field, problem) of each string in the variables that no column could keep."""
    stack: list[tuple[str, str, Any]] = [
        (f"${name}", name, value) for name, value in (variables or {}).items()
    ]
    while stack:
        path, field, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                yield path, field, problem
        elif isinstance(value, dict):
            stack.extend((f"{path}.{key}", str(key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{n}]", field, item) for n, item in enumerate(value))


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: tuple[str, str] | None = None

    def enter_string_value(self, node: StringValueNode, key, parent, path, ancestors) -> Any:
        problem = text_problem(node.value)
        if problem is None:
            return None
        # The argument or input field the literal is the value of, however deep in lists.
        owners = [a for a in (*ancestors, parent) if isinstance(a, ArgumentNode | ObjectFieldNode)]
        self.found = (owners[-1].name.value if owners else "query", problem)
        return Visitor.BREAK


def literal_problem(query: str | None, document: Any) -> tuple[str, str] | None:
    """(field, problem) of the first string literal in the document no column could keep."""
    # Only an escape or a raw NUL can put either into a literal: the lexer refuses raw
    # surrogates. Most documents have neither, and are not walked.
    if document is None or not query or ("\\u" not in query and "\x00" not in query):
        return None
    literals = _Literals()
    visit(document, literals)
    return literals.found


class TextInputs(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        in_variables = next(variable_problems(context.variables), None)
        if in_variables is not None:
            path, field, problem = in_variables
            raise CodedError(ErrorCode.INVALID_INPUT, f"Variable {path} {problem}.", field)
        in_literals = literal_problem(context.query, context.graphql_document)
        if in_literals is not None:
            field, problem = in_literals
            raise CodedError(ErrorCode.INVALID_INPUT, f"The value of {field} {problem}.", field)
        yield
