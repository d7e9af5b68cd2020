"""A message's status moves forward only: QUEUED, SENDING, SENT, then DELIVERED or FAILED."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.columns import utcnow
from models.enums import SmsSource, SmsStatus
from models.sms import SmsMessage
from models.status_reports import on_commit, status_changed

log = logging.getLogger("timetrak_sms.messages")

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
    session: AsyncSession,
    message_id: int,
    status: SmsStatus,
    now: datetime | None = None,
    only_from: list[SmsStatus] | None = None,
    conditions: tuple = (),
    **values,
) -> bool:
    """Move a message to `status` when that is forward; False when it was already there or past.

    One conditional UPDATE, so two workers or a replayed callback cannot both win.
    `only_from` narrows the statuses it may leave (e.g. only a message still SENDING).
    The change is logged and counted once the transaction commits (models.status_reports).
    """
    now = now or utcnow()
    allowed = [s for s in earlier_than(status) if only_from is None or s in only_from]
    if status is SmsStatus.SENT:
        values.setdefault("sent_at", now)
    if status is SmsStatus.DELIVERED:
        values.setdefault("delivered_at", now)
    result = await session.execute(
        update(SmsMessage)
        .where(col(SmsMessage.id) == message_id, col(SmsMessage.status).in_(allowed), *conditions)
        .values(status=status, updated_at=now, **values)
        .returning(SmsMessage.source)
        .execution_options(synchronize_session=False)
    )
    source = result.scalar_one_or_none()
    if source is None:
        return False
    status_changed(session, message_id, status, source, **values)
    return True


@dataclass(frozen=True)
class Claimed:
    id: int
    to_number: str
    body: str
    attempts: int
    source: SmsSource | None = None


def claimable(now: datetime):
    """QUEUED, or SENDING and due for a retry."""
    return or_(
        SmsMessage.status == SmsStatus.QUEUED,
        and_(
            SmsMessage.status == SmsStatus.SENDING,
            col(SmsMessage.retry_at).is_not(None),
            col(SmsMessage.retry_at) <= now,
        ),
    )


async def claim(
    session: AsyncSession, message_ids: list[int], now: datetime | None = None
) -> list[Claimed]:
    """Take messages for sending; those another worker took, or that are settled, are left out.

    The conditional UPDATE is the lock: of two workers, or a job run twice, one wins. It
    returns what the send needs, so claiming any number of messages is one round trip.
    """
    now = now or utcnow()
    result = await session.execute(
        update(SmsMessage)
        .where(col(SmsMessage.id).in_(message_ids), claimable(now))
        .values(
            status=SmsStatus.SENDING,
            attempts=SmsMessage.attempts + 1,
            retry_at=None,
            send_started_at=now,
            updated_at=now,
        )
        .returning(
            SmsMessage.id,
            SmsMessage.to_number,
            SmsMessage.body,
            SmsMessage.attempts,
            SmsMessage.source,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = sorted((Claimed(*row) for row in result.all()), key=lambda c: c.id)
    for message in claimed:
        status_changed(
            session, message.id, SmsStatus.SENDING, message.source, attempt=message.attempts
        )
    return claimed


async def retry_later(
    session: AsyncSession, message_id: int, at: datetime, conditions: tuple = ()
) -> None:
    result = await session.execute(
        update(SmsMessage)
        .where(
            col(SmsMessage.id) == message_id, SmsMessage.status == SmsStatus.SENDING, *conditions
        )
        .values(retry_at=at, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        on_commit(
            session,
            lambda: log.info(
                "message %d stays SENDING, to be tried again at %s",
                message_id,
                f"{at:%H:%M:%S} UTC",
                extra={"message_id": message_id, "status": SmsStatus.SENDING.value},
            ),
        )
