"""How a contact's SMS number follows its phone and mobile numbers."""

from __future__ import annotations

from enum import Enum

from sqlalchemy import event
from sqlalchemy.orm import Session

from models.clients import Contact
from models.errors import DomainError, ErrorCode
from models.phone import MAX_NUMBER_LENGTH, TOO_LONG, check_phone, is_sms_number, sms_number


class NumberField(Enum):
    PHONE = "phone"
    MOBILE = "mobile"


def clean_number(text: str | None, field: str = "number") -> str | None:
    text = (text or "").strip()
    if len(text) > MAX_NUMBER_LENGTH:
        raise DomainError(ErrorCode.INVALID_PHONE_NUMBER, TOO_LONG, field=field)
    return text or None


def valid_sms_number(text: str | None, field: str = "smsNumber") -> str | None:
    """An SMS number typed by a user: blank clears it; anything else must be a NZ/AU mobile."""
    text = clean_number(text, field)
    if text is None:
        return None
    check = check_phone(text)
    if check.valid:
        return check.e164
    raise DomainError(
        ErrorCode.INVALID_SMS_NUMBER, check.message or "Not a valid SMS number.", field=field
    )


def mobile_matches_sms(contact: Contact) -> bool:
    """Whether "Copy mobile number to SMS" is ticked: the mobile formats to the SMS number.

    Derived, never stored, so it holds however the numbers got there (the edit form, the
    grid's inline edits, the copy buttons, the upgrade's backfill).
    """
    return contact.sms_number is not None and sms_number(contact.mobile) == contact.sms_number


def copy_by_default(contact: Contact, mobile: str | None, sms: str | None, sms_given: bool) -> bool:
    """Whether an edit that does not say keeps "Copy mobile number to SMS" ticked.

    As the form opens: ticked when the mobile matches the SMS number. An SMS number given
    with the edit is what the user typed, so copy stays on only if it is the mobile's own.
    """
    if not sms_given:
        return mobile_matches_sms(contact)
    return sms is not None and sms_number(mobile) == sms


def set_on_create(contact: Contact, sms_given: bool) -> None:
    """A new contact's SMS number comes from its mobile when that formats to a mobile."""
    if sms_given and contact.sms_number:
        return
    contact.sms_number = sms_number(contact.mobile)


def set_mobile(contact: Contact, mobile: str | None, copy_to_sms: bool) -> None:
    """The edit form: with copy ticked the SMS number keeps in step with the mobile."""
    contact.mobile = clean_number(mobile, "mobile")
    if copy_to_sms:
        contact.sms_number = sms_number(contact.mobile)


def set_on_edit(
    contact: Contact,
    mobile: str | None,
    sms: str | None,
    sms_given: bool,
    copy_to_sms: bool | None,
) -> None:
    """The edit form's save: the mobile, then the SMS number given or following the mobile."""
    if copy_to_sms is None:
        copy_to_sms = copy_by_default(contact, mobile, sms, sms_given)
    set_mobile(contact, mobile, copy_to_sms)
    if sms_given:
        contact.sms_number = sms
    require_copy_matches(contact, copy_to_sms)


def require_copy_matches(contact: Contact, copy_to_sms: bool | None) -> None:
    """Copy ticked with an SMS number of its own is a contradiction the form cannot show."""
    if copy_to_sms and contact.sms_number != sms_number(contact.mobile):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "The SMS number follows the mobile while Copy mobile number to SMS is on.",
            field="smsNumber",
        )


def set_number(contact: Contact, field: NumberField, value: str | None) -> None:
    """The bulk-update grid's inline edit.

    The SMS number follows when it was empty or matched the number being changed, so a
    grid edit never leaves the SMS going to a number the user just replaced.
    """
    old = getattr(contact, field.value)
    follows = contact.sms_number is None or (
        old is not None and sms_number(old) == contact.sms_number
    )
    setattr(contact, field.value, clean_number(value, "value"))
    if follows:
        contact.sms_number = sms_number(value)


def copy_to_sms(contact: Contact, field: NumberField) -> None:
    """The copy buttons beside the SMS number."""
    value = getattr(contact, field.value)
    number = sms_number(value)
    if number is None:
        label = "phone" if field is NumberField.PHONE else "mobile"
        detail = check_phone(value).message if value else f"The contact has no {label} number."
        raise DomainError(
            ErrorCode.INVALID_SMS_NUMBER,
            f"The {label} number cannot be used for SMS: {detail}" if value else detail,
            field="from",
        )
    contact.sms_number = number


def has_invalid_number(contact: Contact) -> bool:
    """A mobile that is no NZ/AU mobile, or an SMS number that is not one."""
    return number_facts(contact.mobile, contact.sms_number)[0]


def sms_differs_from_mobile(contact: Contact) -> bool:
    return number_facts(contact.mobile, contact.sms_number)[1]


def number_facts(
    mobile: str | None, sms: str | None, mobile_sms: str | None = None, formatted: bool = False
) -> tuple[bool, bool]:
    """(invalid number, SMS number differs from the mobile): the Contact Bulk Updates grid's
    two categories the phone rules decide, for a contact with these numbers.

    A caller that has just formatted them (the backfill) passes `formatted`, the mobile's own
    SMS number as `mobile_sms`, and an `sms` that sms_number made, so none is parsed again.
    """
    if not formatted:
        mobile_sms = sms_number(mobile) if mobile else None
    sms_invalid = False if formatted else bool(sms and not is_sms_number(sms))
    invalid = sms_invalid or bool(mobile and mobile_sms is None)
    differs = bool(mobile and sms) and mobile_sms != sms
    return invalid, differs


def set_number_facts(contact: Contact) -> None:
    contact.invalid_number, contact.sms_differs_from_mobile = number_facts(
        contact.mobile, contact.sms_number
    )


@event.listens_for(Session, "before_flush")
def keep_number_facts(session: Session, flush_context, instances) -> None:
    """Whatever set a contact's numbers (a form, the grid, a copy button, the demo), the stored
    facts follow them before the row is written."""
    for contact in (*session.new, *session.dirty):
        if isinstance(contact, Contact):
            set_number_facts(contact)
