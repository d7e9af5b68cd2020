"""Who may see and do what: the profile's permissions, its form layout and the company switches.

Every signed-in user may read every user's calendar, appointments and time entries, and book
or edit appointments for anyone: the office runs the technicians' days. What a profile changes
is which SMS actions are open to it and which appointment fields it may set.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.company import SETTINGS_ID, GlobalSettings, Profile, User
from models.enums import FieldVisibility
from models.errors import DomainError, ErrorCode
from models.status_feed import MessageFacts


def denied(message: str, field: str | None = None) -> DomainError:
    return DomainError(ErrorCode.PERMISSION_DENIED, message, field=field)


def require_admin(profile: Profile) -> None:
    if not profile.global_administrator:
        raise denied("Only a Global Administrator can do that.")


def require_edit_contact(profile: Profile) -> None:
    if not profile.edit_contact:
        raise denied("Your profile does not allow editing contacts.")


def require_send_sms(profile: Profile) -> None:
    if not profile.send_sms_to_client:
        raise denied("Your profile does not allow sending SMS to clients.")


def require_show_sms_errors(profile: Profile) -> None:
    if not profile.show_sms_errors:
        raise denied("Your profile does not show SMS errors.")


def require_visible(visibility: FieldVisibility, label: str, field: str | None = None) -> None:
    """A field the form layout hides or makes read-only keeps the value it would have had."""
    if visibility is not FieldVisibility.VISIBLE:
        raise denied(f"The {label} field is not editable in your form layout.", field)


async def company_sends_sms(session: AsyncSession) -> bool:
    """Checked again as each message leaves: switching SMS off stops what is already queued."""
    enabled = await session.scalar(
        select(GlobalSettings.sms_enabled).where(GlobalSettings.id == SETTINGS_ID)
    )
    return bool(enabled)


def require_sms_enabled(company: GlobalSettings, field: str | None = None) -> None:
    """Enable SMS stops SMS itself: sending, reminders, the SMS-only fields and screens.
    Clients, contacts, appointments and the Admin Console's SMS set-up work either way."""
    if not company.sms_enabled:
        raise DomainError(ErrorCode.SMS_DISABLED, "SMS is turned off for this company.", field)


def require_reminders_enabled(company: GlobalSettings) -> None:
    require_sms_enabled(company)
    if not company.sms_reminders_enabled:
        raise DomainError(
            ErrorCode.REMINDERS_DISABLED,
            "SMS appointment reminders are turned off for this company.",
        )


def require_templates_readable(profile: Profile, company: GlobalSettings) -> None:
    """The SMS form offers templates while SMS is on; the Admin Console manages them always."""
    if not profile.global_administrator:
        require_sms_enabled(company)


def require_can_send(profile: Profile, company: GlobalSettings) -> None:
    """The whitepaper's two conditions for a manual SMS, about anyone's appointment."""
    require_sms_enabled(company)
    require_send_sms(profile)


def sees_every_message(profile: Profile) -> bool:
    return profile.global_administrator or profile.show_sms_errors


def may_see_event(user: User, profile: Profile, facts: MessageFacts) -> bool:
    """Whether a user hears of a message's changes, from the facts its status event carries:
    messages about work (appointments, time entries) are as open as the work itself, and the
    user's own sends; with Show SMS Errors or Global Administrator, every message is."""
    return (
        sees_every_message(profile)
        or facts.sent_by_id == user.id
        or facts.appointment_id is not None
        or facts.time_entry_id is not None
    )


def may_see_replies(profile: Profile) -> bool:
    """Replies are for the people who can answer them: Send SMS, or Global Administrator. Others
    see an appointment's confirmation status, not the replies behind it."""
    return profile.global_administrator or profile.send_sms_to_client


def require_may_see_replies(profile: Profile) -> None:
    if not may_see_replies(profile):
        raise denied("Replies are for users who may send SMS, and Global Administrators.")
