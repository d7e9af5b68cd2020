"""Clients over GraphQL: reading, searching, the mobile rule, and SMS Appointment Reminders."""

from __future__ import annotations

import pytest

from models import OptOut
from models.enums import OptOutMethod

CLIENT = """
query Client($id: ID!, $activeOnly: Boolean) {
  client(id: $id) {
    id name active mobileCountryCode mobileNumber smsNumber smsReminders optedOut
    contacts(activeOnly: $activeOnly) { name active smsNumber }
  }
}
"""

CLIENTS = """
query Clients($filter: ClientFilter, $first: Int, $after: String) {
  clients(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id name smsReminders optedOut }
  }
}
"""

CHECK_PHONE = """
query Check($input: String!, $countryCode: String) {
  checkPhoneNumber(input: $input, countryCode: $countryCode) {
    input valid e164 formatted country message
  }
}
"""

UPDATE_CLIENT = """
mutation Update($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) {
    client { name active mobileCountryCode mobileNumber smsNumber smsReminders }
    errors { code field message }
  }
}
"""

CREATE_CLIENT = """
mutation Create($input: ClientInput!) {
  createClient(input: $input) { client { name smsNumber smsReminders } errors { code field } }
}
"""

SET_SMS_REMINDERS = """
mutation Set($enabled: Boolean!, $ids: [ID!], $filter: ClientFilter, $dryRun: Boolean) {
  setClientsSmsReminders(enabled: $enabled, ids: $ids, filter: $filter, dryRun: $dryRun) {
    affectedCount errors { code field message }
  }
}
"""

UPDATE_SETTINGS = """
mutation Settings($input: SettingsInput!) {
  updateSettings(input: $input) { errors { code } }
}
"""

ALL_CLIENTS = [
    "Bondi Beach Apartments", "Harbourside Cafe", "Kelburn Villas Body Corporate",
    "Mt Eden Community Hall", "Parramatta Medical Centre", "Ponsonby Property Management",
    "Te Aro Dental", "Wellington Motor Lodge",
]
REMINDERS_OFF = ["Kelburn Villas Body Corporate", "Wellington Motor Lodge"]


async def client_id(api, name: str) -> str:
    data = await api.ok(CLIENTS, {"filter": {"search": name}})
    (node,) = data["clients"]["nodes"]
    return node["id"]


async def read_client(api, name: str) -> dict:
    return (await api.ok(CLIENT, {"id": await client_id(api, name)}))["client"]


async def reminders(api) -> dict[str, bool]:
    nodes = (await api.ok(CLIENTS))["clients"]["nodes"]
    return {n["name"]: n["smsReminders"] for n in nodes}


async def settings(admin, **input) -> None:
    data = await admin.ok(UPDATE_SETTINGS, {"input": input})
    assert data["updateSettings"]["errors"] == []


# --- reading --------------------------------------------------------------------------------------


async def test_a_client_shows_its_mobile_and_active_contacts(tech):
    client = await read_client(tech, "Kelburn Villas Body Corporate")

    assert client | {"id": None} == {
        "id": None, "name": "Kelburn Villas Body Corporate", "active": True,
        "mobileCountryCode": "+64", "mobileNumber": "029 555 0133", "smsNumber": "+64295550133",
        "smsReminders": False, "optedOut": False,
        "contacts": [{"name": "Caretaker", "active": True, "smsNumber": None}],
    }


async def test_inactive_contacts_show_when_asked_for(office):
    kelburn = await client_id(office, "Kelburn")

    data = await office.ok(CLIENT, {"id": kelburn, "activeOnly": False})

    assert data["client"]["contacts"] == [
        {"name": "Caretaker", "active": True, "smsNumber": None},
        {"name": "Former Manager", "active": False, "smsNumber": "+64215550199"},
    ]


async def test_an_unknown_client_is_null_and_a_malformed_id_is_invalid_input(office):
    assert (await office.ok(CLIENT, {"id": "10000"}))["client"] is None

    body = await office.post(CLIENT, {"id": "not-an-id"})

    assert body["data"] == {"client": None}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_clients_need_signing_in(anonymous):
    body = await anonymous.post(CLIENTS)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_client_whose_mobile_replied_stop_is_opted_out(office, demo):
    async with demo.begin() as session:
        session.add(OptOut(number="+64215550110", method=OptOutMethod.KEYWORD))

    data = await office.ok(CLIENTS)

    opted_out = {n["name"] for n in data["clients"]["nodes"] if n["optedOut"]}
    assert opted_out == {"Harbourside Cafe"}
    assert (await read_client(office, "Harbourside Cafe"))["optedOut"] is True


async def test_a_client_that_opted_back_in_is_not_opted_out(office, demo):
    async with demo.begin() as session:
        session.add(OptOut(number="+64215550110", method=OptOutMethod.KEYWORD, opted_out=False))

    assert (await read_client(office, "Harbourside Cafe"))["optedOut"] is False


# --- searching and paging -------------------------------------------------------------------------


async def test_clients_page_by_name_with_a_total(office):
    names, after, pages = [], None, 0
    while True:
        data = (await office.ok(CLIENTS, {"first": 3, "after": after}))["clients"]
        assert data["totalCount"] == 8
        names += [n["name"] for n in data["nodes"]]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert names == ALL_CLIENTS
    assert pages == 3


@pytest.mark.parametrize(("filter", "names"), [
    ({"search": "  BONDI "}, ["Bondi Beach Apartments"]),
    ({"search": "ca"}, ["Harbourside Cafe", "Parramatta Medical Centre"]),
    ({"search": "%"}, []),
    ({"search": "_"}, []),
    ({"search": ""}, ALL_CLIENTS),
    ({"smsReminders": False}, REMINDERS_OFF),
    ({"smsReminders": True, "search": "e"},
     [n for n in ALL_CLIENTS if n not in REMINDERS_OFF and "e" in n.lower()]),
    ({"active": False}, []),
    ({"active": True}, ALL_CLIENTS),
])
async def test_clients_filter(office, filter, names):
    data = (await office.ok(CLIENTS, {"filter": filter}))["clients"]

    assert [n["name"] for n in data["nodes"]] == names
    assert data["totalCount"] == len(names)


async def test_an_inactive_client_is_found_by_the_active_filter(admin):
    wellington = await client_id(admin, "Wellington")
    data = await admin.ok(UPDATE_CLIENT, {"id": wellington, "input": {"active": False}})
    assert data["updateClient"]["errors"] == []

    inactive = (await admin.ok(CLIENTS, {"filter": {"active": False}}))["clients"]

    assert [n["name"] for n in inactive["nodes"]] == ["Wellington Motor Lodge"]


async def test_a_cursor_not_given_out_is_invalid_input(office):
    body = await office.post(CLIENTS, {"after": "garbage"})

    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


# --- checkPhoneNumber -----------------------------------------------------------------------------


@pytest.mark.parametrize(("input", "country", "expected"), [
    ("021 555 0111", None, {"valid": True, "e164": "+64215550111", "formatted": "021 555 0111",
                            "country": "NZ", "message": None}),
    ("0064 21 555 0101", None, {"valid": False, "e164": "+64215550101",
                                "formatted": "021 555 0101", "country": "NZ",
                                "message": "Not a valid mobile number as entered; "
                                           "try 021 555 0101."}),
    ("0412 555 301", "AU", {"valid": True, "e164": "+61412555301", "formatted": "0412 555 301",
                            "country": "AU", "message": None}),
    ("09 555 0123", None, {"valid": False, "e164": None, "formatted": None, "country": "NZ",
                           "message": "That is a New Zealand landline; SMS needs a mobile "
                                      "number."}),
])
async def test_check_phone_number_judges_and_suggests(tech, input, country, expected):
    data = await tech.ok(CHECK_PHONE, {"input": input, "countryCode": country})

    assert data["checkPhoneNumber"] == {"input": input, **expected}


# --- updateClient ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "number", "saved"), [
    ("+64", "21 555 0177", ("+64", "021 555 0177", "+64215550177")),
    ("+64", "021-555-0177", ("+64", "021 555 0177", "+64215550177")),
    ("+61", "0412 555 301", ("+61", "0412 555 301", "+61412555301")),
    ("", "", (None, None, None)),
    ("  ", "  ", (None, None, None)),
])
async def test_a_client_mobile_is_saved_formatted_or_cleared(office, code, number, saved):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(UPDATE_CLIENT, {"id": harbourside, "input": {
        "mobileCountryCode": code, "mobileNumber": number}})

    assert data["updateClient"]["errors"] == []
    client = await read_client(office, "Harbourside Cafe")
    assert (client["mobileCountryCode"], client["mobileNumber"], client["smsNumber"]) == saved


@pytest.mark.parametrize(("input", "field", "says"), [
    ({"mobileCountryCode": "+64", "mobileNumber": "0064 21 555 0177"}, "mobileNumber",
     "try +64 21 555 0177"),
    ({"mobileCountryCode": "+64", "mobileNumber": "0412 555 301"}, "mobileNumber",
     "try +61 412 555 301"),
    ({"mobileCountryCode": "+64", "mobileNumber": ""}, "mobileNumber", "Enter a mobile number"),
    ({"mobileNumber": "021 555"}, "mobileNumber", "Not a valid"),
    ({"mobileNumber": "09 555 0123"}, "mobileNumber", "landline"),
    ({"mobileCountryCode": "+44", "mobileNumber": "7700 900123"}, "mobileCountryCode",
     "Only New Zealand and Australian"),
    ({"mobileNumber": "0" * 41}, "mobileNumber", "at most 40 characters"),
])
async def test_a_partial_or_invalid_mobile_is_refused_and_nothing_is_saved(office, input, field,
                                                                            says):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(UPDATE_CLIENT, {"id": harbourside, "input": {
        "name": "Renamed Cafe", **input}})

    payload = data["updateClient"]
    assert payload["client"] is None
    (error,) = payload["errors"]
    assert (error["code"], error["field"]) == ("INVALID_PHONE_NUMBER", field)
    assert says in error["message"]
    client = await read_client(office, "Harbourside Cafe")
    assert (client["mobileCountryCode"], client["mobileNumber"], client["smsNumber"]) == (
        "+64", "021 555 0110", "+64215550110")


async def test_changing_only_the_number_keeps_the_country_code(office):
    bondi = await client_id(office, "Bondi")

    data = await office.ok(UPDATE_CLIENT, {"id": bondi, "input": {"mobileNumber": "412 555 999"}})

    assert data["updateClient"]["client"]["smsNumber"] == "+61412555999"
    assert data["updateClient"]["client"]["mobileCountryCode"] == "+61"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_client_needs_a_name(office, name):
    harbourside = await client_id(office, "Harbourside")

    data = await office.ok(UPDATE_CLIENT, {"id": harbourside, "input": {"name": name}})

    assert data["updateClient"]["errors"][0]["code"] == "INVALID_INPUT"
    assert (await read_client(office, "Harbourside"))["name"] == "Harbourside Cafe"


async def test_updating_an_unknown_client_is_not_found(office):
    data = await office.ok(UPDATE_CLIENT, {"id": "10000", "input": {"name": "Ghost"}})

    assert data["updateClient"]["errors"][0]["code"] == "NOT_FOUND"


async def test_the_office_turns_a_clients_sms_reminders_on(office):
    kelburn = await client_id(office, "Kelburn")

    data = await office.ok(UPDATE_CLIENT, {"id": kelburn, "input": {"smsReminders": True}})

    assert data["updateClient"]["errors"] == []
    assert (await read_client(office, "Kelburn"))["smsReminders"] is True


async def test_a_tech_who_cannot_see_the_field_cannot_change_sms_reminders(tech):
    kelburn = await client_id(tech, "Kelburn")

    data = await tech.ok(UPDATE_CLIENT, {"id": kelburn, "input": {
        "name": "Renamed", "smsReminders": True}})

    assert [e["code"] for e in data["updateClient"]["errors"]] == ["PERMISSION_DENIED"]
    client = await read_client(tech, "Kelburn")
    assert (client["name"], client["smsReminders"]) == ("Kelburn Villas Body Corporate", False)


async def test_a_tech_may_save_a_client_leaving_sms_reminders_as_they_were(tech):
    kelburn = await client_id(tech, "Kelburn")

    data = await tech.ok(UPDATE_CLIENT, {"id": kelburn, "input": {
        "name": "Kelburn Villas", "smsReminders": False}})

    assert data["updateClient"]["errors"] == []
    assert (await read_client(tech, "Kelburn"))["name"] == "Kelburn Villas"


async def test_clients_are_created_and_edited_while_sms_is_off(admin, office):
    # Given SMS switched off for the company
    await settings(admin, smsEnabled=False)
    kelburn = await client_id(office, "Kelburn")

    # When the office edits a client, its mobile included, and creates one
    edited = (await office.ok(UPDATE_CLIENT, {"id": kelburn, "input": {
        "name": "Kelburn Villas", "mobileCountryCode": "+64", "mobileNumber": "21 555 0199"}}))
    created = await office.ok(CREATE_CLIENT, {"input": {"name": "Brooklyn Bakery",
                                                        "mobileNumber": "021 555 0198"}})

    # Then both are saved, numbers formatted as they would be with SMS on
    assert edited["updateClient"]["errors"] == []
    assert edited["updateClient"]["client"]["smsNumber"] == "+64215550199"
    assert created["createClient"]["errors"] == []
    assert created["createClient"]["client"]["smsNumber"] == "+64215550198"
    assert (await read_client(office, "Kelburn"))["name"] == "Kelburn Villas"


@pytest.mark.parametrize(("turned_off", "code"), [
    ({"smsRemindersEnabled": False}, "REMINDERS_DISABLED"),
    ({"smsEnabled": False}, "SMS_DISABLED"),
])
async def test_sms_reminders_cannot_change_while_reminders_are_off(admin, office, turned_off,
                                                                   code):
    await settings(admin, **turned_off)
    kelburn = await client_id(office, "Kelburn")

    data = await office.ok(UPDATE_CLIENT, {"id": kelburn, "input": {"smsReminders": True}})

    assert [e["code"] for e in data["updateClient"]["errors"]] == [code]
    assert (await read_client(office, "Kelburn"))["smsReminders"] is False


# --- setClientsSmsReminders -----------------------------------------------------------------------


async def test_a_dry_run_counts_the_clients_that_would_change_and_changes_nothing(office):
    before = await reminders(office)

    data = await office.ok(SET_SMS_REMINDERS, {"enabled": True, "filter": {}, "dryRun": True})

    assert data["setClientsSmsReminders"] == {"affectedCount": 2, "errors": []}
    assert await reminders(office) == before


async def test_turning_reminders_on_for_every_client_counts_only_those_it_changed(office):
    data = await office.ok(SET_SMS_REMINDERS, {"enabled": True, "filter": {}})

    assert data["setClientsSmsReminders"] == {"affectedCount": 2, "errors": []}
    assert set((await reminders(office)).values()) == {True}


async def test_reminders_are_set_on_the_clients_matching_the_filter(office):
    data = await office.ok(SET_SMS_REMINDERS, {"enabled": False, "filter": {"search": "dental"}})

    assert data["setClientsSmsReminders"]["affectedCount"] == 1
    assert sorted(n for n, on in (await reminders(office)).items() if not on) == [
        "Kelburn Villas Body Corporate", "Te Aro Dental", "Wellington Motor Lodge"]


async def test_reminders_are_set_on_the_given_clients_only(office):
    ids = [await client_id(office, "Bondi"), await client_id(office, "Kelburn"),
           await client_id(office, "Wellington")]

    data = await office.ok(SET_SMS_REMINDERS, {"enabled": False, "ids": ids})

    assert data["setClientsSmsReminders"]["affectedCount"] == 1
    assert sorted(n for n, on in (await reminders(office)).items() if not on) == [
        "Bondi Beach Apartments", "Kelburn Villas Body Corporate", "Wellington Motor Lodge"]


async def test_given_ids_and_a_filter_both_have_to_match(office):
    ids = [await client_id(office, "Bondi"), await client_id(office, "Harbourside")]

    data = await office.ok(SET_SMS_REMINDERS, {"enabled": False, "ids": ids,
                                               "filter": {"search": "cafe"}})

    assert data["setClientsSmsReminders"]["affectedCount"] == 1
    now = await reminders(office)
    assert (now["Harbourside Cafe"], now["Bondi Beach Apartments"]) == (False, True)


async def test_setting_reminders_needs_ids_or_a_filter(office):
    before = await reminders(office)

    data = await office.ok(SET_SMS_REMINDERS, {"enabled": True})

    assert [e["code"] for e in data["setClientsSmsReminders"]["errors"]] == ["INVALID_INPUT"]
    assert await reminders(office) == before


async def test_a_tech_who_cannot_see_the_field_cannot_set_reminders_in_bulk(tech):
    before = await reminders(tech)

    data = await tech.ok(SET_SMS_REMINDERS, {"enabled": True, "filter": {}})

    assert data["setClientsSmsReminders"]["affectedCount"] == 0
    assert [e["code"] for e in data["setClientsSmsReminders"]["errors"]] == ["PERMISSION_DENIED"]
    assert await reminders(tech) == before


@pytest.mark.parametrize(("turned_off", "code"), [
    ({"smsRemindersEnabled": False}, "REMINDERS_DISABLED"),
    ({"smsEnabled": False}, "SMS_DISABLED"),
])
async def test_bulk_reminders_are_refused_while_reminders_are_off(admin, turned_off, code):
    await settings(admin, **turned_off)
    before = await reminders(admin)

    data = await admin.ok(SET_SMS_REMINDERS, {"enabled": True, "filter": {}})

    assert [e["code"] for e in data["setClientsSmsReminders"]["errors"]] == [code]
    assert await reminders(admin) == before
