"""Which workers are alive and which jobs each holds, so a dead worker's jobs move on at once.

arq locks a job it starts (its in-progress key) for as long as the longest job may take, and
more; a worker killed mid-job leaves that lock to expire. So each worker says it is alive every
heartbeat and notes the jobs it holds. The sweeper releases the locks of a worker that has
stopped saying so, and the jobs run again on a live worker; the claim in the database still
decides which messages are sent, so a job released in error sends nothing twice.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from arq.constants import in_progress_key_prefix

from models.channels import WORKER_HEALTH_KEY

WORKERS = "timetrak-sms:workers"
ALIVE = "timetrak-sms:worker-alive:"
HOLDS = "timetrak-sms:worker-holds:"


def silence_allowed(heartbeat: float) -> float:
    """Seconds after its last heartbeat a worker still counts as alive: two beats and a second."""
    return 2 * heartbeat + 1


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Presence:
    """One worker's side: it is alive, and which jobs it holds."""

    heartbeat: float
    # How long a held job's lock can last (arq's in-progress timeout): the note lasts as long.
    hold_for: float
    worker: str = field(default_factory=new_worker_id)

    async def beat(self, redis: Any) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.sadd(WORKERS, self.worker)
            pipe.psetex(ALIVE + self.worker, ms(silence_allowed(self.heartbeat)), b"1")
            pipe.pexpire(HOLDS + self.worker, ms(self.hold_for))
            await pipe.execute()

    async def hold(self, redis: Any, job_id: str) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hset(HOLDS + self.worker, job_id, str(time.time()))
            pipe.pexpire(HOLDS + self.worker, ms(self.hold_for))
            await pipe.execute()

    async def let_go(self, redis: Any, job_id: str) -> None:
        await redis.hdel(HOLDS + self.worker, job_id)

    async def leave(self, redis: Any) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.delete(ALIVE + self.worker, HOLDS + self.worker)
            pipe.srem(WORKERS, self.worker)
            await pipe.execute()


async def release_dead_workers_jobs(redis: Any) -> dict[str, list[str]]:
    """Unlock every job a dead worker held; {dead worker: [job ids unlocked]}."""
    released: dict[str, list[str]] = {}
    for raw in await redis.smembers(WORKERS):
        worker = raw.decode() if isinstance(raw, bytes) else raw
        if await redis.exists(ALIVE + worker):
            continue
        held = [
            j.decode() if isinstance(j, bytes) else j for j in await redis.hkeys(HOLDS + worker)
        ]
        unlocked = []
        for job_id in held:
            if await redis.delete(in_progress_key_prefix + job_id):
                unlocked.append(job_id)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.delete(HOLDS + worker)
            pipe.srem(WORKERS, worker)
            await pipe.execute()
        released[worker] = unlocked
    return released


async def worker_last_seen(redis: Any) -> float | None:
    """Seconds since any worker last wrote the health check key; None when none has lately."""
    value = await redis.get(WORKER_HEALTH_KEY)
    if value is None:
        return None
    written, _, _ = (value.decode() if isinstance(value, bytes) else value).partition(" ")
    try:
        return max(0.0, time.time() - float(written))
    except ValueError:
        return 0.0  # written by a worker that does not stamp it: there, so lately


def ms(seconds: float) -> int:
    return int(seconds * 1000)
