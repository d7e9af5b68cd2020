"""checkPhoneNumber(input, countryCode) and a client's mobile (updateClient, createClient) follow
one rule: the same text with the same country code is a valid SMS mobile in all or in none, with
the same E.164 when valid and the same reason when not."""

from __future__ import annotations

import pytest

CHECK_PHONE = """
query Check($input: String!, $countryCode: String) {
  checkPhoneNumber(input: $input, countryCode: $countryCode) { valid e164 message }
}
"""
CLIENT_FIELDS = "client { mobileCountryCode mobileNumber smsNumber } errors { code field message }"
UPDATE_CLIENT = f"""
mutation Update($id: ID!, $input: ClientInput!) {{ updateClient(id: $id, input: $input) {{
  {CLIENT_FIELDS} }} }}
"""
CREATE_CLIENT = f"""
mutation Create($input: ClientInput!) {{ createClient(input: $input) {{ {CLIENT_FIELDS} }} }}
"""
CLIENTS = 'query { clients(filter: {search: "Harbourside"}) { nodes { id } } }'

NZ = "+64215550177"
AU = "+61412555301"

INPUTS = [
    # NZ mobiles as people write them
    ("021 555 0177", None, NZ),
    ("0215550177", None, NZ),
    ("021-555-0177", None, NZ),
    ("(021) 555 0177", None, NZ),
    ("  021 555 0177  ", None, NZ),
    ("0 2 1 5 5 5 0 1 7 7", None, NZ),
    ("+64 21 555 0177", None, NZ),
    ("+64215550177", None, NZ),
    # ... with prefixes that need the suggested fix
    ("0064 21 555 0177", None, None),
    ("64 21 555 0177", None, None),
    ("64215550177", None, None),
    ("+64 021 555 0177", None, None),
    ("21 555 0177", None, None),
    ("021 555 0177 (mob)", None, None),
    # AU mobiles
    ("0412 555 301", None, AU),
    ("+61 412 555 301", None, AU),
    ("0061 412 555 301", None, None),
    ("61412555301", None, None),
    # with the country code field filled in
    ("21 555 0177", "+64", NZ),
    ("21 555 0177", "64", NZ),
    ("021 555 0177", "NZ", NZ),
    ("021 555 0177", " +64 ", NZ),
    ("+64 21 555 0177", "+64", NZ),
    ("0064 21 555 0177", "+64", None),
    ("64 21 555 0177", "+64", None),
    ("412 555 301", "+61", AU),
    ("0412 555 301", "AU", AU),
    ("+61 412 555 301", "+61", AU),
    # the number says one country, the code the other: 021 is a NZ mobile, not an AU one
    ("021 555 0177", "+61", None),
    ("21 555 0177", "+61", None),
    ("+64 21 555 0177", "+61", None),
    ("0412 555 301", "+64", None),
    # landlines
    ("09 555 0123", None, None),
    ("04 555 0199", None, None),
    ("9 555 0123", "+64", None),
    ("02 9555 0100", None, None),
    ("02 9555 0100", "+61", None),
    # other countries, and not numbers at all
    ("+44 7700 900123", None, None),
    ("7700 900123", "+44", None),
    ("abc", None, None),
    ("abc", "+64", None),
    # a country code and no number, and nothing at all
    ("", "+64", None),
    ("   ", "NZ", None),
    ("", None, None),
    ("   ", None, None),
    # a mobile drowned in punctuation, past the 40 characters a number may have
    ("021" + "-" * 40 + "5550177", None, None),
]


async def harbourside(api) -> str:
    (node,) = (await api.ok(CLIENTS))["clients"]["nodes"]
    return node["id"]


def saved_number(payload: dict) -> str | None:
    return None if payload["errors"] else payload["client"]["smsNumber"]


@pytest.mark.parametrize(("text", "code", "e164"), INPUTS)
async def test_check_phone_number_and_the_client_mobile_agree(office, text, code, e164):
    # When the same text and code go to the check and to the client form, saved and new
    check = (await office.ok(CHECK_PHONE, {"input": text, "countryCode": code}))[
        "checkPhoneNumber"]
    mobile = {"mobileCountryCode": code or "", "mobileNumber": text}
    updated = (await office.ok(UPDATE_CLIENT, {"id": await harbourside(office),
                                               "input": mobile}))["updateClient"]
    created = (await office.ok(CREATE_CLIENT, {"input": {"name": "New Client", **mobile}}))[
        "createClient"]

    # Then: valid in all three or in none, the same number when valid, the same reason when not
    assert (check["valid"], check["e164"] if check["valid"] else None) == (e164 is not None, e164)
    for payload in (updated, created):
        assert saved_number(payload) == e164
        if payload["errors"]:
            assert [e["message"] for e in payload["errors"]] == [check["message"]]
    # Blank code and number is the one input the form saves without a number: "no mobile".
    blank = not text.strip() and not (code or "").strip()
    assert bool(updated["errors"]) == (e164 is None and not blank)
