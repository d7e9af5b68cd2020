"""Four times a minute: move on what a lost job or a dead worker left behind, and settle what the
provider never answered for (jobs/unanswered.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arq.constants import result_key_prefix
from arq.jobs import Job, JobStatus
from sqlalchemy import and_, or_
from sqlmodel import col, select

from jobs.presence import release_dead_workers_jobs
from jobs.twilio import REQUEST_TIMEOUT
from jobs.unanswered import UNKNOWN_OUTCOME, settle_unanswered
from models.channels import (
    SEND_SMS_BATCH_JOB,
    SEND_SMS_JOB,
    batch_bounds,
    enqueue_send,
    send_job_id,
)
from models.columns import utcnow
from models.enums import SmsStatus
from models.message_status import claimable
from models.sms import SmsMessage

__all__ = ["UNKNOWN_OUTCOME", "sweep_messages", "unsettled_after"]

log = logging.getLogger("timetrak_sms.sweep")

UNSETTLED_AFTER = timedelta(minutes=15)  # unless Settings.unsettled_after_seconds says otherwise
# A request leaves right after its claim and gives up after REQUEST_TIMEOUT; a margin for clocks.
IN_FLIGHT_AT_MOST = timedelta(seconds=REQUEST_TIMEOUT + 5)
ASK_AFTER = timedelta(minutes=1)  # unless Settings.provider_check_after_seconds says otherwise
LOST_AFTER = timedelta(minutes=1)
MOST_LOST_PER_SWEEP = 10_000


@dataclass
class Sweep:
    """What one sweep did, message by message."""

    requeued: int = 0  # no job would send it: enqueued anew
    already_queued: int = 0  # a job that will send it is waiting or running
    taken_over: int = 0  # its job was a dead worker's: unlocked to run again at once
    settled: int = 0  # unanswered, found in the provider's list
    resent: int = 0  # unanswered, not in the provider's list: claimable again
    failed: int = 0  # unanswered, the provider could not be asked: outcome unknown

    def result(self) -> dict[str, int]:
        """requeued and failed always (what the sweeper has always reported); the rest when
        any."""
        counts = {
            "requeued": self.requeued,
            "already_queued": self.already_queued,
            "taken_over": self.taken_over,
            "settled": self.settled,
            "resent": self.resent,
            "failed": self.failed,
        }
        return {k: n for k, n in counts.items() if n or k in ("requeued", "failed")}


def unsettled_after(ctx: dict[str, Any]) -> timedelta:
    seconds = getattr(ctx.get("settings"), "unsettled_after_seconds", None)
    return timedelta(seconds=seconds) if seconds else UNSETTLED_AFTER


def ask_after(ctx: dict[str, Any]) -> timedelta:
    """Never sooner than a request may still be on its way: asked while it is in flight, the
    provider would not list the message yet, and it would be sent twice."""
    seconds = getattr(ctx.get("settings"), "provider_check_after_seconds", None)
    return max(timedelta(seconds=seconds) if seconds else ASK_AFTER, IN_FLIGHT_AT_MOST)


async def sweep_messages(ctx: dict[str, Any]) -> dict[str, int]:
    now = utcnow()
    sweep = Sweep()
    covered = await take_over(ctx, sweep, now)
    await requeue_lost(ctx, sweep, now, covered)
    done, again = await settle_unanswered(ctx, now, ask_after(ctx), unsettled_after(ctx))
    sweep.settled, sweep.resent, sweep.failed = done["settled"], done["resent"], done["failed"]
    for message_id in again:
        await requeue(ctx["redis"], message_id)
    result = sweep.result()
    if any(result.values()):
        log.info("sweep: %s", ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in result.items()))
    return result


async def take_over(ctx: dict[str, Any], sweep: Sweep, now: datetime) -> set[int]:
    """Unlock the jobs of workers that stopped beating; the messages those jobs cover."""
    redis = ctx["redis"]
    covered: set[int] = set()
    for worker, job_ids in (await release_dead_workers_jobs(redis)).items():
        for job_id in job_ids:
            messages = await job_messages(redis, job_id)
            covered |= set(messages)
            log.warning(
                "worker %s is gone; its job %s (%d messages) runs again",
                worker,
                job_id,
                len(messages),
            )
    if covered:
        async with ctx["sessions"]() as session:
            sweep.taken_over = len(
                (
                    await session.exec(
                        select(SmsMessage.id).where(col(SmsMessage.id).in_(covered), claimable(now))
                    )
                ).all()
            )
    return covered


async def requeue_lost(ctx: dict[str, Any], sweep: Sweep, now: datetime, covered: set[int]) -> None:
    """Messages waiting over a minute: counted when a job will send them, else enqueued."""
    async with ctx["sessions"]() as session:
        lost = (
            await session.exec(
                select(SmsMessage.id)
                .where(
                    or_(
                        and_(
                            SmsMessage.status == SmsStatus.QUEUED,
                            col(SmsMessage.created_at) < now - LOST_AFTER,
                        ),
                        and_(
                            SmsMessage.status == SmsStatus.SENDING,
                            col(SmsMessage.retry_at).is_not(None),
                            col(SmsMessage.retry_at) < now - LOST_AFTER,
                        ),
                    )
                )
                .limit(MOST_LOST_PER_SWEEP)
            )
        ).all()
    lost = [m for m in lost if m not in covered]
    if not lost:
        return
    waiting = await WaitingJobs.read(ctx["redis"])
    for message_id in lost:
        if await waiting.cover(message_id) or not await requeue(ctx["redis"], message_id):
            sweep.already_queued += 1
        else:
            sweep.requeued += 1


@dataclass
class WaitingJobs:
    """The send jobs in arq's queue (waiting, deferred or running), read once per sweep."""

    redis: Any
    singles: set[str]
    batches: list[tuple[int, int, str]]
    members: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    async def read(cls, redis: Any) -> WaitingJobs:
        ids = [
            j.decode() if isinstance(j, bytes) else j
            for j in await redis.zrange(redis.default_queue_name, 0, -1)
        ]
        batches = [(*bounds, j) for j in ids if (bounds := batch_bounds(j)) is not None]
        return cls(redis, set(ids), batches)

    async def cover(self, message_id: int) -> bool:
        if send_job_id(message_id) in self.singles:
            return True
        for first, last, job_id in self.batches:
            if first <= message_id <= last:
                if job_id not in self.members:
                    self.members[job_id] = set(await job_messages(self.redis, job_id))
                if message_id in self.members[job_id]:
                    return True
        return False


async def job_messages(redis: Any, job_id: str) -> list[int]:
    """The messages a send job (one or a batch) was given; none for other jobs."""
    try:
        info = await Job(job_id, redis).info()
    except Exception:  # unreadable or gone: nothing to say about it
        return []
    if info is None or not info.args:
        return []
    if info.function == SEND_SMS_JOB:
        return [int(info.args[0])]
    if info.function == SEND_SMS_BATCH_JOB:
        return [int(m) for m in info.args[0]]
    return []


async def requeue(redis: Any, message_id: int) -> bool:
    """Enqueue the send again, also when an earlier job for it ended without sending; False when
    a job for it is still waiting.

    arq keeps a failed job's result for an hour and ignores a new job with the same id
    meanwhile, so a job that failed before its claim (the database was down) would otherwise
    leave the message waiting that long.
    """
    job_id = send_job_id(message_id)
    if await Job(job_id, redis).status() is JobStatus.complete:
        await redis.delete(result_key_prefix + job_id)
    return await enqueue_send(redis, message_id)
