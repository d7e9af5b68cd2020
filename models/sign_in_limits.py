"""Failed sign-ins counted per e-mail address and per client address, shared in Redis.

Each count is a sliding log: a sorted set of attempt ids scored by the time they were made, so
"5 failures in any 15 minutes" holds exactly, with no doubled burst at a fixed window's edge.
One Lua script checks both counts and takes a place in each, atomically, *before* the password
is checked: concurrent guesses cannot all see room and all go through, and a refused attempt
takes no place (so it does not extend the wait). A right password gives its place back.
Written here rather than with the `limits` library, whose storage opens its own Redis connection
from a URL and records a hit only after the fact; this uses the arq pool every process already
has and needs no reserve-then-release API that the library lacks.

Redis away means sign-in works unlimited for the while (fail open), with a warning in the log:
a Redis blip must not lock every user out, and argon2 keeps each guess slow regardless.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from models.config import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "timetrak-sms:sign-in-failures"
# A Redis that hangs must not hang sign-in: past this the attempt goes unlimited.
REDIS_TIMEOUT_SECONDS = 1.0

# KEYS: the counts; ARGV: window in ms, the attempt's id, then each count's limit in KEYS' order.
# Redis's clock, so API processes with skewed clocks agree.
TAKE_PLACE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms, ARGV[2])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


@dataclass(frozen=True)
class Attempt:
    """One sign-in holding a place in its counts until it turns out not to be a failure."""

    email_key: str
    client_key: str
    id: str


class TooManyAttempts(Exception):
    pass


@dataclass(frozen=True)
class SignInLimits:
    redis: Any
    window_seconds: float
    per_email: int
    per_client: int

    @classmethod
    def from_settings(cls, redis: Any, settings: Settings) -> SignInLimits:
        return cls(
            redis,
            settings.sign_in_window_seconds,
            settings.sign_in_failures_per_email,
            settings.sign_in_failures_per_client,
        )

    async def take_place(self, email: str, client: str | None) -> Attempt | None:
        """The attempt's place in both counts; None when Redis cannot count it (go ahead).

        Raises TooManyAttempts when either count is full: the password is then not checked.
        """
        attempt = Attempt(email_key(email), client_key(client), secrets.token_hex(8))
        if self.redis is None:
            return None
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                full = await self.redis.eval(
                    TAKE_PLACE,
                    2,
                    attempt.email_key,
                    attempt.client_key,
                    max(1, round(self.window_seconds * 1000)),
                    attempt.id,
                    self.per_email,
                    self.per_client,
                )
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("sign-in limits unavailable, not counting this attempt: %r", error)
            return None
        if full:
            log.info("sign-in refused: too many failures for this %s", _COUNTS[int(full) - 1])
            raise TooManyAttempts
        return attempt

    async def give_back(self, attempt: Attempt | None, signed_in: bool) -> None:
        """The attempt was no failure: the password was right, or it was never checked (the
        database was away).

        A right password clears its e-mail address's count (the owner has shown they know it;
        their earlier typos should not lock them out later), but only gives back its own place
        in the client address's count: signing in to one's own account must not wipe out the
        failures one made guessing at others.
        """
        if attempt is None or self.redis is None:
            return
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                async with self.redis.pipeline(transaction=True) as pipe:
                    if signed_in:
                        pipe.delete(attempt.email_key)
                    else:
                        pipe.zrem(attempt.email_key, attempt.id)
                    pipe.zrem(attempt.client_key, attempt.id)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("sign-in limits unavailable, an attempt stays counted: %r", error)


_COUNTS = ("e-mail address", "client address")


def email_key(email: str) -> str:
    # Hashed: Redis need not hold the addresses people typed.
    digest = hashlib.sha256(email.encode()).hexdigest()
    return f"{KEY_PREFIX}:email:{digest}"


def client_key(client: str | None) -> str:
    """IPv6 clients are counted by /64, the block one subscriber is usually given."""
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return f"{KEY_PREFIX}:client:{client or 'unknown'}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"{KEY_PREFIX}:client:{address.ipv4_mapped}"
        return f"{KEY_PREFIX}:client:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"{KEY_PREFIX}:client:{address}"
