"""Bounded cost per request: an operation is costed from its document before it runs, and one
that would cost too much is refused without touching the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from graphql import OperationDefinitionNode, TypeInfo, ValidationContext, parse

from models.periods import MAX_PERIOD_ROWS
from schema import schema
from schema.pagination import MAX_PAGE
from schema.query_cost import LIST_ESTIMATE, MAX_COST, operation_cost
from tests.conftest import Api
from tests.test_hardening import app_for
from tests.test_statement_count import CALENDAR as EVERY_CALENDAR_FIELD
from tests.test_statement_count import book, counting_statements

# What the App asks of each appointment on its calendar screen.
APPOINTMENT_FIELDS = """
  id start end smsReminder smsCount
  job { id title latitude longitude client { id name smsNumber } }
  task { id name }
  contact { kind id name smsNumber optedOut canReceiveSms problem }
"""
START = datetime(2041, 1, 1, tzinfo=UTC)
PERIOD = {"start": START.isoformat(), "end": (START + timedelta(days=42)).isoformat()}


def calendars(count: int) -> str:
    aliased = " ".join(f"c{n}: calendar(start: $start, end: $end) {{ {APPOINTMENT_FIELDS} }}"
                       for n in range(count))
    return f"query Calendars($start: DateTime!, $end: DateTime!) {{ {aliased} }}"


@pytest.fixture
async def production(services, demo) -> AsyncIterator[Api]:
    async with app_for(services, "production") as http:
        yield await Api(http).login("tech")


async def test_thirty_aliased_calendars_are_refused_before_any_sql(production, services):
    await book(services.sessions, START, 40)

    with counting_statements(services.engine) as signed_in:
        body = await production.post(calendars(30), PERIOD)
    with counting_statements(services.engine) as anonymous:
        anonymous_body = await Api(production.http).post(calendars(30), PERIOD)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["cost"] > MAX_COST == error["extensions"]["maxCost"]
    assert "fewer aliases" in error["message"]
    # Signing in reads the token; nothing else runs.
    assert signed_in and all("auth_token" in s for s in signed_in), signed_in
    assert anonymous_body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert anonymous == []


async def test_one_calendar_of_every_field_runs(production, services):
    """The richest calendar, over the longest period, is within the limit."""
    await book(services.sessions, START, 40)

    data = await production.ok(EVERY_CALENDAR_FIELD, PERIOD)

    assert len(data["calendar"]) == 40


async def test_calendars_side_by_side_run_within_the_limit(production, services):
    """The control: a few calendars at once (the office's view of several technicians)."""
    await book(services.sessions, START, 40)

    data = await production.ok(calendars(8), PERIOD)

    assert {len(appointments) for appointments in data.values()} == {40}


def cost(document: str) -> int:
    parsed = parse(document)
    context = ValidationContext(schema._schema, parsed, TypeInfo(schema._schema), lambda _: None)
    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    return operation_cost(context, operation)


CLIENTS = "query($n: Int) {{ clients(first: {first}) {{ nodes {{ id name }} }} }}"


def test_a_page_size_given_by_a_variable_counts_as_the_largest_page():
    assert cost(CLIENTS.format(first="$n")) == cost(CLIENTS.format(first=MAX_PAGE))
    assert cost(CLIENTS.format(first=1)) < cost(CLIENTS.format(first=MAX_PAGE))
    # Omitted, the page is the argument's default.
    assert cost("{ clients { nodes { id name } } }") == cost(CLIENTS.format(first=50))


def test_a_fragment_counts_each_time_it_is_spread():
    fragment = "fragment Row on Appointment { id smsMessages { id body } }"
    once = cost("query($s: DateTime!, $e: DateTime!) { a: calendar(start: $s, end: $e) "
                "{ ...Row } } " + fragment)
    three_times = cost("query($s: DateTime!, $e: DateTime!) { ...Three } "
                       "fragment Three on Query { a: calendar(start: $s, end: $e) { ...Row } "
                       "b: calendar(start: $s, end: $e) { ...Row } "
                       "c: calendar(start: $s, end: $e) { ...Row } } " + fragment)

    assert three_times == 3 * once
    # Each calendar counts at the most rows a period may hold.
    assert once == 1 + MAX_PERIOD_ROWS * (1 + 1 + LIST_ESTIMATE * 2)


def test_the_apps_own_operations_are_within_the_limit():
    assert cost(calendars(1)) < cost(EVERY_CALENDAR_FIELD) < MAX_COST
    assert cost(calendars(30)) > MAX_COST


async def test_a_period_holding_more_rows_than_the_cap_is_refused(production, services):
    await book(services.sessions, START, MAX_PERIOD_ROWS + 1)

    body = await production.post("query($start: DateTime!, $end: DateTime!) { "
                                 "calendar(start: $start, end: $end) { id } }", PERIOD)

    assert body["data"] is None
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("INVALID_INPUT", "end")
    assert str(MAX_PERIOD_ROWS) in error["message"]
