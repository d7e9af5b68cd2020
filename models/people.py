"""Profiles and users as the Admin Console makes and changes them, and the rules on both."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from sqlalchemy import delete, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.accounts import new_password_hash, normalise_email
from models.company import AuthToken, Profile, User
from models.enums import FieldVisibility
from models.errors import DomainError, ErrorCode
from models.names import required_name

MIN_PASSWORD_LENGTH = 8
MAX_EMAIL_LENGTH = 254
MAX_PROFILE_NAME = 100


def invalid(message: str, field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field=field)


def check_password(password: str | None) -> str:
    """The one password rule, for the API and the command line alike."""
    if password is None or len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise invalid(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    return password


def check_email(email: str | None) -> str:
    """The address normalised as sign-in looks it up."""
    email = normalise_email(email or "")
    local, at, domain = email.rpartition("@")
    if (
        not (local and at and domain)
        or len(email) > MAX_EMAIL_LENGTH
        or any(c.isspace() for c in email)
    ):
        raise invalid("Enter an e-mail address such as name@example.com.", field="email")
    return email


def email_taken(email: str) -> DomainError:
    return invalid(f"A user with the e-mail {email} already exists.", field="email")


async def free_email(session: AsyncSession, email: str | None, user_id: int | None = None) -> str:
    """A valid address no other user signs in with."""
    email = check_email(email)
    others = select(User.id).where(User.email == email)
    if user_id is not None:
        others = others.where(User.id != user_id)
    if (await session.exec(others)).first() is not None:
        raise email_taken(email)
    return email


async def existing_profile(session: AsyncSession, profile_id: int) -> Profile:
    profile = await session.get(Profile, profile_id)
    if profile is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such profile.", field="profileId")
    return profile


async def flush_users(session: AsyncSession) -> None:
    """The unique e-mail is the database's rule too: a racing create loses here, not with a 500."""
    try:
        await session.flush()
    except IntegrityError:
        raise invalid("A user with that e-mail already exists.", field="email") from None


async def require_an_administrator(session: AsyncSession, field: str) -> None:
    """Someone must stay able to manage profiles and users (short of the command line)."""
    await flush_users(session)
    administrators = (
        select(User.id)
        .join(Profile, col(Profile.id) == User.profile_id)
        .where(Profile.global_administrator == true())
        .limit(1)
    )
    if (await session.exec(administrators)).first() is None:
        raise invalid("At least one user must stay a Global Administrator.", field=field)


@dataclass(frozen=True)
class ProfileChanges:
    """What an edit sets; None leaves a field as it is. Names match the Profile columns."""

    name: str | None = None
    edit_contact: bool | None = None
    send_sms_to_client: bool | None = None
    show_sms_errors: bool | None = None
    global_administrator: bool | None = None
    layout_appointment_contact: FieldVisibility | None = None
    layout_appointment_sms_reminder: FieldVisibility | None = None
    layout_client_sms_reminders: FieldVisibility | None = None


async def profile_name(session: AsyncSession, name: str | None, profile_id: int | None) -> str:
    """Unique, because `timetrak-sms create-user --profile` finds profiles by name."""
    name = required_name(name, MAX_PROFILE_NAME)
    others = select(Profile.id).where(Profile.name == name)
    if profile_id is not None:
        others = others.where(Profile.id != profile_id)
    if (await session.exec(others)).first() is not None:
        raise invalid(f"A profile named {name!r} already exists.", field="name")
    return name


async def create_profile(session: AsyncSession, changes: ProfileChanges) -> Profile:
    """Permissions not given are off; form layout fields not given are visible."""
    profile = Profile(name=await profile_name(session, changes.name, None))
    await change_profile(session, profile, replace(changes, name=None))
    session.add(profile)
    await session.flush()
    return profile


async def change_profile(session: AsyncSession, profile: Profile, changes: ProfileChanges) -> None:
    """Takes effect on each of the profile's users' next request: auth loads it per request."""
    was_administrator = profile.global_administrator
    for change in fields(changes):
        value = getattr(changes, change.name)
        if value is None:
            continue
        if change.name == "name":
            value = await profile_name(session, value, profile.id)
        setattr(profile, change.name, value)
    if was_administrator and not profile.global_administrator:
        await require_an_administrator(session, field="globalAdministrator")


@dataclass(frozen=True)
class UserChanges:
    """What an edit sets; None leaves a field as it is. `password` is in the clear."""

    name: str | None = None
    email: str | None = None
    password: str | None = None
    profile_id: int | None = None


async def create_user(session: AsyncSession, changes: UserChanges) -> User:
    name = required_name(changes.name)
    email = await free_email(session, changes.email)
    password = check_password(changes.password)
    if changes.profile_id is None:
        raise invalid("Choose the user's profile.", field="profileId")
    profile = await existing_profile(session, changes.profile_id)
    password_hash = await new_password_hash(password)
    user = User(name=name, email=email, password_hash=password_hash, profile_id=profile.id)
    session.add(user)
    await flush_users(session)
    return user


async def change_user(session: AsyncSession, user: User, changes: UserChanges) -> None:
    """A new password signs the user out everywhere: a reset is usually for a leaked one."""
    if changes.name is not None:
        user.name = required_name(changes.name)
    email = await free_email(session, changes.email, user.id) if changes.email is not None else None
    password = check_password(changes.password) if changes.password is not None else None
    if changes.profile_id is not None and changes.profile_id != user.profile_id:
        user.profile_id = (await existing_profile(session, changes.profile_id)).id
        await require_an_administrator(session, field="profileId")
    # The e-mail is set last, so no query above flushes it past flush_users' guard.
    if email is not None:
        user.email = email
    if password is not None:
        user.password_hash = await new_password_hash(password)
    await flush_users(session)
    if password is not None:
        await session.execute(delete(AuthToken).where(col(AuthToken.user_id) == user.id))
