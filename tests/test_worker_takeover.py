"""A worker killed mid-job: the sweeper tells a dead worker's jobs from live ones and hands them
to another worker at once, without any message sent twice; it says what it really did."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from sqlalchemy import update

from api.embedded_redis import EmbeddedRedis
from jobs.presence import ALIVE, Presence
from jobs.sweep import sweep_messages
from models import SmsMessage
from models.channels import enqueue_send, enqueue_send_batch, send_job_id
from models.columns import utcnow
from models.enums import SmsStatus
from tests.worker_process import WorkerProcess, eventually, queued, sms_on, statuses

SETTLED = {SmsStatus.SENT, SmsStatus.DELIVERED}


async def written_ago(sessions, ids: list[int], ago: timedelta) -> None:
    async with sessions.begin() as session:
        await session.execute(update(SmsMessage).where(SmsMessage.id.in_(ids))
                              .values(created_at=utcnow() - ago))


async def test_the_sweeper_tells_requeued_from_already_queued_from_taken_over(
        sessions, services, twilio, drain):
    # Given five messages written two minutes ago: one whose job waits in the queue, two in a
    # waiting batch, one whose job was lost, and one whose job a worker took and then died with
    await sms_on(sessions)
    waiting, batched, batched_too, lost, orphaned = ids = await queued(sessions, {
        "+64211000001": "Waiting in the queue.", "+64211000002": "Waiting in a batch.",
        "+64211000003": "Waiting in the same batch.", "+64211000004": "Its job was lost.",
        "+64211000005": "Its worker died."})
    await written_ago(sessions, ids, timedelta(minutes=2))
    redis = services.queue
    await enqueue_send(redis, waiting)
    await enqueue_send_batch(redis, [batched, batched_too])
    await enqueue_send(redis, orphaned)
    dead = Presence(heartbeat=1, hold_for=70)
    await dead.beat(redis)
    await redis.psetex(in_progress_key_prefix + send_job_id(orphaned), 70_000, b"1")
    await dead.hold(redis, send_job_id(orphaned))
    await redis.delete(ALIVE + dead.worker)  # its heartbeat lapsed: it is gone

    # When the sweeper runs, then a worker
    swept = await sweep_messages({"sessions": sessions, "redis": redis})
    await drain()

    # Then it says what it did, and every message went once
    assert swept == {"requeued": 1, "already_queued": 3, "taken_over": 1, "failed": 0}
    assert set((await statuses(sessions, ids)).values()) == {SmsStatus.SENT}
    assert sorted(Counter(form["To"] for form in twilio.received).values()) == [1] * 5
    assert await sweep_messages({"sessions": sessions, "redis": redis}) == {
        "requeued": 0, "failed": 0}


async def test_a_live_workers_job_is_left_alone(sessions, services, twilio):
    # Given a message two minutes old whose job a live worker holds (waiting for provider slots)
    await sms_on(sessions)
    [message] = await queued(sessions, {"+64211000001": "Held by a live worker."})
    await written_ago(sessions, [message], timedelta(minutes=2))
    redis = services.queue
    await enqueue_send(redis, message)
    alive = Presence(heartbeat=10, hold_for=70)
    await alive.beat(redis)
    await redis.psetex(in_progress_key_prefix + send_job_id(message), 70_000, b"1")
    await alive.hold(redis, send_job_id(message))

    # When
    swept = await sweep_messages({"sessions": sessions, "redis": redis})

    # Then its job stays locked and nothing new is queued for it
    assert swept == {"requeued": 0, "already_queued": 1, "failed": 0}
    assert await redis.exists(in_progress_key_prefix + send_job_id(message))
    assert await redis.zcard(redis.default_queue_name) == 1


async def test_a_batch_whose_worker_was_killed_is_sent_by_another_worker_within_a_minute(
        sessions, twilio, settings, tmp_path):
    # Given a batch of 150 reminders, a Twilio that takes 3 s to answer, and a worker sending
    await sms_on(sessions)
    numbers = [f"+642110{n:05d}" for n in range(150)]
    ids = await queued(sessions, {number: f"Reminder for {number}" for number in numbers})
    twilio.delay = 3.0
    redis_server = EmbeddedRedis().start()
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    quick = {"PROVIDER_CHECK_AFTER_SECONDS": "5"}
    first = second = None
    try:
        await enqueue_send_batch(pool, ids)
        first = WorkerProcess(settings, redis_server.url, twilio.base_url, tmp_path, **quick)

        # When it is killed with its first 50 requests in flight and 100 messages still to claim
        async def first_chunk_in_flight() -> bool:
            return Counter((await statuses(sessions, ids)).values())[SmsStatus.SENDING] == 50

        await eventually(first_chunk_in_flight, 30, "the first chunk claimed")
        await asyncio.sleep(1.5)  # its requests reach Twilio, which answers after 3 s
        first.kill()
        killed = time.monotonic()
        # ... and another worker runs
        second = WorkerProcess(settings, redis_server.url, twilio.base_url, tmp_path, **quick)

        # Then all are settled within a minute of the kill: the 100 sent by the second worker,
        # the 50 in flight found in Twilio's list; none twice
        async def all_settled() -> bool:
            return set((await statuses(sessions, ids)).values()) <= SETTLED

        await eventually(all_settled, 60, "every message settled")
        moved_on = time.monotonic() - killed
        print(f"all 150 settled {moved_on:.1f} s after the kill")
        assert Counter(form["To"] for form in twilio.received) == Counter(numbers)
        output = second.output()
        assert f"its job send_sms_batch:{ids[0]}-{ids[-1]} (150 messages) runs again" in output
        assert "found at the provider and settled 50 messages: 1, 2, 3" in output
        assert "never reached the provider" not in output
    finally:
        for worker in (first, second):
            if worker is not None and worker.running:
                worker.stop()
        await pool.aclose()
        redis_server.stop()
