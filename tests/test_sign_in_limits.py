"""Failed sign-ins limited per e-mail address and per client address, in the shared Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import redis.asyncio
from sqlmodel import func, select

from api.app import Services, create_app
from models import AuthToken
from tests.conftest import DEMO_LOGINS, Api
from tests.fake_twilio import closed_port

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code field } }
}
"""
ME = "{ me { email } }"

# Long enough that no test's failures expire before it is done, even on a busy machine; the
# test of the window's end uses SHORT_WINDOW.
WINDOW = 60.0
SHORT_WINDOW = 2.0
PER_EMAIL = 3
PER_CLIENT = 6
TECH, TECH_PASSWORD = DEMO_LOGINS["tech"]
ADMIN, ADMIN_PASSWORD = DEMO_LOGINS["admin"]
UNKNOWN = "nobody@example.com"

Client = Callable[..., Awaitable[Api]]


def limited(services: Services, queue=None, window: float = WINDOW,
            per_email: int = PER_EMAIL) -> Services:
    settings = services.settings.model_copy(update={
        "sign_in_window_seconds": window,
        "sign_in_failures_per_email": per_email,
        "sign_in_failures_per_client": PER_CLIENT,
    })
    return Services(settings, services.engine, services.sessions,
                    services.queue if queue is None else queue)


@pytest.fixture
async def client_at(services, demo) -> AsyncIterator[Client]:
    """GraphQL from one client address, with short limits: `await client_at("203.0.113.5")`."""
    async with contextlib.AsyncExitStack() as stack:

        async def at(address: str = "203.0.113.5", queue=None, **limits) -> Api:
            app = create_app(services=limited(services, queue, **limits))
            transport = httpx.ASGITransport(app=app, client=(address, 50000))
            http = httpx.AsyncClient(transport=transport, base_url="http://test")
            return Api(await stack.enter_async_context(http))

        yield at


async def login(api: Api, email: str, password: str) -> tuple[str | None, str | None]:
    """(token, error code) of one sign-in."""
    answer = (await api.ok(LOGIN, {"email": email, "password": password}))["login"]
    return answer["token"], (answer["errors"][0]["code"] if answer["errors"] else None)


async def tokens(demo) -> int:
    async with demo() as session:
        return (await session.exec(select(func.count()).select_from(AuthToken))).one()


@pytest.mark.parametrize("email", [TECH, UNKNOWN], ids=["known", "unknown"])
async def test_past_the_limit_an_address_is_refused_known_or_not(client_at, email):
    api = await client_at()

    answers = [await login(api, email, f"guess-{n}") for n in range(PER_EMAIL + 2)]

    assert answers == [(None, "UNAUTHENTICATED")] * PER_EMAIL + [(None, "TOO_MANY_ATTEMPTS")] * 2


async def test_the_right_password_is_not_checked_past_the_limit_and_works_after_the_window(
        client_at, demo):
    # Given an address at its limit (a low one: its failures must fit in the short window)
    api = await client_at(window=SHORT_WINDOW, per_email=1)
    started = time.monotonic()
    assert await login(api, TECH, "guess") == (None, "UNAUTHENTICATED")

    # When its owner then gives the right password
    refused = await login(api, TECH, TECH_PASSWORD)

    # Then it is refused unchecked, and no token is made
    assert refused == (None, "TOO_MANY_ATTEMPTS")
    assert await tokens(demo) == 0
    # And once the window has passed since the failures, the right password signs in
    while (answer := await login(api, TECH, TECH_PASSWORD)) == (None, "TOO_MANY_ATTEMPTS"):
        assert time.monotonic() - started < SHORT_WINDOW + 2, "still limited after the window"
        await asyncio.sleep(0.1)
    assert time.monotonic() - started >= SHORT_WINDOW
    token, error = answer
    assert token and error is None
    assert (await Api(api.http, token).ok(ME))["me"]["email"] == TECH


async def test_another_address_is_not_limited_by_one_at_its_limit(client_at):
    api = await client_at()
    for n in range(PER_EMAIL):
        await login(api, TECH, f"guess-{n}")

    token, error = await login(api, ADMIN, ADMIN_PASSWORD)

    assert token and error is None


async def test_signing_in_clears_the_addresses_failures(client_at):
    api = await client_at()
    for n in range(PER_EMAIL - 1):
        await login(api, TECH, f"guess-{n}")
    assert (await login(api, TECH, TECH_PASSWORD))[0]

    answers = [await login(api, TECH, f"again-{n}") for n in range(PER_EMAIL + 1)]

    assert answers == [(None, "UNAUTHENTICATED")] * PER_EMAIL + [(None, "TOO_MANY_ATTEMPTS")]


async def test_a_client_address_is_limited_across_e_mail_addresses(client_at):
    # Given one client failing at many addresses, one failure each, with a good sign-in between
    # (which must not wipe out its failures at the others)
    api = await client_at("198.51.100.7")
    for n in range(PER_CLIENT - 1):
        assert await login(api, f"person-{n}@example.com", "guess") == (None, "UNAUTHENTICATED")
    assert (await login(api, ADMIN, ADMIN_PASSWORD))[0]
    assert await login(api, "one-more@example.com", "guess") == (None, "UNAUTHENTICATED")

    # When it tries yet another address, even with the right password
    refused = [await login(api, "fresh@example.com", "guess"),
               await login(api, TECH, TECH_PASSWORD)]

    # Then it is refused; another client is not
    assert refused == [(None, "TOO_MANY_ATTEMPTS")] * 2
    elsewhere = await client_at("198.51.100.8")
    assert (await login(elsewhere, TECH, TECH_PASSWORD))[0]


async def test_ipv6_clients_are_counted_by_their_64_block(client_at):
    for n in range(PER_CLIENT):
        api = await client_at(f"2001:db8:1:2::{n + 1}")
        assert await login(api, f"person-{n}@example.com", "guess") == (None, "UNAUTHENTICATED")

    same_block = await client_at("2001:db8:1:2:ffff::1")
    other_block = await client_at("2001:db8:1:3::1")

    assert await login(same_block, TECH, TECH_PASSWORD) == (None, "TOO_MANY_ATTEMPTS")
    assert (await login(other_block, TECH, TECH_PASSWORD))[0]


async def test_concurrent_guesses_cannot_all_slip_under_the_limit(client_at):
    api = await client_at()

    answers = await asyncio.gather(*(login(api, TECH, f"guess-{n}") for n in range(10)))

    codes = sorted(code for _, code in answers)
    assert codes == ["TOO_MANY_ATTEMPTS"] * (10 - PER_EMAIL) + ["UNAUTHENTICATED"] * PER_EMAIL


@contextlib.contextmanager
def silent_server():
    """Accepts connections and never answers: a Redis that hangs."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize("redis_state", ["refusing connections", "hanging"])
async def test_sign_in_works_unlimited_while_redis_is_away(client_at, caplog, monkeypatch,
                                                           redis_state):
    monkeypatch.setattr("models.sign_in_limits.REDIS_TIMEOUT_SECONDS", 0.3)
    with contextlib.ExitStack() as stack:
        port = closed_port() if redis_state == "refusing connections" else stack.enter_context(
            silent_server())
        away = redis.asyncio.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        api = await client_at(queue=away)
        caplog.set_level(logging.WARNING, logger="models.sign_in_limits")
        try:
            started = time.monotonic()
            wrong = [await login(api, TECH, f"guess-{n}") for n in range(PER_EMAIL + 1)]
            token, error = await login(api, TECH, TECH_PASSWORD)
            took = time.monotonic() - started
        finally:
            await away.aclose()

    assert wrong == [(None, "UNAUTHENTICATED")] * (PER_EMAIL + 1)
    assert token and error is None
    assert "sign-in limits unavailable" in caplog.text
    # Each attempt waits a moment for a hanging Redis, not for ever.
    assert took < (PER_EMAIL + 2) * 1.5
