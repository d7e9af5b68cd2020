"""How many live subscriptions one user may hold, across connections and API processes.

Each live subscription holds a seat: a member of the user's sorted set in Redis, scored with
the time it lapses. The process holding it renews it every third of SEAT_SECONDS, so the seats
of a process that died lapse within SEAT_SECONDS. Taking a seat is one Lua script (drop lapsed
seats, count, add), so two processes cannot both take the last one. With Redis away, a process
still holds each user to the limit among its own subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from schema.errors import CodedError

log = logging.getLogger(__name__)

MAX_PER_USER = 20
SEAT_SECONDS = 60.0
KEY_PREFIX = "timetrak-sms:subscription-seats:"
LIMIT_CODE = "TOO_MANY_SUBSCRIPTIONS"

# KEYS[1] the user's seats; ARGV: lease, seconds it lasts, limit. 1 when taken, else 0.
TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""
# KEYS[1] the user's seats; ARGV: lease, seconds it lasts from now.
RENEW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""


def too_many(limit: int) -> CodedError:
    return CodedError(
        LIMIT_CODE,
        f"You already have {limit} live subscriptions; end one before starting another.",
    )


class SubscriptionSeats:
    def __init__(
        self,
        redis: Any,
        limit: int = MAX_PER_USER,
        seat_seconds: float = SEAT_SECONDS,
    ):
        self.redis = redis
        self.limit = limit
        self.seat_seconds = seat_seconds
        self.held: dict[str, int] = {}
        self.per_user: Counter[int] = Counter()
        self.take_script = redis.register_script(TAKE)
        self.renew_script = redis.register_script(RENEW)
        self.renewing: asyncio.Task | None = None
        self.releasing: set[asyncio.Task] = set()

    @contextlib.asynccontextmanager
    async def seat(self, user_id: int) -> AsyncIterator[None]:
        """Hold one of the user's seats while inside; refused when they are all taken."""
        if self.per_user[user_id] >= self.limit:
            raise too_many(self.limit)
        # Counted here before Redis answers, so this process alone never goes past the limit.
        self.per_user[user_id] += 1
        lease = uuid.uuid4().hex
        try:
            if not await self.take(user_id, lease):
                raise too_many(self.limit)
            self.held[lease] = user_id
            self.keep_renewing()
            yield
        finally:
            self.per_user[user_id] -= 1
            if not self.per_user[user_id]:
                del self.per_user[user_id]
            if self.held.pop(lease, None) is not None:
                # Not awaited: a cancelled subscription must not wait on Redis to end, and a
                # release that never happens only leaves the seat to lapse.
                task = asyncio.get_running_loop().create_task(self.release(user_id, lease))
                self.releasing.add(task)
                task.add_done_callback(self.releasing.discard)

    async def take(self, user_id: int, lease: str) -> bool:
        try:
            taken = await self.take_script(
                keys=[key(user_id)], args=[lease, self.seat_seconds, self.limit]
            )
        except Exception:
            log.warning(
                "could not count subscriptions in Redis; counting this process's only",
                exc_info=True,
            )
            return True
        return bool(taken)

    async def release(self, user_id: int, lease: str) -> None:
        with contextlib.suppress(Exception):
            await self.redis.zrem(key(user_id), lease)

    def keep_renewing(self) -> None:
        if self.renewing is None or self.renewing.done():
            self.renewing = asyncio.get_running_loop().create_task(self.renew())

    async def renew(self) -> None:
        """Every third of a seat's life, push back the lapse of every seat this process holds."""
        while self.held:
            await asyncio.sleep(self.seat_seconds / 3)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for lease, user_id in list(self.held.items()):
                        await self.renew_script(
                            keys=[key(user_id)], args=[lease, self.seat_seconds], client=pipe
                        )
                    await pipe.execute()
            except Exception:
                log.warning("could not renew subscription seats", exc_info=True)

    async def close(self) -> None:
        tasks = [t for t in (self.renewing, *self.releasing) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def key(user_id: int) -> str:
    return f"{KEY_PREFIX}{user_id}"
