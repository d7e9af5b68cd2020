"""Replies: each SMS a client sends us is linked to the message it answers, and its words may
opt the number out or in, confirm the appointment or ask to reschedule it.

A reply answers the latest message we sent to its number before it came, within 14 days; its
appointment, job and recipient are that message's (a number two contacts share links to the one
the message went to). A reply is about every appointment its message was about (a reminder is
about all of a job's visits that day). An appointment's confirmation is the latest confirming
or rescheduling reply about it, unless a reminder or manual SMS about it was queued since.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from models.channels import SMS_REPLY_CHANNEL
from models.enums import ConfirmationStatus, ReplyEffect, SmsStatus
from models.errors import DomainError, ErrorCode
from models.metrics import REPLIES_READ
from models.opt_outs import Keyword, keyword, record_keyword
from models.sms import InboundMessage, SmsMessage, SmsMessageAppointment
from models.status_feed import publish
from models.status_reports import on_commit

log = logging.getLogger(__name__)

LINK_WINDOW = timedelta(days=14)
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "CONFIRMED", "Y", "OK"})
RESCHEDULE_WORDS = frozenset({"R", "RESCHEDULE"})
# What the {reply_hint} template token renders.
REPLY_HINT = "Reply C to confirm, R to reschedule"
# Statuses of a message that reached, or may have reached, the handset.
ANSWERABLE = (SmsStatus.SENDING, SmsStatus.SENT, SmsStatus.DELIVERED)
MAX_MARKED = 500
# Punctuation, and the spaces between it, at the end of a reply ("c. .", "ok!!").
_TRAILING_PUNCTUATION = re.compile(r"[\W_]+$")


def reply_word(body: str) -> str:
    """The reply as one word to match: case, surrounding spaces and trailing punctuation
    ignored ("ok!", " c "), nothing else."""
    return _TRAILING_PUNCTUATION.sub("", body.strip()).upper()


def effect_of(body: str, answers: SmsMessage | None) -> ReplyEffect:
    """Opt-out and opt-in words first and whatever they answer (Twilio acts on them too); the
    confirming words only in reply to a message about an appointment."""
    opt = keyword(body)
    if opt is not None:
        return ReplyEffect.OPTED_OUT if opt is Keyword.OPT_OUT else ReplyEffect.OPTED_IN
    if answers is None or answers.appointment_id is None:
        return ReplyEffect.NONE
    word = reply_word(body)
    if word in CONFIRM_WORDS:
        return ReplyEffect.CONFIRMED
    if word in RESCHEDULE_WORDS:
        return ReplyEffect.RESCHEDULE_REQUESTED
    return ReplyEffect.NONE


async def answered_message(session: AsyncSession, number: str, at: datetime) -> SmsMessage | None:
    """The latest message to `number` that left us before `at`, within LINK_WINDOW."""
    if not number:
        return None
    return (
        await session.exec(
            select(SmsMessage)
            .where(
                SmsMessage.to_number == number,
                col(SmsMessage.status).in_(ANSWERABLE),
                col(SmsMessage.created_at) <= at,
                col(SmsMessage.created_at) >= at - LINK_WINDOW,
            )
            .order_by(col(SmsMessage.created_at).desc(), col(SmsMessage.id).desc())
            .limit(1)
        )
    ).first()


async def record_reply(
    session: AsyncSession,
    from_number: str,
    to_number: str,
    body: str,
    provider_message_id: str | None,
    received_at: datetime,
) -> InboundMessage:
    """Store an incoming SMS, linked and with its effect applied, in the caller's transaction.
    A second copy of one provider message fails on its unique id (IntegrityError at flush)."""
    answers = await answered_message(session, from_number, received_at)
    reply = InboundMessage(
        from_number=from_number,
        to_number=to_number,
        body=body,
        received_at=received_at,
        provider_message_id=provider_message_id,
        effect=effect_of(body, answers),
    )
    if answers is not None:
        reply.in_reply_to_id = answers.id
        reply.appointment_id = answers.appointment_id
        reply.job_id = answers.job_id
        reply.client_id = answers.client_id
        reply.recipient_kind = answers.recipient_kind
        reply.recipient_id = answers.recipient_id
    session.add(reply)
    await session.flush()
    if reply.effect in (ReplyEffect.OPTED_OUT, ReplyEffect.OPTED_IN) and from_number:
        word = Keyword.OPT_OUT if reply.effect is ReplyEffect.OPTED_OUT else Keyword.OPT_IN
        await record_keyword(session, from_number, word, received_at)
    return reply


@dataclass(frozen=True)
class Confirmation:
    status: ConfirmationStatus = ConfirmationStatus.UNCONFIRMED
    at: datetime | None = None
    reply: InboundMessage | None = None


UNCONFIRMED = Confirmation()
_STATUS = {
    ReplyEffect.CONFIRMED: ConfirmationStatus.CONFIRMED,
    ReplyEffect.RESCHEDULE_REQUESTED: ConfirmationStatus.RESCHEDULE_REQUESTED,
}


def about_appointments(appointment_ids: Sequence[int]):
    """(appointment id, reply) for each reply about one of the appointments: through the
    message it answers, to every appointment that message was about."""
    link = SmsMessageAppointment
    return (
        select(link.appointment_id, InboundMessage)
        .join(link, col(link.message_id) == InboundMessage.in_reply_to_id)
        .where(col(link.appointment_id).in_(appointment_ids))
    )


def is_about_appointment(appointment_id: int):
    """A WHERE clause: the reply is about the appointment (see about_appointments)."""
    link = SmsMessageAppointment
    return exists().where(
        link.message_id == InboundMessage.in_reply_to_id, link.appointment_id == appointment_id
    )


async def confirmations(
    session: AsyncSession, appointment_ids: Sequence[int]
) -> dict[int, Confirmation]:
    """Each appointment's confirmation, in two statements however many are asked for."""
    ids = list(dict.fromkeys(appointment_ids))
    if not ids:
        return {}
    link = SmsMessageAppointment
    last_sent = dict(
        (
            await session.exec(
                select(link.appointment_id, func.max(SmsMessage.created_at))
                .join(SmsMessage, col(SmsMessage.id) == link.message_id)
                .where(col(link.appointment_id).in_(ids), SmsMessage.status != SmsStatus.FAILED)
                .group_by(link.appointment_id)
            )
        ).all()
    )
    replies = await session.exec(
        about_appointments(ids)
        .where(col(InboundMessage.effect).in_(list(_STATUS)))
        .order_by(col(InboundMessage.received_at).desc(), col(InboundMessage.id).desc())
    )
    found: dict[int, Confirmation] = {}
    for appointment, reply in replies.all():
        if appointment in found:
            continue
        since = last_sent.get(appointment)
        found[appointment] = (
            Confirmation(_STATUS[reply.effect], reply.received_at, reply)
            if since is None or reply.received_at >= since
            else UNCONFIRMED
        )
    return {i: found.get(i, UNCONFIRMED) for i in ids}


async def mark_read(session: AsyncSession, ids: Sequence[int], user_id: int, now: datetime) -> int:
    """Mark replies read for the whole office; how many were unread. Every id must name a
    reply, or none is marked."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_MARKED:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"Mark at most {MAX_MARKED} replies at once.", field="ids"
        )
    known = set(
        await session.exec(select(InboundMessage.id).where(col(InboundMessage.id).in_(wanted)))
    )
    missing = [i for i in wanted if i not in known]
    if missing:
        raise DomainError(ErrorCode.NOT_FOUND, f"No reply with id {missing[0]}.", field="ids")
    result = await session.execute(
        update(InboundMessage)
        .where(col(InboundMessage.id).in_(wanted), col(InboundMessage.read_at).is_(None))
        .values(read_at=now, read_by_id=user_id)
    )
    marked = result.rowcount or 0

    def report() -> None:
        REPLIES_READ.inc(marked)
        log.info(
            "%d of %d replies marked read by user %d",
            marked,
            len(wanted),
            user_id,
            extra={"reply_ids": wanted, "user_id": user_id},
        )

    on_commit(session, report)
    return marked


def encode_reply_event(reply_id: int) -> str:
    return json.dumps({"id": reply_id})


def decode_reply_event(data: bytes | str) -> int | None:
    try:
        return int(json.loads(data)["id"])
    except (ValueError, KeyError, TypeError):
        return None


async def announce_reply(redis: Any, reply: InboundMessage) -> None:
    """Publish after the reply is committed; a lost announcement loses only a push."""
    await publish(redis, SMS_REPLY_CHANNEL, encode_reply_event(reply.id), f"reply {reply.id}")
