"""Opting out by replying STOP, and back in by replying START."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum

from sqlalchemy import event, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import select

from models.clients import Contact
from models.enums import OptOutMethod
from models.provider_errors import STOPPED_BY_RECIPIENT
from models.recipients import has_opted_out
from models.sms import OptOut

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
# We send only to E.164 numbers; any other sender (an alphanumeric ID, "whatsapp:+64...") has
# nothing of ours to opt out of, and would not fit the opt-out's number column.
E164 = re.compile(r"\+[1-9]\d{5,14}")


class Keyword(Enum):
    OPT_OUT = "opt out"
    OPT_IN = "opt in"


def keyword(body: str | None) -> Keyword | None:
    """A reply that is one keyword, any case, with spaces and punctuation around it ignored."""
    word = re.sub(r"^[\W_]+|[\W_]+$", "", body or "").upper()
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    return None


async def record_keyword(
    session: AsyncSession,
    number: str,
    word: Keyword,
    now: datetime,
    method: OptOutMethod = OptOutMethod.KEYWORD,
) -> OptOut | None:
    """Opt `number` out or back in; None when the sender is not a number we could send to.

    The row is made with INSERT ... ON CONFLICT DO NOTHING: two replies from one number at
    once find one row instead of one of them failing on the unique number.
    """
    if not E164.fullmatch(number):
        return None
    dialect = (await session.connection()).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(OptOut)
        .values(number=number, method=method, opted_out=False, opted_out_at=now)
        .on_conflict_do_nothing(index_elements=["number"])
    )
    row = (await session.exec(select(OptOut).where(OptOut.number == number))).one()
    if word is Keyword.OPT_OUT:
        row.opted_out, row.method, row.opted_out_at, row.opted_in_at = True, method, now, None
    else:
        row.opted_out, row.opted_in_at = False, now
    return row


@event.listens_for(Session, "after_flush")
def opt_contacts_out(session: Session, flush_context) -> None:
    """An opt-out written, changed or removed reaches every contact with that SMS number, as the
    Contact Bulk Updates grid's category lists them."""
    contacts = Contact.__table__
    changed = [
        (row, row.opted_out) for row in (*session.new, *session.dirty) if isinstance(row, OptOut)
    ]
    changed += [(row, False) for row in session.deleted if isinstance(row, OptOut)]
    for row, opted_out in changed:
        session.execute(
            update(contacts).where(contacts.c.sms_number == row.number).values(opted_out=opted_out)
        )


@event.listens_for(Session, "before_flush")
def keep_contacts_opted_out(session: Session, flush_context, instances) -> None:
    """A contact given an SMS number takes that number's opt-out with it, whatever set it."""
    for contact in (*session.new, *session.dirty):
        if not isinstance(contact, Contact):
            continue
        if contact in session.dirty and not inspect(contact).attrs.sms_number.history.has_changes():
            continue
        opted_out = (
            contact.sms_number is not None
            and session.execute(
                select(OptOut.opted_out).where(OptOut.number == contact.sms_number)
            ).scalar()
        )
        contact.opted_out = bool(opted_out)


async def record_refusal(
    session: AsyncSession, number: str, provider_code: str | None, now: datetime
) -> OptOut | None:
    """A provider refusal that says the recipient replied STOP opts the number out, as the
    reply itself would have; the next send is refused before it reaches the provider."""
    if provider_code != STOPPED_BY_RECIPIENT:
        return None
    return await record_keyword(session, number, Keyword.OPT_OUT, now)


async def reconcile_contacts(session: AsyncSession) -> int:
    """Contacts whose stored opt-out is not their number's, set right; how many there were.

    The flush listeners above keep the two in step, but a contact given a number in one
    transaction while that number opts out or in in another sees neither change: each
    transaction reads the other's rows as they were. Run now and then (the worker does), this
    bounds how long the Contact Bulk Updates grid can list such a contact wrongly; sending
    always asks the opt-out itself.
    """
    contacts = Contact.__table__
    actual = has_opted_out(contacts.c.sms_number)
    result = await session.execute(
        update(contacts).where(contacts.c.opted_out != actual).values(opted_out=actual)
    )
    return result.rowcount or 0
