"""The calendar's fast path: its rows read together (models.periods.calendar_rows) and its list
completed without graphql-core's per-field machinery (schema.fast_lists). Every field the schema
offers on Appointment, and below it, answers as the general path answers it, for each kind of
user; and its statements do not grow with the appointments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from bench import calendar as bench_calendar
from schema import build_schema, fast_lists
from tests.test_statement_count import book, counting_statements

START = datetime(2041, 1, 1, tzinfo=UTC)
END = datetime(2041, 2, 1, tzinfo=UTC)
# Below an appointment, objects this deep show their leaf fields only.
DEPTH = 2


def selections(type_name: str, depth: int = 0) -> dict[str, str]:
    """Each field of the type that needs no argument, with every field below it: objects
    DEPTH deep, and their leaf fields below that."""
    graphql_type = build_schema()._schema.get_type(type_name)
    shown = {"__typename": "__typename"}
    for name, field in graphql_type.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        named = field.type
        while isinstance(named, GraphQLNonNull | GraphQLList):
            named = named.of_type
        if is_leaf_type(named):
            shown[name] = name
        elif isinstance(named, GraphQLObjectType) and depth < DEPTH:
            below = " ".join(selections(named.name, depth + 1).values())
            shown[name] = f"{name} {{ {below} }}"
    return shown


# Field by field: all of them in one query would cost more than a request may.
FIELDS = selections("Appointment")


def calendar(field: str) -> str:
    return f"""
    query Calendar($start: DateTime!, $end: DateTime!, $userId: ID) {{
      calendar(start: $start, end: $end, userId: $userId) {{ id {FIELDS[field]} }}
    }}
    """


def appointment(field: str) -> str:
    return f"query Appointment($id: ID!) {{ appointment(id: $id) {{ id {FIELDS[field]} }} }}"


# What the App's calendar screen asks for.
SCREEN = bench_calendar.QUERY


@pytest.fixture
def handed_back(monkeypatch) -> list[str]:
    """The calendars the fast path handed back to graphql-core whole, by field asked for."""
    found: list[str] = []
    general = StrawberryGraphQLCoreExecutionContext.complete_value

    def complete_value(self, return_type, details, info, path, result, position):
        if info.field_name == "calendar" and isinstance(result, list):
            found.append(details[0].node.selection_set.selections[-1].name.value)
        return general(self, return_type, details, info, path, result, position)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "complete_value", complete_value)
    return found


def test_the_fields_are_every_field_of_an_appointment():
    assert set(FIELDS) == {"__typename", *build_schema()._schema.get_type("Appointment").fields}


@pytest.mark.parametrize("who", ["admin", "office", "tech"])
async def test_every_field_answers_as_the_general_path_answers_it(
        who, admin, office, tech, demo, monkeypatch, handed_back):
    await book(demo, START, 12)
    api = {"admin": admin, "office": office, "tech": tech}[who]
    tech_id = (await tech.ok("{ me { id } }"))["me"]["id"]
    variables = {"start": START.isoformat(), "end": END.isoformat(), "userId": tech_id}

    for field in FIELDS:
        fast = (await api.ok(calendar(field), variables))["calendar"]
        assert handed_back == [], field  # the fast path completed it
        with monkeypatch.context() as general_only:
            general_only.setattr(fast_lists, "FAST_NAMES", set())
            general = (await api.ok(calendar(field), variables))["calendar"]
        assert field in handed_back  # and here it did not
        handed_back.clear()
        one_by_one = [(await api.ok(appointment(field), {"id": a["id"]}))["appointment"]
                      for a in fast]

        assert len(fast) == 12, field
        assert fast == general, field
        assert fast == one_by_one, field


async def test_the_screens_calendar_is_three_statements_however_many_appointments(
        demo, services, tech):
    few, many = datetime(2041, 1, 1, tzinfo=UTC), datetime(2043, 1, 1, tzinfo=UTC)
    await book(demo, few, 10)
    await book(demo, many, 500)

    counted = []
    for start, expected in ((few, 10), (many, 500)):
        with counting_statements(services.engine) as statements:
            data = await tech.ok(SCREEN, {"start": start.isoformat(),
                                          "end": datetime(start.year, 2, 1, tzinfo=UTC)
                                          .isoformat()})
        assert len(data["calendar"]) == expected
        counted.append(statements)

    # The token, the appointments with all they show, and the opt-outs of their numbers.
    assert [len(s) for s in counted] == [3, 3], counted
