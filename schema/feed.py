"""One Redis subscription per process, to status changes and replies, fanned out to the live
GraphQL subscriptions they are for; each user's live subscriptions hold seats
(schema.subscription_seats), so there is a limit to them.

A status event is handed only to the subscriptions its facts say it is for (Interest): those
following one of its appointments, found by the appointment's id, and those whose check of the
facts passes. With a thousand subscriptions in a process, an event about one appointment wakes
one of them, not a thousand."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.channels import SMS_REPLY_CHANNEL, SMS_STATUS_CHANNEL
from models.enums import SmsStatus
from models.metrics import PUSHES_DROPPED
from models.replies import decode_reply_event
from models.status_feed import StatusEvent, decode_event
from schema.subscription_seats import SubscriptionSeats

log = logging.getLogger(__name__)
BACKLOG = 1000
# Events whose rows are kept for the subscriptions still pushing them (SharedReads).
SHARED_READS = 1024
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
# The most keys one batched read asks for (Batched).
BATCH = 500
# What each channel's messages decode to: a StatusEvent, or a reply's id; None is skipped.
DECODERS = {SMS_STATUS_CHANNEL: decode_event, SMS_REPLY_CHANNEL: decode_reply_event}


@dataclass(frozen=True)
class Interest:
    """Which status events a subscription is for, decided from their facts as they are heard.

    `appointment_id`: the events about that appointment. Otherwise `accepts(event)`, which may
    rely on the event having facts. Events without facts (an older publisher) go to every
    subscription, which looks the message up and decides for itself."""

    appointment_id: int | None = None
    accepts: Callable[[StatusEvent], bool] | None = None


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
        # Shielded: one subscription going away must not cancel the read the others await.
        return await asyncio.shield(self.start(heard, read, *args))

    def start(self, heard: Heard, read: Callable[..., Awaitable[T]], *args: Any) -> asyncio.Future:
        """The read for the event `heard`, started now unless it already is; await it
        shielded (get)."""
        key = heard.number
        future = self.reads.get(key)
        if future is None:
            future = self.reads[key] = asyncio.ensure_future(read(*args))
            # A failed read (the database away) is not kept: the next push tries again.
            future.add_done_callback(lambda done: self._forget_failed(key, done))
            while len(self.reads) > self.size:
                self.reads.popitem(last=False)
        return future

    def _forget_failed(self, key: int, done: asyncio.Future) -> None:
        if (done.cancelled() or done.exception() is not None) and self.reads.get(key) is done:
            del self.reads[key]


class Batched(Generic[K, V]):
    """Reads asked for while one runs go together into the next, up to BATCH keys a statement:
    under a burst of events, a process reads the rows of many in one session and statement
    instead of a session each."""

    def __init__(self, read_many: Callable[..., Awaitable[dict[K, V]]], *args: Any):
        self.read_many = read_many
        self.args = args
        self.pending: dict[K, asyncio.Future] = {}
        self.runner: asyncio.Task | None = None

    def load(self, key: K) -> asyncio.Future:
        """The value for `key` (None when there is none)."""
        future = self.pending.get(key)
        if future is None:
            future = self.pending[key] = asyncio.get_running_loop().create_future()
        if self.runner is None or self.runner.done():
            self.runner = asyncio.get_running_loop().create_task(self._run())
        return future

    async def _run(self) -> None:
        batch: dict[K, asyncio.Future] = {}
        try:
            while self.pending:
                await asyncio.sleep(0)  # the rest of this burst asks first
                keys = list(itertools.islice(self.pending, BATCH))
                batch = {key: self.pending.pop(key) for key in keys}
                try:
                    found = await self.read_many(keys, *self.args)
                except Exception as error:  # each waiting push sees the failure
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(error)
                    continue
                for key, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            # Cancelled (the process stopping): nobody waits for ever.
            for future in [*batch.values(), *self.pending.values()]:
                if not future.done():
                    future.cancel()


def wanted(accepts: Callable[[StatusEvent], bool], event: StatusEvent) -> bool:
    """A subscription's check of an event; one that fails is handed the event, to decide
    for itself, rather than holding up every other subscription's."""
    try:
        return accepts(event)
    except Exception:
        log.exception("a subscription could not check a status event; handed it on")
        return True


class StatusFeed:
    def __init__(self, redis: Any):
        self.redis = redis
        self.shared = SharedReads()
        self.heard = 0
        self.listeners: dict[str, set[asyncio.Queue]] = {channel: set() for channel in DECODERS}
        # The status subscriptions with an Interest, by followed appointment or by their check.
        self.following: dict[int, set[asyncio.Queue]] = {}
        self.checking: dict[asyncio.Queue, Callable[[StatusEvent], bool]] = {}
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.seats = SubscriptionSeats(redis)
        self.batches: dict[tuple, Batched] = {}
        # Subscriptions that missed events for a full backlog, until they catch up.
        self.behind: weakref.WeakSet[asyncio.Queue] = weakref.WeakSet()

    def read(
        self, read_many: Callable[..., Awaitable[dict[K, V]]], key: K, *args: Any
    ) -> Awaitable[V | None]:
        """`read_many([key, ...], *args)[key]`, read together with the other keys asked of
        `read_many` with the same `args` meanwhile by this process's subscriptions (Batched)."""
        batched = self.batches.get((read_many, *args))
        if batched is None:
            batched = self.batches[(read_many, *args)] = Batched(read_many, *args)
        return batched.load(key)

    @property
    def queues(self) -> set[asyncio.Queue]:
        """Every live subscription's queue, of either channel."""
        return set().union(*self.listeners.values(), *self.following.values(), self.checking)

    async def events(
        self, user_id: int | None = None, interest: Interest | None = None
    ) -> AsyncIterator[list[Heard[StatusEvent]]]:
        """The status events published from now on, by any process (with `interest`, the ones
        it is for), each time every one waiting, at least one; with `user_id`, while holding
        one of that user's seats (refused with a coded error when none is free)."""
        async with self._queue(SMS_STATUS_CHANNEL, user_id, interest) as queue:
            while True:
                if queue.empty():  # it has pushed all it took: caught up
                    self.behind.discard(queue)
                first = await queue.get()
                yield [first, *(queue.get_nowait() for _ in range(queue.qsize()))]

    async def replies(self, user_id: int) -> AsyncIterator[Heard[int]]:
        """The id of each reply stored from now on, by any process, while holding one of the
        user's seats."""
        async with self._queue(SMS_REPLY_CHANNEL, user_id) as queue:
            while True:
                if queue.empty():  # it has pushed all it took: caught up
                    self.behind.discard(queue)
                yield await queue.get()

    @contextlib.asynccontextmanager
    async def _queue(
        self, channel: str, user_id: int | None, interest: Interest | None = None
    ) -> AsyncIterator[asyncio.Queue]:
        async with contextlib.AsyncExitStack() as stack:
            if user_id is not None:
                await stack.enter_async_context(self.seats.seat(user_id))
            yield await stack.enter_async_context(self.subscribed(channel, interest))

    async def listen(self) -> AsyncIterator[tuple[int, SmsStatus]]:
        """Each (message id, status) published from now on, by any process."""
        async with self.subscribed() as queue:
            while True:
                event = (await queue.get()).event
                yield event.message_id, event.status

    @contextlib.asynccontextmanager
    async def subscribed(
        self, channel: str = SMS_STATUS_CHANNEL, interest: Interest | None = None
    ) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(maxsize=BACKLOG)
        followed = interest.appointment_id if interest is not None else None
        if followed is not None:
            self.following.setdefault(followed, set()).add(queue)
        elif interest is not None and interest.accepts is not None:
            self.checking[queue] = interest.accepts
        else:
            self.listeners[channel].add(queue)
        try:
            self.start()
            await self.ready.wait()
            yield queue
        finally:
            self.listeners[channel].discard(queue)
            self.checking.pop(queue, None)
            if followed is not None:
                self.following[followed].discard(queue)
                if not self.following[followed]:
                    del self.following[followed]

    def recipients(self, channel: str, event: Any) -> list[asyncio.Queue]:
        """The queues of the subscriptions an event is for."""
        chosen = list(self.listeners[channel])
        if channel != SMS_STATUS_CHANNEL:
            return chosen
        facts = event.facts
        if facts is None:
            chosen.extend(queue for queues in self.following.values() for queue in queues)
            chosen.extend(self.checking)
            return chosen
        for appointment_id in facts.appointment_ids:
            chosen.extend(self.following.get(appointment_id, ()))
        chosen.extend(queue for queue, accepts in self.checking.items() if wanted(accepts, event))
        return chosen

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
                self.hand_on(channel, event)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def hand_on(self, channel: str, event: Any) -> None:
        """An event heard on `channel`, to the subscriptions it is for."""
        self.heard += 1
        heard = Heard(self.heard, event)
        for queue in self.recipients(channel, event):
            try:
                queue.put_nowait(heard)
            except asyncio.QueueFull:
                self.dropped(channel, queue)

    def dropped(self, channel: str, queue: asyncio.Queue) -> None:
        """A subscription BACKLOG events behind misses the next: counted, and logged once per
        subscription until it has caught up."""
        PUSHES_DROPPED.labels(channel).inc()
        if queue not in self.behind:
            self.behind.add(queue)
            log.warning(
                "a subscription to %s is %d events behind; it misses events until it catches up",
                channel,
                BACKLOG,
            )

    async def close(self) -> None:
        await self.seats.close()
        for batched in self.batches.values():
            if batched.runner is not None:
                batched.runner.cancel()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
