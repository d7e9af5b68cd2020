"""Names the API and the worker share: arq job names and Redis pub/sub channels."""

SEND_SMS_JOB = "send_sms"
RUN_REMINDER_EVENT_JOB = "run_reminder_event"

# Every status change of a message is published here as its id and new status.
SMS_STATUS_CHANNEL = "timetrak-sms:status"
