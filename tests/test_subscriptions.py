"""Live updates over graphql-transport-ws from a real server, whichever process made the change."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
import websockets
from graphql import FieldNode, NameNode, OperationType, parse
from graphql.execution.executor import Executor
from sqlmodel import select

from api.app import Services, create_app
from models import Appointment, SmsMessage
from models.channels import SMS_STATUS_CHANNEL
from models.enums import SmsSource, SmsStatus
from models.status_feed import MessageFacts, StatusEvent, announce
from schema import build_schema
from schema.shared_pushes import asks_only_the_event, is_plain_value
from tests.fake_twilio import ACCOUNT_SID, Refusal, signed_form
from tests.test_statement_count import counting_statements
from tests.worker_process import eventually

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
# Generous, so a busy machine does not fail a test; how fast pushes are is for bench/, not tests.
PUSHED_WITHIN = 5.0

FAILURES = """
subscription { smsFailures { id status errorCode errorMessage toNumber } }
"""
STATUS_CHANGED = """
subscription Changed($appointmentId: ID) {
  smsStatusChanged(appointmentId: $appointmentId) { id status appointment { id } }
}
"""
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code message } }
}
"""
ANNOUNCE_FROM_ANOTHER_PROCESS = """
import asyncio, sys
from redis.asyncio import Redis
from models.enums import SmsStatus
from models.status_feed import announce

async def main():
    redis = Redis.from_url(sys.argv[1])
    await announce(redis, int(sys.argv[2]), SmsStatus.FAILED)
    await redis.aclose()

asyncio.run(main())
"""


@pytest.fixture
async def server(app) -> AsyncIterator[str]:
    """The app served by uvicorn on 127.0.0.1 in this event loop: its websocket URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    task = asyncio.create_task(served.serve())
    deadline = time.monotonic() + 5
    while not served.started:
        assert not task.done() and time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/graphql"
    served.should_exit = True
    await asyncio.wait_for(task, 5)


async def receive(ws, within: float = PUSHED_WITHIN) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


@asynccontextmanager
async def connected(url: str, token: str | None) -> AsyncIterator[Any]:
    """A graphql-transport-ws connection, initialised with the bearer token and acknowledged."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def subscribe(ws, feed, query: str, variables: dict | None = None) -> None:
    """Start a subscription and wait until it listens to the feed, so nothing is missed."""
    before = set(feed.queues)
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": query, "variables": variables or {}}}))
    deadline = time.monotonic() + 5
    while not (set(feed.queues) - before and feed.ready.is_set()):
        assert time.monotonic() < deadline, "the subscription never started listening"
        await asyncio.sleep(0.01)


async def subscribed(stack, url: str, feed, users, query: str,
                     variables: dict | None = None) -> list[Any]:
    """A connection of each user, in `stack`, each with the subscription listening."""
    sockets = [await stack.enter_async_context(connected(url, user.token)) for user in users]
    for ws in sockets:
        await subscribe(ws, feed, query, variables)
    return sockets


async def sendable_appointment(user, sessions) -> tuple[int, str]:
    """The first appointment `user` can send an SMS about, and the queued message's id."""
    async with sessions() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        body = await user.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                              "body": "On my way."}})
        if not body["sendSms"]["errors"]:
            return appointment_id, body["sendSms"]["message"]["id"]
    raise AssertionError("no appointment in the demo can take an SMS")


async def failed_message(sessions) -> int:
    async with sessions.begin() as session:
        row = SmsMessage(to_number="+64215550111", body="Hello", source=SmsSource.APP,
                         status=SmsStatus.FAILED, error_code="30003",
                         error_message="The handset is switched off or unreachable.")
        session.add(row)
    return row.id


# --- smsFailures ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["office", "admin"])
async def test_a_failure_in_the_worker_is_pushed_to_users_who_see_sms_errors(
        who, office, admin, services, server, twilio, drain):
    user = {"office": office, "admin": admin}[who]
    _, message_id = await sendable_appointment(admin, services.sessions)
    twilio.refuse = Refusal(400, 21211, "The 'To' number is not a valid phone number.")
    async with connected(server, user.token) as ws:
        await subscribe(ws, services.feed, FAILURES)

        await drain()

        pushed = await receive(ws)
    assert pushed == {"id": "1", "type": "next", "payload": {"data": {"smsFailures": {
        "id": message_id, "status": "FAILED", "errorCode": "PROVIDER_ERROR",
        "errorMessage": "The number is not a valid phone number.",
        "toNumber": twilio.received[0]["To"]}}}}


async def test_a_failure_announced_by_another_process_is_pushed(office, services, server):
    message_id = await failed_message(services.sessions)
    async with connected(server, office.token) as ws:
        await subscribe(ws, services.feed, FAILURES)

        announcer = await asyncio.create_subprocess_exec(
            str(PYTHON), "-c", ANNOUNCE_FROM_ANOTHER_PROCESS, services.settings.redis_url,
            str(message_id), cwd=ROOT, stderr=subprocess.PIPE)
        _, stderr = await asyncio.wait_for(announcer.communicate(), 20)
        assert announcer.returncode == 0, stderr.decode()

        pushed = await receive(ws)
    assert pushed["payload"]["data"]["smsFailures"] == {
        "id": str(message_id), "status": "FAILED", "errorCode": "PROVIDER_ERROR",
        "errorMessage": "The handset is switched off or unreachable.", "toNumber": "+64215550111"}



async def test_a_failure_reported_by_twilios_status_callback_is_pushed(
        office, services, twilio_settings, server):
    async with services.sessions.begin() as session:
        row = SmsMessage(to_number="+64215550111", body="Hello", source=SmsSource.APP,
                         status=SmsStatus.SENT, provider_message_id="SM" + "7" * 32)
        session.add(row)
    hooks = create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                         services.queue, services.feed))
    path = f"/webhooks/twilio/status?message_id={row.id}"
    form = {"MessageSid": "SM" + "7" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003",
            "AccountSid": ACCOUNT_SID}
    async with connected(server, office.token) as ws, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=hooks), base_url="http://test") as http:
        await subscribe(ws, services.feed, FAILURES)

        response = await http.post(path, content=urlencode(form),
                                   headers=signed_form("https://sms.example.com" + path, form))

        assert response.status_code == 204
        pushed = await receive(ws)
    assert pushed["payload"]["data"]["smsFailures"] == {
        "id": str(row.id), "status": "FAILED", "errorCode": "PROVIDER_ERROR",
        "errorMessage": "The handset is switched off or unreachable.", "toNumber": "+64215550111"}

async def test_only_failures_are_pushed(office, admin, services, server, twilio, drain):
    await sendable_appointment(admin, services.sessions)
    async with connected(server, office.token) as ws:
        await subscribe(ws, services.feed, FAILURES)

        await drain()

        assert len(twilio.received) == 1
        with pytest.raises(TimeoutError):
            await receive(ws, 0.3)


async def test_a_user_without_show_sms_errors_gets_an_error_and_no_data(tech, services, server):
    message_id = await failed_message(services.sessions)
    async with connected(server, tech.token) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": FAILURES}}))
        refusal = await receive(ws)
        await announce(services.queue, message_id, SmsStatus.FAILED)

        after = [await receive(ws)]
        with pytest.raises(TimeoutError):
            after.append(await receive(ws, 0.3))
    assert refusal == {"id": "1", "type": "next", "payload": {"data": None, "errors": [
        {"message": "Your profile does not show SMS errors.",
         "extensions": {"code": "PERMISSION_DENIED"}}]}}
    assert after == [{"id": "1", "type": "complete"}]


# --- smsStatusChanged -----------------------------------------------------------------------


async def test_every_status_change_of_an_appointments_messages_is_pushed(
        admin, services, server, twilio, drain):
    appointment_id, message_id = await sendable_appointment(admin, services.sessions)
    async with connected(server, admin.token) as ws:
        await subscribe(ws, services.feed, STATUS_CHANGED, {"appointmentId": str(appointment_id)})

        await drain()

        pushed = [await receive(ws) for _ in range(2)]
    assert [p["payload"]["data"]["smsStatusChanged"] for p in pushed] == [
        {"id": message_id, "status": status, "appointment": {"id": str(appointment_id)}}
        for status in ("SENDING", "SENT")]


async def test_changes_of_other_appointments_are_not_pushed(admin, services, server, drain):
    appointment_id, _ = await sendable_appointment(admin, services.sessions)
    async with services.sessions() as session:
        other = (await session.exec(select(Appointment.id).where(
            Appointment.id != appointment_id).order_by(Appointment.id))).first()
    async with connected(server, admin.token) as ws:
        await subscribe(ws, services.feed, STATUS_CHANGED, {"appointmentId": str(other)})

        await drain()

        with pytest.raises(TimeoutError):
            await receive(ws, 0.3)


async def test_an_event_without_facts_about_another_appointment_is_looked_up_and_not_pushed(
        admin, services, server):
    """An older publisher's event reaches every subscription: the follower reads the message
    and finds it about another appointment."""
    appointment_id, message_id = await sendable_appointment(admin, services.sessions)
    async with services.sessions() as session:
        other = (await session.exec(select(Appointment.id).where(
            Appointment.id != appointment_id).order_by(Appointment.id))).first()
    async with connected(server, admin.token) as follows_other, \
            connected(server, admin.token) as follows_it:
        await subscribe(follows_other, services.feed, STATUS_CHANGED,
                        {"appointmentId": str(other)})
        await subscribe(follows_it, services.feed, STATUS_CHANGED,
                        {"appointmentId": str(appointment_id)})

        await announce(services.queue, int(message_id), SmsStatus.SENDING)

        pushed = await receive(follows_it)
        with pytest.raises(TimeoutError):
            await receive(follows_other, 0.3)
    assert pushed["payload"]["data"]["smsStatusChanged"]["id"] == message_id


async def test_the_tech_sees_the_changes_of_what_the_office_sends_about_their_work(
        tech, office, services, server, twilio, drain):
    async with connected(server, tech.token) as ws:
        await subscribe(ws, services.feed, STATUS_CHANGED)
        _, message_id = await sendable_appointment(office, services.sessions)

        await drain()

        pushed = [await receive(ws) for _ in range(3)]
    assert [(p["payload"]["data"]["smsStatusChanged"]["id"],
             p["payload"]["data"]["smsStatusChanged"]["status"]) for p in pushed] == [
        (message_id, status) for status in ("QUEUED", "SENDING", "SENT")]


async def test_a_message_about_no_work_is_pushed_only_to_who_sees_every_message(
        tech, office, services, server):
    message_id = await failed_message(services.sessions)
    async with connected(server, tech.token) as tech_ws, \
            connected(server, office.token) as office_ws:
        await subscribe(tech_ws, services.feed, STATUS_CHANGED)
        await subscribe(office_ws, services.feed, STATUS_CHANGED)

        await announce(services.queue, message_id, SmsStatus.FAILED)

        pushed = await receive(office_ws)
        with pytest.raises(TimeoutError):
            await receive(tech_ws, 0.5)
    assert pushed["payload"]["data"]["smsStatusChanged"]["id"] == str(message_id)


# --- connecting -----------------------------------------------------------------------------


async def closed_with(ws, within: float = 2) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    return closed.value.rcvd.code


@pytest.mark.parametrize("payload", [
    {"Authorization": "Bearer not-a-real-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"token": "not-a-real-token"}, {},
])
async def test_a_bad_token_is_refused(anonymous, server, payload):
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))

        assert await closed_with(ws) == 4403


async def test_a_subscription_before_connection_init_is_refused(anonymous, server):
    async with websockets.connect(server, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": FAILURES}}))

        assert await closed_with(ws) in (4401, 4403, 4408)


async def test_the_legacy_graphql_ws_protocol_is_refused(admin, server):
    with pytest.raises((websockets.InvalidHandshake, websockets.ConnectionClosed)) as refused:
        async with websockets.connect(server, subprotocols=["graphql-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {
                "Authorization": f"Bearer {admin.token}"}}))
            await asyncio.wait_for(ws.recv(), 2)
    if isinstance(refused.value, websockets.ConnectionClosed):
        assert refused.value.rcvd.code == 4406



async def test_changes_in_quick_succession_are_each_pushed_with_their_own_status(
        admin, services, server, drain):
    """The worker moves on before a subscriber reads the message: each push still says what
    that change was, not what the message has become since."""
    appointment_id, message_id = await sendable_appointment(admin, services.sessions)
    await drain()
    async with connected(server, admin.token) as ws:
        await subscribe(ws, services.feed, STATUS_CHANGED, {"appointmentId": str(appointment_id)})

        for status in (SmsStatus.SENDING, SmsStatus.SENT):
            await announce(services.queue, int(message_id), status)

        pushed = [await receive(ws) for _ in range(2)]
    assert [p["payload"]["data"]["smsStatusChanged"]["status"] for p in pushed] == [
        "SENDING", "SENT"]


async def test_a_status_change_is_read_once_for_all_of_a_processs_subscribers(
        office, admin, services, server):
    message_id = await failed_message(services.sessions)
    async with contextlib.AsyncExitStack() as stack:
        sockets = await subscribed(stack, server, services.feed,
                                   (office, office, admin, admin), FAILURES)

        with counting_statements(services.engine) as seen:
            await announce(services.queue, message_id, SmsStatus.FAILED)
            pushed = [await receive(ws) for ws in sockets]

    assert [p["payload"]["data"]["smsFailures"]["id"] for p in pushed] == [str(message_id)] * 4
    reads = [s for s in seen if "FROM sms_message" in s and "WHERE sms_message.id IN" in s]
    assert len(reads) == 1, reads


async def test_an_event_is_handed_only_to_the_subscriptions_it_is_for(
        office, admin, services, server):
    """An event about one appointment wakes that appointment's followers, and the
    subscriptions whose check of its facts passes; no other subscription hears of it."""
    feed = services.feed
    async with services.sessions() as session:
        first, second = (await session.exec(
            select(Appointment.id).order_by(Appointment.id).limit(2))).all()
    async with contextlib.AsyncExitStack() as stack:
        async def subscribed(token: str, query: str, variables: dict | None = None) -> Any:
            before = set(feed.queues)
            await subscribe(await stack.enter_async_context(connected(server, token)), feed,
                            query, variables)
            (queue,) = set(feed.queues) - before
            return queue

        follows_first = await subscribed(admin.token, STATUS_CHANGED,
                                         {"appointmentId": str(first)})
        follows_second = await subscribed(admin.token, STATUS_CHANGED,
                                          {"appointmentId": str(second)})
        sees_failures = await subscribed(office.token, FAILURES)
        sees_everything = await subscribed(admin.token, STATUS_CHANGED)
        about_first = MessageFacts(appointment_id=first, appointment_ids=frozenset({first}))

        def handed(status: SmsStatus, facts: MessageFacts | None) -> set:
            return set(feed.recipients(SMS_STATUS_CHANNEL, StatusEvent(1, status, facts)))

        assert handed(SmsStatus.SENT, about_first) == {follows_first, sees_everything}
        assert handed(SmsStatus.FAILED, about_first) == {
            follows_first, sees_failures, sees_everything}
        assert handed(SmsStatus.SENT, MessageFacts()) == {sees_everything}
        # Without facts, every subscription looks the message up and decides for itself.
        assert handed(SmsStatus.SENT, None) == {
            follows_first, follows_second, sees_failures, sees_everything}

    # The server lets go of a subscription once it sees its websocket closed.
    await eventually(lambda: not feed.following and not feed.checking, PUSHED_WITHIN,
                     "every subscription let go")


def subscription_executions(monkeypatch) -> list[str]:
    """The root field of each subscription event executed from here on."""
    executed: list[str] = []
    execute = Executor.execute_operation

    def counted(self, *args, **kwargs):
        if self.operation.operation is OperationType.SUBSCRIPTION:
            executed.append(self.operation.selection_set.selections[0].name.value)
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(Executor, "execute_operation", counted)
    return executed


@pytest.mark.parametrize(("query", "executions"), [
    # Values of the message alone: one answer for every subscriber.
    (FAILURES, 1),
    # What may differ by who asks: each subscriber's own answer.
    ("subscription { smsFailures { id sentBy { name } } }", 4),
])
async def test_an_answer_that_follows_from_the_event_alone_is_made_once_per_process(
        query, executions, office, admin, services, server, monkeypatch):
    message_id = await failed_message(services.sessions)
    async with contextlib.AsyncExitStack() as stack:
        sockets = await subscribed(stack, server, services.feed,
                                   (office, office, admin, admin), query)
        executed = subscription_executions(monkeypatch)

        await announce(services.queue, message_id, SmsStatus.FAILED)
        pushed = [await receive(ws) for ws in sockets]

    assert all(p == pushed[0] for p in pushed), pushed
    assert pushed[0]["payload"]["data"]["smsFailures"]["id"] == str(message_id)
    assert executed == ["smsFailures"] * executions


async def test_each_change_of_a_message_gets_its_own_shared_answer(
        admin, services, server, drain, monkeypatch):
    appointment_id, message_id = await sendable_appointment(admin, services.sessions)
    await drain()
    query = "subscription F($a: ID) { smsStatusChanged(appointmentId: $a) { id status } }"
    async with contextlib.AsyncExitStack() as stack:
        sockets = await subscribed(stack, server, services.feed, (admin,) * 3, query,
                                   {"a": str(appointment_id)})
        executed = subscription_executions(monkeypatch)

        for status in (SmsStatus.SENDING, SmsStatus.SENT):
            await announce(services.queue, int(message_id), status)
        pushed = [[await receive(ws) for _ in range(2)] for ws in sockets]

    for pushes in pushed:
        assert [p["payload"]["data"]["smsStatusChanged"] for p in pushes] == [
            {"id": message_id, "status": "SENDING"}, {"id": message_id, "status": "SENT"}]
    assert executed == ["smsStatusChanged"] * 2


@pytest.mark.parametrize(("selection", "shared"), [
    ("smsFailures { id status errorCode errorMessage toNumber __typename }", True),
    ("alias: smsStatusChanged(appointmentId: $a) { id status }", True),
    ("smsFailures { id appointment { id } }", False),
    ("smsFailures { id recipient { name } }", False),
    ("smsFailures { ...Parts }", False),
    ("smsFailures { id status @include(if: $a) }", False),
    ("smsFailures @skip(if: false) { id }", False),
    ("smsFailures { id } smsStatusChanged { id }", False),
])
def test_which_subscriptions_share_an_answer(selection, shared):
    document = parse(f"subscription S($a: Boolean) {{ {selection} }}"
                     " fragment Parts on SmsMessage { id }")
    operation = document.definitions[0]
    assert asks_only_the_event(build_schema(False)._schema, operation) is shared


def test_the_message_values_shared_are_those_read_from_the_message_alone():
    """Each scalar field of SmsMessage is shared, or is not, for a reason: a new field with
    a resolver that takes `info` (or a permission) is answered for each subscriber."""
    message = build_schema(False)._schema.get_type("SmsMessage")
    shared = {name for name, field in message.fields.items()
              if is_plain_value(message, FieldNode(name=NameNode(value=name)))}
    assert shared == {"id", "toNumber", "body", "status", "errorCode", "errorMessage", "source",
                      "segments", "encoding", "createdAt", "sentAt", "deliveredAt"}
