"""An arq worker that outlives Redis and database outages and says it is alive while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from typing import Any

from arq.connections import create_pool
from arq.worker import Worker
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from jobs.presence import Presence, ms, silence_allowed
from models import log_context
from models.db import create_engine

log = logging.getLogger("timetrak_sms.worker")

# What Redis going away looks like from redis-py: its own errors, refused or reset sockets.
REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)
FIRST_RETRY_SECONDS = 0.25
LONGEST_RETRY_SECONDS = 2.0
DATABASE_PROBE_TIMEOUT = 5.0


class Outage:
    """One dependency's outage as this process sees it: logged once when it begins and once when
    it ends, with how long it lasted; tries again after 0.25 s, doubling up to 2 s."""

    def __init__(self, name: str):
        self.name = name
        self.began: float | None = None
        self.tries = 0

    @property
    def ongoing(self) -> bool:
        return self.began is not None

    def failed(self, error: BaseException) -> float:
        """Seconds to wait before trying again."""
        if self.began is None:
            self.began = time.monotonic()
            log.warning(
                "%s unavailable (%s); trying again until it is back", self.name, describe(error)
            )
        self.tries += 1
        return min(FIRST_RETRY_SECONDS * 2 ** (self.tries - 1), LONGEST_RETRY_SECONDS)

    def over(self) -> bool:
        """True when this success ends an outage."""
        if self.began is None:
            return False
        log.warning("%s back after %.1f s", self.name, time.monotonic() - self.began)
        self.began, self.tries = None, 0
        return True


def describe(error: BaseException) -> str:
    """The error's kind and the first line of what it says (SQLAlchemy adds a few)."""
    said = str(error).strip().splitlines()
    return f"{type(error).__name__}: {said[0]}" if said else type(error).__name__


class SteadyWorker(Worker):
    """arq's Worker, made to keep running through outages; it exits only on a signal.

    A subclass rather than a loop around `main()` that makes a new pool: arq's `main()` runs
    `on_startup` again each time, and a new pool would leave the jobs still running with the old
    one; redis-py's pool reconnects by itself on the next command once Redis answers again. So
    only the steps that talk to Redis outside a job are wrapped: making the pool at start (arq
    gives up after five tries), each poll iteration (arq lets a ConnectionError end the worker),
    and closing. While the database is away it picks up no jobs, which would only fail; the
    ones it holds carry on and retry as they do.

    It also stamps arq's health check key with the time (for /readyz) and keeps its presence
    (jobs/presence.py) so the sweeper can hand a dead worker's jobs to a live one.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.redis_outage = Outage("Redis")
        self.database_outage = Outage("database")
        self.presence = Presence(self.health_check_interval, self.in_progress_timeout_s)
        self._startup, self._shutdown = self.on_startup, self.on_shutdown
        self.on_startup, self.on_shutdown = self._start_once, None
        self._started = False
        self._watcher: asyncio.Task | None = None

    async def main(self) -> None:
        while True:
            await self._connect()
            try:
                await super().main()
                return
            except REDIS_DOWN as error:
                # Only before the poll loop (or in burst mode): the loop itself rides it out.
                await asyncio.sleep(self.redis_outage.failed(error))

    async def _connect(self) -> None:
        if self._pool is not None or self.redis_settings is None:
            return
        settings = dataclasses.replace(self.redis_settings, conn_retries=0)
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    settings,
                    job_serializer=self.job_serializer,
                    job_deserializer=self.job_deserializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except REDIS_DOWN as error:
                await asyncio.sleep(self.redis_outage.failed(error))

    async def _start_once(self, ctx: dict[str, Any]) -> None:
        if self._started:
            return
        if self._startup is not None:
            await self._startup(ctx)
        self._started = True
        settings = ctx.get("settings")
        if settings is not None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch_database(settings.database_url)
            )

    async def _poll_iteration(self) -> None:
        self._forget_jobs_cut_short()
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as error:
            await asyncio.sleep(self.redis_outage.failed(error))
            return
        if self.redis_outage.over():
            # Redis may be a new, empty one: say at the next beat that this worker is here.
            self._last_health_check = 0

    def _forget_jobs_cut_short(self) -> None:
        """Drop the jobs that ended in a Redis error (arq could not mark them finished).

        arq re-raises one such error per poll iteration; after an outage that would hold the
        worker up for as many back-off steps as jobs were running when Redis went."""
        for job_id, task in list(self.tasks.items()):
            if task.done() and not task.cancelled() and isinstance(task.exception(), REDIS_DOWN):
                del self.tasks[job_id]

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            if self.job_counter >= self.max_jobs:
                return
            try:
                await super().start_jobs([job_id])
            except REDIS_DOWN:
                # arq counted the job before asking Redis about it; without this the place
                # would be lost for good, and after enough outages the worker would take none.
                self._release_sem_dec_counter_on_complete()
                raise

    async def run_job(self, job_id: str, score: int) -> None:
        # Every line the job causes, arq's own included, carries its id (a task of its own).
        log_context.job_id.set(job_id)
        held = False
        with contextlib.suppress(*REDIS_DOWN):
            await self.presence.hold(self.pool, job_id)
            held = True
        try:
            await super().run_job(job_id, score)
        finally:
            if held:
                with contextlib.suppress(*REDIS_DOWN):
                    await self.presence.let_go(self.pool, job_id)

    async def record_health(self) -> None:
        """arq's health check, stamped with the time it was written, and lasting two beats (a
        beat late is not "no worker"); the worker's presence is renewed with it."""
        now = time.time()
        if now - self._last_health_check < self.health_check_interval:
            return
        self._last_health_check = now
        ongoing = sum(not t.done() for t in self.tasks.values())
        queued = await self.pool.zcard(self.queue_name)
        info = (
            f"{now:.3f} j_complete={self.jobs_complete} j_failed={self.jobs_failed} "
            f"j_retried={self.jobs_retried} j_ongoing={ongoing} queued={queued}"
        )
        await self.pool.psetex(
            self.health_check_key, ms(silence_allowed(self.health_check_interval)), info.encode()
        )
        await self.presence.beat(self.pool)

    async def _watch_database(self, url: str) -> None:
        """SELECT 1 on a connection of its own each beat (the jobs' pool may be busy, which is
        not an outage), and every back-off step while the database is away."""
        engine = create_engine(url, poolclass=NullPool)
        try:
            while True:
                try:
                    async with asyncio.timeout(DATABASE_PROBE_TIMEOUT):
                        async with engine.connect() as connection:
                            await connection.execute(text("SELECT 1"))
                except Exception as error:
                    self.allow_pick_jobs = False
                    wait = self.database_outage.failed(error)
                else:
                    if self.database_outage.over():
                        self.allow_pick_jobs = True
                    wait = self.health_check_interval
                await asyncio.sleep(wait)
        finally:
            await engine.dispose()

    async def close(self) -> None:
        """arq's close, except that Redis may be away, and that the health check key is left to
        expire: other workers may still be running."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if self._pool is None:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_DOWN):
            await self.presence.leave(self.pool)
        if self._started and self._shutdown is not None:
            await self._shutdown(self.ctx)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.close(close_connection_pool=True)
        self._pool = None
