"""The send job and the sweeper: each message reaches Twilio at most once, and ends settled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from arq import Retry
from sqlmodel import select

from jobs.send import send_sms
from jobs.sweep import sweep_messages
from jobs.twilio import TwilioProvider
from models import Appointment, Contact, Job, OptOut, SmsMessage, Task, User
from models.channels import SEND_SMS_JOB
from models.columns import utcnow
from models.demo import TECH_EMAIL
from models.enums import OptOutMethod, SmsSource, SmsStatus
from models.message_status import advance
from tests.fake_twilio import FROM_NUMBER, Refusal, closed_port

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status toNumber } errors { code message } }
}
"""

HISTORY = """
query History {
  smsMessages { nodes { id status errorCode errorMessage } }
}
"""

MERE = "+64215550111"


async def queue_one(tech, sessions, body: str = "Running 10 minutes late.") -> int:
    """Send by hand to Mere Tane about the technician's grease trap visit; the message id."""
    async with sessions() as session:
        appointment = (await session.exec(
            select(Appointment).join(Job, Job.id == Appointment.job_id)
            .join(Task, Task.id == Appointment.task_id)
            .join(User, User.id == Appointment.user_id)
            .where(Job.title == "Grease trap replacement", Task.name == "Install and test",
                   User.email == TECH_EMAIL).order_by(Appointment.start))).first()
    payload = (await tech.ok(SEND, {"input": {"appointmentId": str(appointment.id),
                                              "body": body}}))["sendSms"]
    assert payload["errors"] == [] and payload["message"]["toNumber"] == MERE
    return int(payload["message"]["id"])


async def stored(sessions, message_id: int) -> SmsMessage:
    async with sessions() as session:
        return await session.get(SmsMessage, message_id)


async def change(sessions, message_id: int, **values) -> None:
    async with sessions.begin() as session:
        row = await session.get(SmsMessage, message_id)
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


def worker_context(sessions, services, settings, backoff_seconds: float = 0.0) -> dict:
    """What jobs.worker.startup puts in a job's ctx."""
    return {"sessions": sessions, "redis": services.queue, "settings": settings,
            "provider": TwilioProvider(settings, timeout=2.0), "backoff_seconds": backoff_seconds}


# Claiming

async def test_two_workers_racing_for_one_message_send_it_once(
        tech, demo, twilio, services, twilio_settings):
    # Given
    message_id = await queue_one(tech, demo)
    first = worker_context(demo, services, twilio_settings)
    second = worker_context(demo, services, twilio_settings)

    # When
    outcomes = await asyncio.gather(send_sms(first, message_id), send_sms(second, message_id))

    # Then
    assert sorted(outcomes) == ["not ours", "sent"]
    assert len(twilio.received) == 1
    row = await stored(demo, message_id)
    assert (row.status, row.attempts) == (SmsStatus.SENT, 1)
    for ctx in (first, second):
        await ctx["provider"].close()


async def test_a_second_job_for_the_same_message_sends_nothing(tech, demo, twilio, drain, services):
    # Given: the mutation's job plus a duplicate under another job id
    message_id = await queue_one(tech, demo)
    await services.queue.enqueue_job(SEND_SMS_JOB, message_id, _job_id=f"duplicate:{message_id}")

    # When
    await drain()

    # Then
    assert len(twilio.received) == 1
    assert (await stored(demo, message_id)).status is SmsStatus.SENT


async def test_an_opt_out_after_queueing_stops_the_send(tech, admin, demo, twilio, drain):
    # Given
    message_id = await queue_one(tech, demo)
    async with demo.begin() as session:
        session.add(OptOut(number=MERE, method=OptOutMethod.KEYWORD))

    # When
    await drain()

    # Then
    assert twilio.received == []
    row = await stored(demo, message_id)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, "OPTED_OUT")
    [shown] = (await admin.ok(HISTORY))["smsMessages"]["nodes"]
    assert (shown["status"], shown["errorCode"]) == ("FAILED", "OPTED_OUT")


SMS_SWITCH = """
mutation Switch($on: Boolean!) { updateSettings(input: {smsEnabled: $on}) { errors { code } } }
"""
FAILURES = "{ smsFailures { nodes { id status errorCode errorMessage } } }"


async def test_switching_sms_off_fails_what_is_queued_without_sending_it(
        tech, admin, office, demo, twilio, drain):
    # Given a message queued while SMS was on
    message_id = await queue_one(tech, demo)
    assert (await admin.ok(SMS_SWITCH, {"on": False}))["updateSettings"]["errors"] == []

    # When the worker gets to it
    await drain()

    # Then Twilio never hears of it, and it is a failure like any other
    assert twilio.received == []
    row = await stored(demo, message_id)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, "SMS_DISABLED")
    assert "switched off" in row.error_message
    [shown] = (await admin.ok(HISTORY))["smsMessages"]["nodes"]
    assert (shown["status"], shown["errorCode"]) == ("FAILED", "SMS_DISABLED")
    assert (await admin.ok(SMS_SWITCH, {"on": True}))["updateSettings"]["errors"] == []
    [failure] = (await office.ok(FAILURES))["smsFailures"]["nodes"]
    assert (failure["id"], failure["errorMessage"]) == (str(message_id), row.error_message)


# On the wire

async def test_twilio_gets_a_form_post_with_a_status_callback_for_our_message(
        tech, demo, twilio, drain):
    # Given
    message_id = await queue_one(tech, demo, body="Tap fixed, invoice to follow.")

    # When
    await drain()

    # Then: the fake checks the account in the path, basic auth and the form encoding
    assert twilio.received == [{
        "To": MERE, "From": FROM_NUMBER, "Body": "Tap fixed, invoice to follow.",
        "StatusCallback": f"https://sms.example.com/webhooks/twilio/status?message_id={message_id}",
    }]
    row = await stored(demo, message_id)
    assert row.status is SmsStatus.SENT
    assert row.provider_message_id.startswith("SM") and len(row.provider_message_id) == 34


async def test_twilio_refusing_wrong_credentials_fails_the_message(
        tech, demo, twilio, drain, twilio_settings):
    # Given
    message_id = await queue_one(tech, demo)
    wrong = twilio_settings.model_copy(update={"twilio_auth_token": "not-the-token"})

    # When
    await drain(settings=wrong)

    # Then
    row = await stored(demo, message_id)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, "20003")
    assert row.error_message == "The SMS provider refused our credentials."


# Refusals

@pytest.mark.parametrize(("code", "reason"), [
    (21211, "The number is not a valid phone number."),
    (21610, "The recipient has unsubscribed (replied STOP to the provider)."),
    (21408, "Sending to this region is not enabled on the SMS account."),
])
async def test_a_refusal_fails_the_message_with_a_plain_reason(
        tech, admin, demo, twilio, drain, code, reason):
    # Given
    message_id = await queue_one(tech, demo)
    twilio.refuse = Refusal(400, code, f"Twilio says {code}")

    # When
    await drain()

    # Then: tried once, never again
    assert len(twilio.received) == 1
    row = await stored(demo, message_id)
    assert (row.status, row.error_code, row.attempts) == (SmsStatus.FAILED, str(code), 1)
    [shown] = (await admin.ok(HISTORY))["smsMessages"]["nodes"]
    assert shown == {"id": str(message_id), "status": "FAILED", "errorCode": "PROVIDER_ERROR",
                     "errorMessage": reason}


async def test_an_unknown_refusal_keeps_the_providers_words(tech, demo, twilio, drain):
    # Given
    message_id = await queue_one(tech, demo)
    twilio.refuse = Refusal(400, 29999, "Something odd")

    # When
    await drain()

    # Then
    row = await stored(demo, message_id)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, "29999")
    assert "Something odd" in row.error_message


# Retries

async def test_an_unreachable_provider_is_tried_five_times_then_failed(
        tech, demo, twilio, drain, twilio_settings):
    # Given
    message_id = await queue_one(tech, demo)
    nowhere = twilio_settings.model_copy(
        update={"twilio_api_base": f"http://127.0.0.1:{closed_port()}"})

    # When
    await drain(settings=nowhere)

    # Then
    row = await stored(demo, message_id)
    assert (row.status, row.attempts, row.error_code) == (SmsStatus.FAILED, 5, "PROVIDER_ERROR")
    assert "could not be reached" in row.error_message


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_server_error_that_may_follow_the_send_is_never_resent(
        tech, demo, twilio, drain, status):
    # Given a Twilio that answers with an error that can come after it took the message
    message_id = await queue_one(tech, demo)
    twilio.status = status

    # When
    await drain()

    # Then it was tried once, and waits for its callback or Twilio's list to settle it
    assert len(twilio.received) == 1
    row = await stored(demo, message_id)
    assert (row.status, row.attempts, row.retry_at) == (SmsStatus.SENDING, 1, None)


@pytest.mark.parametrize("status", [503, 429])
async def test_a_provider_error_or_rate_limit_is_retried_five_times(
        tech, demo, twilio, drain, status):
    # Given
    message_id = await queue_one(tech, demo)
    twilio.status = status

    # When
    await drain()

    # Then
    assert len(twilio.received) == 5
    row = await stored(demo, message_id)
    assert (row.status, row.attempts) == (SmsStatus.FAILED, 5)


async def test_a_provider_that_recovers_sends_the_message_once(tech, demo, twilio, services,
                                                               twilio_settings):
    # Given: the first try met an HTTP 503
    message_id = await queue_one(tech, demo)
    ctx = worker_context(demo, services, twilio_settings)
    twilio.status = 503
    with pytest.raises(Retry):
        await send_sms(ctx, message_id)

    # When
    twilio.status = None
    outcome = await send_sms(ctx, message_id)

    # Then
    assert outcome == "sent" and len(twilio.received) == 2
    row = await stored(demo, message_id)
    assert (row.status, row.attempts, row.retry_at) == (SmsStatus.SENT, 2, None)
    await ctx["provider"].close()


async def test_retries_back_off_and_an_early_rerun_sends_nothing(
        tech, demo, twilio, services, twilio_settings):
    # Given: a first try that met an HTTP 503
    message_id = await queue_one(tech, demo)
    ctx = worker_context(demo, services, twilio_settings, backoff_seconds=2.0)
    twilio.status = 503
    with pytest.raises(Retry) as first:
        await send_sms(ctx, message_id)

    # When: the job runs again before its retry is due, then when it is due
    early = await send_sms(ctx, message_id)
    await change(demo, message_id, retry_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(Retry) as second:
        await send_sms(ctx, message_id)

    # Then
    assert early == "not ours"
    assert (first.value.defer_score, second.value.defer_score) == (2_000, 4_000)
    assert len(twilio.received) == 2
    row = await stored(demo, message_id)
    assert (row.status, row.attempts) == (SmsStatus.SENDING, 2)
    assert timedelta(seconds=3) < row.retry_at - utcnow() <= timedelta(seconds=4)
    await ctx["provider"].close()


# A timeout after the request went out

async def test_a_timed_out_send_is_never_resent_and_fails_after_fifteen_minutes(
        tech, admin, demo, twilio, drain, services):
    # Given: Twilio answers after the client has given up
    message_id = await queue_one(tech, demo)
    twilio.delay = 1.0
    await drain(provider_timeout=0.3)
    await asyncio.sleep(twilio.delay)  # the stalled answer is recorded once it is given
    ctx = {"sessions": demo, "redis": services.queue}

    # When: swept within fifteen minutes, with a worker running after
    await change(demo, message_id, send_started_at=utcnow() - timedelta(minutes=14))
    early = await sweep_messages(ctx)
    await drain(provider_timeout=0.3)

    # Then: still awaiting Twilio's callback, and not sent again
    assert early == {"requeued": 0, "failed": 0}
    row = await stored(demo, message_id)
    assert (row.status, row.attempts) == (SmsStatus.SENDING, 1)
    assert len(twilio.received) == 1

    # When: swept after fifteen minutes
    await change(demo, message_id, send_started_at=utcnow() - timedelta(minutes=16))
    late = await sweep_messages(ctx)

    # Then
    assert late == {"requeued": 0, "failed": 1}
    [shown] = (await admin.ok(HISTORY))["smsMessages"]["nodes"]
    assert (shown["status"], shown["errorCode"]) == ("FAILED", "PROVIDER_ERROR")
    assert "unknown" in shown["errorMessage"]
    assert len(twilio.received) == 1


# Forward only

@pytest.mark.parametrize("final", [SmsStatus.DELIVERED, SmsStatus.FAILED])
async def test_a_settled_message_does_not_move_back_to_sent(tech, demo, final):
    # Given
    message_id = await queue_one(tech, demo)
    async with demo.begin() as session:
        assert await advance(session, message_id, SmsStatus.SENDING)
        assert await advance(session, message_id, final)
    before = await stored(demo, message_id)

    # When
    async with demo.begin() as session:
        moved = await advance(session, message_id, SmsStatus.SENT, provider_message_id="SMlate")

    # Then
    after = await stored(demo, message_id)
    assert moved is False
    assert (after.status, after.sent_at, after.provider_message_id, after.updated_at) == (
        final, None, None, before.updated_at)


# Lost jobs

async def test_the_sweeper_resends_a_queued_message_whose_job_was_lost(
        demo, twilio, drain, services):
    # Given: two QUEUED messages with no job, one written two minutes ago, one just now
    async with demo() as session:
        mere = (await session.exec(select(Contact).where(Contact.name == "Mere Tane"))).one()
    rows = [SmsMessage(to_number=MERE, body=f"Lost {n}", source=SmsSource.APP,
                       recipient_id=mere.id, created_at=utcnow() - age)
            for n, age in enumerate((timedelta(minutes=2), timedelta(seconds=5)))]
    async with demo.begin() as session:
        session.add_all(rows)
    old, new = (row.id for row in rows)

    # When
    swept = await sweep_messages({"sessions": demo, "redis": services.queue})
    await drain()

    # Then
    assert swept == {"requeued": 1, "failed": 0}
    assert [form["Body"] for form in twilio.received] == ["Lost 0"]
    assert (await stored(demo, old)).status is SmsStatus.SENT
    assert (await stored(demo, new)).status is SmsStatus.QUEUED


async def test_the_sweeper_resends_a_message_whose_job_failed_before_claiming_it(
        tech, demo, twilio, drain, services, twilio_settings, tmp_path):
    # Given: the job ran while the worker could not reach the database, and ended in error
    message_id = await queue_one(tech, demo)
    no_database = twilio_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'missing' / 'gone.db'}"})
    await drain(settings=no_database)
    assert (await stored(demo, message_id)).status is SmsStatus.QUEUED
    await change(demo, message_id, created_at=utcnow() - timedelta(minutes=2))

    # When
    swept = await sweep_messages({"sessions": demo, "redis": services.queue})
    await drain()

    # Then
    assert swept == {"requeued": 1, "failed": 0}
    assert len(twilio.received) == 1
    assert (await stored(demo, message_id)).status is SmsStatus.SENT
