"""Every bad input gets its own clear error, in production too: INVALID_INPUT naming the field
(or the variable, when the value could not even be read as its type), never "Unexpected
error.", never SERVICE_UNAVAILABLE, never a 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

import models
from api.request_json import MAX_DEPTH as MAX_JSON_DEPTH
from models.errors import DomainError
from tests.conftest import Api
from tests.test_hardening import app_for

CALENDAR = """
query Calendar($start: DateTime!, $end: DateTime!) { calendar(start: $start, end: $end) { id } }
"""
TIME_ENTRIES = """
query Entries($start: DateTime!, $end: DateTime!) { timeEntries(start: $start, end: $end) { id } }
"""
HISTORY = """
query History($filter: SmsMessageFilter, $first: Int, $after: String) {
  smsMessages(filter: $filter, first: $first, after: $after) { totalCount }
}
"""
HISTORY_FROM = """
query History($from: DateTime) { smsMessages(filter: {from: $from}) { totalCount } }
"""
STATUSES = """
query History($status: [SmsStatus!]) { smsMessages(filter: {status: $status}) { totalCount } }
"""
JOBS = "query Jobs($first: Int) { jobs(first: $first) { totalCount } }"
CLIENTS_AFTER = "query Clients($after: String) { clients(after: $after) { totalCount } }"
APPOINTMENT = "query Appointment($id: ID!) { appointment(id: $id) { id } }"
CREATE_CLIENT = """
mutation Create($input: ClientInput!) {
  createClient(input: $input) { client { id } errors { code field message } }
}
"""
UPDATE_CLIENT = """
mutation Update($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) { client { id } errors { code field message } }
}
"""
SETTINGS = """
mutation Settings($input: SettingsInput!) {
  updateSettings(input: $input) { settings { timeZone } errors { code field message } }
}
"""
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id } errors { code field message } }
}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code field message } }
}
"""


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


UTC_DAY = {"start": "2040-03-05T00:00:00+00:00", "end": "2040-03-06T00:00:00+00:00"}
NAN = float("nan")

# (what is wrong, operation, variables, the field or variable the error must name)
BAD_INPUTS: list[tuple[str, str, dict[str, Any], str]] = [
    # Values that cannot be read as their type: the error names the variable.
    ("not a date", CALENDAR, {**UTC_DAY, "start": "next tuesday"}, "start"),
    ("naive start", CALENDAR, {**UTC_DAY, "start": "2040-03-05T00:00:00"}, "start"),
    ("year 1 east of UTC", CALENDAR, {**UTC_DAY, "start": "0001-01-01T00:00:00+05:00"}, "start"),
    ("year 9999 west of UTC", CALENDAR, {**UTC_DAY, "end": "9999-12-31T23:59:59-05:00"}, "end"),
    ("year 9999 in UTC", TIME_ENTRIES, {**UTC_DAY, "end": "9999-12-31T00:00:00Z"}, "end"),
    ("naive history from", HISTORY_FROM, {"from": "2026-03-01T00:00:00"}, "from"),
    ("year 1 history to", HISTORY, {"filter": {"to": "0001-01-01T00:00:00Z"}}, "filter"),
    ("NaN page size", JOBS, {"first": NAN}, "first"),
    ("page size past 32 bits", JOBS, {"first": 2**40}, "first"),
    ("unknown enum value", STATUSES, {"status": ["SENT", "NOPE"]}, "status"),
    ("naive capturedAt", SEND, {"input": {
        "appointmentId": "1", "body": "On my way.", "location": {
            "latitude": -36.85, "longitude": 174.76, "capturedAt": "2026-03-05T09:00:00"}}},
     "input"),
    # Values of the right type that no rule, column or driver could take.
    ("period over six weeks", CALENDAR, {**UTC_DAY, "end": "2040-05-05T00:00:00Z"}, "end"),
    ("time entries over six weeks", TIME_ENTRIES,
     {**UTC_DAY, "end": "2040-05-05T00:00:00Z"}, "end"),
    ("page past the largest", JOBS, {"first": 201}, "first"),
    ("id past 32 bits", APPOINTMENT, {"id": str(2**31)}, "id"),
    ("id past 64 bits", APPOINTMENT, {"id": str(2**70)}, "id"),
    ("id of zero", APPOINTMENT, {"id": "0"}, "id"),
    ("negative id", APPOINTMENT, {"id": "-1"}, "id"),
    ("id that is no number", APPOINTMENT, {"id": "abc"}, "id"),
    ("mutation id past 32 bits", UPDATE_CLIENT, {"id": str(2**31), "input": {"name": "x"}},
     "id"),
    ("NUL in a variable", CREATE_CLIENT, {"input": {"name": "Bob\x00 Ltd"}}, "name"),
    ("NUL in a search", HISTORY, {"filter": {"search": "\x00"}}, "search"),
    ("unpaired surrogate in a password", LOGIN,
     {"email": "admin@example.com", "password": "\ud800"}, "password"),
    ("unpaired surrogate in a name", CREATE_CLIENT, {"input": {"name": "Bob \udfff"}}, "name"),
    ("over-long company name", SETTINGS, {"input": {"companyName": "x" * 201}}, "companyName"),
    ("over-long time zone", SETTINGS, {"input": {"timeZone": "Pacific/" + "x" * 300}},
     "timeZone"),
    ("unknown time zone", SETTINGS, {"input": {"timeZone": "Mars/Olympus_Mons"}}, "timeZone"),
    ("cursor of garbage", CLIENTS_AFTER, {"after": "%%%not-base64"}, "after"),
    ("cursor with a null key", CLIENTS_AFTER, {"after": cursor([None, 5])}, "after"),
    ("cursor with a huge id", CLIENTS_AFTER, {"after": cursor(["Bob", 10**20])}, "after"),
    ("cursor with a float id", CLIENTS_AFTER, {"after": cursor(["Bob", 1.5])}, "after"),
    ("cursor with a list key", CLIENTS_AFTER, {"after": cursor([["Bob"], 5])}, "after"),
    ("cursor with a NUL key", CLIENTS_AFTER, {"after": cursor(["Bob\x00", 5])}, "after"),
    ("cursor with a naive time", HISTORY, {"after": cursor(["2026-03-01T00:00:00", 5])},
     "after"),
    ("cursor from year 1", HISTORY, {"after": cursor(["0001-01-01T00:00:00+05:00", 5])},
     "after"),
]


@pytest.fixture
async def production(services, demo) -> AsyncIterator[Api]:
    async with app_for(services, "production") as http:
        yield await Api(http).login("admin")


def refusals(body: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    """(code, field, message) of every error: GraphQL errors and payloads' UserErrors."""
    found = [(e.get("extensions", {}).get("code"), e.get("extensions", {}).get("field"),
              e["message"]) for e in body.get("errors") or []]
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            found += [(e["code"], e["field"], e["message"]) for e in payload.get("errors") or []]
    return found


@pytest.mark.parametrize(("query", "variables", "field"), [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
async def test_a_bad_input_is_invalid_input_naming_its_field(production, query, variables,
                                                             field):
    response = await production.http.post(
        "/graphql", content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {production.token}",
                 "Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    found = refusals(response.json())
    assert [(code, at) for code, at, _ in found] == [("INVALID_INPUT", field)], found
    message = found[0][2]
    assert message and message != "Unexpected error.", found


@pytest.mark.parametrize(("literal", "field"), [
    ('createClient(input: {name: "Bob\\u0000"}) { errors { code } }', "name"),
    ('clients(filter: {search: "\\u{0}"}) { totalCount }', "search"),
    ('checkPhoneNumber(input: "021\\u0000") { valid }', "input"),
])
async def test_a_nul_in_a_literal_is_refused_naming_its_field(production, literal, field):
    operation = ("mutation" if literal.startswith("create") else "query") + " { " + literal + " }"

    body = await production.post(operation)

    assert [(code, at) for code, at, _ in refusals(body)] == [("INVALID_INPUT", field)], body


async def test_the_good_inputs_beside_the_bad_ones_are_answered(production):
    """The control: the same operations with sound values run."""
    assert (await production.ok(CALENDAR, UTC_DAY))["calendar"] == []
    assert (await production.ok(JOBS, {"first": 200}))["jobs"]["totalCount"] > 0
    page = await production.ok("{ clients(first: 1) { pageInfo { endCursor } } }")
    after = page["clients"]["pageInfo"]["endCursor"]
    assert "errors" not in await production.post(CLIENTS_AFTER, {"after": after})
    data = await production.ok(SETTINGS, {"input": {"companyName": "x" * 200,
                                                    "timeZone": "Australia/Sydney"}})
    assert data["updateSettings"]["errors"] == []
    assert "errors" not in await production.post(HISTORY_FROM, {"from": "1900-01-01T00:00:00Z"})


@pytest.mark.parametrize(("value", "refused"), [("1" * 41, True), ("\x00", True),
                                               ("1" * 40, False)])
async def test_every_flush_checks_the_text_it_writes(demo, value, refused):
    """The check is the session's, not the API's: any code writing a row goes through it."""
    async with demo() as session:
        client_id = (await session.execute(select(models.Client.id))).scalars().first()

    async def write() -> None:
        async with demo.begin() as session:
            client = await session.get(models.Client, client_id)
            client.mobile_number = value

    if refused:
        with pytest.raises(DomainError) as error:
            await write()
        assert (error.value.code.value, error.value.field) == ("INVALID_INPUT", "mobileNumber")
    else:
        await write()
    async with demo() as session:
        stored = (await session.get(models.Client, client_id)).mobile_number
    assert (stored == value) is not refused


async def test_several_operations_need_an_operation_name(production):
    document = "query A { me { email } } query B { settings { timeZone } }"

    unnamed = await production.post(document)
    named = await production.http.post(
        "/graphql", json={"query": document, "operationName": "B"},
        headers={"Authorization": f"Bearer {production.token}"})

    assert unnamed["data"] is None
    assert [(c, f) for c, f, _ in refusals(unnamed)] == [("INVALID_INPUT", "operationName")]
    assert named.json() == {"data": {"settings": {"timeZone": "Pacific/Auckland"}}}


@pytest.mark.parametrize(("query", "variables"), [
    ("{ settings { timeZon } }", None),
    (STATUSES, {"status": ["SENTT"]}),
])
async def test_no_suggestions_in_production_but_in_development(services, demo, query,
                                                               variables):
    answers = {}
    for environment in ("production", "development"):
        async with app_for(services, environment) as http:
            api = await Api(http).login("admin")
            answers[environment] = refusals(await api.post(query, variables))

    assert [code for code, _, _ in answers["production"]] == ["INVALID_INPUT"]
    assert "Did you mean" not in answers["production"][0][2]
    assert "Did you mean" in answers["development"][0][2]


def nested(depth: int) -> bytes:
    """A body `depth` + 2 levels deep: the lists are in a variable, in the variables."""
    lists = b"[" * depth + b"]" * depth
    return b'{"query": "{ me { email } }", "variables": {"x": ' + lists + b"}}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
async def test_a_deeply_nested_body_is_refused_before_parsing(production, depth):
    response = await production.http.post(
        "/graphql", content=nested(depth),
        headers={"Authorization": f"Bearer {production.token}",
                 "Content-Type": "application/json"})

    assert response.status_code == 400
    assert "nested" in response.text


@pytest.mark.parametrize("body", [
    b'{"query": "{ me { email } }", "variables": {"n": ' + b"1" * 4301 + b"}}",
    b'{"query": "{ me { email } }", "x": "\xff"}',
    b'{"query": "{ me { email } ',
], ids=["integer past 4,300 digits", "not UTF-8", "cut short"])
async def test_a_body_that_is_no_json_python_reads_is_refused_with_400(production, body):
    response = await production.http.post(
        "/graphql", content=body,
        headers={"Authorization": f"Bearer {production.token}",
                 "Content-Type": "application/json"})

    assert response.status_code == 400
    assert "JSON" in response.text


async def test_brackets_inside_strings_do_not_count_as_nesting(production):
    body = json.dumps({"query": "query($s: String!) { checkPhoneNumber(input: $s) { valid } }",
                       "variables": {"s": "[[[[{{{{" * 100 + '\\"]]'}})

    response = await production.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {production.token}",
                                           "Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.json()["data"]["checkPhoneNumber"] == {"valid": False}


async def test_a_body_nested_within_the_limit_is_read(production):
    # A variable the operation does not declare is ignored.
    response = await production.http.post(
        "/graphql", content=nested(MAX_JSON_DEPTH - 3),
        headers={"Authorization": f"Bearer {production.token}",
                 "Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": "admin@example.com"}}}


async def test_a_nested_body_is_not_a_server_error_anywhere(services, demo):
    async with app_for(services, "development") as http:
        response = await http.post("/graphql", content=b"[" * 5000,
                                   headers={"Content-Type": "application/json"})

    assert response.status_code == 400

