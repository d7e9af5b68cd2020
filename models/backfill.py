"""The 24.1 upgrade step: give contacts an SMS number from their mobile or phone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlmodel import col, select

from models.clients import Contact
from models.db import Sessions
from models.phone import sms_number


@dataclass
class BackfillCounts:
    set: int = 0
    already_set: int = 0
    no_usable_number: int = 0

    @property
    def seen(self) -> int:
        return self.set + self.already_set + self.no_usable_number


def number_for(mobile: str | None, phone: str | None) -> tuple[str | None, bool]:
    """The mobile when it formats to a NZ/AU mobile, else the phone when that does; and
    whether it came from the mobile (copy-mobile-to-SMS starts on then)."""
    from_mobile = sms_number(mobile)
    return (from_mobile, True) if from_mobile else (sms_number(phone), False)


async def backfill_sms_numbers(
    sessions: Sessions,
    batch_size: int = 2000,
    progress: Callable[[BackfillCounts], None] | None = None,
) -> BackfillCounts:
    """Set missing SMS numbers in batches by id; never overwrites one already set.

    Each batch commits on its own, so memory stays flat and an interrupted run
    resumes where it stopped when run again.
    """
    counts = BackfillCounts()
    after = 0
    table = Contact.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("contact_id"), table.c.sms_number.is_(None))
        .values(sms_number=bindparam("number"), copy_mobile_to_sms=bindparam("copy"))
    )
    while True:
        async with sessions.begin() as session:
            rows = (
                await session.exec(
                    select(Contact.id, Contact.mobile, Contact.phone, Contact.sms_number)
                    .where(col(Contact.id) > after)
                    .order_by(Contact.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            changes = []
            for contact_id, mobile, phone, current in rows:
                if current:
                    counts.already_set += 1
                    continue
                number, from_mobile = number_for(mobile, phone)
                if number is None:
                    counts.no_usable_number += 1
                    continue
                changes.append(
                    {
                        "contact_id": contact_id,
                        "number": number,
                        "copy": from_mobile,
                    }
                )
                counts.set += 1
            if changes:
                await session.execute(stmt, changes)
            after = rows[-1][0]
        if progress:
            progress(counts)
    return counts
