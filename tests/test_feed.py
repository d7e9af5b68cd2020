"""schema.feed: the reads a burst of status events asks for go together, and a subscriber that
falls behind misses events without holding up the others."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from models.channels import SMS_STATUS_CHANNEL
from models.enums import SmsStatus
from models.status_feed import StatusEvent
from schema.feed import BACKLOG, BATCH, Batched, StatusFeed


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
    batched = Batched(reads)

    values = await asyncio.gather(*(batched.load(key, 1) for key in range(1, 11)))

    assert values == [key * key + 1 for key in range(1, 11)]
    assert reads.batches == [list(range(1, 11))]


async def test_a_key_asked_while_a_read_runs_goes_into_the_next_and_a_missing_key_is_none():
    reads = Reads()
    batched = Batched(reads)
    first = batched.load(2, 0)
    await asyncio.sleep(0.005)  # the first read is under way

    second, third = batched.load(3, 0), batched.load(13, 0)

    assert await asyncio.gather(first, second, third) == [4, 9, None]
    assert reads.batches == [[2], [3, 13]]


async def test_a_failed_read_fails_each_of_its_waiters_and_the_next_read_is_tried_again():
    reads = Reads(fail=True)
    batched = Batched(reads)

    outcomes = await asyncio.gather(batched.load(1, 0), batched.load(2, 0),
                                    return_exceptions=True)
    reads.fail = False

    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]
    assert await batched.load(1, 0) == 1


@pytest.mark.parametrize("keys", [BATCH, BATCH + 1, 2 * BATCH + 7])
async def test_no_read_asks_for_more_than_a_batch(keys):
    reads = Reads()
    batched = Batched(reads)

    values = await asyncio.gather(*(batched.load(key, 0) for key in range(keys)))

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
