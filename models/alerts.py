"""The SMS failure alert: pops once a day per user while failures are recent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
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
    failed = (
        await session.exec(
            select(func.count())
            .select_from(SmsMessage)
            .where(
                SmsMessage.status == SmsStatus.FAILED,
                col(SmsMessage.updated_at) >= now - ALERT_WINDOW,
            )
        )
    ).one()
    last = (
        await session.exec(
            select(func.max(AlertAcknowledgement.acknowledged_at)).where(
                AlertAcknowledgement.user_id == user_id
            )
        )
    ).one()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    return FailureAlert(
        failed_last_24_hours=failed,
        should_alert=failed > 0 and not acknowledged_today(last, now, time_zone),
        last_acknowledged_at=last,
    )
