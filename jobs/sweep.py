"""Every minute: resend what lost its job, and fail what the provider never settled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq.constants import result_key_prefix
from arq.jobs import Job, JobStatus
from sqlalchemy import and_, or_
from sqlmodel import col, select

from jobs.send import settle
from models.channels import enqueue_send, send_job_id
from models.columns import utcnow
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.sms import SmsMessage

UNSETTLED_AFTER = timedelta(minutes=15)  # unless Settings.unsettled_after_seconds says otherwise
LOST_AFTER = timedelta(minutes=1)
UNKNOWN_OUTCOME = (
    "The SMS provider never confirmed this message; whether it reached the phone is unknown."
)


async def requeue(redis: Any, message_id: int) -> None:
    """Enqueue the send again, also when an earlier job for it ended without sending.

    arq keeps a finished job's result for an hour and ignores a new job with the same id
    meanwhile, so a job that failed before its claim (the database was down) would otherwise
    leave the message waiting that long.
    """
    job_id = send_job_id(message_id)
    if await Job(job_id, redis).status() is JobStatus.complete:
        await redis.delete(result_key_prefix + job_id)
    await enqueue_send(redis, message_id)


def unsettled_after(ctx: dict[str, Any]) -> timedelta:
    settings = ctx.get("settings")
    seconds = getattr(settings, "unsettled_after_seconds", None)
    return timedelta(seconds=seconds) if seconds else UNSETTLED_AFTER


async def sweep_messages(ctx: dict[str, Any]) -> dict[str, int]:
    now = utcnow()
    async with ctx["sessions"]() as session:
        lost = (
            await session.exec(
                select(SmsMessage.id)
                .where(
                    or_(
                        and_(
                            SmsMessage.status == SmsStatus.QUEUED,
                            col(SmsMessage.created_at) < now - LOST_AFTER,
                        ),
                        and_(
                            SmsMessage.status == SmsStatus.SENDING,
                            col(SmsMessage.retry_at).is_not(None),
                            col(SmsMessage.retry_at) < now - LOST_AFTER,
                        ),
                    )
                )
                .limit(10_000)
            )
        ).all()
        unsettled = (
            await session.exec(
                select(SmsMessage.id).where(
                    SmsMessage.status == SmsStatus.SENDING,
                    col(SmsMessage.retry_at).is_(None),
                    col(SmsMessage.send_started_at) < now - unsettled_after(ctx),
                )
            )
        ).all()
    for message_id in lost:
        await requeue(ctx["redis"], message_id)
    failed = 0
    for message_id in unsettled:
        failed += await settle(
            ctx,
            message_id,
            SmsStatus.FAILED,
            only_from=[SmsStatus.SENDING],
            conditions=(col(SmsMessage.retry_at).is_(None),),
            error_code=ErrorCode.PROVIDER_ERROR.value,
            error_message=UNKNOWN_OUTCOME,
        )
    return {"requeued": len(lost), "failed": failed}
