"""copyMobileToSms reads true exactly when the mobile and the SMS number are the same number,
however the numbers got there: the edit form, the grid's inline edits, the copy buttons, or a
row written before the rules existed."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Client as ClientRow
from models import Contact as ContactRow

CONTACT = """
query Contact($id: ID!) { contact(id: $id) { mobile smsNumber copyMobileToSms } }
"""
UPDATE_NUMBER = """
mutation Number($id: ID!, $field: ContactNumberField!, $value: String) {
  updateContactNumber(id: $id, field: $field, value: $value) {
    contact { mobile smsNumber copyMobileToSms } errors { code }
  }
}
"""
COPY_TO_SMS = """
mutation Copy($id: ID!, $from: ContactNumberField!) {
  copyContactNumberToSms(id: $id, from: $from) {
    contact { mobile smsNumber copyMobileToSms } errors { code }
  }
}
"""
UPDATE_CONTACT = """
mutation Update($id: ID!, $input: ContactInput!) {
  updateContact(id: $id, input: $input) {
    contact { mobile smsNumber copyMobileToSms } errors { code }
  }
}
"""


async def add_contact(sessions, name: str, **numbers) -> str:
    """A contact as an older database may hold it, written past the API's rules."""
    async with sessions.begin() as session:
        client = (await session.exec(
            select(ClientRow).where(ClientRow.name == "Harbourside Cafe"))).one()
        contact = ContactRow(client_id=client.id, name=name, **numbers)
        session.add(contact)
        await session.flush()
        return str(contact.id)


async def contact_named(sessions, name: str) -> str:
    async with sessions() as session:
        return str((await session.exec(select(ContactRow).where(ContactRow.name == name))).one().id)


async def step(api, id: str, operation: str, variables: dict) -> dict:
    """Run one edit; its payload's contact, which must also be what a fresh read shows."""
    data = await api.ok(operation, {"id": id, **variables})
    (payload,) = data.values()
    assert payload["errors"] == []
    assert (await api.ok(CONTACT, {"id": id}))["contact"] == payload["contact"]
    return payload["contact"]


def grid(field: str, value: str | None) -> tuple[str, dict]:
    return UPDATE_NUMBER, {"field": field, "value": value}


@pytest.mark.parametrize(("numbers", "edits", "after_each"), [
    # The grid changes the mobile to the number the SMS number already held.
    ({"mobile": "021 555 0131", "sms_number": "+64215550132"},
     [grid("MOBILE", "021 555 0132")],
     [("021 555 0132", "+64215550132", True)]),
    # The phone fills an empty SMS number; then the mobile is set to that same number.
    ({"phone": "09 555 0123"},
     [grid("PHONE", "021 555 0166"), grid("MOBILE", "+64 21 555 0166")],
     [(None, "+64215550166", False), ("+64 21 555 0166", "+64215550166", True)]),
    # A landline in the mobile clears the SMS number that followed it; a mobile brings it back.
    ({"mobile": "021 555 0111", "sms_number": "+64215550111"},
     [grid("MOBILE", "09 555 0124"), grid("MOBILE", "021 555 0177")],
     [("09 555 0124", None, False), ("021 555 0177", "+64215550177", True)]),
    # The grid moves the mobile away from the SMS number, then back.
    ({"mobile": "021 555 0131", "sms_number": "+64215550132", "phone": "09 555 0125"},
     [grid("MOBILE", "021 555 0133"), grid("PHONE", "021 555 0134"),
      grid("MOBILE", "021-555-0132")],
     [("021 555 0133", "+64215550132", False), ("021 555 0133", "+64215550132", False),
      ("021-555-0132", "+64215550132", True)]),
    # The phone's copy button, when the phone and the mobile are the same number.
    ({"mobile": "021 555 0140", "phone": "021 555 0140"},
     [(COPY_TO_SMS, {"from": "PHONE"})],
     [("021 555 0140", "+64215550140", True)]),
    # The edit form unticking copy while saving the same number: they still match.
    ({"mobile": "021 555 0150", "sms_number": "+64215550150"},
     [(UPDATE_CONTACT, {"input": {"copyMobileToSms": False}}),
      (UPDATE_CONTACT, {"input": {"mobile": "021 555 0151", "copyMobileToSms": False}}),
      (UPDATE_CONTACT, {"input": {"smsNumber": "021 555 0151", "copyMobileToSms": False}})],
     [("021 555 0150", "+64215550150", True), ("021 555 0151", "+64215550150", False),
      ("021 555 0151", "+64215550151", True)]),
])
async def test_copy_mobile_to_sms_follows_the_numbers_through_every_edit(
        office, demo, numbers, edits, after_each):
    id = await add_contact(demo, "Numbers Under Test", **numbers)

    seen = [await step(office, id, operation, variables) for operation, variables in edits]

    assert [(c["mobile"], c["smsNumber"], c["copyMobileToSms"]) for c in seen] == after_each


@pytest.mark.parametrize(("numbers", "copy"), [
    ({"mobile": "021 555 0160", "sms_number": "+64215550160"}, True),
    ({"mobile": "0064 21 555 0161", "sms_number": "+64215550161"}, True),
    ({"mobile": "021 555 0162", "sms_number": "+64215550163"}, False),
    ({"mobile": "021 555 0164"}, False),
    ({"sms_number": "+64215550165"}, False),
])
async def test_a_contact_written_before_the_rules_reads_copy_from_its_numbers(
        office, demo, numbers, copy):
    id = await add_contact(demo, "Older Contact", **numbers)

    assert (await office.ok(CONTACT, {"id": id}))["contact"]["copyMobileToSms"] is copy


async def test_a_grid_edit_leaves_copy_ticked_so_the_edit_form_keeps_the_numbers_in_step(
        office, demo):
    # Given: the grid sets a mobile equal to the SMS number the phone gave
    accounts = await contact_named(demo, "Accounts")
    await step(office, accounts, *grid("PHONE", "021 555 0166"))
    await step(office, accounts, *grid("MOBILE", "021 555 0166"))

    # When: the edit form changes the mobile without saying anything about copy
    edited = await step(office, accounts, UPDATE_CONTACT, {"input": {"mobile": "022 555 0167"}})

    # Then: the SMS number followed, as copy was ticked
    assert (edited["smsNumber"], edited["copyMobileToSms"]) == ("+64225550167", True)
