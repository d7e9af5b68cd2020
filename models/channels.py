"""Names the API and the worker share: arq job names and Redis pub/sub channels."""

from typing import Any

SEND_SMS_JOB = "send_sms"
SEND_SMS_BATCH_JOB = "send_sms_batch"
SWEEP_MESSAGES_JOB = "sweep_messages"
CHECK_REMINDERS_JOB = "check_reminder_events"

# Every status change of a message is published here as JSON: {"id": ..., "status": ...}.
SMS_STATUS_CHANNEL = "timetrak-sms:status"


def send_job_id(message_id: int) -> str:
    return f"{SEND_SMS_JOB}:{message_id}"


async def enqueue_send(redis: Any, message_id: int) -> None:
    """The job id makes a second enqueue of a waiting job a no-op; the claim covers the rest."""
    await redis.enqueue_job(SEND_SMS_JOB, message_id, _job_id=send_job_id(message_id))


async def enqueue_send_batch(redis: Any, message_ids: list[int]) -> None:
    """One job for many messages (a reminder run's); each is still claimed on its own terms."""
    await redis.enqueue_job(
        SEND_SMS_BATCH_JOB,
        message_ids,
        _job_id=f"{SEND_SMS_BATCH_JOB}:{message_ids[0]}-{message_ids[-1]}",
    )
