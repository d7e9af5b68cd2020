"""The service's Prometheus metrics, defined once for the API, the worker and the schema.

Each process counts what it did itself (the API the messages it queued and the callbacks it
recorded, a worker what it sent) and Prometheus adds the processes up. prometheus_client is the
only dependency; every series with labels is made at import, at 0, so a rate is defined from the
first scrape on.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from models.channels import SMS_REPLY_CHANNEL, SMS_STATUS_CHANNEL
from models.db import Sessions
from models.enums import ReplyEffect, SmsSource, SmsStatus
from models.sms import SmsMessage

# No *_created series beside each counter and histogram: they double what a scrape carries.
disable_created_metrics()

MESSAGES = Counter(
    "timetrak_sms_messages",
    "Messages that reached each status, counted by the process that moved them there.",
    ["status", "source"],
)
PROVIDER_REQUEST_SECONDS = Histogram(
    "timetrak_sms_provider_request_seconds",
    "Time a send request to the SMS provider took, by what came of it.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
PROVIDER_OUTCOMES = ("sent", "refused", "unreachable", "uncertain")
GRAPHQL_REQUEST_SECONDS = Histogram(
    "timetrak_graphql_request_seconds",
    "Time a GraphQL query or mutation took, by operation name.",
    ["operation"],
)
REMINDER_RUN_SECONDS = Histogram(
    "timetrak_reminder_run_seconds",
    "Time a reminder event's run took to write its messages.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)
REPLIES = Counter(
    "timetrak_sms_replies",
    "SMS received from clients, by what each did (ReplyEffect) and whether it answered one of "
    "ours.",
    ["effect", "linked"],
)
REPLIES_READ = Counter(
    "timetrak_sms_replies_read",
    "Replies marked read (markSmsRepliesRead), each once, however many people mark it.",
)
REPLY_DUPLICATES = Counter(
    "timetrak_sms_reply_duplicates",
    "Inbound webhooks for a reply already stored (Twilio sending it again), answered 200.",
)
CONTACTS_RECONCILED = Counter(
    "timetrak_contacts_opt_out_reconciled_total",
    "Contacts whose stored opt-out had drifted from their number's and was set right.",
)
PUSHES_DROPPED = Counter(
    "timetrak_subscription_events_dropped",
    "Events a live subscription missed because it was a full backlog behind (schema.feed).",
    ["channel"],
)
LOGIN_FAILURES = Counter(
    "timetrak_login_failures",
    "Sign-ins refused: wrong_password (or unknown e-mail), or limited (too many failures).",
    ["reason"],
)

for _channel in (SMS_STATUS_CHANNEL, SMS_REPLY_CHANNEL):
    PUSHES_DROPPED.labels(_channel)
for _status in SmsStatus:
    for _source in SmsSource:
        MESSAGES.labels(_status.value, _source.value)
for _outcome in PROVIDER_OUTCOMES:
    PROVIDER_REQUEST_SECONDS.labels(_outcome)
for _effect in ReplyEffect:
    for _linked in ("true", "false"):
        REPLIES.labels(_effect.value, _linked)
for _reason in ("wrong_password", "limited"):
    LOGIN_FAILURES.labels(_reason)


class QueueDepth(Collector):
    """QUEUED + SENDING messages, as last measured (`measure_queue_depth`); left out of a scrape
    until measured, so only the API, which measures it at each scrape, reports it."""

    def __init__(self) -> None:
        self.value: int | None = None

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.value is not None:
            yield GaugeMetricFamily(
                "timetrak_sms_queue_depth",
                "Messages waiting to be sent or being sent (QUEUED + SENDING), at scrape time.",
                value=self.value,
            )


QUEUE_DEPTH = QueueDepth()
REGISTRY.register(QUEUE_DEPTH)


async def measure_queue_depth(sessions: Sessions) -> None:
    """One COUNT; with the database away the gauge is left out rather than wrong (and the error
    raised)."""
    try:
        async with sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(SmsMessage)
                .where(col(SmsMessage.status).in_([SmsStatus.QUEUED, SmsStatus.SENDING]))
            )
    except BaseException:
        QUEUE_DEPTH.value = None
        raise
    QUEUE_DEPTH.value = int(count or 0)


def count_messages(status: SmsStatus, source: SmsSource | None, count: int = 1) -> None:
    MESSAGES.labels(status.value, source.value if source is not None else "unknown").inc(count)
