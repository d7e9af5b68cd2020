"""Contacts over GraphQL: the edit form, the Contact Bulk Updates grid and its inline edits."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Client as ClientRow
from models import Contact as ContactRow
from models import OptOut
from models.enums import OptOutMethod

CONTACT = """
query Contact($id: ID!) {
  contact(id: $id) {
    id name active phone mobile smsNumber copyMobileToSms optedOut client { name }
  }
}
"""

CLIENT_CONTACTS = """
query Contacts($search: String!) {
  clients(filter: {search: $search}) {
    nodes { id contacts(activeOnly: false) { id name } }
  }
}
"""

GRID = """
query Grid($filter: ContactFilter, $first: Int, $after: String) {
  contactsForBulkUpdate(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { name smsNumber optedOut }
  }
}
"""

CREATE_CONTACT = """
mutation Create($input: ContactInput!) {
  createContact(input: $input) {
    contact { name active phone mobile smsNumber copyMobileToSms client { name } }
    errors { code field message }
  }
}
"""

UPDATE_CONTACT = """
mutation Update($id: ID!, $input: ContactInput!) {
  updateContact(id: $id, input: $input) {
    contact { name active phone mobile smsNumber copyMobileToSms }
    errors { code field message }
  }
}
"""

UPDATE_NUMBER = """
mutation Number($id: ID!, $field: ContactNumberField!, $value: String) {
  updateContactNumber(id: $id, field: $field, value: $value) {
    contact { phone mobile smsNumber }
    errors { code field message }
  }
}
"""

COPY_TO_SMS = """
mutation Copy($id: ID!, $from: ContactNumberField!) {
  copyContactNumberToSms(id: $id, from: $from) {
    contact { smsNumber copyMobileToSms }
    errors { code field message }
  }
}
"""

UPDATE_SETTINGS = """
mutation Settings($input: SettingsInput!) {
  updateSettings(input: $input) { errors { code } }
}
"""

ACTIVE_CONTACTS = [
    "Accounts", "Aroha Ngata", "Bookings", "Caretaker", "Dr Anjali Rao", "Dr Hemi Walker",
    "Liam O'Brien", "Mere Tane", "Practice Manager", "Reception", "Sarah Chen", "Strata Office",
    "Tom Fletcher",
]
MISSING_SMS = ["Accounts", "Bookings", "Caretaker", "Dr Anjali Rao", "Dr Hemi Walker",
               "Strata Office", "Tom Fletcher"]


async def client_id(api, name: str) -> str:
    (node,) = (await api.ok(CLIENT_CONTACTS, {"search": name}))["clients"]["nodes"]
    return node["id"]


async def contact_id(api, client: str, name: str) -> str:
    (node,) = (await api.ok(CLIENT_CONTACTS, {"search": client}))["clients"]["nodes"]
    return next(c["id"] for c in node["contacts"] if c["name"] == name)


async def read_contact(api, id: str) -> dict:
    return (await api.ok(CONTACT, {"id": id}))["contact"]


async def grid(api, **filter) -> list[str]:
    data = (await api.ok(GRID, {"filter": filter, "first": 200}))["contactsForBulkUpdate"]
    names = [n["name"] for n in data["nodes"]]
    assert data["totalCount"] == len(names)
    return names


async def add_contact(sessions, client: str, **fields) -> None:
    """A contact as an older TimeTrak database may hold it, written past the API's rules."""
    async with sessions.begin() as session:
        owner = (await session.exec(select(ClientRow).where(ClientRow.name == client))).one()
        session.add(ContactRow(client_id=owner.id, **fields))


async def opt_out(sessions, number: str, opted_out: bool = True) -> None:
    async with sessions.begin() as session:
        session.add(OptOut(number=number, method=OptOutMethod.KEYWORD, opted_out=opted_out))


async def sms_off(admin) -> None:
    data = await admin.ok(UPDATE_SETTINGS, {"input": {"smsEnabled": False}})
    assert data["updateSettings"]["errors"] == []


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


# --- reading --------------------------------------------------------------------------------------


async def test_a_contact_shows_its_numbers_and_client(tech):
    mere = await contact_id(tech, "Harbourside", "Mere Tane")

    contact = await read_contact(tech, mere)

    assert contact == {"id": mere, "name": "Mere Tane", "active": True, "phone": None,
                       "mobile": "021 555 0111", "smsNumber": "+64215550111",
                       "copyMobileToSms": True, "optedOut": False,
                       "client": {"name": "Harbourside Cafe"}}


async def test_a_contact_whose_sms_number_replied_stop_is_opted_out(office, demo):
    mere = await contact_id(office, "Harbourside", "Mere Tane")
    reception = await contact_id(office, "Te Aro", "Reception")
    await opt_out(demo, "+64215550111")
    await opt_out(demo, "+64275550142", opted_out=False)

    assert (await read_contact(office, mere))["optedOut"] is True
    assert (await read_contact(office, reception))["optedOut"] is False


async def test_an_unknown_contact_is_null(office):
    assert (await office.ok(CONTACT, {"id": "10000"}))["contact"] is None


# --- the Contact Bulk Updates grid ----------------------------------------------------------------


async def test_the_grid_lists_every_active_contact_by_name(office):
    assert await grid(office) == ACTIVE_CONTACTS
    assert await grid(office, category="ALL") == ACTIVE_CONTACTS


async def test_the_grid_lists_contacts_missing_an_sms_number(office):
    assert await grid(office, category="MISSING_SMS_NUMBER") == MISSING_SMS


async def test_the_grid_lists_contacts_with_an_invalid_number(office, demo):
    await add_contact(demo, "Harbourside Cafe", name="Landline In Mobile", mobile="09 555 0124")
    await add_contact(demo, "Harbourside Cafe", name="Landline As Sms", sms_number="+6495550125")
    await add_contact(demo, "Harbourside Cafe", name="Gone Invalid", mobile="09 555 0126",
                      active=False)

    assert await grid(office, category="INVALID_NUMBER") == ["Landline As Sms",
                                                             "Landline In Mobile"]


async def test_the_grid_lists_contacts_whose_sms_number_differs_from_their_mobile(office, demo):
    await add_contact(demo, "Te Aro Dental", name="Two Phones", mobile="021 555 0131",
                      sms_number="+64215550132")
    await add_contact(demo, "Te Aro Dental", name="Gone Two Phones", mobile="021 555 0133",
                      sms_number="+64215550134", active=False)

    assert await grid(office, category="SMS_DIFFERS_FROM_MOBILE") == ["Two Phones"]


async def test_the_grid_lists_active_contacts_that_opted_out(office, demo):
    await opt_out(demo, "+64215550111")
    await opt_out(demo, "+64215550199")
    await opt_out(demo, "+64275550142", opted_out=False)

    data = await office.ok(GRID, {"filter": {"category": "OPTED_OUT"}})

    assert data["contactsForBulkUpdate"]["nodes"] == [
        {"name": "Mere Tane", "smsNumber": "+64215550111", "optedOut": True}]


@pytest.mark.parametrize(("filter", "names"), [
    ({"search": "MERE"}, ["Mere Tane"]),
    ({"search": "555 0142"}, ["Reception"]),
    ({"search": "+6141255530"}, ["Liam O'Brien", "Practice Manager"]),
    ({"search": "09 "}, ["Accounts", "Bookings"]),
    ({"search": "%"}, []),
    ({"search": "former"}, []),
    ({"search": "dr", "category": "MISSING_SMS_NUMBER"}, ["Dr Anjali Rao", "Dr Hemi Walker"]),
])
async def test_the_grid_searches_names_and_numbers(office, filter, names):
    assert await grid(office, **filter) == names


async def test_the_grid_pages_through_a_rule_category(office, demo):
    for n in range(3):
        await add_contact(demo, "Harbourside Cafe", name=f"Invalid {n}", mobile=f"09 555 014{n}")

    names, after = [], None
    while True:
        data = (await office.ok(GRID, {"filter": {"category": "INVALID_NUMBER"}, "first": 2,
                                       "after": after}))["contactsForBulkUpdate"]
        assert data["totalCount"] == 3
        names += [n["name"] for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert names == ["Invalid 0", "Invalid 1", "Invalid 2"]


async def test_the_grid_pages_through_all_contacts(office):
    first = (await office.ok(GRID, {"first": 5}))["contactsForBulkUpdate"]
    rest = (await office.ok(GRID, {"first": 50, "after": first["pageInfo"]["endCursor"]}))

    assert first["pageInfo"]["hasNextPage"] is True
    assert [n["name"] for n in first["nodes"] + rest["contactsForBulkUpdate"]["nodes"]] == \
        ACTIVE_CONTACTS


async def test_a_tech_without_edit_contact_cannot_open_the_grid(tech):
    body = await tech.post(GRID)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_the_grid_is_closed_while_sms_is_off(admin, office):
    await sms_off(admin)

    body = await office.post(GRID)

    assert body["errors"][0]["extensions"]["code"] == "SMS_DISABLED"


# --- createContact --------------------------------------------------------------------------------


@pytest.mark.parametrize(("numbers", "sms", "copy"), [
    ({"mobile": "021 555 0177"}, "+64215550177", True),
    ({"mobile": "0064 21 555 0177"}, "+64215550177", True),
    ({"mobile": "09 555 0177", "phone": "021 555 0178"}, None, False),
    ({}, None, False),
    ({"mobile": "021 555 0177", "smsNumber": "022 555 0179"}, "+64225550179", False),
    ({"mobile": "021 555 0177", "smsNumber": "+64 21 555 0177"}, "+64215550177", True),
])
async def test_a_new_contacts_sms_number_comes_from_its_mobile_when_it_formats(office, numbers,
                                                                               sms, copy):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(CREATE_CONTACT, {"input": {"clientId": harbourside, "name": " New ",
                                                      **numbers}})

    payload = data["createContact"]
    assert payload["errors"] == []
    assert payload["contact"]["name"] == "New"
    assert payload["contact"]["client"] == {"name": "Harbourside Cafe"}
    assert (payload["contact"]["smsNumber"], payload["contact"]["copyMobileToSms"]) == (sms, copy)
    assert "New" in await grid(office)


@pytest.mark.parametrize(("input", "code", "field"), [
    ({"name": "New", "smsNumber": "09 555 0123"}, "INVALID_SMS_NUMBER", "smsNumber"),
    ({"name": "New", "smsNumber": "0064 21 555 0177"}, "INVALID_SMS_NUMBER", "smsNumber"),
    ({"name": "  "}, "INVALID_INPUT", "name"),
    ({"name": "New", "mobile": "0" * 41}, "INVALID_PHONE_NUMBER", "mobile"),
    ({"name": "New", "phone": "0" * 41}, "INVALID_PHONE_NUMBER", "phone"),
])
async def test_a_new_contact_with_bad_input_is_refused_and_not_saved(office, input, code, field):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(CREATE_CONTACT, {"input": {"clientId": harbourside, **input}})

    assert data["createContact"]["contact"] is None
    assert [(e["code"], e["field"]) for e in data["createContact"]["errors"]] == [(code, field)]
    assert await grid(office) == ACTIVE_CONTACTS


async def test_a_new_contact_cannot_copy_its_mobile_to_a_different_sms_number(office):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(CREATE_CONTACT, {"input": {
        "clientId": harbourside, "name": "New", "mobile": "021 555 0177",
        "smsNumber": "022 555 0179", "copyMobileToSms": True}})

    assert [(e["code"], e["field"]) for e in data["createContact"]["errors"]] == [
        ("INVALID_INPUT", "smsNumber")]
    assert await grid(office) == ACTIVE_CONTACTS


@pytest.mark.parametrize(("numbers", "copy", "sms", "reads"), [
    ({}, True, None, False),
    ({"mobile": "021 555 0177"}, False, "+64215550177", True),
    ({"mobile": "021 555 0177"}, True, "+64215550177", True),
])
async def test_copy_on_a_new_contact_reads_back_as_whether_the_mobile_is_the_sms_number(
        office, numbers, copy, sms, reads):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(CREATE_CONTACT, {"input": {
        "clientId": harbourside, "name": "New", "copyMobileToSms": copy, **numbers}})

    contact = data["createContact"]["contact"]
    assert (contact["smsNumber"], contact["copyMobileToSms"]) == (sms, reads)


@pytest.mark.parametrize(("client", "code"), [(None, "INVALID_INPUT"), ("10000", "NOT_FOUND")])
async def test_a_new_contact_needs_an_existing_client(office, client, code):
    data = await office.ok(CREATE_CONTACT, {"input": {"clientId": client, "name": "New"}})

    assert codes(data["createContact"]) == [code]


async def test_a_tech_without_edit_contact_cannot_add_a_contact(tech, office):
    harbourside = await client_id(tech, "Harbourside")

    data = await tech.ok(CREATE_CONTACT, {"input": {"clientId": harbourside, "name": "New"}})

    assert codes(data["createContact"]) == ["PERMISSION_DENIED"]
    assert await grid(office) == ACTIVE_CONTACTS


async def test_contacts_are_added_while_sms_is_off(admin):
    harbourside = await client_id(admin, "Harbourside")
    await sms_off(admin)

    data = await admin.ok(CREATE_CONTACT, {"input": {"clientId": harbourside, "name": "New",
                                                     "mobile": "021 555 0177"}})

    assert data["createContact"]["errors"] == []
    # The SMS number is set as on any new contact, ready for the day SMS is switched on.
    assert data["createContact"]["contact"]["smsNumber"] == "+64215550177"


@pytest.mark.parametrize("field,value", [("smsNumber", "021 555 0177"),
                                         ("copyMobileToSms", False)])
async def test_the_sms_fields_of_a_new_contact_wait_for_sms(admin, field, value):
    harbourside = await client_id(admin, "Harbourside")
    await sms_off(admin)

    data = await admin.ok(CREATE_CONTACT, {"input": {"clientId": harbourside, "name": "New",
                                                     field: value}})

    assert [(e["code"], e["field"]) for e in data["createContact"]["errors"]] == [
        ("SMS_DISABLED", field)]
    (node,) = (await admin.ok(CLIENT_CONTACTS, {"search": "Harbourside"}))["clients"]["nodes"]
    assert [c["name"] for c in node["contacts"]] == ["Accounts", "Mere Tane"]


# --- updateContact: the edit form -----------------------------------------------------------------


async def test_the_sms_number_keeps_in_step_with_a_mobile_it_matched(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"mobile": "022 555 0188"}})

    assert data["updateContact"]["errors"] == []
    contact = await read_contact(office, mere)
    assert (contact["mobile"], contact["smsNumber"], contact["copyMobileToSms"]) == (
        "022 555 0188", "+64225550188", True)


async def test_unticking_copy_keeps_the_old_sms_number(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"mobile": "022 555 0188",
                                                           "copyMobileToSms": False}})

    contact = await read_contact(office, mere)
    assert (contact["mobile"], contact["smsNumber"], contact["copyMobileToSms"]) == (
        "022 555 0188", "+64215550111", False)


async def test_a_different_sms_number_does_not_follow_the_mobile(office, demo):
    await add_contact(demo, "Te Aro Dental", name="Two Phones", mobile="021 555 0131",
                      sms_number="+64215550132")
    two = await contact_id(office, "Te Aro", "Two Phones")

    data = await office.ok(UPDATE_CONTACT, {"id": two, "input": {"mobile": "021 555 0135"}})

    assert data["updateContact"]["contact"] | {"name": None, "active": None} == {
        "name": None, "active": None, "phone": None, "mobile": "021 555 0135",
        "smsNumber": "+64215550132", "copyMobileToSms": False}


async def test_ticking_copy_puts_the_mobile_into_the_sms_number(office):
    hemi = await contact_id(office, "Te Aro", "Dr Hemi Walker")

    await office.ok(UPDATE_CONTACT, {"id": hemi, "input": {"copyMobileToSms": True}})

    contact = await read_contact(office, hemi)
    assert (contact["mobile"], contact["smsNumber"], contact["copyMobileToSms"]) == (
        "0064 21 555 0101", "+64215550101", True)


async def test_an_sms_number_of_its_own_can_be_given_with_copy_unticked(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {
        "smsNumber": "027 555 0190", "copyMobileToSms": False}})

    assert data["updateContact"]["errors"] == []
    contact = await read_contact(office, mere)
    assert (contact["mobile"], contact["smsNumber"], contact["copyMobileToSms"]) == (
        "021 555 0111", "+64275550190", False)


async def test_an_sms_number_given_alone_unticks_copy(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"smsNumber": "027 555 0190"}})

    assert data["updateContact"]["errors"] == []
    contact = await read_contact(office, mere)
    assert (contact["smsNumber"], contact["copyMobileToSms"]) == ("+64275550190", False)


async def test_an_sms_number_given_as_the_new_mobile_keeps_copy_ticked(office):
    hemi = await contact_id(office, "Te Aro", "Dr Hemi Walker")

    data = await office.ok(UPDATE_CONTACT, {"id": hemi, "input": {
        "mobile": "021 555 0191", "smsNumber": "+64215550191"}})

    contact = data["updateContact"]["contact"]
    assert (contact["smsNumber"], contact["copyMobileToSms"]) == ("+64215550191", True)


async def test_clearing_the_sms_number_unticks_copy(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"smsNumber": ""}})

    contact = await read_contact(office, mere)
    assert (contact["mobile"], contact["smsNumber"], contact["copyMobileToSms"]) == (
        "021 555 0111", None, False)


async def test_an_sms_number_other_than_the_mobile_is_refused_while_copy_is_ticked(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {
        "name": "Mere T", "smsNumber": "027 555 0190", "copyMobileToSms": True}})

    assert [(e["code"], e["field"]) for e in data["updateContact"]["errors"]] == [
        ("INVALID_INPUT", "smsNumber")]
    contact = await read_contact(office, mere)
    assert (contact["name"], contact["smsNumber"]) == ("Mere Tane", "+64215550111")


@pytest.mark.parametrize(("input", "code"), [
    ({"smsNumber": "09 555 0123", "copyMobileToSms": False}, "INVALID_SMS_NUMBER"),
    ({"mobile": "0" * 41}, "INVALID_PHONE_NUMBER"),
    ({"name": ""}, "INVALID_INPUT"),
])
async def test_a_refused_edit_writes_nothing(office, input, code):
    mere = await contact_id(office, "Harbourside", "Mere Tane")
    before = await read_contact(office, mere)

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"phone": "09 555 0999",
                                                                  **input}})

    assert codes(data["updateContact"]) == [code]
    assert await read_contact(office, mere) == before


async def test_a_contact_cannot_move_to_another_client(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")
    te_aro = await client_id(office, "Te Aro")

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"clientId": te_aro}})

    assert codes(data["updateContact"]) == ["INVALID_INPUT"]
    assert (await read_contact(office, mere))["client"] == {"name": "Harbourside Cafe"}


async def test_a_contact_made_inactive_leaves_the_grid(office):
    mere = await contact_id(office, "Harbourside", "Mere Tane")

    await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"active": False}})

    assert "Mere Tane" not in await grid(office)


async def test_updating_an_unknown_contact_is_not_found(office):
    data = await office.ok(UPDATE_CONTACT, {"id": "10000", "input": {"name": "Ghost"}})

    assert codes(data["updateContact"]) == ["NOT_FOUND"]


# --- updateContactNumber: the grid's inline edit --------------------------------------------------


@pytest.mark.parametrize(("client", "name", "field", "value", "expected"), [
    ("Harbourside", "Mere Tane", "MOBILE", "022 555 0188",
     {"phone": None, "mobile": "022 555 0188", "smsNumber": "+64225550188"}),
    ("Harbourside", "Accounts", "PHONE", "021 555 0166",
     {"phone": "021 555 0166", "mobile": None, "smsNumber": "+64215550166"}),
    ("Te Aro", "Reception", "PHONE", "021 555 0167",
     {"phone": "021 555 0167", "mobile": "027 555 0142", "smsNumber": "+64275550142"}),
    ("Harbourside", "Mere Tane", "MOBILE", None,
     {"phone": None, "mobile": None, "smsNumber": None}),
])
async def test_the_sms_number_follows_an_inline_edit_when_it_matched_or_was_empty(
        office, client, name, field, value, expected):
    id = await contact_id(office, client, name)

    data = await office.ok(UPDATE_NUMBER, {"id": id, "field": field, "value": value})

    assert data["updateContactNumber"] == {"contact": expected, "errors": []}
    contact = await read_contact(office, id)
    assert {k: contact[k] for k in expected} == expected


async def test_an_sms_number_that_differed_stays_through_an_inline_edit(office, demo):
    await add_contact(demo, "Te Aro Dental", name="Two Phones", mobile="021 555 0131",
                      sms_number="+64215550132")
    two = await contact_id(office, "Te Aro", "Two Phones")

    await office.ok(UPDATE_NUMBER, {"id": two, "field": "MOBILE", "value": "021 555 0135"})

    assert (await read_contact(office, two))["smsNumber"] == "+64215550132"


async def test_a_tech_cannot_edit_numbers_inline(tech, office):
    mere = await contact_id(tech, "Harbourside", "Mere Tane")

    data = await tech.ok(UPDATE_NUMBER, {"id": mere, "field": "MOBILE", "value": "022 555 0188"})

    assert codes(data["updateContactNumber"]) == ["PERMISSION_DENIED"]
    assert (await read_contact(office, mere))["mobile"] == "021 555 0111"


async def test_no_inline_edit_while_sms_is_off(admin):
    mere = await contact_id(admin, "Harbourside", "Mere Tane")
    await sms_off(admin)

    data = await admin.ok(UPDATE_NUMBER, {"id": mere, "field": "MOBILE", "value": "022 555 0188"})

    assert codes(data["updateContactNumber"]) == ["SMS_DISABLED"]
    assert (await read_contact(admin, mere))["mobile"] == "021 555 0111"


# --- copyContactNumberToSms -----------------------------------------------------------------------


@pytest.mark.parametrize(("client", "name", "field", "expected"), [
    ("Parramatta", "Dr Anjali Rao", "PHONE", {"smsNumber": "+61412555777",
                                              "copyMobileToSms": False}),
    ("Te Aro", "Dr Hemi Walker", "MOBILE", {"smsNumber": "+64215550101",
                                            "copyMobileToSms": True}),
    ("Ponsonby", "Tom Fletcher", "MOBILE", {"smsNumber": "+64215550102",
                                            "copyMobileToSms": True}),
])
async def test_a_mobile_number_copies_to_sms(office, client, name, field, expected):
    id = await contact_id(office, client, name)

    data = await office.ok(COPY_TO_SMS, {"id": id, "from": field})

    assert data["copyContactNumberToSms"] == {"contact": expected, "errors": []}
    contact = await read_contact(office, id)
    assert {k: contact[k] for k in expected} == expected


@pytest.mark.parametrize(("client", "name", "field", "says"), [
    ("Harbourside", "Accounts", "PHONE", "landline"),
    ("Kelburn", "Caretaker", "MOBILE", "no mobile number"),
    ("Te Aro", "Reception", "PHONE", "landline"),
])
async def test_copying_a_number_that_is_no_mobile_is_refused(office, client, name, field, says):
    id = await contact_id(office, client, name)
    before = await read_contact(office, id)

    data = await office.ok(COPY_TO_SMS, {"id": id, "from": field})

    (error,) = data["copyContactNumberToSms"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_SMS_NUMBER", "from")
    assert says in error["message"]
    assert await read_contact(office, id) == before


async def test_a_tech_cannot_copy_a_number_to_sms(tech, office):
    anjali = await contact_id(tech, "Parramatta", "Dr Anjali Rao")

    data = await tech.ok(COPY_TO_SMS, {"id": anjali, "from": "PHONE"})

    assert codes(data["copyContactNumberToSms"]) == ["PERMISSION_DENIED"]
    assert (await read_contact(office, anjali))["smsNumber"] is None


async def test_no_copy_to_sms_while_sms_is_off(admin):
    anjali = await contact_id(admin, "Parramatta", "Dr Anjali Rao")
    await sms_off(admin)

    data = await admin.ok(COPY_TO_SMS, {"id": anjali, "from": "PHONE"})

    assert codes(data["copyContactNumberToSms"]) == ["SMS_DISABLED"]
    assert (await read_contact(admin, anjali))["smsNumber"] is None


async def test_a_tech_cannot_edit_a_contact(tech, office):
    mere = await contact_id(tech, "Harbourside", "Mere Tane")

    data = await tech.ok(UPDATE_CONTACT, {"id": mere, "input": {"name": "Renamed"}})

    assert codes(data["updateContact"]) == ["PERMISSION_DENIED"]
    assert (await read_contact(office, mere))["name"] == "Mere Tane"


async def test_contacts_stay_editable_while_sms_is_off(office, admin):
    mere = await contact_id(office, "Harbourside", "Mere Tane")
    await sms_off(admin)

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"name": "Mere Tane-Smith",
                                                                  "mobile": "022 555 0188"}})

    assert data["updateContact"]["errors"] == []
    contact = await read_contact(office, mere)
    assert (contact["name"], contact["smsNumber"]) == ("Mere Tane-Smith", "+64225550188")


async def test_the_sms_number_of_a_contact_waits_for_sms(office, admin):
    mere = await contact_id(office, "Harbourside", "Mere Tane")
    await sms_off(admin)

    data = await office.ok(UPDATE_CONTACT, {"id": mere, "input": {"name": "Renamed",
                                                                  "smsNumber": "022 555 0188"}})

    assert codes(data["updateContact"]) == ["SMS_DISABLED"]
    contact = await read_contact(office, mere)
    assert (contact["name"], contact["smsNumber"]) == ("Mere Tane", "+64215550111")
