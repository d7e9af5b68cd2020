"""Opting out by replying STOP, and back in by replying START."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from models.enums import OptOutMethod
from models.sms import OptOut

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                           "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})


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
    session: AsyncSession, number: str, word: Keyword, now: datetime,
    method: OptOutMethod = OptOutMethod.KEYWORD,
) -> OptOut:
    row = (await session.exec(select(OptOut).where(OptOut.number == number))).first()
    if row is None:
        row = OptOut(number=number, method=method, opted_out=False, opted_out_at=now)
        session.add(row)
    if word is Keyword.OPT_OUT:
        row.opted_out, row.method, row.opted_out_at, row.opted_in_at = True, method, now, None
    else:
        row.opted_out, row.opted_in_at = False, now
    return row
