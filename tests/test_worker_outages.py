"""The worker outlives its dependencies: Redis killed and restarted, the database away for a
while; it logs each outage once, with how long it lasted, and sends again within seconds.
/readyz says whether a worker is running."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import Counter

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings

import migrations
from api.app import Services, create_app
from api.embedded_redis import EmbeddedRedis
from jobs.presence import worker_last_seen
from jobs.worker import build_worker
from models.channels import enqueue_send
from models.db import create_engine, session_factory
from models.enums import SmsStatus
from tests.worker_process import WorkerProcess, eventually, queued, sms_on, statuses

MERE, HEMI = "+64215550111", "+64215550122"


@pytest.fixture
def redis_server():
    """A Redis of this test's own, on a port it keeps when restarted."""
    server = EmbeddedRedis().start()
    yield server
    server.stop()


def bodies(twilio) -> Counter:
    return Counter(form["Body"] for form in twilio.received)


async def enqueue(url: str, message_id: int) -> None:
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        await enqueue_send(pool, message_id)
    finally:
        await pool.aclose()


async def test_the_worker_process_outlives_a_redis_restart_and_sends_what_comes_after(
        sessions, twilio, settings, redis_server, tmp_path):
    # Given a worker sending through our own Redis
    await sms_on(sessions)
    worker = WorkerProcess(settings, redis_server.url, twilio.base_url, tmp_path)
    try:
        [before] = await queued(sessions, {MERE: "Sent before Redis went."})
        await enqueue(redis_server.url, before)
        await eventually(lambda: bodies(twilio)["Sent before Redis went."] == 1, 30,
                         "the first message sent")

        # When Redis is killed, stays away a while, and comes back empty at the same address
        port = redis_server.port
        redis_server.stop()
        await asyncio.sleep(4)
        alive_during_outage = worker.running
        redis_server = EmbeddedRedis(port=port).start()
        back = time.monotonic()
        [after] = await queued(sessions, {HEMI: "Queued after Redis came back."})
        await enqueue(redis_server.url, after)
        await eventually(lambda: bodies(twilio)["Queued after Redis came back."] == 1, 30,
                         "the message queued after Redis came back sent")
        resumed = time.monotonic() - back
        print(f"sending resumed {resumed:.1f} s after Redis came back")

        # Then it never stopped, sent each message once and logged the outage once
        assert alive_during_outage and worker.running, worker.output()
        assert resumed < 15
        assert bodies(twilio) == Counter({"Sent before Redis went.": 1,
                                          "Queued after Redis came back.": 1})
        assert await statuses(sessions, [before, after]) == {before: SmsStatus.SENT,
                                                             after: SmsStatus.SENT}
        output = worker.output()
        assert output.count("Redis unavailable") == 1, output
        assert output.count("Redis back after") == 1, output
    finally:
        # And a signal still stops it, cleanly
        assert worker.stop() == 0, worker.output()
        redis_server.stop()


async def test_a_worker_started_while_redis_is_away_waits_for_it(
        sessions, twilio, settings, redis_server, tmp_path):
    # Given Redis is away when the worker starts
    await sms_on(sessions)
    port = redis_server.port
    redis_server.stop()
    worker = WorkerProcess(settings, f"redis://127.0.0.1:{port}/0", twilio.base_url, tmp_path)
    try:
        await asyncio.sleep(8)  # arq alone gives up after five tries a second apart
        assert worker.running, worker.output()

        # When it comes
        redis_server = EmbeddedRedis(port=port).start()
        [message] = await queued(sessions, {MERE: "Queued once Redis was there."})
        await enqueue(redis_server.url, message)

        # Then the worker sends
        await eventually(lambda: bodies(twilio)["Queued once Redis was there."] == 1, 30,
                         "the message sent")
        assert worker.output().count("Redis unavailable") == 1, worker.output()
    finally:
        assert worker.stop() == 0, worker.output()
        redis_server.stop()


async def test_jobs_cut_short_by_a_redis_outage_do_not_hold_up_its_end(
        sessions, twilio, twilio_settings, redis_server):
    # Given 20 sends in flight to a Twilio that takes 2 s to answer
    await sms_on(sessions)
    settings = twilio_settings.model_copy(update={"redis_url": redis_server.url,
                                                  "worker_heartbeat_seconds": 1})
    worker = build_worker(settings, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    twilio.delay = 2.0
    ids = await queued(sessions, {f"+6421100{n:04d}": f"In flight #{n}." for n in range(20)})
    try:
        for message_id in ids:
            await enqueue(redis_server.url, message_id)

        async def in_flight() -> bool:
            return set((await statuses(sessions, ids)).values()) == {SmsStatus.SENDING}

        await eventually(in_flight, 20, "all 20 in flight")

        # When Redis goes away while they finish (arq cannot mark them done), and comes back
        port = redis_server.port
        redis_server.stop()
        await asyncio.sleep(4)
        redis_server = EmbeddedRedis(port=port).start()
        pool = await create_pool(RedisSettings.from_dsn(redis_server.url))

        async def seen() -> bool:
            return await worker_last_seen(pool) is not None

        # Then the worker is back at its heartbeat within seconds, not after a back-off step for
        # each such job, and the sends it made were recorded
        back = await eventually(seen, 30, "the worker seen again")
        await pool.aclose()
        assert back < 5, back
        assert set((await statuses(sessions, ids)).values()) == {SmsStatus.SENT}
    finally:
        await worker.close()
        running.cancel()
        redis_server.stop()


async def test_the_worker_picks_nothing_while_the_database_is_away_and_resumes_after(
        twilio_settings, twilio, redis_server, tmp_path, caplog):
    # Given a worker on a SQLite database of its own (its folder can be taken away)
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'service.db'}"
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    await sms_on(sessions)
    await engine.dispose()
    settings = twilio_settings.model_copy(update={
        "database_url": url, "redis_url": redis_server.url, "worker_heartbeat_seconds": 0.5})
    worker = build_worker(settings, handle_signals=False)
    running = asyncio.create_task(worker.async_run())
    caplog.set_level(logging.WARNING, logger="timetrak_sms.worker")
    try:
        await eventually(lambda: worker.jobs_complete >= 1, 20, "the worker's first sweep")

        # When the database goes away, and a message is queued meanwhile
        folder.rename(tmp_path / "away")
        await eventually(lambda: "database unavailable" in caplog.text, 10, "outage noticed")
        moved = create_engine(f"sqlite:///{tmp_path / 'away' / 'service.db'}")
        text = "Queued while the database was away."
        [message] = await queued(session_factory(moved), {MERE: text})
        await moved.dispose()
        await enqueue(redis_server.url, message)
        await asyncio.sleep(2)
        untouched = not twilio.received

        # ... and comes back
        (tmp_path / "away").rename(folder)
        back = time.monotonic()
        await eventually(lambda: len(twilio.received) == 1, 20, "the message sent")
        resumed = time.monotonic() - back

        # Then nothing was tried meanwhile, it resumed within seconds, and said so once each
        assert untouched
        assert resumed < 10
        assert not running.done()
        assert caplog.text.count("database unavailable") == 1, caplog.text
        assert caplog.text.count("database back after") == 1, caplog.text
    finally:
        await worker.close()
        running.cancel()


async def test_the_embedded_worker_outlives_a_redis_restart(
        sessions, twilio, twilio_settings, redis_server):
    # Given the API running its own worker (EMBEDDED_WORKER), as `timetrak-sms serve` does
    await sms_on(sessions)
    settings = twilio_settings.model_copy(update={
        "redis_url": redis_server.url, "embedded_worker": True, "worker_heartbeat_seconds": 1})
    app = create_app(settings)
    threshold = gc.get_threshold()
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(ready, 20, "the API and its worker ready")

            # When Redis is killed, and comes back empty after a while
            port = redis_server.port
            redis_server.stop()
            await asyncio.sleep(3)
            during = (await http.get("/readyz")).json()
            redis_server = EmbeddedRedis(port=port).start()
            [message] = await queued(sessions, {MERE: "Sent by the embedded worker."})
            await enqueue(redis_server.url, message)

            # Then the embedded worker sends again, and the API is ready again
            await eventually(lambda: bodies(twilio)["Sent by the embedded worker."] == 1, 30,
                             "the message sent")
            await eventually(ready, 10, "ready again")
            assert during["redis"] is False and during["status"] == "unavailable"
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        redis_server.stop()


async def test_readyz_says_whether_a_worker_is_running(services, twilio_settings, redis_server):
    # Given an API on our own Redis, and no worker
    settings = twilio_settings.model_copy(update={"redis_url": redis_server.url,
                                                  "worker_heartbeat_seconds": 1})
    pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
    app = create_app(services=Services(settings, services.engine, services.sessions, pool))

    async def readyz() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            return await http.get("/readyz")

    try:
        # When no worker has run
        missing = await readyz()

        # Then the API is not ready, and says why
        assert missing.status_code == 503
        assert missing.json() == {"status": "unavailable", "database": True, "redis": True,
                                  "worker": "not seen"}

        # When a worker runs
        worker = build_worker(settings, handle_signals=False)
        running = asyncio.create_task(worker.async_run())
        await eventually(lambda: worker.jobs_complete >= 1, 20, "the worker running")
        present = await readyz()

        # Then it is ready
        assert present.status_code == 200
        assert present.json() | {"worker": "?"} == {"status": "ready", "database": True,
                                                    "redis": True, "worker": "?"}
        assert present.json()["worker"] in ("seen 0 s ago", "seen 1 s ago")

        # When the worker stops, and two heartbeats and a second pass
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, 10)
        gone = await eventually(lambda: _worker_missing(readyz), 10, "the worker missed")

        # Then it is not ready again
        assert 1 < gone
        assert (await readyz()).json()["worker"] == "not seen"

        # And with Redis away the worker is unknown, not missing
        redis_server.stop()
        down = await readyz()
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "database": True, "redis": False,
                               "worker": "unknown (Redis unavailable)"}
    finally:
        await pool.aclose()


async def _worker_missing(readyz) -> bool:
    return (await readyz()).status_code == 503
