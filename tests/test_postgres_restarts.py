"""A real PostgreSQL stopped, crashed and restarted under the app: 503s and SERVICE_UNAVAILABLE,
never a 500; nothing Twilio told us is lost; the same process serves again once it is back.

The cluster is the tests' own (`postgres_cluster` in conftest), so it may be stopped at will.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from arq import Retry
from sqlalchemy import event, func, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel, select

import migrations
from api.app import Services, create_app
from jobs.providers import Accepted
from jobs.send import Outcome, record, send_sms
from jobs.twilio import TwilioProvider
from models import Appointment, InboundMessage, OptOut, SmsMessage
from models.config import Settings
from models.db import Sessions, create_engine, feed_engine, read_retried, session_factory
from models.demo import seed_demo
from models.enums import SmsSource, SmsStatus
from models.message_status import Claimed
from tests.conftest import LOGIN
from tests.fake_twilio import ACCOUNT_SID, FROM_NUMBER, signed_form
from tests.postgres_cluster import PostgresCluster

PUBLIC = "https://sms.example.com"
ME = "{ me { email } }"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code message } }
}
"""
# Generous: a restart takes about a second here; the figures are in README's Reliability.
BACK_WITHIN_SECONDS = 30


@dataclass
class Stage:
    """The app on the tests' own cluster, signed in as the demo admin."""

    cluster: PostgresCluster
    http: httpx.AsyncClient
    sessions: Sessions
    settings: Settings
    queue: object
    token: str

    @property
    def signed_in(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def graphql(
        self, query: str, variables: dict | None = None, token: bool = True
    ) -> httpx.Response:
        return await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.signed_in if token else {},
        )

    async def stop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.cluster.stop, mode)

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.start)


@pytest.fixture(scope="module")
def cluster_url(postgres_cluster) -> str:
    if not postgres_cluster.running():
        postgres_cluster.start()
    migrations.upgrade(postgres_cluster.url)
    return postgres_cluster.url


@pytest.fixture(scope="module")
async def cluster_engine(cluster_url):
    engine = create_engine(cluster_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def stage(postgres_cluster, cluster_engine, services, twilio_settings):
    """The demo company on the cluster, and the app as deployed with Twilio."""
    if not postgres_cluster.running():
        await asyncio.to_thread(postgres_cluster.start)
    names = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    async with cluster_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    sessions = session_factory(cluster_engine)
    await seed_demo(sessions, conversations=False)
    await services.queue.flushdb()
    settings = twilio_settings.model_copy(update={"database_url": postgres_cluster.url})
    app = create_app(services=Services(settings, cluster_engine, sessions, services.queue))
    # A failure inside the app is a 500 response here, as a client would see it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        login = await http.post(
            "/graphql",
            json={
                "query": LOGIN,
                "variables": {"email": "admin@example.com", "password": "admin-demo-password"},
            },
        )
        token = login.json()["data"]["login"]["token"]
        yield Stage(postgres_cluster, http, sessions, settings, services.queue, token)
    if not postgres_cluster.running():
        await asyncio.to_thread(postgres_cluster.start)
    await services.queue.flushdb()


def unavailable(response: httpx.Response) -> bool:
    """A 503 with its code, or GraphQL's SERVICE_UNAVAILABLE: the client may try again."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code == 503
    if response.status_code not in (200, 503) or not isinstance(body, dict):
        return False
    errors = body.get("errors") or []
    return bool(errors) and all(
        e.get("extensions", {}).get("code") == "SERVICE_UNAVAILABLE" for e in errors
    )


def answered(response: httpx.Response) -> bool:
    return response.status_code == 200 and "errors" not in response.json()


async def first_success(stage: Stage, started: float) -> float:
    """Seconds from `started` until `me` answers again; fails past BACK_WITHIN_SECONDS."""
    while True:
        response = await stage.graphql(ME)
        assert answered(response) or unavailable(response), response.text
        if answered(response):
            return time.monotonic() - started
        assert time.monotonic() - started < BACK_WITHIN_SECONDS, "the app did not recover"
        await asyncio.sleep(0.05)


async def an_appointment(stage: Stage) -> int:
    """One the admin may text about (the demo has some without a mobile)."""
    async with stage.sessions() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        response = await stage.graphql(SEND, send_input(appointment_id))
        if not response.json()["data"]["sendSms"]["errors"]:
            return appointment_id
    pytest.fail("no demo appointment to send about")


def send_input(appointment_id: int) -> dict:
    return {"input": {"appointmentId": str(appointment_id), "body": "On my way."}}


async def messages(stage: Stage) -> int:
    async with stage.sessions() as session:
        return (await session.exec(select(func.count()).select_from(SmsMessage))).one()


async def sent_message(stage: Stage, sid: str) -> SmsMessage:
    async with stage.sessions.begin() as session:
        row = SmsMessage(
            to_number="+64215550111",
            body="Hello",
            source=SmsSource.APP,
            status=SmsStatus.SENT,
            provider_message_id=sid,
        )
        session.add(row)
    return row


async def twilio_posts(stage: Stage, path: str, form: dict[str, str]) -> httpx.Response:
    return await stage.http.post(
        path, content=urlencode(form), headers=signed_form(PUBLIC + path, form)
    )


# --- a stopped database ----------------------------------------------------------------------


async def test_a_stopped_database_answers_unavailable_and_recovers(stage):
    # Given pooled connections, then the database stopped
    appointment_id = await an_appointment(stage)
    before = await messages(stage)
    await stage.stop("fast")

    # When the admin reads, sends and signs in again, while it is down
    me = await stage.graphql(ME)
    send = await stage.graphql(SEND, send_input(appointment_id))
    login = await stage.graphql(
        LOGIN, {"email": "admin@example.com", "password": "admin-demo-password"}, token=False
    )

    # Then each says "unavailable": 503 at sign-in, SERVICE_UNAVAILABLE from GraphQL
    for response in (me, send):
        assert response.status_code == 503 and unavailable(response), response.text
        assert response.headers["retry-after"]
    assert login.status_code == 200 and unavailable(login), login.text
    assert login.json()["data"] is None

    # And once it is started again the same app serves, and nothing was half-written
    started = time.monotonic()
    await stage.start()
    assert await first_success(stage, started) < BACK_WITHIN_SECONDS
    assert await messages(stage) == before
    assert answered(await stage.graphql(SEND, send_input(appointment_id)))


async def test_a_database_lost_in_the_middle_of_a_send_writes_nothing(stage, cluster_engine):
    # Given the database stops as the message is about to be written (after sign-in)
    appointment_id = await an_appointment(stage)
    before = await messages(stage)
    armed = True

    def stop_before_the_insert(connection, cursor, statement, *args) -> None:
        nonlocal armed
        if armed and statement.lstrip().upper().startswith("INSERT INTO SMS_MESSAGE "):
            armed = False
            stage.cluster.stop("immediate")

    event.listen(cluster_engine.sync_engine, "before_cursor_execute", stop_before_the_insert)
    try:
        # When
        response = await stage.graphql(SEND, send_input(appointment_id))
    finally:
        event.remove(cluster_engine.sync_engine, "before_cursor_execute", stop_before_the_insert)

    # Then the mutation says so, with a code and no details
    assert not armed
    assert response.status_code == 200 and unavailable(response), response.text
    assert "127.0.0.1" not in response.text
    # And after the crash recovery nothing of it was written; the same send goes through
    await stage.start()
    await first_success(stage, time.monotonic())
    assert await messages(stage) == before
    assert answered(await stage.graphql(SEND, send_input(appointment_id)))


async def test_twilio_callbacks_while_stopped_get_503_and_their_retries_are_recorded(stage):
    # Given a sent message, and Twilio's signed "delivered" callback and a STOP reply
    sid = "SM" + "d" * 32
    message = await sent_message(stage, sid)
    status_path = f"/webhooks/twilio/status?message_id={message.id}"
    status = {"AccountSid": ACCOUNT_SID, "MessageSid": sid, "MessageStatus": "delivered"}
    reply = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": "SM" + "e" * 32,
        "From": "+64215550111",
        "To": FROM_NUMBER,
        "Body": "STOP",
    }
    await stage.stop("fast")

    # When Twilio calls while the database is down
    refused = [
        await twilio_posts(stage, status_path, status),
        await twilio_posts(stage, "/webhooks/twilio/inbound", reply),
    ]

    # Then both are 503, which Twilio sends again
    assert [r.status_code for r in refused] == [503, 503]

    # And when the same callbacks come again after the restart, both are recorded
    await stage.start()
    replayed = [
        await twilio_posts(stage, status_path, status),
        await twilio_posts(stage, "/webhooks/twilio/inbound", reply),
    ]
    assert [r.status_code for r in replayed] == [204, 200]
    async with stage.sessions() as session:
        row = await session.get(SmsMessage, message.id)
        assert row.status is SmsStatus.DELIVERED and row.delivered_at is not None
        stored = (await session.exec(select(InboundMessage.body))).all()
        opted_out = (await session.exec(select(OptOut.number))).all()
    assert stored == ["STOP"] and opted_out == ["+64215550111"]


# --- restarts under load -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_restart_under_load_gives_no_500(stage, mode):
    # Given clients reading and sending all the time
    appointment_id = await an_appointment(stage)
    outcomes: Counter[str] = Counter()
    surprises: list[str] = []
    done = asyncio.Event()

    async def client(request) -> None:
        while not done.is_set():
            response = await request()
            if answered(response):
                outcomes["answered"] += 1
            elif unavailable(response):
                outcomes["unavailable"] += 1
            else:
                surprises.append(f"{response.status_code} {response.text[:300]}")
            await asyncio.sleep(0.01)

    clients = [
        asyncio.create_task(client(lambda: stage.graphql(ME))),
        asyncio.create_task(client(lambda: stage.graphql(SEND, send_input(appointment_id)))),
    ]
    await asyncio.sleep(0.3)

    # When the database restarts under them
    try:
        await asyncio.to_thread(stage.cluster.restart, mode)
        recovered = await first_success(stage, time.monotonic())
        await asyncio.sleep(0.3)
    finally:
        done.set()
        await asyncio.gather(*clients)

    # Then every answer was either an answer or "unavailable", and answers came back
    assert surprises == []
    assert outcomes["unavailable"] > 0, outcomes
    assert outcomes["answered"] > 0 and recovered < BACK_WITHIN_SECONDS


# --- the send job ------------------------------------------------------------------------------


class DatabaseStopsAfterSending:
    """Twilio accepts the message, and the database goes away before we record it: stopped
    now, started again after `down_for` seconds."""

    def __init__(
        self, provider: TwilioProvider, cluster: PostgresCluster, mode: str, down_for: float
    ):
        self.provider, self.cluster, self.mode, self.down_for = provider, cluster, mode, down_for
        self.restarted: asyncio.Task | None = None

    async def send(self, message_id: int, to: str, body: str) -> Accepted:
        accepted = await self.provider.send(message_id, to, body)
        await asyncio.to_thread(self.cluster.stop, self.mode)
        self.restarted = asyncio.create_task(self.start_later())
        return accepted

    async def start_later(self) -> None:
        await asyncio.sleep(self.down_for)
        await asyncio.to_thread(self.cluster.start)


def job_context(stage: Stage, provider) -> dict:
    """What jobs.worker.startup puts in a job's ctx."""
    return {
        "sessions": stage.sessions,
        "redis": stage.queue,
        "settings": stage.settings,
        "provider": provider,
        "backoff_seconds": 0.0,
    }


async def queued_message(stage: Stage) -> int:
    """The message sent by hand while finding an appointment to send about."""
    await an_appointment(stage)
    async with stage.sessions() as session:
        return (
            await session.exec(select(SmsMessage.id).where(SmsMessage.status == SmsStatus.QUEUED))
        ).one()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_message_twilio_accepted_is_recorded_sent_once_the_database_is_back(
    stage, twilio, mode
):
    # Given a queued message, and a database that goes away the moment Twilio accepts it
    message_id = await queued_message(stage)
    provider = TwilioProvider(stage.settings, timeout=5.0)
    flaky = DatabaseStopsAfterSending(provider, stage.cluster, mode, down_for=2.0)

    # When the send job runs
    started = time.monotonic()
    outcome = await send_sms(job_context(stage, flaky), message_id)
    took = time.monotonic() - started
    await flaky.restarted
    await provider.close()

    # Then it waited for the database and recorded what Twilio said: SENT, sent once
    assert outcome == "sent"
    assert took >= 2.0
    assert len(twilio.received) == 1
    async with stage.sessions() as session:
        row = await session.get(SmsMessage, message_id)
    assert row.status is SmsStatus.SENT and row.provider_message_id.startswith("SM")


async def test_a_send_job_that_cannot_claim_is_retried_later(stage, twilio):
    # Given a queued message and a stopped database
    message_id = await queued_message(stage)
    provider = TwilioProvider(stage.settings, timeout=5.0)
    ctx = job_context(stage, provider)
    await stage.stop("fast")

    # When the job runs, then it asks arq to run it again, having sent nothing
    with pytest.raises(Retry):
        await send_sms(ctx, message_id)
    assert twilio.received == []

    # And run again once the database is back, it sends the message once
    await stage.start()
    assert await send_sms(ctx, message_id) == "sent"
    await provider.close()
    assert len(twilio.received) == 1


async def test_recording_gives_up_within_the_jobs_time(stage):
    # Given a database that stays away, and a second to record in (20 s as deployed)
    ctx = job_context(stage, None)
    ctx["record_seconds"] = 1
    claimed = [Claimed(id=1, to_number="+64215550111", body="Hello", attempts=1)]
    outcomes = [Outcome("sent", SmsStatus.SENT, {"provider_message_id": "SM" + "f" * 32})]
    await stage.stop("fast")

    # When the outcome is recorded, then it keeps trying for about that long, then gives up
    started = time.monotonic()
    with pytest.raises(OSError):
        await record(ctx, claimed, outcomes)
    assert 0.5 <= time.monotonic() - started < 5


async def test_the_feeds_reads_connect_afresh_after_a_restart(stage, cluster_url):
    """The live feed's connections are not pinged at checkout (models.db.feed_engine): the
    first read after a restart meets a dropped connection, and read_retried tries once more."""
    engine = feed_engine(cluster_url)
    sessions = session_factory(engine)

    async def count(session) -> int:
        return (await session.execute(select(func.count()).select_from(Appointment))).scalar_one()

    try:
        before = await read_retried(sessions, count)
        await stage.stop()
        await stage.start()
        async with sessions() as session:  # the pooled connection is the dropped one
            with pytest.raises(DBAPIError) as dropped:
                await count(session)
        assert dropped.value.connection_invalidated
        await stage.stop()
        await stage.start()
        assert await read_retried(sessions, count) == before
    finally:
        await engine.dispose()
