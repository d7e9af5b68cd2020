"""The product's enumerations, shared by tables, rules and the API."""

from __future__ import annotations

import enum


class FieldVisibility(enum.Enum):
    HIDDEN = "HIDDEN"
    VISIBLE = "VISIBLE"
    READ_ONLY = "READ_ONLY"


class RecipientKind(enum.Enum):
    CLIENT = "CLIENT"
    CONTACT = "CONTACT"


class SmsTemplateKind(enum.Enum):
    REMINDER_EVENT = "REMINDER_EVENT"
    APPOINTMENT = "APPOINTMENT"


class SmsStatus(enum.Enum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class SmsSource(enum.Enum):
    APP = "APP"
    PROFESSIONAL = "PROFESSIONAL"
    MOBILE = "MOBILE"
    REMINDER = "REMINDER"


class ReplyEffect(enum.Enum):
    """What an incoming SMS did besides being recorded."""

    NONE = "NONE"
    OPTED_OUT = "OPTED_OUT"
    OPTED_IN = "OPTED_IN"
    CONFIRMED = "CONFIRMED"
    RESCHEDULE_REQUESTED = "RESCHEDULE_REQUESTED"


class ConfirmationStatus(enum.Enum):
    UNCONFIRMED = "UNCONFIRMED"
    CONFIRMED = "CONFIRMED"
    RESCHEDULE_REQUESTED = "RESCHEDULE_REQUESTED"


class OptOutMethod(enum.Enum):
    KEYWORD = "KEYWORD"
    ADMIN = "ADMIN"


class ContactCategory(enum.Enum):
    ALL = "ALL"
    MISSING_SMS_NUMBER = "MISSING_SMS_NUMBER"
    INVALID_NUMBER = "INVALID_NUMBER"
    SMS_DIFFERS_FROM_MOBILE = "SMS_DIFFERS_FROM_MOBILE"
    OPTED_OUT = "OPTED_OUT"
