"""The 24.1 upgrade step: give contacts an SMS number from their mobile or phone.

Migration 0002 runs it once per database as part of `timetrak-sms migrate`;
`timetrak-sms backfill-sms-numbers` runs it again by hand. Both go through `fill_batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import bindparam

from models.contact_numbers import number_facts
from models.db import Sessions
from models.phone import sms_number

# Only the columns the step reads and writes, named as every revision since 0001 has them, so
# the migration keeps working whatever later revisions add to the contact table.
CONTACTS = sa.table(
    "contact",
    sa.column("id", sa.Integer),
    sa.column("mobile", sa.String),
    sa.column("phone", sa.String),
    sa.column("sms_number", sa.String),
)
SET_NUMBER = (
    sa.update(CONTACTS)
    .where(CONTACTS.c.id == bindparam("contact_id"), CONTACTS.c.sms_number.is_(None))
    .values(sms_number=bindparam("number"))
)
# Since revision 0006 the facts the phone rules give about a contact's numbers, and whether its
# SMS number opted out, are stored too; the migrations before it (0002 runs this step) have no
# such columns.
CONTACTS_WITH_FACTS = sa.table(
    "contact",
    sa.column("id", sa.Integer),
    sa.column("sms_number", sa.String),
    sa.column("invalid_number", sa.Boolean),
    sa.column("sms_differs_from_mobile", sa.Boolean),
    sa.column("opted_out", sa.Boolean),
)
OPT_OUTS = sa.table("opt_out", sa.column("number", sa.String), sa.column("opted_out", sa.Boolean))
SET_NUMBER_AND_FACTS = (
    sa.update(CONTACTS_WITH_FACTS)
    .where(
        CONTACTS_WITH_FACTS.c.id == bindparam("contact_id"),
        CONTACTS_WITH_FACTS.c.sms_number.is_(None),
    )
    .values(
        sms_number=bindparam("number"),
        invalid_number=bindparam("invalid"),
        sms_differs_from_mobile=bindparam("differs"),
        opted_out=sa.exists().where(
            OPT_OUTS.c.number == bindparam("number"), OPT_OUTS.c.opted_out == sa.true()
        ),
    )
)


@dataclass
class BackfillCounts:
    set: int = 0
    already_set: int = 0
    no_usable_number: int = 0

    @property
    def seen(self) -> int:
        return self.set + self.already_set + self.no_usable_number


def number_and_facts(mobile: str | None, phone: str | None) -> tuple[str | None, bool, bool]:
    """The mobile when it formats to a NZ/AU mobile, else the phone when that does; and the
    contact's number facts once it has that number, each number parsed once (parsing is what
    the step costs)."""
    mobile_sms = sms_number(mobile)
    number = mobile_sms or sms_number(phone)
    invalid, differs = number_facts(mobile, number, mobile_sms, formatted=True)
    return number, invalid, differs


def batch_after(after: int, size: int) -> sa.Select:
    return (
        sa.select(CONTACTS.c.id, CONTACTS.c.mobile, CONTACTS.c.phone, CONTACTS.c.sms_number)
        .where(CONTACTS.c.id > after)
        .order_by(CONTACTS.c.id)
        .limit(size)
    )


def fill_batch(rows: Sequence, counts: BackfillCounts) -> list[dict]:
    """The rule for one batch of (id, mobile, phone, sms_number): the numbers to set."""
    changes = []
    for contact_id, mobile, phone, current in rows:
        if current:
            counts.already_set += 1
            continue
        number, invalid, differs = number_and_facts(mobile, phone)
        if number is None:
            counts.no_usable_number += 1
            continue
        changes.append(
            {"contact_id": contact_id, "number": number, "invalid": invalid, "differs": differs}
        )
        counts.set += 1
    return changes


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
    while True:
        async with sessions.begin() as session:
            rows = (await session.execute(batch_after(after, batch_size))).all()
            if not rows:
                break
            changes = fill_batch(rows, counts)
            if changes:
                await session.execute(SET_NUMBER_AND_FACTS, changes)
            after = rows[-1][0]
        if progress:
            progress(counts)
    return counts


def backfill_in_migration(connection: sa.Connection, batch_size: int = 2000) -> BackfillCounts:
    """The same step on a migration's connection, inside the migration's transaction (0002,
    before the facts had columns: 0006 works them out for every contact)."""
    counts = BackfillCounts()
    after = 0
    while rows := connection.execute(batch_after(after, batch_size)).all():
        changes = fill_batch(rows, counts)
        if changes:
            numbers = [{"contact_id": c["contact_id"], "number": c["number"]} for c in changes]
            connection.execute(SET_NUMBER, numbers)
        after = rows[-1][0]
    return counts
