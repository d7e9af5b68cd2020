"""What an operation may cost: its fields, each list multiplying what it holds, counted from
the document before anything runs.

A field costs 1 plus what it selects; a list costs what one item selects, times how many items
it can hold: a connection's `first` (MAX_PAGE when a variable gives it, since any page size up to
that may come), the capped period of `calendar` and `timeEntries` (MAX_PERIOD_ROWS), or
LIST_ESTIMATE for the short lists inside a row (an appointment's messages, a client's
contacts). Thirty aliased calendars cost thirty calendars, and are refused in milliseconds
instead of running for a minute.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from models.errors import ErrorCode
from models.periods import MAX_PERIOD_ROWS
from schema.pagination import MAX_PAGE

# About ten seconds of one core at the ~25 µs a resolved field costs, were every list as long
# as counted; the richest calendar the App asks for (every field, test_statement_count) over
# the full period counts 406,000.
MAX_COST = 500_000
# The short lists inside a row, whose length no argument gives: a few messages per
# appointment, a few contacts per client.
LIST_ESTIMATE = 3
# Lists whose length a cap elsewhere bounds, by (type, field).
CAPPED_LISTS = {
    ("Query", "calendar"): MAX_PERIOD_ROWS,
    ("Query", "timeEntries"): MAX_PERIOD_ROWS,
}
PAGE_ARGUMENT = "first"


def operation_cost(context: ValidationContext, operation: OperationDefinitionNode) -> int:
    """The operation's cost, or (once past MAX_COST) as much of it as was counted."""
    root = context.schema.get_root_type(operation.operation)
    return 0 if root is None else Cost(context).selections(operation.selection_set, root, None)


class QueryCostRule(ValidationRule):
    """Refuses each operation of the document that would cost more than MAX_COST."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        cost = operation_cost(self.context, node)
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"This operation would cost at least {cost:,} (fields times the rows of "
                    f"each list); at most {MAX_COST:,} is allowed: ask for fewer fields, smaller "
                    "pages, shorter periods or fewer aliases.",
                    node,
                    extensions={
                        "code": ErrorCode.INVALID_INPUT.value,
                        "cost": cost,
                        "maxCost": MAX_COST,
                    },
                )
            )


class Cost:
    def __init__(self, context: ValidationContext):
        self.context = context
        # A fragment spread many times is counted once per page size it is spread under.
        self.fragments: dict[tuple[str, int | None], int] = {}
        self.expanding: set[str] = set()

    def selections(
        self, selection_set: SelectionSetNode | None, parent: object, page: int | None
    ) -> int:
        """The cost of a selection on `parent`; `page` is the length of lists directly in it,
        when the field that selected it took a page size."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.context.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, kind, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page)
            if total > MAX_COST:
                # Enough to refuse: counting on would only spend time.
                return total
        return total

    def fragment(self, name: str, page: int | None) -> int:
        if (name, page) in self.fragments:
            return self.fragments[name, page]
        definition = self.context.get_fragment(name)
        if definition is None or name in self.expanding:
            # Unknown or cyclic: other rules refuse the document.
            return 0
        self.expanding.add(name)
        kind = self.context.schema.get_type(definition.type_condition.name.value)
        cost = self.selections(definition.selection_set, kind, page)
        self.expanding.discard(name)
        self.fragments[name, page] = cost
        return cost

    def field(self, node: FieldNode, parent: object, page: int | None) -> int:
        name = node.name.value
        has_fields = isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        definition = parent.fields.get(name) if has_fields else None
        if definition is None or name.startswith("__"):
            # Introspection, and fields other rules refuse.
            return 1
        given = page_size(node, definition)
        returned = get_nullable_type(definition.type)
        inner = self.selections(node.selection_set, get_named_type(returned), given)
        if not is_list_type(returned):
            return 1 + inner
        rows = CAPPED_LISTS.get((getattr(parent, "name", None), name))
        if rows is None:
            rows = given if given is not None else page if page is not None else LIST_ESTIMATE
        return 1 + rows * max(inner, 1)


def page_size(node: FieldNode, definition) -> int | None:
    """The page a field asks for with `first`, or None when it takes no page size."""
    argument = definition.args.get(PAGE_ARGUMENT)
    if argument is None:
        return None
    for given in node.arguments or ():
        if given.name.value != PAGE_ARGUMENT:
            continue
        value = given.value
        if isinstance(value, IntValueNode):
            return min(max(int(value.value), 0), MAX_PAGE)
        if isinstance(value, NullValueNode):
            return default_page(argument)
        # A variable: whatever page size it brings, up to the largest.
        return MAX_PAGE
    return default_page(argument)


def default_page(argument) -> int:
    default = argument.default_value
    return min(default, MAX_PAGE) if isinstance(default, int) and default >= 0 else MAX_PAGE
