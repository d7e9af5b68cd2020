"""The send jobs: claim messages, recheck opt-outs, hand them to the provider, record answers.

`send_sms` sends one message (a manual send, or a retry); `send_sms_batch` sends many at once
(a reminder run), so the queue's and the database's cost per job is shared by the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from arq import Retry

from jobs.providers import Refused, Uncertain, Unreachable
from jobs.twilio import REQUEST_TIMEOUT
from models.access import company_sends_sms
from models.channels import SEND_SMS_JOB, send_job_id
from models.columns import utcnow
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.message_status import Claimed, advance, claim, retry_later
from models.metrics import PROVIDER_REQUEST_SECONDS
from models.opt_outs import record_refusal
from models.outages import is_outage
from models.recipients import opted_out_numbers
from models.reminders import SEND_BATCH
from models.sms import SmsMessage
from models.status_feed import announce, message_facts

log = logging.getLogger("timetrak_sms.sms")

MAX_TRIES = 5
# Seconds between tries at recording outcomes while the database is away (SQLite's write lock,
# a restart): doubling from the first, never more than the last, so a database that is back is
# written to within seconds.
RECORD_FIRST_WAIT = 0.25
RECORD_MAX_WAIT = 2.0
# Recording the provider's answer, tried again through a short database outage. A job cut short
# by a longer one leaves its messages SENDING, and the sweeper settles them from the provider's
# list (or their status callbacks do).
RECORD_SECONDS = 20
# Provider requests in flight per worker process, however many jobs run at once.
SEND_CONCURRENCY = 100
# Messages claimed together once they hold their slots; a killed worker leaves at most
# SEND_CONCURRENCY claimed and in flight, whatever the chunk size.
CLAIM_CHUNK = 50
# Job timeouts sized to the work, because arq locks every job a worker starts for the longest
# timeout plus 10 s: a worker killed mid-job would otherwise keep its jobs that long (the
# sweeper releases a dead worker's jobs sooner still, jobs/presence.py).
# What a chunk needs once it holds its slots: the claim, its provider requests, the recording.
CHUNK_SECONDS = 5 + REQUEST_TIMEOUT + RECORD_SECONDS
# One message: its chunk, after a few seconds' wait for a slot.
SEND_TIMEOUT = 5 + CHUNK_SECONDS
# A reminder batch: its chunks, after up to 25 s waiting while other jobs hold the slots.
BATCH_TIMEOUT = 25 + -(-SEND_BATCH // CLAIM_CHUNK) * CHUNK_SECONDS
# Seconds to wait before running again a job that found no slot in time.
SLOTS_BUSY_RETRY = 1.0
OPTED_OUT_REASON = "The recipient has opted out of SMS messages (replied STOP)."
SMS_OFF_REASON = "SMS was switched off for the company before this message was sent."


def unreachable_reason(what: str) -> str:
    return f"The SMS provider {what} on each of {MAX_TRIES} tries."


def backoff(attempt: int, first_seconds: float) -> timedelta:
    """2 s, 4 s, 8 s, 16 s between the five tries by default."""
    return timedelta(seconds=first_seconds * 2 ** (attempt - 1))


@dataclass
class Outcome:
    """What became of one claimed message: a status to record, or a retry to schedule."""

    label: str
    status: SmsStatus | None = None
    values: dict = field(default_factory=dict)
    delivered: bool = False
    retry_in: timedelta | None = None


async def settle(ctx: dict[str, Any], message_id: int, status: SmsStatus, **values) -> bool:
    async with ctx["sessions"].begin() as session:
        changed = await advance(session, message_id, status, **values)
        facts = (await message_facts(session, [message_id])).get(message_id) if changed else None
    if changed:
        await announce(ctx.get("redis"), message_id, status, facts)
    return changed


class SlotsBusy(Exception):
    """The worker's slots stayed taken until the job's deadline: the messages not yet begun
    are left QUEUED for the job's next run; `outcomes` are those of the chunks that went."""

    def __init__(self, outcomes: dict[int, Outcome] | None = None):
        super().__init__()
        self.outcomes = outcomes or {}


class SendSlots:
    """Provider requests a worker may have in flight. A chunk takes its slots before it claims,
    so no message waits as SENDING for a turn it may never get (a killed worker would leave it
    claimed but never tried)."""

    def __init__(self, size: int = SEND_CONCURRENCY):
        self.free = asyncio.Semaphore(size)
        # One taker at a time: two chunks each holding half the slots would wait forever.
        self.taking = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self, count: int, deadline: float | None = None) -> AsyncIterator[None]:
        """Hold `count` slots; SlotsBusy when they are not all free by `deadline` (the loop's
        clock), having taken none."""
        held = 0
        try:
            # Counted as taken: a job cancelled while waiting (arq's timeout) gives back what
            # it holds, or the worker would shrink by those slots for good.
            try:
                async with asyncio.timeout_at(deadline), self.taking:
                    for _ in range(count):
                        await self.free.acquire()
                        held += 1
            except TimeoutError:
                raise SlotsBusy() from None
            yield
        finally:
            for _ in range(held):
                self.free.release()


def send_slots(ctx: dict[str, Any]) -> SendSlots:
    """The worker's slots (jobs.worker.startup); a context of its own gets its own."""
    slots = ctx.get("send_slots")
    if slots is None:
        slots = ctx["send_slots"] = SendSlots()
    return slots


def held_back(message: Claimed, opted_out: set[str], sms_on: bool) -> Outcome | None:
    """A message that must not go, whatever was true when it was queued."""
    if not sms_on:
        return Outcome(
            "sms switched off",
            SmsStatus.FAILED,
            {"error_code": ErrorCode.SMS_DISABLED.value, "error_message": SMS_OFF_REASON},
        )
    if message.to_number in opted_out:
        return Outcome(
            "opted out",
            SmsStatus.FAILED,
            {"error_code": ErrorCode.OPTED_OUT.value, "error_message": OPTED_OUT_REASON},
        )
    return None


async def attempt(ctx: dict[str, Any], message: Claimed, held: Outcome | None) -> Outcome:
    if held is not None:
        return held
    started = time.monotonic()
    outcome = await ask_provider(ctx, message)
    PROVIDER_REQUEST_SECONDS.labels(PROVIDER_OUTCOME[outcome.label]).observe(
        time.monotonic() - started
    )
    return outcome


# What each outcome of a provider request is called in timetrak_sms_provider_request_seconds.
PROVIDER_OUTCOME = {
    "sent": "sent",
    "refused": "refused",
    "unreachable": "unreachable",
    "retry": "unreachable",
    "awaiting callback": "uncertain",
}


async def ask_provider(ctx: dict[str, Any], message: Claimed) -> Outcome:
    try:
        accepted = await ctx["provider"].send(message.id, message.to_number, message.body)
    except Refused as refusal:
        return Outcome(
            "refused",
            SmsStatus.FAILED,
            {"error_code": refusal.code, "error_message": refusal.reason},
        )
    except Uncertain as uncertain:
        # Never resent blindly: the status callback settles it, or the sweeper fails it.
        log.warning(
            "message %d: no answer from the SMS provider (%s); it stays SENDING until its "
            "status callback or the provider's list settles it",
            message.id,
            uncertain,
            extra={"message_id": message.id},
        )
        return Outcome("awaiting callback")
    except Unreachable as unreachable:
        if message.attempts >= MAX_TRIES:
            return Outcome(
                "unreachable",
                SmsStatus.FAILED,
                {
                    "error_code": ErrorCode.PROVIDER_ERROR.value,
                    "error_message": unreachable_reason(str(unreachable)),
                },
            )
        return Outcome("retry", retry_in=backoff(message.attempts, ctx.get("backoff_seconds", 2.0)))
    except Exception:
        # A fault of ours after the request may have left (an answer we could not read): the
        # message may be at the provider, so it is settled as an unanswered one, never resent.
        log.exception("message %d: the send failed unexpectedly; it stays SENDING", message.id)
        return Outcome("awaiting callback")
    return Outcome(
        "sent",
        SmsStatus.SENT,
        {"provider_message_id": accepted.provider_message_id},
        delivered=accepted.delivered,
    )


async def record(
    ctx: dict[str, Any], claimed: list[Claimed], outcomes: list[Outcome]
) -> list[tuple[int, SmsStatus]]:
    """Write what the provider said, trying again while the database is busy or away.

    The messages have left by now: losing this write would leave them SENDING until the sweeper
    settles them from the provider's list, so it is tried for RECORD_SECONDS (the job's timeout
    allows that much). Every change is conditional on the claim it answers, so writing twice
    is harmless, and a write for an older claim changes nothing.
    """
    clock = asyncio.get_running_loop().time
    give_up = clock() + ctx.get("record_seconds", RECORD_SECONDS)
    wait = RECORD_FIRST_WAIT
    while True:
        try:
            return await record_once(ctx, claimed, outcomes)
        except Exception as error:
            if not is_outage(error) or clock() + wait > give_up:
                raise
        await asyncio.sleep(wait)
        wait = min(wait * 2, RECORD_MAX_WAIT)


async def record_once(
    ctx: dict[str, Any], claimed: list[Claimed], outcomes: list[Outcome]
) -> list[tuple[int, SmsStatus]]:
    changes: list[tuple[int, SmsStatus]] = []
    now = utcnow()
    async with ctx["sessions"].begin() as session:
        for message, outcome in zip(claimed, outcomes, strict=True):
            this_claim = (SmsMessage.attempts == message.attempts,)
            if outcome.retry_in is not None:
                await retry_later(session, message.id, now + outcome.retry_in, this_claim)
            if outcome.status is not None and await advance(
                session,
                message.id,
                outcome.status,
                now=now,
                conditions=this_claim,
                **outcome.values,
            ):
                changes.append((message.id, outcome.status))
            if outcome.status is SmsStatus.FAILED:
                code = outcome.values.get("error_code")
                await record_refusal(session, message.to_number, code, now)
            if outcome.delivered and await advance(
                session, message.id, SmsStatus.DELIVERED, now=now, conditions=this_claim
            ):
                changes.append((message.id, SmsStatus.DELIVERED))
    return changes


async def send_messages(
    ctx: dict[str, Any], message_ids: list[int], job_timeout: float
) -> dict[int, Outcome]:
    """Send each message at most once, whatever retries, restarts or second workers do.

    A chunk at a time, each claimed only once it holds provider slots for all its messages, and
    only while the job has the time to finish it (`job_timeout`, as arq enforces it, less what a
    chunk needs): a job cut short by arq mid-request would leave its messages SENDING until the
    sweeper asks the provider about them. Raises SlotsBusy when a chunk could not begin in time.
    """
    deadline = asyncio.get_running_loop().time() + job_timeout - CHUNK_SECONDS
    outcomes: dict[int, Outcome] = {}
    for i in range(0, len(message_ids), CLAIM_CHUNK):
        chunk = message_ids[i : i + CLAIM_CHUNK]
        try:
            async with send_slots(ctx).hold(len(chunk), deadline):
                outcomes |= await send_chunk(ctx, chunk)
        except SlotsBusy:
            raise SlotsBusy(outcomes) from None
    return outcomes


async def send_chunk(ctx: dict[str, Any], message_ids: list[int]) -> dict[int, Outcome]:
    try:
        async with ctx["sessions"].begin() as session:
            claimed = await claim(session, message_ids)
            if not claimed:
                return {}
            opted_out = await opted_out_numbers(session, [m.to_number for m in claimed])
            sms_on = await company_sends_sms(session)
            facts = await message_facts(session, [m.id for m in claimed])
    except Exception as error:
        if not is_outage(error):
            raise
        # Nothing was claimed (the transaction rolled back): the whole job can simply run again.
        raise Retry(defer=timedelta(seconds=ctx.get("backoff_seconds", 1.0))) from None
    redis = ctx.get("redis")
    for message in claimed:
        await announce(redis, message.id, SmsStatus.SENDING, facts.get(message.id))
    outcomes = await asyncio.gather(
        *(attempt(ctx, m, held_back(m, opted_out, sms_on)) for m in claimed)
    )
    changes = await record(ctx, claimed, outcomes)
    for message_id, status in changes:
        await announce(redis, message_id, status, facts.get(message_id))
    return {m.id: o for m, o in zip(claimed, outcomes, strict=True)}


async def send_sms(ctx: dict[str, Any], message_id: int) -> str:
    """One message; a provider that could not be reached is tried again by arq, later."""
    try:
        outcome = (await send_messages(ctx, [message_id], SEND_TIMEOUT)).get(message_id)
    except SlotsBusy:
        raise Retry(defer=timedelta(seconds=SLOTS_BUSY_RETRY)) from None
    if outcome is None:
        return "not ours"
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in)
    return outcome.label


async def send_sms_batch(ctx: dict[str, Any], message_ids: list[int]) -> dict[str, int]:
    """Many messages; each one to retry gets a send job of its own, due when its retry is. A
    batch that runs out of time waiting for slots runs again shortly: its messages already
    sent are not claimed twice, so only those it had not begun go then."""
    try:
        outcomes = await send_messages(ctx, message_ids, BATCH_TIMEOUT)
    except SlotsBusy as busy:
        await retry_one_by_one(ctx, busy.outcomes)
        raise Retry(defer=timedelta(seconds=SLOTS_BUSY_RETRY)) from None
    await retry_one_by_one(ctx, outcomes)
    tally: dict[str, int] = {}
    for outcome in outcomes.values():
        tally[outcome.label] = tally.get(outcome.label, 0) + 1
    return tally


async def retry_one_by_one(ctx: dict[str, Any], outcomes: dict[int, Outcome]) -> None:
    for message_id, outcome in outcomes.items():
        if outcome.retry_in is not None:
            await ctx["redis"].enqueue_job(
                SEND_SMS_JOB,
                message_id,
                _job_id=send_job_id(message_id),
                _defer_by=outcome.retry_in,
            )
