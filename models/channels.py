"""Names the API and the worker share: arq job names, Redis keys and pub/sub channels."""

from typing import Any

SEND_SMS_JOB = "send_sms"
SEND_SMS_BATCH_JOB = "send_sms_batch"
SWEEP_MESSAGES_JOB = "sweep_messages"
CHECK_REMINDERS_JOB = "check_reminder_events"
DELETE_EXPIRED_TOKENS_JOB = "delete_expired_tokens"
RECONCILE_CONTACTS_JOB = "reconcile_contact_opt_outs"

# Every status change of a message is published here as JSON: {"id": ..., "status": ...,
# "facts": {...}} (models.status_feed).
SMS_STATUS_CHANNEL = "timetrak-sms:status"
# Every reply stored is published here as JSON: {"id": ...} (models.replies).
SMS_REPLY_CHANNEL = "timetrak-sms:replies"

# arq's health check key for the default queue: every worker writes it each heartbeat, so the
# API's /readyz can tell whether any worker is running.
WORKER_HEALTH_KEY = "arq:queue:health-check"


def send_job_id(message_id: int) -> str:
    return f"{SEND_SMS_JOB}:{message_id}"


def batch_job_id(message_ids: list[int]) -> str:
    return f"{SEND_SMS_BATCH_JOB}:{message_ids[0]}-{message_ids[-1]}"


def batch_bounds(job_id: str) -> tuple[int, int] | None:
    """The first and last message id a batch job's id names; None for any other job."""
    name, _, span = job_id.partition(":")
    first, _, last = span.partition("-")
    if name != SEND_SMS_BATCH_JOB or not (first.isdigit() and last.isdigit()):
        return None
    return int(first), int(last)


async def enqueue_send(redis: Any, message_id: int) -> bool:
    """The job id makes a second enqueue of a waiting job a no-op (False); the claim covers the
    rest."""
    job = await redis.enqueue_job(SEND_SMS_JOB, message_id, _job_id=send_job_id(message_id))
    return job is not None


async def enqueue_send_batch(redis: Any, message_ids: list[int]) -> None:
    """One job for many messages (a reminder run's); each is still claimed on its own terms."""
    await redis.enqueue_job(SEND_SMS_BATCH_JOB, message_ids, _job_id=batch_job_id(message_ids))
