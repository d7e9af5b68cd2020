"""The 24.1 upgrade: `timetrak-sms migrate` on a database from before it fills in the contacts'
SMS numbers once; `backfill-sms-numbers` stays for running again by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

import migrations
from models.columns import UtcDateTime
from models.db import create_engine
from tests.test_cli import cli, cli_database_url  # noqa: F401  (fixtures)

# name: (mobile, phone, sms_number) as a database from before 24.1 holds them
BEFORE = {
    "Mobile": ("021 555 0111", None, None),
    "Mobile needing the fix": ("0064 21 555 0101", None, None),
    "Mobile in the phone": (None, "0412 555 777", None),
    "Landline mobile, mobile phone": ("09 555 0123", "021 555 0122", None),
    "Landlines": ("09 555 0124", "04 555 0199", None),
    "Already set": ("021 555 0133", None, "+64215550134"),
    "No numbers": (None, None, None),
}
AFTER = {
    "Mobile": "+64215550111",
    "Mobile needing the fix": "+64215550101",
    "Mobile in the phone": "+61412555777",
    "Landline mobile, mobile phone": "+64215550122",
    "Landlines": None,
    "Already set": "+64215550134",
    "No numbers": None,
}


async def sql(url: str, statement: str, **values) -> list:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), values)
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


async def sms_numbers(url: str) -> dict[str, str | None]:
    return dict(await sql(url, "SELECT name, sms_number FROM contact"))


async def database_before_24_1(url: str) -> None:
    """Schema 0001, and contacts written by the old TimeTrak: numbers, but no SMS numbers."""
    await asyncio.to_thread(command.upgrade, migrations.alembic_config(url), "0001")
    await sql(url, "INSERT INTO client (id, name, active, sms_reminders) "
                   "VALUES (1, 'Harbourside Cafe', true, false)")
    for name, (mobile, phone, sms) in BEFORE.items():
        await sql(url, "INSERT INTO contact (client_id, name, active, mobile, phone, sms_number, "
                       "copy_mobile_to_sms) VALUES (1, :name, true, :mobile, :phone, :sms, false)",
                  name=name, mobile=mobile, phone=phone, sms=sms)


async def test_migrate_fills_in_sms_numbers_once_and_the_command_stays_for_by_hand(
        cli, cli_database_url):  # noqa: F811
    url = cli_database_url
    await database_before_24_1(url)

    # When the database is migrated, as migrate, serve and worker all do on start
    upgraded = await cli("migrate")

    # Then every contact with a usable mobile or phone has its SMS number
    assert upgraded.status == 0, upgraded.err
    assert await sms_numbers(url) == AFTER

    # Given numbers missing again after the upgrade: one cleared, one contact added since
    await sql(url, "UPDATE contact SET sms_number = NULL WHERE name = 'Mobile'")
    await sql(url, "INSERT INTO contact (client_id, name, active, mobile) "
                   "VALUES (1, 'Added later', true, '027 555 0140')")

    # When migrate runs again
    again = await cli("migrate")

    # Then it changes nothing: the upgrade step ran once, as revision 0002
    assert again.status == 0, again.err
    assert await sms_numbers(url) == AFTER | {"Mobile": None, "Added later": None}

    # And backfill-sms-numbers fills them when run by hand
    by_hand = await cli("backfill-sms-numbers")
    assert by_hand.status == 0, by_hand.err
    assert by_hand.out.strip() == "set 2, already set 4, no usable number 2"
    assert await sms_numbers(url) == AFTER | {"Added later": "+64275550140"}


async def insert(url: str, table: str, rows: list[dict]) -> None:
    """Rows into a table as it was at an older revision, its datetimes stored as the models
    store them on either database."""
    columns = [sa.column(name, UtcDateTime() if name.endswith("_at") else None)
               for name in rows[0]]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(sa.table(table, *columns)), rows)
    finally:
        await engine.dispose()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_replies_stored_before_conversations_are_linked_and_keep_their_opt_out(
        cli, cli_database_url):  # noqa: F811
    # Given a database at 0004 with messages to one number (one still queued, one failed) and
    # three replies stored then: a STOP, a question a day after the latest message that left,
    # and one 20 days after any
    url = cli_database_url
    await asyncio.to_thread(command.upgrade, migrations.alembic_config(url), "0004")
    await insert(url, "sms_message", [
        {"id": n, "to_number": "+64215550111", "body": "Hello", "status": status,
         "source": "APP", "segments": 1, "encoding": "GSM-7", "attempts": 1,
         "created_at": at(created), "updated_at": at(created)}
        for n, created, status in ((1, "2026-11-01 09:00", "DELIVERED"),
                                   (2, "2026-11-10 09:00", "SENT"),
                                   (3, "2026-11-10 10:00", "FAILED"),
                                   (4, "2026-11-10 11:00", "QUEUED"))])
    await insert(url, "inbound_message", [
        {"id": n, "from_number": "+64215550111", "to_number": "+6421000000", "body": body,
         "received_at": at(received)}
        for n, body, received in ((1, " stop! ", "2026-11-02 09:00"),
                                  (2, "Can you come at 2?", "2026-11-11 09:00"),
                                  (3, "Hello?", "2026-11-30 09:00"))])

    # When the database is migrated
    upgraded = await cli("migrate")

    # Then each reply answers the latest message that left within 14 days before it
    assert upgraded.status == 0, upgraded.err
    assert await sql(url, "SELECT id, in_reply_to_id, effect, read_at FROM inbound_message "
                          "ORDER BY id") == [(1, 1, "OPTED_OUT", None), (2, 2, "NONE", None),
                                             (3, None, "NONE", None)]
