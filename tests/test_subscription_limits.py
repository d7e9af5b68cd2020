"""Subscriptions cost what they must and no more: a user holds a limited number across every
connection and process, and an event a subscriber will not receive costs it no database read."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import websockets
from sqlmodel import select

import models
from api.app import MAX_SUBSCRIPTIONS, Services, create_app
from models.access import may_see_event
from models.enums import SmsSource, SmsStatus
from models.status_feed import MessageFacts, StatusEvent, announce, decode_event, encode
from models.status_feed import message_facts as facts_of
from schema.errors import CodedError
from schema.feed import StatusFeed
from schema.subscription_seats import KEY_PREFIX, LIMIT_CODE, MAX_PER_USER, SubscriptionSeats
from tests.test_abuse import initialised, receive, serving
from tests.test_statement_count import counting_statements
from tests.test_subscriptions import FAILURES, STATUS_CHANGED, sendable_appointment

WITHIN = 5.0


@pytest.fixture
async def second_process(services) -> AsyncIterator[Services]:
    """Another API process: its own status feed and seats, the same database and Redis."""
    feed = StatusFeed(services.queue)
    yield Services(services.settings, services.engine, services.sessions, services.queue, feed)
    await feed.close()


async def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def start(ws, subscription_id: str, query: str = FAILURES, variables=None) -> None:
    await ws.send(json.dumps({"id": subscription_id, "type": "subscribe",
                              "payload": {"query": query, "variables": variables or {}}}))


def listening(*feeds: StatusFeed) -> int:
    return sum(len(feed.queues) for feed in feeds)


async def test_a_flood_from_one_user_is_refused_past_the_limit_everywhere(
        office, admin, services, second_process):
    feeds = (services.feed, second_process.feed)
    ids = (str(n) for n in itertools.count())
    async with AsyncExitStack() as stack:
        here = await stack.enter_async_context(serving(create_app(services=services)))
        there = await stack.enter_async_context(serving(create_app(services=second_process)))

        async def connection(address: str, token: str):
            ws = await stack.enter_async_context(websockets.connect(
                f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]))
            await initialised(ws, token)
            return ws

        base = listening(*feeds)

        def live() -> int:
            return listening(*feeds) - base

        # Given the user holds every seat, over connections to two processes
        held = []
        while len(held) * MAX_SUBSCRIPTIONS < MAX_PER_USER:
            ws = await connection(here if len(held) % 2 == 0 else there, office.token)
            count = min(MAX_SUBSCRIPTIONS, MAX_PER_USER - len(held) * MAX_SUBSCRIPTIONS)
            held.append((ws, [next(ids) for _ in range(count)]))
            for subscription_id in held[-1][1]:
                await start(ws, subscription_id)
        await wait_for(lambda: live() == MAX_PER_USER, "the seats were never taken")

        # When the user asks for one more, on a fresh connection to either process
        extra = await connection(there, office.token)
        await start(extra, "extra")
        refusal = await receive(extra, WITHIN)
        closed = await receive(extra, WITHIN)

        # ... while another user is not held back
        other = await connection(here, admin.token)
        await start(other, "other")
        await wait_for(lambda: live() == MAX_PER_USER + 1, "admin never listened")

        # ... and once the user ends one subscription, a seat is free again
        ws, subscription_ids = held[0]
        await ws.send(json.dumps({"id": subscription_ids[0], "type": "complete"}))
        await wait_for(lambda: live() == MAX_PER_USER, "the subscription never ended")
        # Its seat is given back to Redis a moment after the subscription ends.
        await asyncio.sleep(0.2)
        await start(extra, "again")
        await wait_for(lambda: live() == MAX_PER_USER + 1, "the freed seat was never taken")
    assert refusal["id"] == "extra" and refusal["type"] == "next"
    assert refusal["payload"]["data"] is None
    [error] = refusal["payload"]["errors"]
    assert error["extensions"] == {"code": LIMIT_CODE}
    assert str(MAX_PER_USER) in error["message"]
    assert closed == {"id": "extra", "type": "complete"}


async def test_an_event_about_another_appointment_costs_no_database_read(admin, services):
    appointment_id, message_id = await sendable_appointment(admin, services.sessions)
    async with services.sessions.begin() as session:
        elsewhere = (await session.exec(select(models.Appointment.id).where(
            models.Appointment.id != appointment_id))).first()
        other = models.SmsMessage(to_number="+64215550111", body="Elsewhere",
                                  source=SmsSource.APP, status=SmsStatus.QUEUED,
                                  appointment_id=elsewhere)
        session.add(other)
        await session.flush()
        facts = await facts_of(session, [int(message_id), other.id])
    assert facts[other.id].appointment_ids == {elsewhere}
    assert appointment_id in facts[int(message_id)].appointment_ids

    async with serving(create_app(services=services)) as address, websockets.connect(
            f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await initialised(ws, admin.token)
        before = len(services.feed.queues)
        await start(ws, "1", STATUS_CHANGED, {"appointmentId": str(appointment_id)})
        await wait_for(lambda: len(services.feed.queues) > before and services.feed.ready
                       .is_set(), "the subscription never listened")

        # The control: an event about the subscribed appointment is read and pushed
        with counting_statements(services.engine) as wanted_only:
            await announce(services.queue, int(message_id), SmsStatus.SENDING,
                           facts[int(message_id)])
            first = await receive(ws, WITHIN)

        # When an event about another appointment comes first
        with counting_statements(services.engine) as with_unwanted:
            await announce(services.queue, other.id, SmsStatus.SENDING, facts[other.id])
            await announce(services.queue, int(message_id), SmsStatus.SENT,
                           facts[int(message_id)])
            second = await receive(ws, WITHIN)

    # Then it was dropped without a statement: the same reads as the wanted event alone
    assert wanted_only
    assert len(with_unwanted) == len(wanted_only), (wanted_only, with_unwanted)
    assert [(p["payload"]["data"]["smsStatusChanged"]["id"],
             p["payload"]["data"]["smsStatusChanged"]["status"]) for p in (first, second)] == [
        (message_id, "SENDING"), (message_id, "SENT")]


async def test_a_seat_lasts_while_held_and_lapses_when_its_process_dies(sessions, services):
    here = SubscriptionSeats(services.queue, limit=1, seat_seconds=0.3)
    there = SubscriptionSeats(services.queue, limit=1, seat_seconds=0.3)

    async with here.seat(1):
        # Held well past its life, renewed all along
        await asyncio.sleep(1.0)
        with pytest.raises(CodedError):
            async with there.seat(1):
                pass

    # A process that dies holding a seat (it never renews nor gives it back)
    await there.seat(2).__aenter__()
    there.renewing.cancel()
    with pytest.raises(CodedError):
        async with here.seat(2):
            pass
    await asyncio.sleep(0.5)
    async with here.seat(2):
        assert await services.queue.zcard(f"{KEY_PREFIX}2") == 1
    await here.close()
    await there.close()


def message(**about) -> models.SmsMessage:
    return models.SmsMessage(to_number="+64215550111", body="x", source=SmsSource.APP, **about)


PROFILES = [
    models.Profile(name="Admin", global_administrator=True),
    models.Profile(name="Office", show_sms_errors=True),
    models.Profile(name="Tech"),
]
MESSAGES = [
    message(),
    message(sent_by_id=1),
    message(sent_by_id=2),
    message(appointment_id=5),
    message(time_entry_id=7, sent_by_id=2),
    message(job_id=3, recipient_id=4),
]


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
@pytest.mark.parametrize("row", MESSAGES)
def test_an_events_facts_survive_the_wire_and_decide_who_hears(profile, row):
    user = models.User(id=1, email="me@example.com", name="Me", password_hash="x",
                       profile_id=1)

    facts = decode_event(encode(9, SmsStatus.SENT, MessageFacts.of(row, [11]))).facts

    about_work = row.appointment_id is not None or row.time_entry_id is not None
    expected = profile.name != "Tech" or row.sent_by_id == 1 or about_work
    assert may_see_event(user, profile, facts) is expected


@pytest.mark.parametrize(("published", "facts"), [
    ('{"id": 9, "status": "SENT"}', None),
    ('{"id": 9, "status": "SENT", "facts": {"appointments": ["x"]}}', None),
    ('{"id": 9, "status": "SENT", "facts": {"appointment": 5, "appointments": [5, 6]}}',
     MessageFacts(appointment_id=5, appointment_ids=frozenset({5, 6}))),
])
def test_events_from_publishers_without_facts_are_still_heard(published, facts):
    assert decode_event(published) == StatusEvent(9, SmsStatus.SENT, facts)
