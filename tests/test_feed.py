"""schema.feed: the reads a burst of status events asks for go together, and a subscriber that
falls behind misses events without holding up the others."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from models.channels import SMS_STATUS_CHANNEL
from models.enums import SmsStatus
from models.status_feed import MessageFacts, StatusEvent
from schema.feed import BACKLOG, BATCH, Batched, Interest, StatusFeed
from tests.worker_process import eventually


class Reads:
    """A read_many that squares its keys and notes each batch it was asked for."""

    def __init__(self, fail: bool = False):
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, keys: list[int], offset: int) -> dict[int, int]:
        self.batches.append(keys)
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("database away")
        return {key: key * key + offset for key in keys if key != 13}


async def test_keys_asked_in_one_turn_are_read_together():
    reads = Reads()
    batched = Batched(reads, 1)

    values = await asyncio.gather(*(batched.load(key) for key in range(1, 11)))

    assert values == [key * key + 1 for key in range(1, 11)]
    assert reads.batches == [list(range(1, 11))]


async def test_a_key_asked_while_a_read_runs_goes_into_the_next_and_a_missing_key_is_none():
    reads = Reads()
    batched = Batched(reads, 0)
    first = batched.load(2)
    await asyncio.sleep(0.005)  # the first read is under way

    second, third = batched.load(3), batched.load(13)

    assert await asyncio.gather(first, second, third) == [4, 9, None]
    assert reads.batches == [[2], [3, 13]]


async def test_a_failed_read_fails_each_of_its_waiters_and_the_next_read_is_tried_again():
    reads = Reads(fail=True)
    batched = Batched(reads, 0)

    outcomes = await asyncio.gather(batched.load(1), batched.load(2),
                                    return_exceptions=True)
    reads.fail = False

    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]
    assert await batched.load(1) == 1


@pytest.mark.parametrize("keys", [BATCH, BATCH + 1, 2 * BATCH + 7])
async def test_no_read_asks_for_more_than_a_batch(keys):
    reads = Reads()
    batched = Batched(reads, 0)

    values = await asyncio.gather(*(batched.load(key) for key in range(keys)))

    assert len(values) == keys
    assert [len(batch) for batch in reads.batches] == (
        [BATCH] * (keys // BATCH) + ([keys % BATCH] if keys % BATCH else []))


async def test_a_subscription_a_full_backlog_behind_misses_events_counted_and_logged_once(
        services, caplog):
    """The feed never waits for a slow subscriber: past BACKLOG waiting events, the next are
    dropped for that subscription alone, each counted, and the operator told once."""
    feed = StatusFeed(services.queue)
    def dropped() -> float:
        return REGISTRY.get_sample_value(
            "timetrak_subscription_events_dropped_total", {"channel": SMS_STATUS_CHANNEL})

    before = dropped()
    try:
        async with feed.subscribed() as slow, feed.subscribed() as other:
            for n in range(BACKLOG + 3):
                feed.hand_on(SMS_STATUS_CHANNEL, StatusEvent(n + 1, SmsStatus.SENT, None))
                other.get_nowait()  # this one keeps up

            assert slow.qsize() == BACKLOG and other.qsize() == 0
            assert dropped() - before == 3
            assert [r.getMessage() for r in caplog.records if "behind" in r.getMessage()] == [
                f"a subscription to {SMS_STATUS_CHANNEL} is {BACKLOG} events behind; it "
                "misses events until it catches up"]
    finally:
        await feed.close()


async def test_a_read_cancelled_half_way_leaves_nobody_waiting():
    reads = Reads()
    batched = Batched(reads, 0)
    first = batched.load(1)
    await asyncio.sleep(0.005)  # the read is under way
    second = batched.load(2)

    batched.runner.cancel()

    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [asyncio.CancelledError] * 2


async def test_a_check_that_fails_hands_the_event_on_and_the_others_still_get_theirs(
        services, caplog):
    feed = StatusFeed(services.queue)

    def broken(event: StatusEvent) -> bool:
        raise KeyError("no such fact")

    try:
        async with feed.subscribed(interest=Interest(accepts=broken)) as confused, \
                feed.subscribed(interest=Interest(accepts=lambda e: False)) as uninterested, \
                feed.subscribed(interest=Interest(appointment_id=7)) as follower:
            feed.hand_on(SMS_STATUS_CHANNEL, StatusEvent(
                1, SmsStatus.SENT, MessageFacts(appointment_ids=frozenset({7}))))

            assert (confused.qsize(), uninterested.qsize(), follower.qsize()) == (1, 0, 1)
            assert "could not check a status event" in caplog.text
    finally:
        await feed.close()


async def test_a_subscription_that_caught_up_is_told_of_again_when_it_falls_behind_again(
        services, caplog):
    feed = StatusFeed(services.queue)
    events = feed.events()
    taken = asyncio.ensure_future(anext(events))
    await eventually(lambda: feed.queues and feed.ready.is_set(), 5, "subscribed")

    def flood() -> None:
        for n in range(BACKLOG + 2):
            feed.hand_on(SMS_STATUS_CHANNEL, StatusEvent(n + 1, SmsStatus.SENT, None))

    def warnings() -> int:
        return sum("events behind" in r.getMessage() for r in caplog.records)

    try:
        flood()
        assert len(await taken) == BACKLOG and warnings() == 1
        taken = asyncio.ensure_future(anext(events))  # pushed them all: caught up
        await eventually(lambda: not feed.behind, 5, "caught up")
        flood()
        assert len(await taken) == BACKLOG and warnings() == 2
    finally:
        await events.aclose()
        await feed.close()
