"""Tests for the NZ/AU SMS-number rule."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from phonenumbers import PhoneNumberType

from models import phone
from models.errors import DomainError, ErrorCode
from models.phone import (
    ClientMobile,
    PhoneCheck,
    check_client_mobile,
    check_phone,
    is_sms_number,
    sms_number,
)

NZ_MOBILE = "+64211234567"
AU_MOBILE = "+61412345678"


# --- valid as entered: only punctuation differs -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "e164", "formatted", "country"),
    [
        ("021 123 4567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("0211234567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("021-123-4567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("(021) 123.4567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("+64 21 123 4567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("+64211234567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("+64 (21) 123-4567", NZ_MOBILE, "021 123 4567", "NZ"),
        ("027 123 4567", "+64271234567", "027 123 4567", "NZ"),
        ("029 123 4567", "+64291234567", "029 123 4567", "NZ"),
        ("020 1234 5678", "+642012345678", "020 1234 5678", "NZ"),
        ("0412 345 678", AU_MOBILE, "0412 345 678", "AU"),
        ("0412345678", AU_MOBILE, "0412 345 678", "AU"),
        ("+61 412 345 678", AU_MOBILE, "0412 345 678", "AU"),
        ("+61412345678", AU_MOBILE, "0412 345 678", "AU"),
        ("0412-345-678", AU_MOBILE, "0412 345 678", "AU"),
    ],
)
def test_formatting_only_is_valid_as_entered(text, e164, formatted, country):
    assert check_phone(text) == PhoneCheck(text, True, e164, formatted, country, None)


@pytest.mark.parametrize("text", ["  021 123 4567  ", "\t021 123 4567\n", " +61 412 345 678 "])
def test_surrounding_whitespace_is_not_a_reason_for_invalid(text):
    result = check_phone(text)
    assert result.valid is True
    assert result.message is None
    assert result.input == text


# --- fixable: not valid as entered, but there is a suggestion -----------------------------------


@pytest.mark.parametrize(
    ("text", "e164", "formatted"),
    [
        ("0064 21 123 4567", NZ_MOBILE, "021 123 4567"),
        ("0064211234567", NZ_MOBILE, "021 123 4567"),
        ("0061 412 345 678", AU_MOBILE, "0412 345 678"),
        ("0011 64 21 123 4567", NZ_MOBILE, "021 123 4567"),
        ("64211234567", NZ_MOBILE, "021 123 4567"),
        ("64 21 123 4567", NZ_MOBILE, "021 123 4567"),
        ("61412345678", AU_MOBILE, "0412 345 678"),
        ("61 412 345 678", AU_MOBILE, "0412 345 678"),
        ("+64 021 123 4567", NZ_MOBILE, "021 123 4567"),
        ("+640211234567", NZ_MOBILE, "021 123 4567"),
        ("+64 (0)21 123 4567", NZ_MOBILE, "021 123 4567"),
        ("+61 0412 345 678", AU_MOBILE, "0412 345 678"),
        ("021 123 4567 (mob)", NZ_MOBILE, "021 123 4567"),
        ("021 123 4567 mob", NZ_MOBILE, "021 123 4567"),
        ("021 123 4567 mobile", NZ_MOBILE, "021 123 4567"),
        ("0412 345 678 cell", AU_MOBILE, "0412 345 678"),
        ("021 123 4567 - John", NZ_MOBILE, "021 123 4567"),
        ("Mob: 021 123 4567", NZ_MOBILE, "021 123 4567"),
        ("21 123 4567", NZ_MOBILE, "021 123 4567"),
        ("412 345 678", AU_MOBILE, "0412 345 678"),
    ],
)
def test_fixable_forms_suggest_the_number(text, e164, formatted):
    result = check_phone(text)
    assert result.valid is False
    assert result.e164 == e164
    assert result.formatted == formatted
    assert result.country == ("NZ" if e164.startswith("+64") else "AU")
    assert formatted in result.message


def test_fixable_message_wording():
    result = check_phone("64211234567")
    assert result.message == "Not a valid mobile number as entered; try 021 123 4567."


def test_trailing_words_are_not_read_as_vanity_letters():
    # phonenumbers alone turns "mob" into 662 and gets a different, invalid number.
    assert check_phone("021 123 4567 mob").e164 == NZ_MOBILE


# --- NZ 02x mobiles are also Sydney landlines when read as AU ----------------------------------


@pytest.mark.parametrize("hint", [None, "AU", "au", " Au ", "+61", "61", " +61 "])
def test_nz_02x_mobile_is_nz_whatever_the_hint(hint):
    result = check_phone("021 123 4567", hint)
    assert result == PhoneCheck("021 123 4567", True, NZ_MOBILE, "021 123 4567", "NZ", None)


@pytest.mark.parametrize(
    "text", ["02 9123 4567", "(02) 9123 4567", "(02)9123-4567", "02-9123-4567"]
)
@pytest.mark.parametrize("hint", [None, "NZ", "AU"])
def test_au_area_code_grouping_reads_as_sydney_landline(text, hint):
    result = check_phone(text, hint)
    assert result.valid is False
    assert result.e164 is None
    assert result.country == "AU"
    assert result.message == "That is an Australian landline; SMS needs a mobile number."


@pytest.mark.parametrize("hint", [None, "AU"])
def test_ungrouped_02x_digits_prefer_the_nz_mobile(hint):
    result = check_phone("0291234567", hint)
    assert (result.valid, result.e164, result.formatted) == (True, "+64291234567", "029 123 4567")


# --- country hints ------------------------------------------------------------------------------


@pytest.mark.parametrize("hint", ["NZ", "nz", " nz ", "+64", "64", " +64"])
def test_nz_hints_read_an_ambiguous_non_mobile_as_nz(hint):
    # 1300 123 456 is valid in both regions and a mobile in neither, so only the hint decides.
    assert check_phone("1300 123 456", hint).country == "NZ"


@pytest.mark.parametrize("hint", ["AU", "au", " AU ", "+61", "61", "61 "])
def test_au_hints_read_an_ambiguous_non_mobile_as_au(hint):
    assert check_phone("1300 123 456", hint).country == "AU"


@pytest.mark.parametrize("hint", [None, "", "UK", "+44"])
def test_no_or_unknown_hint_tries_nz_first(hint):
    assert check_phone("1300 123 456", hint).country == "NZ"


@pytest.mark.parametrize("hint", [None, "NZ", "+64", "AU", "+61"])
def test_mobiles_are_found_in_either_region_whatever_the_hint(hint):
    assert check_phone("0412 345 678", hint).e164 == AU_MOBILE
    assert check_phone("021 123 4567", hint).e164 == NZ_MOBILE
    assert check_phone("61412345678", hint).e164 == AU_MOBILE
    assert check_phone("64211234567", hint).e164 == NZ_MOBILE


# --- landlines, other numbers, foreign, blank, garbage ------------------------------------------


@pytest.mark.parametrize(
    ("text", "country", "message"),
    [
        ("09 309 1234", "NZ", "That is a New Zealand landline; SMS needs a mobile number."),
        ("04 471 1234", "NZ", "That is a New Zealand landline; SMS needs a mobile number."),
        ("+64 9 309 1234", "NZ", "That is a New Zealand landline; SMS needs a mobile number."),
        ("02 9123 4567", "AU", "That is an Australian landline; SMS needs a mobile number."),
        ("(03) 9123 4567", "AU", "That is an Australian landline; SMS needs a mobile number."),
        ("07 3123 4567", "AU", "That is an Australian landline; SMS needs a mobile number."),
        ("08 8123 4567", "AU", "That is an Australian landline; SMS needs a mobile number."),
        ("+61 2 9123 4567", "AU", "That is an Australian landline; SMS needs a mobile number."),
    ],
)
def test_landlines_are_rejected(text, country, message):
    assert check_phone(text) == PhoneCheck(text, False, None, None, country, message)


def test_other_non_mobile_numbers_are_rejected():
    result = check_phone("0800 123 456")
    assert (result.valid, result.e164, result.country) == (False, None, "NZ")
    assert result.message == "That is not a mobile number; SMS needs a mobile number."


def test_number_phonenumbers_does_not_allocate_is_not_valid():
    # Auckland landlines never start with 1, so this only looks like one.
    result = check_phone("09 123 4567")
    assert (result.valid, result.e164, result.country) == (False, None, None)
    assert result.message == "Not a valid New Zealand or Australian phone number."


@pytest.mark.parametrize(
    "text", ["+44 7700 900123", "+1 415 555 2671", "0044 20 7946 0958", "+33 6 12 34 56 78"]
)
def test_foreign_numbers_are_rejected(text):
    message = "Only New Zealand and Australian mobile numbers can receive SMS."
    assert check_phone(text) == PhoneCheck(text, False, None, None, None, message)


@pytest.mark.parametrize(("text", "entered"), [(None, ""), ("", ""), ("   ", "   ")])
def test_blank_input(text, entered):
    assert check_phone(text) == PhoneCheck(entered, False, None, None, None, "No number given.")


@pytest.mark.parametrize("text", ["abc", "123", "mob", "-", "+", "()"])
def test_garbage_is_not_a_phone_number(text):
    assert check_phone(text) == PhoneCheck(text, False, None, None, None, "Not a phone number.")


# --- FIXED_LINE_OR_MOBILE -----------------------------------------------------------------------


def test_fixed_line_or_mobile_counts_when_the_region_mobile_ranges_include_it():
    with patch.object(
        phone.phonenumbers, "number_type", return_value=PhoneNumberType.FIXED_LINE_OR_MOBILE
    ):
        assert check_phone("021 123 4567").e164 == NZ_MOBILE
        assert check_phone("0412 345 678").e164 == AU_MOBILE
        assert is_sms_number(NZ_MOBILE) is True


def test_fixed_line_or_mobile_outside_the_mobile_ranges_is_not_an_sms_number():
    with patch.object(
        phone.phonenumbers, "number_type", return_value=PhoneNumberType.FIXED_LINE_OR_MOBILE
    ):
        result = check_phone("09 309 1234")
        assert (result.valid, result.e164, result.country) == (False, None, "NZ")
        assert result.message == "That is not a mobile number; SMS needs a mobile number."
        assert is_sms_number("+6493091234") is False


def test_fixed_line_or_mobile_abroad_is_not_an_sms_number():
    # phonenumbers really does type US numbers FIXED_LINE_OR_MOBILE.
    assert is_sms_number("+14155552671") is False


# --- sms_number and is_sms_number ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("021 123 4567", None, NZ_MOBILE),
        ("021 123 4567", "AU", NZ_MOBILE),
        ("+61 412 345 678", None, AU_MOBILE),
        ("0064 21 123 4567", None, NZ_MOBILE),
        ("021 123 4567 (mob)", "NZ", NZ_MOBILE),
        ("61412345678", "+61", AU_MOBILE),
        ("09 309 1234", None, None),
        ("02 9123 4567", "AU", None),
        ("+44 7700 900123", None, None),
        ("abc", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_sms_number(text, hint, expected):
    assert sms_number(text, hint) == expected


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        (NZ_MOBILE, True),
        ("+64271234567", True),
        ("+642012345678", True),
        (AU_MOBILE, True),
        ("+6493091234", False),
        ("+61291234567", False),
        ("+64800123456", False),
        ("+447700900123", False),
        ("+14155552671", False),
        ("0211234567", False),
        ("64211234567", False),
        ("+64 21 123 4567", False),
        ("+640211234567", False),
        ("+", False),
        ("", False),
        (None, False),
    ],
)
def test_is_sms_number(e164, expected):
    assert is_sms_number(e164) is expected


# --- check_client_mobile ------------------------------------------------------------------------


def _refusal(country_code, number) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_client_mobile(country_code, number)
    assert caught.value.code is ErrorCode.INVALID_PHONE_NUMBER
    return caught.value


@pytest.mark.parametrize(("country_code", "number"), [(None, None), ("", ""), (" ", "  ")])
def test_client_mobile_blank_is_none(country_code, number):
    assert check_client_mobile(country_code, number) is None


@pytest.mark.parametrize(("country_code", "number"), [("+64", None), ("+61", " "), ("+44", "")])
def test_client_mobile_country_code_without_number(country_code, number):
    assert _refusal(country_code, number).field == "mobileNumber"


@pytest.mark.parametrize("country_code", ["+44", "44", "UK", "+1", "abc"])
def test_client_mobile_other_country_code(country_code):
    error = _refusal(country_code, "7700 900123")
    assert error.field == "mobileCountryCode"
    assert error.message == "Only New Zealand and Australian mobile numbers can receive SMS."


@pytest.mark.parametrize(
    ("country_code", "number", "expected"),
    [
        (None, "021 123 4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("", "(021) 123-4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        (None, "0412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
        (None, "+61 412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
        ("+64", "21 123 4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("+64", "021-123-4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("64", "211234567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("NZ", "021 123 4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        (" +64 ", " 021 123 4567 ", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("+61", "412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
        ("+61", "0412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
        ("au", "0412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
        ("+64", "+64 21 123 4567", ClientMobile("+64", "021 123 4567", NZ_MOBILE)),
        ("+61", "+61 412 345 678", ClientMobile("+61", "0412 345 678", AU_MOBILE)),
    ],
)
def test_client_mobile_accepted(country_code, number, expected):
    assert check_client_mobile(country_code, number) == expected


@pytest.mark.parametrize(
    ("country_code", "number", "message"),
    [
        (
            "+61",
            "+64 21 123 4567",
            "That is a New Zealand mobile number, not +61; try +64 21 123 4567.",
        ),
        (
            "+61",
            "021 123 4567",
            "That is a New Zealand mobile number, not +61; try +64 21 123 4567.",
        ),
        (
            "+64",
            "0412 345 678",
            "That is an Australian mobile number, not +64; try +61 412 345 678.",
        ),
    ],
)
def test_client_mobile_conflicting_country(country_code, number, message):
    error = _refusal(country_code, number)
    assert (error.field, error.message) == ("mobileNumber", message)


@pytest.mark.parametrize(
    ("country_code", "number", "suggestion"),
    [
        # Without a country code the fix is suggested as checkPhoneNumber words it, nationally.
        (None, "0064 21 123 4567", "021 123 4567"),
        (None, "64211234567", "021 123 4567"),
        (None, "+64 021 123 4567", "021 123 4567"),
        (None, "021 123 4567 (mob)", "021 123 4567"),
        (None, "21 123 4567", "021 123 4567"),
        (None, "61412345678", "0412 345 678"),
        ("+64", "64211234567", "+64 21 123 4567"),
        ("+64", "21 123 4567 mob", "+64 21 123 4567"),
        ("+64", "+64 021 123 4567", "+64 21 123 4567"),
        ("+61", "0061 412 345 678", "+61 412 345 678"),
    ],
)
def test_client_mobile_fixable_is_refused_with_the_suggestion(country_code, number, suggestion):
    error = _refusal(country_code, number)
    assert error.field == "mobileNumber"
    assert error.message == f"Not a valid mobile number as entered; try {suggestion}."


@pytest.mark.parametrize(
    ("country_code", "number", "message"),
    [
        (None, "09 309 1234", "That is a New Zealand landline; SMS needs a mobile number."),
        ("+64", "9 309 1234", "That is a New Zealand landline; SMS needs a mobile number."),
        ("+61", "02 9123 4567", "That is an Australian landline; SMS needs a mobile number."),
        (
            None,
            "+44 7700 900123",
            "Only New Zealand and Australian mobile numbers can receive SMS.",
        ),
        (None, "abc", "Not a phone number."),
        ("+64", "abc", "Not a phone number."),
    ],
)
def test_client_mobile_unfixable_is_refused(country_code, number, message):
    error = _refusal(country_code, number)
    assert (error.field, error.message) == ("mobileNumber", message)
