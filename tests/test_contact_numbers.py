"""The rules by which a contact's SMS number follows its phone and mobile numbers."""

from __future__ import annotations

import pytest

from models import Contact
from models.contact_numbers import (
    NumberField,
    copy_by_default,
    copy_to_sms,
    has_invalid_number,
    mobile_matches_sms,
    set_mobile,
    set_number,
    set_on_create,
    sms_differs_from_mobile,
    valid_sms_number,
)
from models.errors import DomainError, ErrorCode

MOBILE = "021 555 0111"
MOBILE_E164 = "+64215550111"
OTHER_MOBILE = "022 555 0188"
OTHER_E164 = "+64225550188"
FIXABLE_MOBILE = "0064 21 555 0101"
FIXABLE_E164 = "+64215550101"
LANDLINE = "09 555 0123"
LANDLINE_E164 = "+6495550123"
AU_MOBILE_IN_PHONE = "0412 555 777"


def contact(phone=None, mobile=None, sms=None) -> Contact:
    return Contact(client_id=1, name="Mere Tane", phone=phone, mobile=mobile, sms_number=sms)


# --- set_on_create --------------------------------------------------------------------------------


@pytest.mark.parametrize(("mobile", "sms", "copy"), [
    (MOBILE, MOBILE_E164, True),
    (FIXABLE_MOBILE, FIXABLE_E164, True),
    (LANDLINE, None, False),
    (None, None, False),
])
def test_a_new_contact_without_an_sms_number_takes_it_from_a_mobile_that_formats(mobile, sms, copy):
    new = contact(mobile=mobile)

    set_on_create(new, sms_given=False)

    assert (new.sms_number, mobile_matches_sms(new)) == (sms, copy)


def test_a_new_contact_keeps_a_different_sms_number_it_was_given_and_copy_is_off():
    new = contact(mobile=MOBILE, sms=OTHER_E164)

    set_on_create(new, sms_given=True)

    assert (new.sms_number, mobile_matches_sms(new)) == (OTHER_E164, False)


def test_a_new_contact_given_its_own_mobile_as_sms_number_has_copy_on():
    new = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_on_create(new, sms_given=True)

    assert (new.sms_number, mobile_matches_sms(new)) == (MOBILE_E164, True)


# --- set_mobile: the edit form --------------------------------------------------------------------


def test_with_copy_ticked_the_sms_number_follows_the_new_mobile():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_mobile(edited, f"  {OTHER_MOBILE} ", copy_to_sms=True)

    assert (edited.mobile, edited.sms_number, mobile_matches_sms(edited)) == (
        OTHER_MOBILE, OTHER_E164, True)


def test_with_copy_unticked_the_sms_number_stays_put():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_mobile(edited, OTHER_MOBILE, copy_to_sms=False)

    assert (edited.mobile, edited.sms_number, mobile_matches_sms(edited)) == (
        OTHER_MOBILE, MOBILE_E164, False)


def test_with_copy_ticked_clearing_the_mobile_clears_the_sms_number():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_mobile(edited, "  ", copy_to_sms=True)

    assert (edited.mobile, edited.sms_number) == (None, None)


def test_an_overlong_mobile_is_refused():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    with pytest.raises(DomainError) as refused:
        set_mobile(edited, "0" * 41, copy_to_sms=True)

    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_PHONE_NUMBER, "mobile")
    assert (edited.mobile, edited.sms_number) == (MOBILE, MOBILE_E164)


# --- copy_by_default: an edit that does not say whether copy is ticked ---------------------------


@pytest.mark.parametrize(("stored_sms", "mobile", "sms", "sms_given", "copy"), [
    (MOBILE_E164, OTHER_MOBILE, None, False, True),
    (OTHER_E164, OTHER_MOBILE, None, False, False),
    (None, MOBILE, None, False, False),
    (MOBILE_E164, MOBILE, OTHER_E164, True, False),
    (MOBILE_E164, MOBILE, None, True, False),
    (OTHER_E164, MOBILE, MOBILE_E164, True, True),
    (None, None, None, True, False),
])
def test_copy_stays_ticked_while_the_mobile_and_sms_number_match(stored_sms, mobile, sms,
                                                                  sms_given, copy):
    edited = contact(mobile=MOBILE, sms=stored_sms)

    assert copy_by_default(edited, mobile, sms, sms_given) is copy


# --- set_number: the bulk-update grid's inline edit -----------------------------------------------


def test_the_sms_number_follows_a_mobile_it_matched():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_number(edited, NumberField.MOBILE, OTHER_MOBILE)

    assert (edited.mobile, edited.sms_number) == (OTHER_MOBILE, OTHER_E164)


def test_the_sms_number_follows_a_phone_it_matched():
    edited = contact(phone=AU_MOBILE_IN_PHONE, sms="+61412555777")

    set_number(edited, NumberField.PHONE, OTHER_MOBILE)

    assert (edited.phone, edited.sms_number) == (OTHER_MOBILE, OTHER_E164)


def test_an_empty_sms_number_follows_whichever_number_is_edited():
    edited = contact(phone=LANDLINE)

    set_number(edited, NumberField.PHONE, OTHER_MOBILE)

    assert (edited.phone, edited.sms_number) == (OTHER_MOBILE, OTHER_E164)


def test_an_sms_number_matching_neither_old_number_stays_put():
    edited = contact(phone=LANDLINE, mobile=MOBILE, sms=OTHER_E164)

    set_number(edited, NumberField.MOBILE, "027 555 0100")
    set_number(edited, NumberField.PHONE, "027 555 0101")

    assert (edited.phone, edited.mobile, edited.sms_number) == (
        "027 555 0101", "027 555 0100", OTHER_E164)


def test_editing_the_phone_leaves_an_sms_number_that_matched_the_mobile():
    edited = contact(phone=LANDLINE, mobile=MOBILE, sms=MOBILE_E164)

    set_number(edited, NumberField.PHONE, OTHER_MOBILE)

    assert (edited.phone, edited.sms_number) == (OTHER_MOBILE, MOBILE_E164)


def test_replacing_a_matched_mobile_with_a_landline_clears_the_sms_number():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    set_number(edited, NumberField.MOBILE, LANDLINE)

    assert (edited.mobile, edited.sms_number) == (LANDLINE, None)


def test_an_overlong_grid_edit_is_refused_and_changes_nothing():
    edited = contact(mobile=MOBILE, sms=MOBILE_E164)

    with pytest.raises(DomainError) as refused:
        set_number(edited, NumberField.MOBILE, "0" * 41)

    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_PHONE_NUMBER, "value")
    assert (edited.mobile, edited.sms_number) == (MOBILE, MOBILE_E164)


# --- copy_to_sms: the copy buttons ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "numbers", "sms", "copy"), [
    (NumberField.MOBILE, {"mobile": MOBILE}, MOBILE_E164, True),
    (NumberField.MOBILE, {"mobile": FIXABLE_MOBILE}, FIXABLE_E164, True),
    (NumberField.PHONE, {"phone": AU_MOBILE_IN_PHONE}, "+61412555777", False),
])
def test_copying_a_mobile_number_sets_the_sms_number(field, numbers, sms, copy):
    edited = contact(sms=OTHER_E164, **numbers)

    copy_to_sms(edited, field)

    assert (edited.sms_number, mobile_matches_sms(edited)) == (sms, copy)


@pytest.mark.parametrize(("field", "numbers", "says"), [
    (NumberField.PHONE, {"phone": LANDLINE}, "landline"),
    (NumberField.MOBILE, {"mobile": "021 555"}, "Not a valid"),
    (NumberField.MOBILE, {}, "no mobile number"),
    (NumberField.PHONE, {}, "no phone number"),
])
def test_copying_a_number_that_is_no_mobile_is_refused_and_changes_nothing(field, numbers, says):
    edited = contact(sms=OTHER_E164, **numbers)

    with pytest.raises(DomainError) as refused:
        copy_to_sms(edited, field)

    assert refused.value.code is ErrorCode.INVALID_SMS_NUMBER
    assert says in refused.value.message
    assert (edited.sms_number, mobile_matches_sms(edited)) == (OTHER_E164, False)


# --- the grid's categories and the form's default -------------------------------------------------


@pytest.mark.parametrize(("mobile", "sms", "matches"), [
    (MOBILE, MOBILE_E164, True),
    ("+64 21 555 0111", MOBILE_E164, True),
    (MOBILE, OTHER_E164, False),
    (MOBILE, None, False),
    (None, None, False),
    (LANDLINE, None, False),
])
def test_mobile_matches_sms(mobile, sms, matches):
    assert mobile_matches_sms(contact(mobile=mobile, sms=sms)) is matches


@pytest.mark.parametrize(("mobile", "sms", "invalid"), [
    (MOBILE, MOBILE_E164, False),
    (None, None, False),
    (FIXABLE_MOBILE, None, False),
    (LANDLINE, None, True),
    ("not a number", None, True),
    (None, LANDLINE_E164, True),
    (None, "0215550111", True),
    (None, MOBILE_E164, False),
])
def test_has_invalid_number(mobile, sms, invalid):
    assert has_invalid_number(contact(mobile=mobile, sms=sms)) is invalid


@pytest.mark.parametrize(("mobile", "sms", "differs"), [
    (MOBILE, MOBILE_E164, False),
    (MOBILE, OTHER_E164, True),
    (LANDLINE, OTHER_E164, True),
    (MOBILE, None, False),
    (None, OTHER_E164, False),
    (FIXABLE_MOBILE, FIXABLE_E164, False),
])
def test_sms_differs_from_mobile(mobile, sms, differs):
    assert sms_differs_from_mobile(contact(mobile=mobile, sms=sms)) is differs


# --- valid_sms_number: an SMS number typed by a user ----------------------------------------------


@pytest.mark.parametrize(("text", "e164"), [
    (None, None),
    ("", None),
    ("   ", None),
    (MOBILE, MOBILE_E164),
    ("+61 412 555 777", "+61412555777"),
])
def test_valid_sms_number_accepts_blank_and_mobiles(text, e164):
    assert valid_sms_number(text) == e164


@pytest.mark.parametrize(("text", "says"), [
    (FIXABLE_MOBILE, "try 021 555 0101"),
    (LANDLINE, "landline"),
    ("+44 7700 900123", "Only New Zealand and Australian"),
])
def test_valid_sms_number_refuses_anything_else_with_the_reason(text, says):
    with pytest.raises(DomainError) as refused:
        valid_sms_number(text)

    assert refused.value.code is ErrorCode.INVALID_SMS_NUMBER
    assert refused.value.field == "smsNumber"
    assert says in refused.value.message


def test_an_overlong_sms_number_is_refused_on_its_field():
    with pytest.raises(DomainError) as refused:
        valid_sms_number("0" * 41)

    assert refused.value.code is ErrorCode.INVALID_PHONE_NUMBER
    assert refused.value.field == "smsNumber"
