"""Passwords and bearer tokens: argon2 hashes for one, SHA-256 digests for the other."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.columns import utcnow
from models.company import SETTINGS_ID, AuthToken, GlobalSettings, Profile, User
from models.db import Sessions
from models.errors import DomainError, ErrorCode
from models.metrics import LOGIN_FAILURES
from models.sign_in_limits import SignInLimits, TooManyAttempts

log = logging.getLogger(__name__)

_hasher = PasswordHasher()

# argon2 takes a few hundred ms of CPU and 64 MiB for each hash. On the event loop a handful of
# wrong passwords stalled every other request; on the loop's default executor a burst would
# take the threads everything else there needs. So it has threads of its own: one core fewer
# than the process may use, leaving one for the event loop, and at most four (256 MiB of argon2
# memory however many sign in at once). The rest wait their turn, costing only themselves time.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
HASHING_THREADS = max(1, min(4, CORES - 1))
_hashing = ThreadPoolExecutor(HASHING_THREADS, thread_name_prefix="argon2")

T = TypeVar("T")

# Where authentication leaves the digest of the request's bearer token (in the ASGI scope), for
# logout to revoke: the digest, never the token, so nothing that dumps the scope leaks a login.
TOKEN_DIGEST_SCOPE_KEY = "timetrak.token_digest"


async def _off_loop(function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, function, *args)


@functools.cache
def dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so a wrong address costs as long as a wrong
    password. Made on first use: argon2 takes 64 MiB, which no other command needs."""
    return _hasher.hash("timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def new_password_hash(password: str) -> str:
    """hash_password for async code: off the event loop."""
    return await _off_loop(hash_password, password)


def _matches_nobody(password: str) -> None:
    verify_password(dummy_hash(), password)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_in(
    sessions: Sessions,
    limits: SignInLimits,
    email: str,
    password: str,
    client: str | None,
    ttl: timedelta,
) -> tuple[str, User] | None:
    """A new bearer token and its user, or None when the e-mail or password is wrong.

    Past the limit of failures for the e-mail address or for the client address (the caller's IP)
    it refuses with TOO_MANY_ATTEMPTS without checking the password, whether or not the address
    belongs to anyone. No database connection is held while the password is checked.
    """
    email = normalise_email(email)
    try:
        attempt = await limits.take_place(email, client)
    except TooManyAttempts:
        LOGIN_FAILURES.labels("limited").inc()
        raise DomainError(
            ErrorCode.TOO_MANY_ATTEMPTS, "Too many failed sign-ins; try again later."
        ) from None
    try:
        signed_in = await _check_password(sessions, email, password, ttl)
    except Exception:
        # The database was away: that was no failed sign-in. (A cancelled one stays counted.)
        await limits.give_back(attempt, signed_in=False)
        raise
    if signed_in is not None:
        await limits.give_back(attempt, signed_in=True)
        log.info("user %d signed in", signed_in[1].id)
    else:
        LOGIN_FAILURES.labels("wrong_password").inc()
        # Neither the address nor the password: a log is no place for either.
        log.info("sign-in refused: wrong e-mail address or password")
    return signed_in


async def _check_password(
    sessions: Sessions, email: str, password: str, ttl: timedelta
) -> tuple[str, User] | None:
    async with sessions() as session:
        user = (await session.exec(select(User).where(User.email == email))).first()
    if user is None:
        # A wrong address costs as long as a wrong password.
        await _off_loop(_matches_nobody, password)
        return None
    if not await _off_loop(verify_password, user.password_hash, password):
        return None
    # Hashed with weaker parameters than today's: now, while the password is at hand.
    rehashed = None
    if _hasher.check_needs_rehash(user.password_hash):
        rehashed = await new_password_hash(password)
    token = secrets.token_urlsafe(32)
    async with sessions.begin() as session:
        session.add(
            AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=utcnow() + ttl)
        )
        if rehashed is not None:
            # Unless the password was changed meanwhile.
            await session.execute(
                update(User)
                .where(col(User.id) == user.id, col(User.password_hash) == user.password_hash)
                .values(password_hash=rehashed)
            )
    return token, user


async def revoke_token(session: AsyncSession, digest: str) -> None:
    """Sign out the one token with this digest; the user's other tokens still work."""
    await session.execute(delete(AuthToken).where(col(AuthToken.token_hash) == digest))


async def user_for_token(
    session: AsyncSession, token: str, now: datetime | None = None
) -> tuple[User, Profile, GlobalSettings | None] | None:
    """The token's user and profile, and the company's settings (None before any are saved),
    in one read: nearly every request needs all three."""
    row = (
        await session.exec(
            select(User, Profile, GlobalSettings)
            .join(AuthToken, AuthToken.user_id == User.id)
            .join(Profile, Profile.id == User.profile_id)
            .outerjoin(GlobalSettings, GlobalSettings.id == SETTINGS_ID)
            .where(AuthToken.token_hash == token_digest(token))
            .where(AuthToken.expires_at > (now or utcnow()))
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def delete_expired_tokens(session: AsyncSession, now: datetime, most: int) -> int:
    """Delete up to `most` tokens that expired before `now`; how many were deleted."""
    expired = (
        select(AuthToken.id)
        .where(col(AuthToken.expires_at) <= now)
        .order_by(col(AuthToken.id))
        .limit(most)
    )
    ids = list((await session.exec(expired)).all())
    if ids:
        await session.execute(delete(AuthToken).where(col(AuthToken.id).in_(ids)))
    return len(ids)
