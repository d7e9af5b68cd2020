"""Batches of a reminder run's messages: each message still sent once, retried on its own."""

from __future__ import annotations

import asyncio

import pytest
from arq import Retry

import jobs.send
from jobs.send import SendSlots, send_sms_batch
from models import SmsMessage
from models.channels import enqueue_send_batch
from models.enums import OptOutMethod, SmsSource, SmsStatus
from models.sms import OptOut
from tests.fake_twilio import closed_port
from tests.test_send_job import stored, worker_context

NUMBERS = ["+64211000001", "+64211000002", "+64211000003", "+64211000004"]


async def queued(sessions, numbers=NUMBERS) -> list[int]:
    """QUEUED reminder-like messages, written as a reminder run writes them."""
    async with sessions.begin() as session:
        rows = [SmsMessage(to_number=n, body=f"Reminder for {n}", source=SmsSource.REMINDER)
                for n in numbers]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_a_batch_sends_each_message_once(demo, services, twilio, twilio_settings):
    # Given
    ids = await queued(demo)

    # When two workers run the same batch at once
    await asyncio.gather(
        send_sms_batch(worker_context(demo, services, twilio_settings), ids),
        send_sms_batch(worker_context(demo, services, twilio_settings), ids))

    # Then every message reached Twilio once and is SENT with its own provider id
    assert sorted(form["To"] for form in twilio.received) == NUMBERS
    rows = [await stored(demo, i) for i in ids]
    assert {row.status for row in rows} == {SmsStatus.SENT}
    assert len({row.provider_message_id for row in rows}) == len(ids)


async def test_an_opted_out_number_in_a_batch_fails_alone(demo, services, twilio, twilio_settings):
    # Given
    ids = await queued(demo)
    async with demo.begin() as session:
        session.add(OptOut(number=NUMBERS[1], method=OptOutMethod.KEYWORD))

    # When
    tally = await send_sms_batch(worker_context(demo, services, twilio_settings), ids)

    # Then
    assert tally == {"sent": 3, "opted out": 1}
    assert NUMBERS[1] not in [form["To"] for form in twilio.received]
    refused = await stored(demo, ids[1])
    assert (refused.status, refused.error_code) == (SmsStatus.FAILED, "OPTED_OUT")


async def test_unreachable_messages_of_a_batch_are_retried_one_by_one_then_fail(
        demo, services, twilio, twilio_settings, drain):
    # Given Twilio cannot be reached
    nowhere = twilio_settings.model_copy(
        update={"twilio_api_base": f"http://127.0.0.1:{closed_port()}"})
    ids = await queued(demo, NUMBERS[:2])

    # When the batch goes through the real worker, retries and all
    await enqueue_send_batch(services.queue, ids)
    await drain(settings=nowhere)

    # Then each was tried five times and failed with the reason
    for message_id in ids:
        row = await stored(demo, message_id)
        assert (row.status, row.attempts, row.error_code) == (
            SmsStatus.FAILED, 5, "PROVIDER_ERROR")
        assert "could not be reached" in row.error_message
    assert twilio.received == []


async def test_a_batch_cancelled_while_waiting_for_slots_gives_back_those_it_took():
    # Given a worker with two provider slots and a chunk of three waiting for the third
    slots = SendSlots(size=2)

    async def wait_for_three() -> None:
        async with slots.hold(3):
            pass

    waiting = asyncio.create_task(wait_for_three())
    while slots.free._value:  # noqa: ASYNC110 (it has taken both free slots and waits for a third)
        await asyncio.sleep(0)

    # When arq's timeout cancels the job
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    # Then both slots are free again for the next chunk
    async with asyncio.timeout(1):
        async with slots.hold(2):
            assert slots.free._value == 0


async def test_a_batch_that_finds_no_slot_in_time_claims_nothing_and_runs_again(
        demo, services, twilio, twilio_settings, monkeypatch):
    # Given a batch whose job has 0.2 s left for waiting once a chunk's time is set aside, and
    # a worker whose every provider slot another job holds
    monkeypatch.setattr(jobs.send, "BATCH_TIMEOUT", jobs.send.CHUNK_SECONDS + 0.2)
    ids = await queued(demo)
    slots = SendSlots(size=len(NUMBERS))
    ctx = worker_context(demo, services, twilio_settings) | {"send_slots": slots}
    async with slots.hold(len(NUMBERS)):

        # When the batch runs
        with pytest.raises(Retry) as retry:
            await send_sms_batch(ctx, ids)

    # Then it asks arq to run it again shortly, having claimed and sent nothing
    assert retry.value.defer_score == 1000
    assert {(await stored(demo, i)).status for i in ids} == {SmsStatus.QUEUED}
    assert twilio.received == []

    # And when it runs again with the slots free, each message goes once
    assert await send_sms_batch(ctx, ids) == {"sent": len(ids)}
    assert sorted(form["To"] for form in twilio.received) == NUMBERS
    await ctx["provider"].close()
