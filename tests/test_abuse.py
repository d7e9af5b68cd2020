"""Abuse from outside: floods of forged webhooks, and websocket clients that misbehave."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import text

from api.app import MAX_SUBSCRIPTIONS, Services, create_app
from api.webhooks import signature
from models import OptOut, SmsMessage
from models.columns import utcnow
from models.enums import OptOutMethod, SmsSource, SmsStatus
from models.sms import InboundMessage
from models.status_feed import announce
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

PUBLIC = "https://sms.example.com"
STATUS = "/webhooks/twilio/status"
INBOUND = "/webhooks/twilio/inbound"
SID = "SM" + "5" * 32
OPTED_OUT = "+64215550122"
OPTED_IN = "+64215550133"
FORGED_REQUESTS = 10_000
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [FORM] * 6 + [
    "application/json", "text/plain", "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded; charset=ebcdic", "\x7fnonsense/;;;=", "",
]

FAILURES = """
subscription { smsFailures { id status } }
"""
ME = "query { me { email } }"


# --- webhooks: a flood of forged and malformed requests -------------------------------------


@pytest.fixture
async def hooks(services, twilio_settings, sessions) -> AsyncIterator[httpx.AsyncClient]:
    """The deployed app's webhooks (Twilio configured), as anyone on the internet reaches them."""
    app = create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                       services.queue, services.feed))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


async def known_state(sessions) -> int:
    """A sent message awaiting its callback, one opted-out and one opted-back-in number, and an
    earlier reply: everything a forged callback or STOP/START could change."""
    async with sessions.begin() as session:
        message = SmsMessage(to_number=OPTED_IN, body="Hello", source=SmsSource.APP,
                             status=SmsStatus.SENT, provider_message_id=SID)
        session.add(message)
        session.add(OptOut(number=OPTED_OUT, method=OptOutMethod.KEYWORD))
        session.add(OptOut(number=OPTED_IN, method=OptOutMethod.KEYWORD, opted_out=False,
                           opted_in_at=utcnow()))
        session.add(InboundMessage(from_number=OPTED_OUT, to_number=FROM_NUMBER, body="STOP",
                                   received_at=utcnow(), provider_message_id="SM" + "6" * 32))
    return message.id


async def snapshot(services: Services) -> dict[str, list[tuple]]:
    async with services.engine.connect() as connection:
        return {table: [tuple(row) for row in (await connection.execute(
                    text(f"SELECT * FROM {table} ORDER BY id"))).all()]
                for table in ("sms_message", "opt_out", "inbound_message")}


def genuine(rng: random.Random, path: str) -> list[tuple[str, str]]:
    """What Twilio itself could send to `path` about the known rows."""
    if path == STATUS:
        return [("MessageSid", SID),
                ("MessageStatus", rng.choice(["delivered", "failed", "undelivered", "sent"])),
                ("ErrorCode", "30003"), ("AccountSid", ACCOUNT_SID), ("To", OPTED_IN),
                ("From", FROM_NUMBER)]
    return [("From", rng.choice([OPTED_OUT, OPTED_IN])), ("To", FROM_NUMBER),
            ("Body", rng.choice(["STOP", "START", "UNSUBSCRIBE", "YES", "On my way"])),
            ("MessageSid", f"SM{rng.getrandbits(128):032x}"), ("AccountSid", ACCOUNT_SID)]


def sign(url: str, params: list[tuple[str, str]], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": signature(token, url, params)}


def tampered(rng: random.Random, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    index = rng.randrange(len(params))
    key, value = params[index]
    changed = value + rng.choice(["0", " ", "x"]) if rng.random() < 0.7 else ""
    return params[:index] + [(key, changed)] + params[index + 1:]


# Each way a request can fail to be Twilio's, as (path, params) -> (body, headers, path).
Forgery = Callable[[random.Random, str, list[tuple[str, str]], int], tuple[bytes, dict, str]]


def forge_unsigned(rng, path, params, max_bytes):
    return urlencode(params).encode(), {}, path


def forge_random_signature(rng, path, params, max_bytes):
    given = base64.b64encode(rng.randbytes(20)).decode()
    return urlencode(params).encode(), {"X-Twilio-Signature": given}, path


def forge_garbage_signature(rng, path, params, max_bytes):
    given = "".join(rng.choice("abc=/+ \t0123456789!~") for _ in range(rng.randrange(600)))
    return urlencode(params).encode(), {"X-Twilio-Signature": given.strip()}, path


def forge_wrong_token(rng, path, params, max_bytes):
    token = rng.choice(["", "not-" + AUTH_TOKEN, AUTH_TOKEN[:-1], AUTH_TOKEN.upper()])
    return urlencode(params).encode(), sign(PUBLIC + path, params, token), path


def forge_another_url(rng, path, params, max_bytes):
    other = rng.choice([
        "https://evil.example.com" + path, PUBLIC.replace("https", "http") + path,
        PUBLIC + (INBOUND if path.startswith(STATUS) else STATUS), PUBLIC + path + "0",
        PUBLIC + path + "/", PUBLIC + path + ("&x=1" if "?" in path else "?x=1"),
    ])
    return urlencode(params).encode(), sign(other, params), path


def forge_wrong_account(rng, path, params, max_bytes):
    account = rng.choice(["AC" + "9" * 32, ACCOUNT_SID.lower(), "", ACCOUNT_SID + " ", None])
    changed = [(k, v) for k, v in params if k != "AccountSid"]
    if account is not None:
        changed.append(("AccountSid", account))
    return urlencode(changed).encode(), sign(PUBLIC + path, changed), path


def forge_tampered(rng, path, params, max_bytes):
    headers = sign(PUBLIC + path, params)
    changed = tampered(rng, params) if rng.random() < 0.7 else params + [("Extra", "1")]
    return urlencode(changed).encode(), headers, path


def forge_repeated_keys(rng, path, params, max_bytes):
    # Signed with the real token: the last AccountSid is someone else's.
    repeated = params + [(k, v) for k, v in params if rng.random() < 0.5]
    repeated += [("AccountSid", "AC" + "8" * 32)]
    headers = sign(PUBLIC + path, repeated) if rng.random() < 0.5 else {}
    return urlencode(repeated).encode(), headers, path


def forge_not_utf8(rng, path, params, max_bytes):
    body = urlencode(params).encode()
    cut = rng.randrange(len(body))
    bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])
    body = body[:cut] + bad + body[cut:]
    return body, sign(PUBLIC + path, params, "not-" + AUTH_TOKEN), path


def forge_huge_field(rng, path, params, max_bytes):
    room = max_bytes - len(urlencode(params)) - 64
    huge = params + [(rng.choice(["Body", "MessageStatus", "From", "X"]),
                      rng.choice("ab") * rng.randrange(room // 2, room))]
    return urlencode(huge).encode(), forge_wrong_token(rng, path, huge, max_bytes)[1], path


def forge_oversize(rng, path, params, max_bytes):
    # Genuinely signed, but past the body limit: refused before it is read.
    huge = params + [("Body", "a" * (max_bytes + rng.randrange(1, 2000)))]
    return urlencode(huge).encode(), sign(PUBLIC + path, huge), path


def forge_empty(rng, path, params, max_bytes):
    return b"", sign(PUBLIC + path, []) if rng.random() < 0.5 else {}, path


def forge_json(rng, path, params, max_bytes):
    body = json.dumps(dict(params))
    # Signed with the real token over what the form parser makes of JSON: no AccountSid.
    as_form = [(body, "")] if "&" not in body and "=" not in body else []
    headers = sign(PUBLIC + path, as_form) | {"Content-Type": "application/json"}
    return body.encode(), headers, path


def forge_random_bytes(rng, path, params, max_bytes):
    headers = forge_random_signature(rng, path, params, max_bytes)[1]
    return rng.randbytes(rng.randrange(1, 3000)), headers, path


def forge_bad_message_id(rng, path, params, max_bytes):
    query = rng.choice(["?message_id=abc", "?message_id=-1", "?message_id=" + "9" * 40,
                        "?message_id=%00", "?message_id=1&message_id=2"])
    return urlencode(params).encode(), sign(PUBLIC + path, params), path.split("?")[0] + query


FORGERIES: dict[str, Forgery] = {
    "unsigned": forge_unsigned, "random signature": forge_random_signature,
    "garbage signature": forge_garbage_signature, "wrong token": forge_wrong_token,
    "another url": forge_another_url, "wrong account": forge_wrong_account,
    "tampered": forge_tampered, "repeated keys": forge_repeated_keys,
    "not utf-8": forge_not_utf8, "huge field": forge_huge_field, "oversize": forge_oversize,
    "empty": forge_empty, "json": forge_json, "random bytes": forge_random_bytes,
    "bad message_id": forge_bad_message_id,
}
HUGE = {"huge field", "oversize"}


async def test_ten_thousand_forged_or_malformed_webhooks_change_nothing(
        hooks, services, twilio_settings, sessions):
    message_id = await known_state(sessions)
    before = await snapshot(services)
    rng = random.Random(20240611)
    max_bytes = twilio_settings.max_body_bytes
    plain = [name for name in FORGERIES if name not in HUGE]
    answers: Counter[tuple[str, int]] = Counter()

    started = time.monotonic()
    for _ in range(FORGED_REQUESTS):
        # Large bodies are rare, so ten thousand requests stay quick.
        name = rng.choice(sorted(HUGE)) if rng.random() < 0.01 else rng.choice(plain)
        path = rng.choice([f"{STATUS}?message_id={message_id}", STATUS, INBOUND])
        body, headers, target = FORGERIES[name](rng, path, genuine(rng, path.split("?")[0]),
                                                max_bytes)
        headers.setdefault("Content-Type", rng.choice(CONTENT_TYPES))
        response = await hooks.post(target, content=body, headers=headers)
        answers[name, response.status_code] += 1
    elapsed = time.monotonic() - started

    print(f"{FORGED_REQUESTS} forged webhooks in {elapsed:.1f}s")
    assert {name for name, _ in answers} == set(FORGERIES)
    assert {(name, status) for name, status in answers} == {
        (name, 413 if name == "oversize" else 403) for name in FORGERIES}
    assert await snapshot(services) == before

    # The control: the same route and signing, done honestly, is heard and changes the row.
    path = f"{STATUS}?message_id={message_id}"
    form = [("MessageSid", SID), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT_SID)]
    response = await hooks.post(path, content=urlencode(form),
                                headers=sign(PUBLIC + path, form) | {"Content-Type": FORM})
    assert response.status_code == 204
    assert await snapshot(services) != before


# --- websockets: misbehaving clients on a real server ---------------------------------------


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """`app` served by uvicorn on 127.0.0.1 in this event loop: its host:port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", backlog=1024))
    task = asyncio.create_task(served.serve())
    deadline = time.monotonic() + 5
    while not served.started:
        assert not task.done() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        served.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def server(app) -> AsyncIterator[str]:
    async with serving(app) as address:
        yield address


async def receive(ws, within: float = 2.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def closed_with(ws, within: float = 3.0) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    return closed.value.rcvd.code


async def initialised(ws, token: str) -> None:
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {token}"}}))
    assert (await receive(ws, 10))["type"] == "connection_ack"


async def failed_message(sessions) -> int:
    async with sessions.begin() as session:
        row = SmsMessage(to_number="+64215550111", body="Hello", source=SmsSource.APP,
                         status=SmsStatus.FAILED, error_code="30003")
        session.add(row)
    return row.id


async def test_subscriptions_past_the_limit_are_refused_and_the_others_keep_working(
        office, services, server):
    message_id = await failed_message(services.sessions)
    async with websockets.connect(f"ws://{server}/graphql",
                                  subprotocols=["graphql-transport-ws"]) as ws:
        await initialised(ws, office.token)
        before = len(services.feed.queues)
        for number in range(1, MAX_SUBSCRIPTIONS + 1):
            await ws.send(json.dumps({"id": str(number), "type": "subscribe",
                                      "payload": {"query": FAILURES}}))
        deadline = time.monotonic() + 3
        while len(services.feed.queues) < before + MAX_SUBSCRIPTIONS:
            assert time.monotonic() < deadline, "the allowed subscriptions never listened"
            await asyncio.sleep(0.01)

        await ws.send(json.dumps({"id": "extra", "type": "subscribe",
                                  "payload": {"query": FAILURES}}))

        refusal = await receive(ws)
        await announce(services.queue, message_id, SmsStatus.FAILED)
        pushed = [await receive(ws) for _ in range(MAX_SUBSCRIPTIONS)]
        with pytest.raises(TimeoutError):
            await receive(ws, 0.3)
        listening = len(services.feed.queues) - before
    assert refusal == {"id": "extra", "type": "error",
                       "payload": [{"message": "Subscription limit reached"}]}
    assert listening == MAX_SUBSCRIPTIONS
    assert sorted(int(p["id"]) for p in pushed) == list(range(1, MAX_SUBSCRIPTIONS + 1))
    assert {json.dumps(p["payload"]) for p in pushed} == {json.dumps(
        {"data": {"smsFailures": {"id": str(message_id), "status": "FAILED"}}})}


async def test_a_client_that_never_sends_connection_init_is_closed(
        anonymous, office, services):
    hurried = services.settings.model_copy(update={"websocket_init_timeout_seconds": 0.5})
    app = create_app(services=Services(hurried, services.engine, services.sessions,
                                       services.queue, services.feed))
    async with serving(app) as address, \
            websockets.connect(f"ws://{address}/graphql",
                               subprotocols=["graphql-transport-ws"]) as silent, \
            websockets.connect(f"ws://{address}/graphql",
                               subprotocols=["graphql-transport-ws"]) as polite:
        await initialised(polite, office.token)
        started = time.monotonic()

        code = await closed_with(silent)

        waited = time.monotonic() - started
        # The control: the client that did initialise is still served after the timeout.
        await polite.send(json.dumps({"type": "ping"}))
        assert await receive(polite) == {"type": "pong"}
    assert code == 4408
    assert 0.3 < waited < 3


async def test_a_client_offering_only_the_legacy_protocol_is_refused(server):
    async with websockets.connect(f"ws://{server}/graphql", subprotocols=["graphql-ws"]) as ws:
        # The server accepts the upgrade without choosing a protocol, then closes at once,
        # before any legacy connection_init could be read.
        code = await closed_with(ws)

    assert ws.subprotocol is None
    assert code == 4406


IDLE_CONNECTIONS = 500


async def test_five_hundred_idle_websockets_do_not_stop_queries(office, server):
    async with AsyncExitStack() as stack:
        gate = asyncio.Semaphore(50)

        async def idle() -> Any:
            async with gate:
                ws = await stack.enter_async_context(websockets.connect(
                    f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"],
                    open_timeout=30, ping_interval=None))
                await initialised(ws, office.token)
                return ws

        connections = await asyncio.gather(*(idle() for _ in range(IDLE_CONNECTIONS)))

        async with httpx.AsyncClient(base_url=f"http://{server}") as http:
            response = await asyncio.wait_for(http.post(
                "/graphql", json={"query": ME},
                headers={"Authorization": f"Bearer {office.token}"}), 2.0)

        # Every idle connection was still open and served while the query ran.
        for ws in connections:
            await ws.send(json.dumps({"type": "ping"}))
        pongs = [await receive(ws, 10) for ws in connections]
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"email": "office@example.com"}}}
    assert pongs == [{"type": "pong"}] * IDLE_CONNECTIONS
    assert all(ws.close_code is not None for ws in connections)

