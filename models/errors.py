"""Error codes shared by every rule, and the exception that carries one."""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    SMS_DISABLED = "SMS_DISABLED"
    REMINDERS_DISABLED = "REMINDERS_DISABLED"
    NO_SMS_NUMBER = "NO_SMS_NUMBER"
    INVALID_SMS_NUMBER = "INVALID_SMS_NUMBER"
    OPTED_OUT = "OPTED_OUT"
    MESSAGE_EMPTY = "MESSAGE_EMPTY"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    INVALID_LOCATION = "INVALID_LOCATION"
    INVALID_INTERVAL = "INVALID_INTERVAL"
    PROVIDER_ERROR = "PROVIDER_ERROR"


class DomainError(Exception):
    """A rule refused something; `field` names the input at fault (camelCase) when one is."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DomainError({self.code.name}, {self.message!r}, field={self.field!r})"
