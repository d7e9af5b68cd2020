"""The SMS failure alert: pops once a day per user while failures are recent, and on new ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.company import AlertAcknowledgement
from models.enums import SmsStatus
from models.sms import SmsMessage

ALERT_WINDOW = timedelta(hours=24)
RECENT_FAILURES = timedelta(days=5)


@dataclass(frozen=True)
class FailureAlert:
    failed_last_24_hours: int
    should_alert: bool
    last_acknowledged_at: datetime | None


def acknowledged_today(last: datetime | None, now: datetime, time_zone: str) -> bool:
    if last is None:
        return False
    zone = ZoneInfo(time_zone)
    return last.astimezone(zone).date() == now.astimezone(zone).date()


async def failure_alert(
    session: AsyncSession, user_id: int, now: datetime, time_zone: str
) -> FailureAlert:
    """Failures of the last 24 hours, and whether any is not yet acknowledged.

    An acknowledgement covers the failures there were when it was made, and only on its own
    (local) day: the alert pops once a day while there are recent failures, and again the
    same day when another message fails after the user dismissed it.
    """
    last = (
        await session.exec(
            select(func.max(AlertAcknowledgement.acknowledged_at)).where(
                AlertAcknowledgement.user_id == user_id
            )
        )
    ).one()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    covered_until = last if acknowledged_today(last, now, time_zone) else None
    failed_at = col(SmsMessage.updated_at)
    uncovered = func.count(case((failed_at > covered_until, 1))) if covered_until else func.count()
    failed, unacknowledged = (
        await session.exec(
            select(func.count(), uncovered)
            .select_from(SmsMessage)
            .where(SmsMessage.status == SmsStatus.FAILED, failed_at >= now - ALERT_WINDOW)
        )
    ).one()
    return FailureAlert(
        failed_last_24_hours=failed,
        should_alert=unacknowledged > 0,
        last_acknowledged_at=last,
    )
