"""Announcing status changes to every API process, through Redis pub/sub.

Each announcement carries the facts subscribers filter on (which appointments, time entry,
job, sender and recipient the message is about), so a subscriber decides from the event alone
whether it wants it and reads the database only for the events it passes on. An announcement
without facts (an older publisher) is still heard: subscribers then look the message up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from models.channels import SMS_STATUS_CHANNEL
from models.enums import RecipientKind, SmsStatus
from models.sms import SmsMessage, SmsMessageAppointment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageFacts:
    """What a message is about, as far as deciding who hears of its changes goes."""

    appointment_id: int | None = None
    # Every appointment the message is about: its own and the linked ones (a reminder's).
    appointment_ids: frozenset[int] = frozenset()
    time_entry_id: int | None = None
    job_id: int | None = None
    sent_by_id: int | None = None
    recipient_kind: RecipientKind | None = None
    recipient_id: int | None = None

    @classmethod
    def of(cls, message: SmsMessage, linked_appointments: Iterable[int] = ()) -> MessageFacts:
        own = {message.appointment_id} if message.appointment_id is not None else set()
        return cls(
            appointment_id=message.appointment_id,
            appointment_ids=frozenset(own | set(linked_appointments)),
            time_entry_id=message.time_entry_id,
            job_id=message.job_id,
            sent_by_id=message.sent_by_id,
            recipient_kind=message.recipient_kind,
            recipient_id=message.recipient_id,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "appointment": self.appointment_id,
            "appointments": sorted(self.appointment_ids),
            "timeEntry": self.time_entry_id,
            "job": self.job_id,
            "sentBy": self.sent_by_id,
            "recipient": [self.recipient_kind.value, self.recipient_id]
            if self.recipient_kind is not None
            else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageFacts:
        recipient = data.get("recipient")
        kind, recipient_id = recipient if recipient is not None else (None, None)
        return cls(
            appointment_id=_optional_id(data.get("appointment")),
            appointment_ids=frozenset(int(a) for a in data.get("appointments") or ()),
            time_entry_id=_optional_id(data.get("timeEntry")),
            job_id=_optional_id(data.get("job")),
            sent_by_id=_optional_id(data.get("sentBy")),
            recipient_kind=RecipientKind(kind) if kind is not None else None,
            recipient_id=_optional_id(recipient_id),
        )


def _optional_id(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class StatusEvent:
    """A message moved to `status`; `facts` is None when the publisher did not send them."""

    message_id: int
    status: SmsStatus
    facts: MessageFacts | None = None


def encode(message_id: int, status: SmsStatus, facts: MessageFacts | None = None) -> str:
    event: dict[str, Any] = {"id": message_id, "status": status.value}
    if facts is not None:
        event["facts"] = facts.as_json()
    return json.dumps(event)


def decode_event(data: bytes | str) -> StatusEvent | None:
    try:
        event = json.loads(data)
        message_id, status = int(event["id"]), SmsStatus(event["status"])
    except (ValueError, KeyError, TypeError):
        return None
    try:
        facts = MessageFacts.from_json(event["facts"]) if event.get("facts") else None
    except (ValueError, KeyError, TypeError, AttributeError):
        # Facts we cannot read are no facts: subscribers look the message up instead.
        facts = None
    return StatusEvent(message_id, status, facts)


def decode(data: bytes | str) -> tuple[int, SmsStatus] | None:
    event = decode_event(data)
    return None if event is None else (event.message_id, event.status)


async def message_facts(session: Any, message_ids: Iterable[int]) -> dict[int, MessageFacts]:
    """The facts of each message, in two statements whatever their number; for publishers
    that have only ids at hand (a claimed batch, a reminder run's failures)."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return {}
    rows = (await session.execute(select(SmsMessage).where(SmsMessage.id.in_(ids)))).scalars()
    linked = await linked_appointments(session, ids)
    return {row.id: MessageFacts.of(row, linked.get(row.id, ())) for row in rows}


async def linked_appointments(session: Any, message_ids: list[int]) -> dict[int, set[int]]:
    """The appointments each message is linked to (a reminder's visits), by message id."""
    linked: dict[int, set[int]] = {}
    links = await session.execute(
        select(SmsMessageAppointment.message_id, SmsMessageAppointment.appointment_id).where(
            SmsMessageAppointment.message_id.in_(message_ids)
        )
    )
    for message_id, appointment_id in links:
        linked.setdefault(message_id, set()).add(appointment_id)
    return linked


async def announce(
    redis: Any, message_id: int, status: SmsStatus, facts: MessageFacts | None = None
) -> None:
    """Publish after the change is committed; a lost announcement loses no data, only a push.

    Give `facts` (MessageFacts.of(row, linked appointments), or message_facts()) whenever
    they are at hand: without them every subscriber reads the message to filter it.
    """
    data = encode(message_id, status, facts)
    await publish(redis, SMS_STATUS_CHANNEL, data, f"message {message_id} as {status.value}")


async def publish(redis: Any, channel: str, data: str, what: str) -> None:
    """Publish to every API process; without Redis, or when Redis is away, nothing but a
    warning: what was announced is already committed, only a live push is lost."""
    if redis is None:
        return
    try:
        await redis.publish(channel, data)
    except Exception:
        log.warning("could not announce %s", what, exc_info=True)
