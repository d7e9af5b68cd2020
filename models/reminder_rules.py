"""What makes a reminder event acceptable: its interval, template and time of day."""

from __future__ import annotations

from datetime import time

from models.enums import SmsTemplateKind
from models.errors import DomainError, ErrorCode
from models.sms import SmsTemplate

MAX_INTERVAL_DAYS = 28
# Reminders at night are not acceptable to clients.
EARLIEST_RUN = time(7, 0)
LATEST_RUN = time(21, 0)


def check_interval(days: int) -> int:
    if not 0 <= days <= MAX_INTERVAL_DAYS:
        raise DomainError(
            ErrorCode.INVALID_INTERVAL,
            f"The reminder interval must be from 0 (today) to {MAX_INTERVAL_DAYS} days.",
            field="intervalDays",
        )
    return days


def check_run_at(run_at: time) -> time:
    if run_at.tzinfo is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "runAt is a local time of day in the company time zone, without offset.",
            field="runAt",
        )
    if not EARLIEST_RUN <= run_at <= LATEST_RUN:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "Reminders run between 7:00am and 9:00pm local time.",
            field="runAt",
        )
    return run_at.replace(second=0, microsecond=0)


def check_event_template(template: SmsTemplate | None) -> SmsTemplate:
    if (
        template is None
        or template.kind is not SmsTemplateKind.REMINDER_EVENT
        or not template.active
    ):
        raise DomainError(
            ErrorCode.INVALID_TEMPLATE,
            "Choose an active reminder event template.",
            field="templateId",
        )
    return template


MAX_DESCRIPTION = 300


def event_description(text: str | None) -> str:
    text = (text or "").strip()
    if not text or len(text) > MAX_DESCRIPTION:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A description of 1 to {MAX_DESCRIPTION} characters is needed.",
            field="description",
        )
    return text
