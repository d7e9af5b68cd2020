"""Which numbers can receive SMS: New Zealand and Australian mobiles, and how to spot them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from models.errors import DomainError, ErrorCode

NO_NUMBER = "No number given."
NOT_A_NUMBER = "Not a phone number."
NOT_VALID = "Not a valid New Zealand or Australian phone number."
FOREIGN = "Only New Zealand and Australian mobile numbers can receive SMS."
NOT_MOBILE = "That is not a mobile number; SMS needs a mobile number."
ENTER_NUMBER = "Enter a mobile number, or clear the country code."
# The number columns hold 40 characters; longer input is refused wherever a number is typed.
MAX_NUMBER_LENGTH = 40
TOO_LONG = f"A phone number is at most {MAX_NUMBER_LENGTH} characters."

_A_COUNTRY = {"NZ": "a New Zealand", "AU": "an Australian"}
_CALLING_CODES = {"NZ": "+64", "AU": "+61"}
_REGION_BY_CODE = {"NZ": "NZ", "+64": "NZ", "64": "NZ", "AU": "AU", "+61": "AU", "61": "AU"}

# Punctuation people type between digits; anything else (words, extra prefixes) needs a fix.
_FORMATTING = re.compile(r"[\s\-().]")
# The first stretch that looks like a number, so trailing notes such as "(mob)" or "- John" are
# dropped rather than read by phonenumbers as vanity letters.
_NUMBER_RUN = re.compile(r"\+?[\s(]*\d(?:[\d\s().\-]*\d)?")
# "02 9123 4567" is how Australians write a Sydney landline; the same digits are also an NZ 029
# mobile, but no one in NZ groups a mobile that way, so the grouping settles it.
_AU_AREA_CODE_STYLE = re.compile(r"(?:\(0[2378]\)\s*|0[2378][\s.\-]+)\d{4}[\s.\-]?\d{4}")


@dataclass(frozen=True)
class PhoneCheck:
    input: str
    valid: bool
    e164: str | None
    formatted: str | None
    country: str | None
    message: str | None


@dataclass(frozen=True)
class ClientMobile:
    country_code: str
    number: str
    e164: str


def check_phone(text: str | None, country_hint: str | None = None) -> PhoneCheck:
    """Judge `text` as an SMS number; when it is a mobile in a fixable form, suggest the fix."""
    entered = text or ""
    if not entered.strip():
        return _rejected(entered, NO_NUMBER)
    run = _NUMBER_RUN.search(entered)
    if run is None:
        return _rejected(entered, NOT_A_NUMBER)
    readings = _readings(run.group().strip(), _regions_to_try(run.group(), country_hint))
    mobile = next((number for number in readings if _is_mobile(number)), None)
    if mobile is not None:
        return _mobile_check(entered, mobile)
    return _non_mobile_check(entered, readings)


def sms_number(text: str | None, country_hint: str | None = None) -> str | None:
    """The E.164 number to text, accepting the suggested fix, or None when there is none."""
    return check_phone(text, country_hint).e164


@functools.lru_cache(maxsize=65536)
def is_sms_number(e164: str | None) -> bool:
    """Strict: already E.164, and a NZ/AU mobile. Cached: every recipient shown asks it."""
    if not e164 or not re.fullmatch(r"\+\d{6,15}", e164):
        return False
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return False
    return _is_mobile(number) and _e164(number) == e164


def check_mobile(text: str | None, country_code: str | None = None) -> PhoneCheck:
    """A mobile as typed with its country code, if any: the one rule behind checkPhoneNumber
    and a client's mobile, so the two agree on every input.

    With a country code the number must be that country's mobile ("21 123 4567" after +64
    is fine; "021 123 4567" after +61 is a New Zealand number, so not valid). Without one,
    a New Zealand or Australian mobile as written, punctuation aside.
    """
    entered = text or ""
    code = (country_code or "").strip()
    stripped = entered.strip()
    if code and not stripped:
        return _rejected(entered, ENTER_NUMBER)
    if len(stripped) > MAX_NUMBER_LENGTH:
        return _rejected(entered, TOO_LONG)
    region = _region_for(code) if code else None
    if code and region is None:
        return _rejected(entered, FOREIGN)
    found = _check_pair(region, stripped) if stripped else check_phone(entered)
    check = replace(found, input=entered)
    if region is None or (check.valid and check.country == region):
        return check
    return replace(check, valid=False, message=_client_message(check, region))


def check_client_mobile(country_code: str | None, number: str | None) -> ClientMobile | None:
    """A client's mobile from the country-code and number fields; both blank means none given."""
    code, text = (country_code or "").strip(), (number or "").strip()
    if not code and not text:
        return None
    check = check_mobile(number, country_code)
    if check.valid:
        return ClientMobile(_CALLING_CODES[check.country], check.formatted, check.e164)
    code_at_fault = code and text and _region_for(code) is None
    field = "mobileCountryCode" if code_at_fault else "mobileNumber"
    raise DomainError(ErrorCode.INVALID_PHONE_NUMBER, check.message, field=field)


def _region_for(code: str | None) -> str | None:
    return _REGION_BY_CODE.get((code or "").strip().upper())


def _regions_to_try(text: str, country_hint: str | None) -> list[str]:
    if _AU_AREA_CODE_STYLE.fullmatch(text.strip()):
        return ["AU"]
    # Both regions are always read and a mobile reading wins (NZ 02x mobiles are also valid
    # Sydney landlines), so the hint only decides between readings that are not mobiles.
    if _region_for(country_hint) == "AU":
        return ["AU", "NZ"]
    return ["NZ", "AU"]


def _readings(text: str, regions: list[str]) -> list[PhoneNumber]:
    readings = []
    for region in regions:
        try:
            readings.append(phonenumbers.parse(text, region))
        except NumberParseException:
            continue
    return readings


def _is_mobile(number: PhoneNumber) -> bool:
    region = phonenumbers.region_code_for_number(number)
    if region not in _CALLING_CODES:
        return False
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.MOBILE:
        return True
    # phonenumbers says FIXED_LINE_OR_MOBILE when it cannot tell the two apart; SMS only
    # reaches it if the region's own mobile ranges include it.
    if kind == PhoneNumberType.FIXED_LINE_OR_MOBILE:
        mobile_ranges = phonenumbers.PhoneMetadata.metadata_for_region(region).mobile
        national = phonenumbers.national_significant_number(number)
        return re.fullmatch(mobile_ranges.national_number_pattern or "", national) is not None
    return False


def _mobile_check(entered: str, number: PhoneNumber) -> PhoneCheck:
    e164 = _e164(number)
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    # Only punctuation may differ from the number's own E.164 or national digits; prefixes such
    # as 0064, a bare 64 or +64 0, and any words, are fixes the user has to accept.
    valid = _compact(entered) in (e164, _compact(formatted))
    message = None if valid else f"Not a valid mobile number as entered; try {formatted}."
    region = phonenumbers.region_code_for_number(number)
    return PhoneCheck(entered, valid, e164, formatted, region, message)


def _non_mobile_check(entered: str, readings: list[PhoneNumber]) -> PhoneCheck:
    for number in readings:
        if phonenumbers.is_valid_number(number):
            region = phonenumbers.region_code_for_number(number)
            if region in _CALLING_CODES:
                return _rejected(entered, _not_mobile_message(number, region), region)
    if any(number.country_code not in (61, 64) for number in readings):
        return _rejected(entered, FOREIGN)
    if any(phonenumbers.is_possible_number(number) for number in readings):
        return _rejected(entered, NOT_VALID)
    return _rejected(entered, NOT_A_NUMBER)


def _not_mobile_message(number: PhoneNumber, region: str) -> str:
    if phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE:
        return f"That is {_A_COUNTRY[region]} landline; SMS needs a mobile number."
    return NOT_MOBILE


def _rejected(entered: str, message: str, country: str | None = None) -> PhoneCheck:
    return PhoneCheck(entered, False, None, None, country, message)


def _check_pair(region: str | None, text: str) -> PhoneCheck:
    # With a country code chosen, "21 123 4567" is the usual way to fill in the rest of the
    # number, so read it after the code before reading it alone.
    first_digit = re.search(r"\d", text)
    if region and "+" not in text and first_digit and first_digit.group() != "0":
        paired = check_phone(f"{_CALLING_CODES[region]} {text}")
        if paired.e164:
            return paired
    return check_phone(text, region)


def _client_message(check: PhoneCheck, region: str) -> str:
    """With a country code chosen, fixes are suggested in the international form."""
    if check.e164 is None:
        return check.message or NOT_A_NUMBER
    suggestion = phonenumbers.format_number(
        phonenumbers.parse(check.e164, None), PhoneNumberFormat.INTERNATIONAL
    )
    if check.valid:
        country = _A_COUNTRY[check.country]
        return f"That is {country} mobile number, not {_CALLING_CODES[region]}; try {suggestion}."
    return f"Not a valid mobile number as entered; try {suggestion}."


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _compact(text: str) -> str:
    return _FORMATTING.sub("", text)
