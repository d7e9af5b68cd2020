"""A message left SENDING with no answer (the worker died after its request went out): the
sweeper asks Twilio's message list instead of guessing, and only gives up when it cannot ask."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.providers import LogProvider
from jobs.sweep import UNKNOWN_OUTCOME, sweep_messages
from jobs.twilio import TwilioProvider
from models import SmsMessage
from models.channels import enqueue_send
from models.columns import utcnow
from models.enums import SmsStatus
from models.message_status import claim
from tests.fake_twilio import closed_port
from tests.worker_process import eventually, queued, sms_on

MERE = "+64215550111"
TEXT = "Your plumber is on the way."


@pytest.fixture
def fake(twilio):
    """The fake Twilio with no messages in its list yet."""
    twilio.messages.clear()
    return twilio


@pytest.fixture
async def sweeper(sessions, services, twilio_settings):
    """sweep_messages with what the worker gives it: sessions, Redis, settings, the provider."""
    providers = []

    async def sweep(provider=None, settings=twilio_settings) -> dict[str, int]:
        provider = provider or TwilioProvider(settings, timeout=2.0)
        providers.append(provider)
        return await sweep_messages({"sessions": sessions, "redis": services.queue,
                                     "settings": settings, "provider": provider})

    yield sweep
    for provider in providers:
        await provider.close()


async def stored(sessions, message_id: int) -> SmsMessage:
    async with sessions() as session:
        return await session.get(SmsMessage, message_id)


async def claimed_ago(sessions, message_id: int, ago: timedelta) -> None:
    """Claimed for sending `ago`, as a worker does just before its request; no answer since."""
    async with sessions.begin() as session:
        [_] = await claim(session, [message_id], now=utcnow() - ago)


@pytest.mark.parametrize(("at_twilio", "settled"), [
    ("queued", SmsStatus.SENT), ("delivered", SmsStatus.DELIVERED),
    ("undelivered", SmsStatus.FAILED)])
async def test_a_message_whose_request_reached_twilio_is_settled_from_its_list(
        sessions, services, fake, drain, sweeper, at_twilio, settled):
    # Given Twilio took the request but answered only after the worker had given up waiting
    await sms_on(sessions)
    [message_id] = await queued(sessions, {MERE: TEXT})
    await enqueue_send(services.queue, message_id)
    fake.delay = 1.0
    await drain(provider_timeout=0.3)
    await eventually(lambda: len(fake.messages) == 1, 5, "Twilio made the message")
    [at_provider] = fake.messages
    at_provider["status"] = at_twilio
    if at_twilio == "undelivered":
        at_provider["error_code"] = 30003
    assert (await stored(sessions, message_id)).status is SmsStatus.SENDING

    # When the sweeper runs a minute and more after the claim
    async with sessions.begin() as session:
        row = await session.get(SmsMessage, message_id)
        row.send_started_at -= timedelta(minutes=2)
    swept = await sweeper()

    # Then the message is settled as Twilio's list has it, with its sid, and not sent again
    assert swept == {"requeued": 0, "settled": 1, "failed": 0}
    row = await stored(sessions, message_id)
    assert (row.status, row.provider_message_id) == (settled, at_provider["sid"])
    if settled is SmsStatus.FAILED:
        assert row.error_code == "30003" and row.error_message
    assert await sweeper() == {"requeued": 0, "failed": 0}
    await drain()
    assert len(fake.received) == 1


async def test_a_message_whose_request_never_arrived_is_sent_again_once(
        sessions, fake, drain, sweeper):
    # Given a message claimed two minutes ago whose request never reached Twilio
    await sms_on(sessions)
    [message_id] = await queued(sessions, {MERE: TEXT})
    await claimed_ago(sessions, message_id, timedelta(minutes=2))

    # When the sweeper runs, and then a worker
    swept = await sweeper()
    await drain()

    # Then Twilio's list said it never came, so it was sent, once
    assert swept == {"requeued": 0, "resent": 1, "failed": 0}
    assert [form["Body"] for form in fake.received] == [TEXT]
    row = await stored(sessions, message_id)
    assert (row.status, row.attempts, row.provider_message_id) == (
        SmsStatus.SENT, 2, fake.messages[0]["sid"])

    # And sweeping and draining again sends nothing more
    assert await sweeper() == {"requeued": 0, "failed": 0}
    await drain()
    assert len(fake.received) == 1


async def test_a_message_like_one_already_sent_is_not_taken_for_it(
        sessions, services, fake, drain, sweeper):
    # Given the same text to the same number twice: the first sent and recorded, the second
    # claimed two minutes ago with no request made
    await sms_on(sessions)
    [first] = await queued(sessions, {MERE: TEXT})
    await enqueue_send(services.queue, first)
    await drain()
    [second] = await queued(sessions, {MERE: TEXT})
    await claimed_ago(sessions, second, timedelta(minutes=2))

    # When
    swept = await sweeper()
    await drain()

    # Then Twilio's one message is the first's: the second is sent, and each went once
    assert swept == {"requeued": 0, "resent": 1, "failed": 0}
    assert [form["Body"] for form in fake.received] == [TEXT, TEXT]
    rows = [await stored(sessions, m) for m in (first, second)]
    assert [r.status for r in rows] == [SmsStatus.SENT, SmsStatus.SENT]
    assert {r.provider_message_id for r in rows} == {m["sid"] for m in fake.messages}


async def test_twilio_is_asked_no_sooner_than_a_minute_after_the_claim(
        sessions, fake, drain, sweeper):
    # Given a claim 30 seconds old with no answer (its request may still be on its way)
    await sms_on(sessions)
    [message_id] = await queued(sessions, {MERE: TEXT})
    await claimed_ago(sessions, message_id, timedelta(seconds=30))

    # When
    swept = await sweeper()
    await drain()

    # Then nothing is decided yet
    assert swept == {"requeued": 0, "failed": 0}
    assert (await stored(sessions, message_id)).status is SmsStatus.SENDING
    assert fake.received == []


@pytest.mark.parametrize("provider", ["twilio unreachable", "log"])
async def test_when_the_provider_cannot_be_asked_the_fifteen_minute_rule_applies(
        sessions, fake, drain, sweeper, twilio_settings, provider):
    # Given a message claimed 14 minutes ago, and a provider that cannot say what it has
    await sms_on(sessions)
    [message_id] = await queued(sessions, {MERE: TEXT})
    await claimed_ago(sessions, message_id, timedelta(minutes=14))
    nowhere = twilio_settings.model_copy(
        update={"twilio_api_base": f"http://127.0.0.1:{closed_port()}"})

    def cannot_ask():
        return TwilioProvider(nowhere, timeout=2.0) if provider != "log" else LogProvider()

    # When swept before fifteen minutes
    early = await sweeper(cannot_ask())

    # Then it waits, unsent
    assert early == {"requeued": 0, "failed": 0}
    assert (await stored(sessions, message_id)).status is SmsStatus.SENDING

    # When swept after fifteen minutes
    async with sessions.begin() as session:
        (await session.get(SmsMessage, message_id)).send_started_at -= timedelta(minutes=2)
    late = await sweeper(cannot_ask())
    await drain()

    # Then it is FAILED, outcome unknown, and never sent
    assert late == {"requeued": 0, "failed": 1}
    row = await stored(sessions, message_id)
    assert (row.status, row.error_code, row.error_message) == (
        SmsStatus.FAILED, "PROVIDER_ERROR", UNKNOWN_OUTCOME)
    assert fake.received == []


async def test_a_number_whose_list_is_too_long_leaves_the_others_asked_about(
        sessions, fake, drain, sweeper, twilio_settings, monkeypatch):
    # Given two messages claimed 16 minutes ago, asked about one at a time, the first to a
    # number with more messages at Twilio than the sweeper reads
    monkeypatch.setattr("jobs.twilio.LIST_PAGE_SIZE", 2)
    monkeypatch.setattr("jobs.twilio.LIST_MAX_PAGES", 1)
    monkeypatch.setattr("jobs.unanswered.ASKS_AT_ONCE", 1)
    busy, other = MERE, "+64215550222"
    for text in ("Earlier one", "Earlier two", "Earlier three"):
        fake.created({"To": busy, "From": twilio_settings.twilio_from_number, "Body": text})
    await sms_on(sessions)
    [busy_id] = await queued(sessions, {busy: TEXT})
    [other_id] = await queued(sessions, {other: TEXT})
    for message_id in (busy_id, other_id):
        await claimed_ago(sessions, message_id, timedelta(minutes=16))

    # When swept
    swept = await sweeper()
    await drain()

    # Then only the message Twilio could not list is given up on; the other, which never
    # reached Twilio, was asked about and sent
    assert swept == {"requeued": 0, "failed": 1, "resent": 1}
    assert (await stored(sessions, busy_id)).error_message == UNKNOWN_OUTCOME
    assert (await stored(sessions, other_id)).status is SmsStatus.SENT
    assert [m["To"] for m in fake.received] == [other]


async def test_a_provider_that_can_be_asked_is_asked_however_short_the_unsettled_time(
        sessions, fake, drain, sweeper, twilio_settings):
    # Given UNSETTLED_AFTER_SECONDS shorter than the minute before asking, and a message
    # claimed 30 s ago whose request never reached Twilio
    impatient = twilio_settings.model_copy(update={"unsettled_after_seconds": 10})
    await sms_on(sessions)
    [message_id] = await queued(sessions, {MERE: TEXT})
    await claimed_ago(sessions, message_id, timedelta(seconds=30))

    # When swept before the minute, then after it
    early = await sweeper(settings=impatient)
    async with sessions.begin() as session:
        (await session.get(SmsMessage, message_id)).send_started_at -= timedelta(minutes=1)
    late = await sweeper(settings=impatient)
    await drain()

    # Then it was not called unknown: Twilio was asked, and the message sent
    assert (early, late) == ({"requeued": 0, "failed": 0},
                             {"requeued": 0, "resent": 1, "failed": 0})
    assert (await stored(sessions, message_id)).status is SmsStatus.SENT
    assert len(fake.received) == 1
