"""Passwords and bearer tokens: argon2 hashes for one, SHA-256 digests for the other."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from models.columns import utcnow
from models.company import AuthToken, Profile, User

_hasher = PasswordHasher()


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


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_in(
    session: AsyncSession, email: str, password: str, ttl: timedelta
) -> tuple[str, User] | None:
    """A new bearer token and its user, or None when the e-mail or password is wrong."""
    user = (await session.exec(select(User).where(User.email == normalise_email(email)))).first()
    if user is None:
        verify_password(dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=utcnow() + ttl)
    )
    return token, user


async def user_for_token(
    session: AsyncSession, token: str, now: datetime | None = None
) -> tuple[User, Profile] | None:
    row = (
        await session.exec(
            select(User, Profile)
            .join(AuthToken, AuthToken.user_id == User.id)
            .join(Profile, Profile.id == User.profile_id)
            .where(AuthToken.token_hash == token_digest(token))
            .where(AuthToken.expires_at > (now or utcnow()))
        )
    ).first()
    return (row[0], row[1]) if row else None
