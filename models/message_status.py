"""A message's status moves forward only: QUEUED, SENDING, SENT, then DELIVERED or FAILED."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.columns import utcnow
from models.enums import SmsStatus
from models.sms import SmsMessage

RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.FAILED: 3,
}


def earlier_than(status: SmsStatus) -> list[SmsStatus]:
    return [s for s, rank in RANK.items() if rank < RANK[status]]


async def advance(
    session: AsyncSession, message_id: int, status: SmsStatus, now: datetime | None = None,
    **values,
) -> bool:
    """Move a message to `status` when that is forward; False when it was already there or past.

    One conditional UPDATE, so two workers or a replayed callback cannot both win.
    """
    now = now or utcnow()
    if status is SmsStatus.SENT:
        values.setdefault("sent_at", now)
    if status is SmsStatus.DELIVERED:
        values.setdefault("delivered_at", now)
    result = await session.execute(
        update(SmsMessage)
        .where(col(SmsMessage.id) == message_id, col(SmsMessage.status).in_(earlier_than(status)))
        .values(status=status, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
