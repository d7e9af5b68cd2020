"""One Redis subscription per process, to status changes and replies, fanned out to every live
GraphQL subscription; each user's live subscriptions hold seats (schema.subscription_seats), so
there is a limit to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.channels import SMS_REPLY_CHANNEL, SMS_STATUS_CHANNEL
from models.enums import SmsStatus
from models.replies import decode_reply_event
from models.status_feed import StatusEvent, decode_event
from schema.subscription_seats import SubscriptionSeats

log = logging.getLogger(__name__)
BACKLOG = 1000
# Events whose rows are kept for the subscriptions still pushing them (SharedReads).
SHARED_READS = 1024
T = TypeVar("T")
# What each channel's messages decode to: a StatusEvent, or a reply's id; None is skipped.
DECODERS = {SMS_STATUS_CHANNEL: decode_event, SMS_REPLY_CHANNEL: decode_reply_event}


@dataclass(frozen=True)
class Heard(Generic[T]):
    """An event as this process heard it. `number` counts the events heard, so what is read
    for one is shared by all its subscribers and never taken for another's (SharedReads)."""

    number: int
    event: T


class SharedReads:
    """What an event's push reads from the database, read once per process however many
    subscriptions push it: without it, each of N subscribers would make its own read of the
    same row, and a process with many subscribers falls behind the events. The last
    SHARED_READS events' reads are kept; a subscription further behind reads for itself."""

    def __init__(self, size: int = SHARED_READS):
        self.size = size
        self.reads: OrderedDict[int, asyncio.Future] = OrderedDict()

    async def get(self, heard: Heard, read: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`read(*args)`'s answer, read once for the event `heard`."""
        key = heard.number
        future = self.reads.get(key)
        if future is None:
            future = self.reads[key] = asyncio.ensure_future(read(*args))
            # A failed read (the database away) is not kept: the next push tries again.
            future.add_done_callback(lambda done: self._forget_failed(key, done))
            while len(self.reads) > self.size:
                self.reads.popitem(last=False)
        # Shielded: one subscription going away must not cancel the read the others await.
        return await asyncio.shield(future)

    def _forget_failed(self, key: int, done: asyncio.Future) -> None:
        if (done.cancelled() or done.exception() is not None) and self.reads.get(key) is done:
            del self.reads[key]


class StatusFeed:
    def __init__(self, redis: Any):
        self.redis = redis
        self.shared = SharedReads()
        self.heard = 0
        self.listeners: dict[str, set[asyncio.Queue]] = {channel: set() for channel in DECODERS}
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.seats = SubscriptionSeats(redis)

    @property
    def queues(self) -> set[asyncio.Queue]:
        """Every live subscription's queue, of either channel."""
        return set().union(*self.listeners.values())

    async def events(self, user_id: int | None = None) -> AsyncIterator[Heard[StatusEvent]]:
        """Each status event published from now on, by any process; with `user_id`, while
        holding one of that user's seats (refused with a coded error when none is free)."""
        async for event in self._heard(SMS_STATUS_CHANNEL, user_id):
            yield event

    async def replies(self, user_id: int) -> AsyncIterator[Heard[int]]:
        """The id of each reply stored from now on, by any process, while holding one of the
        user's seats."""
        async for reply_id in self._heard(SMS_REPLY_CHANNEL, user_id):
            yield reply_id

    async def _heard(self, channel: str, user_id: int | None) -> AsyncIterator[Heard]:
        async with contextlib.AsyncExitStack() as stack:
            if user_id is not None:
                await stack.enter_async_context(self.seats.seat(user_id))
            queue = await stack.enter_async_context(self.subscribed(channel))
            while True:
                yield await queue.get()

    async def listen(self) -> AsyncIterator[tuple[int, SmsStatus]]:
        """Each (message id, status) published from now on, by any process."""
        async with self.subscribed() as queue:
            while True:
                event = (await queue.get()).event
                yield event.message_id, event.status

    @contextlib.asynccontextmanager
    async def subscribed(self, channel: str = SMS_STATUS_CHANNEL) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=BACKLOG)
        self.listeners[channel].add(queue)
        try:
            self.start()
            await self.ready.wait()
            yield queue
        finally:
            self.listeners[channel].discard(queue)

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        while True:
            try:
                await self.relay()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis restarted or the connection dropped: subscribe again shortly.
                log.warning("status feed lost its Redis subscription; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def relay(self) -> None:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(*DECODERS)
            self.ready.set()
            async for item in pubsub.listen():
                if item.get("type") != "message":
                    continue
                channel = item["channel"]
                channel = channel.decode() if isinstance(channel, bytes) else channel
                decoder = DECODERS.get(channel)
                event = decoder(item["data"]) if decoder is not None else None
                if event is None:
                    continue
                self.heard += 1
                heard = Heard(self.heard, event)
                for queue in list(self.listeners[channel]):
                    with contextlib.suppress(asyncio.QueueFull):
                        queue.put_nowait(heard)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        await self.seats.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
