"""Redis restarting in the middle of a run: sends keep being taken, none is lost or doubled."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker
from sqlalchemy import update
from sqlmodel import select

from api.app import Services, create_app
from api.embedded_redis import EmbeddedRedis
from jobs.sweep import sweep_messages
from jobs.twilio import TwilioProvider
from jobs.worker import WorkerSettings
from models import Appointment, SmsMessage
from models.channels import SMS_STATUS_CHANNEL
from models.config import Settings
from models.enums import SmsStatus
from schema.feed import StatusFeed
from tests.conftest import Api

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code message } }
}
"""
ME = "query { me { email } }"
CALENDAR = """
query Calendar($start: DateTime!, $end: DateTime!) { calendar(start: $start, end: $end) { id } }
"""


@dataclass
class Private:
    """A Redis of this test's own, which it may stop and start again at the same URL."""

    server: EmbeddedRedis
    settings: Settings
    pool: ArqRedis
    feed: StatusFeed
    app: object
    port: int

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.server = EmbeddedRedis(port=self.port).start()


@pytest.fixture
async def private(services, twilio_settings) -> AsyncIterator[Private]:
    server = EmbeddedRedis().start()
    settings = twilio_settings.model_copy(update={"redis_url": server.url})
    pool = await create_pool(RedisSettings.from_dsn(server.url))
    feed = StatusFeed(pool)
    app = create_app(services=Services(settings, services.engine, services.sessions, pool, feed))
    given = Private(server, settings, pool, feed, app, server.port)
    try:
        yield given
    finally:
        await feed.close()
        await pool.aclose()
        given.server.stop()


@pytest.fixture
async def admin_on_private(private, demo) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=private.app),
                                 base_url="http://test") as http:
        yield await Api(http).login("admin")


async def drain(settings: Settings) -> None:
    """A real arq worker in burst mode on the private Redis, sending to the fake Twilio."""
    worker = Worker(
        functions=WorkerSettings.functions, burst=True,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown,
        handle_signals=False, poll_delay=0.05, max_jobs=10,
        ctx={"settings": settings, "provider": TwilioProvider(settings, timeout=2.0),
             "backoff_seconds": 0.0},
    )
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()


async def sendable_appointment(user: Api, sessions) -> int:
    async with sessions() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        body = await user.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                              "body": "Checking this one can take an SMS."}})
        if not body["sendSms"]["errors"]:
            return appointment_id
    raise AssertionError("no appointment in the demo can take an SMS")


async def send(user: Api, appointment_id: int, text: str) -> int:
    data = await asyncio.wait_for(user.ok(SEND, {"input": {
        "appointmentId": str(appointment_id), "body": text}}), 10)
    assert data["sendSms"]["errors"] == []
    assert data["sendSms"]["message"]["status"] == "QUEUED"
    return int(data["sendSms"]["message"]["id"])


async def statuses(sessions) -> dict[int, SmsStatus]:
    async with sessions() as session:
        return dict((await session.exec(select(SmsMessage.id, SmsMessage.status))).all())


async def lost_two_minutes_ago(sessions) -> None:
    """As if the sweeper ran two minutes on: every message is old enough to count as lost."""
    async with sessions.begin() as session:
        await session.execute(update(SmsMessage).values(
            created_at=datetime.now(UTC) - timedelta(minutes=2)))


async def subscribed(pool: ArqRedis, within: float = 10.0) -> None:
    """Wait until the status feed listens on Redis again."""
    deadline = time.monotonic() + within
    while dict(await pool.pubsub_numsub(SMS_STATUS_CHANNEL)).get(
            SMS_STATUS_CHANNEL.encode(), 0) < 1:
        assert time.monotonic() < deadline, "the status feed never subscribed again"
        await asyncio.sleep(0.05)


async def test_a_redis_restart_loses_and_doubles_no_message(
        private, admin_on_private, services, twilio):
    admin, sessions = admin_on_private, services.sessions
    appointment_id = await sendable_appointment(admin, sessions)
    heard: list[tuple[int, SmsStatus]] = []

    async def listen() -> None:
        async for event in private.feed.listen():
            heard.append(event)

    listener = asyncio.create_task(listen())
    await drain(private.settings)
    delivered_before = [await send(admin, appointment_id, "Sent before the restart.")]
    await drain(private.settings)
    waiting = [await send(admin, appointment_id, "Queued when Redis stopped.")]
    assert len(twilio.received) == 2

    # Given Redis stops, with one job still in it (no persistence: it is gone for good)
    private.stop()

    # When sends go on meanwhile
    started = time.monotonic()
    during = [await send(admin, appointment_id, f"Sent while Redis was down, #{n}.")
              for n in range(3)]
    outage_send_seconds = (time.monotonic() - started) / 3
    # ... queries keep being answered
    assert (await admin.ok(ME))["me"]["email"] == "admin@example.com"
    tech = await admin.login("tech")
    now = datetime.now(UTC)
    calendar = await tech.ok(CALENDAR, {"start": now.isoformat(),
                                        "end": (now + timedelta(days=15)).isoformat()})
    assert calendar["calendar"]

    # ... Redis comes back at the same address, the sweeper runs and a worker drains the queue
    private.restart()
    await subscribed(private.pool)
    await lost_two_minutes_ago(sessions)
    swept = await sweep_messages({"sessions": sessions, "redis": private.pool})
    await drain(private.settings)

    # Then every message was sent exactly once, and the status feed told of each
    lost = waiting + during
    assert swept == {"requeued": len(lost), "failed": 0}
    assert outage_send_seconds < 2
    final = await statuses(sessions)
    assert all(status is SmsStatus.SENT for status in final.values()), final
    bodies = Counter(form["Body"] for form in twilio.received)
    assert bodies == Counter({"Checking this one can take an SMS.": 1,
                              "Sent before the restart.": 1, "Queued when Redis stopped.": 1,
                              **{f"Sent while Redis was down, #{n}.": 1 for n in range(3)}})
    deadline = time.monotonic() + 2
    while not {(m, SmsStatus.SENT) for m in lost} <= set(heard):
        assert time.monotonic() < deadline, f"the feed missed sends after the restart: {heard}"
        await asyncio.sleep(0.05)

    # And a second sweep and drain find nothing left to send
    assert await sweep_messages({"sessions": sessions, "redis": private.pool}) == {
        "requeued": 0, "failed": 0}
    await drain(private.settings)
    assert len(twilio.received) == 6
    assert delivered_before[0] in final
    listener.cancel()
