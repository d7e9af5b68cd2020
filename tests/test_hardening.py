"""Limits on what a request may ask, and what the service shows outside development."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from api.app import Services, create_app
from models.db import create_engine, session_factory
from schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from tests.conftest import Api

SETTINGS = "{ settings { timeZone } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
LOGIN = """
mutation { login(input: {email: "admin@example.com", password: "x"}) { token errors { code } } }
"""


def nested(depth: int) -> str:
    """A query whose deepest field is `depth` levels below `clients`: client -> contacts -> ..."""
    path = ["contacts" if n % 2 == 0 else "client" for n in range(depth - 2)]
    opening = "".join(f"{name} {{ " for name in path)
    return "{ clients(first: 1) { nodes { " + opening + "name" + " }" * len(path) + " } } }"


def aliased(count: int) -> str:
    return " ".join(f"a{n}: settings {{ timeZone }}" for n in range(count))


def statuses(count: int) -> str:
    return "{ smsMessages(filter: {status: [" + " SENT" * count + "]}) { totalCount } }"


def app_for(services: Services, environment: str) -> httpx.AsyncClient:
    settings = services.settings.model_copy(update={"environment": environment,
                                                    "secret_key": "x" * 32})
    app = create_app(services=Services(settings, services.engine, services.sessions,
                                       services.queue))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def production(services, demo) -> AsyncIterator[Api]:
    async with app_for(services, "production") as http:
        yield await Api(http).login("admin")


def error_messages(body: dict) -> str:
    return " | ".join(error["message"] for error in body.get("errors", []))


async def test_a_query_at_the_depth_limit_runs(admin):
    data = await admin.ok(nested(MAX_DEPTH))

    assert data["clients"]["nodes"]


async def test_a_query_one_level_deeper_is_refused(admin):
    body = await admin.post(nested(MAX_DEPTH + 1))

    assert body["data"] is None
    assert "exceeds maximum operation depth" in error_messages(body)


async def test_aliases_up_to_the_limit_run(admin):
    data = await admin.ok("{ " + aliased(MAX_ALIASES) + " }")

    assert len(data) == MAX_ALIASES


async def test_one_alias_too_many_is_refused(admin):
    body = await admin.post("{ " + aliased(MAX_ALIASES + 1) + " }")

    assert body["data"] is None
    assert "aliases found" in error_messages(body)


@pytest.mark.parametrize("query", [
    # All the aliases inside one fragment.
    "{ ...Many } fragment Many on Query { " + aliased(MAX_ALIASES + 1) + " }",
    # A fragment within a fragment, and an inline fragment.
    "{ ...Outer ... on Query { b: me { email } } } "
    "fragment Outer on Query { ...Inner } "
    "fragment Inner on Query { " + aliased(MAX_ALIASES) + " }",
])
async def test_aliases_inside_fragments_count_too(admin, query):
    body = await admin.post(query)

    assert body["data"] is None
    assert "aliases found" in error_messages(body)


async def test_a_fragment_within_the_alias_limit_runs(admin):
    data = await admin.ok("{ ...Many } fragment Many on Query { " + aliased(MAX_ALIASES) + " }")

    assert len(data) == MAX_ALIASES


async def test_a_document_of_too_many_tokens_is_refused(admin):
    # Sixteen tokens around the list (the end of the document is one), one token each item.
    fits = statuses(MAX_TOKENS - 16)
    too_many = statuses(MAX_TOKENS - 15)

    assert "errors" not in await admin.post(fits)
    body = await admin.post(too_many)

    assert body["data"] is None
    assert f"more than {MAX_TOKENS} tokens" in error_messages(body)


@pytest.mark.parametrize("environment", ["test", "production"])
async def test_introspection_is_off_outside_development(services, demo, environment):
    async with app_for(services, environment) as http:
        api = await Api(http).login("admin")

        body = await api.post(INTROSPECTION)

    assert body["data"] is None
    assert "introspection has been disabled" in error_messages(body)


async def test_introspection_and_graphiql_are_on_in_development(services, demo):
    async with app_for(services, "development") as http:
        api = await Api(http).login("admin")

        data = await api.ok(INTROSPECTION)
        page = await http.get("/graphql", headers={"Accept": "text/html"})

    assert data == {"__schema": {"queryType": {"name": "Query"}}}
    assert page.status_code == 200 and "GraphiQL" in page.text


@pytest.mark.parametrize("environment", ["test", "production"])
async def test_graphiql_is_not_served_outside_development(services, demo, environment):
    async with app_for(services, environment) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 404
    assert "GraphiQL" not in page.text


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_queries_over_get_are_refused(services, demo, environment):
    async with app_for(services, environment) as http:
        response = await http.get("/graphql", params={"query": SETTINGS})

    assert response.status_code == 400
    assert "timeZone" not in response.text


async def corrupt_message(sessions) -> None:
    """A stored status this code does not know: loading the row fails inside a resolver."""
    async with sessions.begin() as session:
        await session.execute(text(
            "INSERT INTO sms_message (to_number, body, status, source, segments, encoding, "
            "attempts, created_at, updated_at) VALUES ('+64211234567', 'x', 'BOGUS', 'APP', 1, "
            "'GSM-7', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))


HISTORY = "{ smsMessages { nodes { id status } } }"


async def history_as_admin(services, settings) -> dict:
    app = create_app(services=Services(settings, services.engine, services.sessions,
                                       services.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        admin = await Api(http).login("admin")
        return await admin.post(HISTORY)


async def test_an_unexpected_error_is_masked_in_production(services, demo):
    await corrupt_message(demo)
    settings = services.settings.model_copy(update={"environment": "production",
                                                    "secret_key": "x" * 32})

    body = await history_as_admin(services, settings)

    assert body["data"] is None
    assert error_messages(body) == "Unexpected error."
    assert "BOGUS" not in str(body) and "smsstatus" not in str(body).lower()


async def test_an_unexpected_error_shows_outside_production(services, demo):
    await corrupt_message(demo)

    body = await history_as_admin(services, services.settings)

    assert "BOGUS" in error_messages(body)


async def test_a_database_outage_says_so_without_details_in_production(services, tmp_path):
    # A database that cannot be opened: a clear, retryable error that names no path.
    broken = create_engine(f"sqlite:///{tmp_path}/missing/dir/nothing.db")
    settings = services.settings.model_copy(update={"environment": "production",
                                                    "secret_key": "x" * 32})
    app = create_app(services=Services(settings, broken, session_factory(broken), services.queue))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            body = (await http.post("/graphql", json={"query": LOGIN})).json()
    finally:
        await broken.dispose()

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "missing" not in str(body) and "sqlite" not in str(body).lower()


async def test_coded_errors_still_show_in_production(production):
    body = await production.post("{ smsMessages(first: 1, after: \"not a cursor\") "
                                 "{ totalCount } }")

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert "cursor" in body["errors"][0]["message"]


async def test_unauthenticated_still_shows_in_production(services, demo):
    async with app_for(services, "production") as http:
        body = await Api(http).post(SETTINGS)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_validation_errors_still_show_in_production(production):
    body = await production.post("{ settings { noSuchField } }")

    assert "noSuchField" in error_messages(body)


async def test_a_body_over_the_limit_is_refused(anonymous, settings):
    padding = " " * settings.max_body_bytes

    response = await anonymous.http.post("/graphql", json={"query": SETTINGS + padding})

    assert response.status_code == 413


async def test_a_streamed_body_over_the_limit_is_refused_without_a_length(anonymous, settings):
    chunk = b" " * 16384

    async def body():
        yield b'{"query": "' + SETTINGS.encode()
        for _ in range(settings.max_body_bytes // len(chunk) + 1):
            yield chunk
        yield b'"}'

    response = await anonymous.http.post("/graphql", content=body(),
                                         headers={"Content-Type": "application/json"})

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413


async def test_a_body_under_the_limit_is_answered(admin, settings):
    padding = " " * (settings.max_body_bytes - 1000)

    data = await admin.ok(SETTINGS + padding)

    assert data["settings"]["timeZone"] == "Pacific/Auckland"


async def test_healthz_answers_without_touching_anything(anonymous):
    response = await anonymous.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_redis_and_a_missing_worker(anonymous):
    # No worker runs beside the tests' app (tests/test_worker_outages.py starts one).
    response = await anonymous.http.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": True, "redis": True,
                               "worker": "not seen"}


async def test_readyz_is_unavailable_when_the_database_is(services, tmp_path):
    broken = create_engine(f"sqlite:///{tmp_path}/missing/dir/nothing.db")
    app = create_app(services=Services(services.settings, broken, session_factory(broken),
                                       services.queue))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            response = await http.get("/readyz")
    finally:
        await broken.dispose()

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False, "redis": True,
                               "worker": "not seen"}
