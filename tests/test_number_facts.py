"""The facts the phone rules give about a contact's numbers (an invalid number; an SMS number
other than the mobile's) and whether its SMS number opted out are stored, so the Contact Bulk
Updates grid filters and counts them in SQL. They must follow the numbers whichever way the
numbers change (the forms, the grid's inline edits, the copy buttons, the backfill, migration
0006 for contacts from before it) and the opt-outs however they come."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import update
from sqlmodel import select

import migrations
from jobs.contacts import reconcile_contact_opt_outs
from models import Contact
from models.columns import utcnow
from models.contact_numbers import has_invalid_number, sms_differs_from_mobile
from models.metrics import CONTACTS_RECONCILED
from models.opt_outs import Keyword, record_keyword
from tests.test_api_contacts import (
    COPY_TO_SMS,
    CREATE_CONTACT,
    UPDATE_CONTACT,
    UPDATE_NUMBER,
    client_id,
    grid,
)
from tests.test_cli import cli, cli_database_url  # noqa: F401  (fixtures)
from tests.test_upgrade_24_1 import sql

# (mobile, sms number) pairs every category meets: valid and fixable mobiles, landlines, words,
# an SMS number of the mobile's or of its own, one no longer valid.
NUMBERS = [
    ("021 555 0191", None), ("0064 21 555 0192", None), ("09 555 0193", None),
    ("ring the office", None), (None, None), ("021 555 0194", "+64215550195"),
    ("0412 555 196", None), ("04 555 0197", "+64215550197"), (None, "+64215550198"),
]


def as_the_rules_say(contact: Contact) -> tuple[bool, bool]:
    return has_invalid_number(contact), sms_differs_from_mobile(contact)


async def every_contact(sessions) -> list[Contact]:
    async with sessions() as session:
        return list((await session.exec(select(Contact).order_by(Contact.id))).all())


async def assert_facts_follow_the_numbers(sessions) -> None:
    for contact in await every_contact(sessions):
        stored = (contact.invalid_number, contact.sms_differs_from_mobile)
        assert stored == as_the_rules_say(contact), (contact.name, contact.mobile,
                                                     contact.sms_number)


async def test_every_way_of_changing_numbers_keeps_the_facts(office, demo):
    # Given contacts created with every kind of number
    client = await client_id(office, "Harbourside")
    ids = []
    for n, (mobile, _) in enumerate(NUMBERS):
        created = await office.ok(CREATE_CONTACT, {"input": {
            "clientId": client, "name": f"Contact {n}", "mobile": mobile}})
        assert created["createContact"]["errors"] == []
        ids.append(await contact_named(demo, f"Contact {n}"))
    await assert_facts_follow_the_numbers(demo)

    # When each is edited by the form, the grid and the copy buttons
    for contact, (mobile, sms) in zip(ids, reversed(NUMBERS), strict=True):
        await office.ok(UPDATE_CONTACT, {"id": contact, "input": {
            "mobile": mobile, "copyMobileToSms": False, **({"smsNumber": sms} if sms else {})}})
    await assert_facts_follow_the_numbers(demo)
    for contact, (mobile, _) in zip(ids, NUMBERS, strict=True):
        await office.ok(UPDATE_NUMBER, {"id": contact, "field": "MOBILE", "value": mobile})
        await office.ok(UPDATE_NUMBER, {"id": contact, "field": "PHONE", "value": "021 555 0170"})
    await assert_facts_follow_the_numbers(demo)
    for contact in ids[::2]:
        await office.ok(COPY_TO_SMS, {"id": contact, "from": "PHONE"})
    await assert_facts_follow_the_numbers(demo)

    # Then each category of the grid lists exactly the active contacts the rules pick
    for category, rule in (("INVALID_NUMBER", has_invalid_number),
                           ("SMS_DIFFERS_FROM_MOBILE", sms_differs_from_mobile)):
        picked = sorted(c.name for c in await every_contact(demo) if c.active and rule(c))
        assert sorted(await grid(office, category=category)) == picked, category
        assert picked  # the cases above reach every category


async def contact_named(sessions, name: str) -> str:
    async with sessions() as session:
        found = await session.exec(select(Contact.id).where(Contact.name == name))
        return str(found.one())


async def test_migration_0006_works_out_the_facts_of_contacts_from_before_it(
        cli, cli_database_url):  # noqa: F811
    # Given a database at 0005 whose contacts have every kind of number
    url = cli_database_url
    await asyncio.to_thread(command.upgrade, migrations.alembic_config(url), "0005")
    await sql(url, "INSERT INTO client (id, name, active, sms_reminders) "
                   "VALUES (1, 'Harbourside Cafe', true, false)")
    for n, (mobile, sms) in enumerate(NUMBERS):
        await sql(url, "INSERT INTO contact (client_id, name, active, mobile, sms_number) "
                       "VALUES (1, :name, true, :mobile, :sms)",
                  name=f"Contact {n}", mobile=mobile, sms=sms)
    await sql(url, "INSERT INTO opt_out (number, opted_out, method, opted_out_at) "
                   "VALUES ('+64215550195', true, 'KEYWORD', CURRENT_TIMESTAMP)")

    # When it is migrated
    upgraded = await cli("migrate")

    # Then each contact's stored facts are the rules'
    assert upgraded.status == 0, upgraded.err
    rows = await sql(url, "SELECT mobile, sms_number, invalid_number, sms_differs_from_mobile "
                          "FROM contact ORDER BY id")
    assert [(bool(invalid), bool(differs)) for _, _, invalid, differs in rows] == [
        as_the_rules_say(Contact(name="", client_id=1, mobile=mobile, sms_number=sms))
        for mobile, sms, _, _ in rows]
    assert any(invalid for _, _, invalid, _ in rows) and any(d for *_, d in rows)
    assert await sql(url, "SELECT sms_number FROM contact WHERE opted_out") == [("+64215550195",)]


async def test_the_backfill_by_hand_stores_the_facts_of_the_numbers_it_sets(
        cli, cli_database_url):  # noqa: F811
    # Given a migrated database with contacts whose SMS numbers are missing
    url = cli_database_url
    assert (await cli("migrate")).status == 0
    await sql(url, "INSERT INTO client (id, name, active, sms_reminders) "
                   "VALUES (1, 'Harbourside Cafe', true, false)")
    for n, (mobile, _) in enumerate(NUMBERS):
        await sql(url, "INSERT INTO contact (client_id, name, active, phone, mobile, "
                       "invalid_number, sms_differs_from_mobile, opted_out) "
                       "VALUES (1, :name, true, '021 555 0170', :mobile, false, false, false)",
                  name=f"Contact {n}", mobile=mobile)

    await sql(url, "INSERT INTO opt_out (number, opted_out, method, opted_out_at) "
                   "VALUES ('+64215550170', true, 'KEYWORD', CURRENT_TIMESTAMP)")

    # When backfill-sms-numbers sets them
    assert (await cli("backfill-sms-numbers")).status == 0

    # Then the facts of the numbers it set are stored with them
    rows = await sql(url, "SELECT mobile, sms_number, invalid_number, sms_differs_from_mobile "
                          "FROM contact ORDER BY id")
    assert all(sms for _, sms, _, _ in rows)
    assert [(bool(invalid), bool(differs)) for _, _, invalid, differs in rows] == [
        as_the_rules_say(Contact(name="", client_id=1, mobile=mobile, sms_number=sms))
        for mobile, sms, _, _ in rows]
    assert any(differs for *_, differs in rows)
    opted_out = await sql(url, "SELECT id FROM contact WHERE opted_out ORDER BY id")
    assert opted_out and opted_out == await sql(
        url, "SELECT id FROM contact WHERE sms_number = '+64215550170' ORDER BY id")


async def opted_out_names(office) -> list[str]:
    return sorted(await grid(office, category="OPTED_OUT"))


async def reply(sessions, number: str, word: Keyword) -> None:
    async with sessions.begin() as session:
        await record_keyword(session, number, word, utcnow())


async def test_the_opted_out_category_follows_opt_outs_and_number_changes(office, demo):
    # Given two contacts with numbers, one of them opted out by replying STOP
    client = await client_id(office, "Harbourside")
    for name, mobile in (("Ana", "021 555 0181"), ("Ben", "021 555 0182")):
        created = await office.ok(CREATE_CONTACT, {"input": {
            "clientId": client, "name": name, "mobile": mobile}})
        assert created["createContact"]["errors"] == []
    await reply(demo, "+64215550181", Keyword.OPT_OUT)
    assert await opted_out_names(office) == ["Ana"]

    # When Ben takes Ana's number, and Ana another
    ben, ana = await contact_named(demo, "Ben"), await contact_named(demo, "Ana")
    await office.ok(UPDATE_NUMBER, {"id": ben, "field": "MOBILE", "value": "021 555 0181"})
    await office.ok(UPDATE_NUMBER, {"id": ana, "field": "MOBILE", "value": "021 555 0183"})

    # Then the number's opt-out went with it
    assert await opted_out_names(office) == ["Ben"]

    # And replying START takes the number out of the category, STOP puts it back
    await reply(demo, "+64215550181", Keyword.OPT_IN)
    assert await opted_out_names(office) == []
    await reply(demo, "+64215550181", Keyword.OPT_OUT)
    assert await opted_out_names(office) == ["Ben"]
    await assert_opted_out_follows_opt_outs(demo)


async def assert_opted_out_follows_opt_outs(sessions) -> None:
    from models import OptOut

    async with sessions() as session:
        out = set((await session.exec(select(OptOut.number).where(OptOut.opted_out))).all())
    for contact in await every_contact(sessions):
        assert contact.opted_out is (contact.sms_number in out), contact.name


async def test_a_stored_opt_out_left_behind_by_crossing_transactions_is_set_right(office, demo):
    # Given a contact whose number opted out, stored as not opted out (a number given to the
    # contact in one transaction while the number opted out in another: neither saw the other)
    client = await client_id(office, "Harbourside")
    created = await office.ok(CREATE_CONTACT, {"input": {
        "clientId": client, "name": "Cara", "mobile": "021 555 0184"}})
    assert created["createContact"]["errors"] == []
    await reply(demo, "+64215550184", Keyword.OPT_OUT)
    async with demo.begin() as session:
        await session.execute(update(Contact).where(Contact.name == "Cara").values(
            opted_out=False))
    assert "Cara" not in await opted_out_names(office)

    # When the worker's quarter-hourly job runs
    before = CONTACTS_RECONCILED._value.get()
    fixed = await reconcile_contact_opt_outs({"sessions": demo})

    # Then the contact is listed as opted out again, and the repair was counted
    assert fixed == 1 and CONTACTS_RECONCILED._value.get() == before + 1
    assert "Cara" in await opted_out_names(office)
    assert await reconcile_contact_opt_outs({"sessions": demo}) == 0
    await assert_opted_out_follows_opt_outs(demo)
