"""Tests for SMS length: the GSM 03.38 table, encodings, segment counts and the one-SMS rule."""

from __future__ import annotations

import pytest

from models.errors import DomainError, ErrorCode
from models.segments import (
    ESCAPE,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_TABLE,
    MAX_GSM7,
    MAX_UCS2,
    SmsLength,
    check_message,
    measure,
)

# Positions where GSM 03.38 differs from ASCII, as code points from the Unicode mapping table,
# so a look-alike typed into the literal (Ohm sign for Omega, say) is caught.
NON_ASCII_SLOTS = {
    0x00: "\u0040", 0x01: "\u00a3", 0x02: "\u0024", 0x03: "\u00a5",
    0x04: "\u00e8", 0x05: "\u00e9", 0x06: "\u00f9", 0x07: "\u00ec",
    0x08: "\u00f2", 0x09: "\u00c7", 0x0A: "\u000a", 0x0B: "\u00d8",
    0x0C: "\u00f8", 0x0D: "\u000d", 0x0E: "\u00c5", 0x0F: "\u00e5",
    0x10: "\u0394", 0x11: "\u005f", 0x12: "\u03a6", 0x13: "\u0393",
    0x14: "\u039b", 0x15: "\u03a9", 0x16: "\u03a0", 0x17: "\u03a8",
    0x18: "\u03a3", 0x19: "\u0398", 0x1A: "\u039e", 0x1B: "\u001b",
    0x1C: "\u00c6", 0x1D: "\u00e6", 0x1E: "\u00df", 0x1F: "\u00c9",
    0x24: "\u00a4", 0x40: "\u00a1",
    0x5B: "\u00c4", 0x5C: "\u00d6", 0x5D: "\u00d1", 0x5E: "\u00dc", 0x5F: "\u00a7",
    0x60: "\u00bf",
    0x7B: "\u00e4", 0x7C: "\u00f6", 0x7D: "\u00f1", 0x7E: "\u00fc", 0x7F: "\u00e0",
}  # fmt: skip


def _error(text: str | None, field: str = "body") -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_message(text, field)
    return caught.value


# --- the table ---------------------------------------------------------------------------------


def test_table_has_128_distinct_slots():
    assert len(GSM7_TABLE) == 128
    assert len(set(GSM7_TABLE)) == 128


def test_table_matches_gsm_0338_slot_by_slot():
    for code in range(128):
        expected = NON_ASCII_SLOTS.get(code, chr(code))
        assert GSM7_TABLE[code] == expected, f"slot {code:#04x}"


def test_basic_set_has_newline_and_return_but_not_the_escape_slot():
    assert GSM7_TABLE[0x1B] == ESCAPE
    assert ESCAPE not in GSM7_BASIC
    assert "\n" in GSM7_BASIC and "\r" in GSM7_BASIC
    assert len(GSM7_BASIC) == 127


def test_extension_set_is_exactly_the_nine_two_septet_characters():
    assert GSM7_EXTENSION == frozenset({"\f", "^", "{", "}", "\\", "[", "~", "]", "|", "€"})
    assert not GSM7_EXTENSION & GSM7_BASIC


@pytest.mark.parametrize("ch", ["`", "ç", "á", "ā", "’", "“", "\t", "\u00a0", "\u2126", ESCAPE])
def test_characters_outside_both_tables_are_not_gsm(ch):
    assert ch not in GSM7_BASIC and ch not in GSM7_EXTENSION
    assert measure(f"Hi {ch}") == SmsLength(length=4, encoding="UCS-2", segments=1, limit=70)


# --- GSM-7 -------------------------------------------------------------------------------------


def test_every_basic_character_counts_one_septet():
    text = "".join(sorted(GSM7_BASIC))
    assert measure(text) == SmsLength(length=127, encoding="GSM-7", segments=1, limit=160)


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_each_extension_character_counts_two_septets(ch):
    assert measure(f"a{ch}b") == SmsLength(length=4, encoding="GSM-7", segments=1, limit=160)


def test_gsm_160_fits_exactly():
    size = check_message("a" * MAX_GSM7)
    assert size == SmsLength(length=160, encoding="GSM-7", segments=1, limit=160)
    assert size.fits


def test_gsm_161_is_too_long():
    size = measure("a" * 161)
    assert size == SmsLength(length=161, encoding="GSM-7", segments=2, limit=160)
    assert not size.fits
    error = _error("a" * 161)
    assert error.code is ErrorCode.MESSAGE_TOO_LONG
    assert error.message == "Message is 161 characters; one SMS holds 160."


def test_158_plain_plus_one_extension_is_exactly_160():
    assert check_message("a" * 158 + "€").length == 160


def test_159_plain_plus_one_extension_is_161_and_too_long():
    text = "a" * 159 + "€"
    assert len(text) == 160
    assert measure(text) == SmsLength(length=161, encoding="GSM-7", segments=2, limit=160)
    assert _error(text).message == "Message is 161 characters; one SMS holds 160."


def test_nz_dollars_and_pounds_stay_gsm():
    size = measure("Quote: $120.50 incl GST (£60) @ 9am\r\nÅse Ørsted")
    assert size == SmsLength(length=47, encoding="GSM-7", segments=1, limit=160)


# --- UCS-2 -------------------------------------------------------------------------------------


def test_maori_macron_switches_whole_message_to_ucs2():
    assert measure("Maori") == SmsLength(length=5, encoding="GSM-7", segments=1, limit=160)
    assert measure("Māori") == SmsLength(length=5, encoding="UCS-2", segments=1, limit=70)


def test_one_macron_cuts_the_limit_to_70_and_the_error_names_it():
    text = "Kia ora Tāmati, " + "a" * 60
    assert len(text) == 76
    error = _error(text, "messageBody")
    assert error.code is ErrorCode.MESSAGE_TOO_LONG
    assert error.field == "messageBody"
    assert error.message == 'Message is 76 characters; one SMS holds 70 because it contains "ā".'


def test_ucs2_70_fits_exactly():
    size = check_message("ā" * MAX_UCS2)
    assert size == SmsLength(length=70, encoding="UCS-2", segments=1, limit=70)


def test_ucs2_71_is_too_long():
    assert measure("ā" * 71) == SmsLength(length=71, encoding="UCS-2", segments=2, limit=70)
    error = _error("ā" * 71)
    assert error.message == 'Message is 71 characters; one SMS holds 70 because it contains "ā".'


def test_extension_characters_count_one_unit_once_in_ucs2():
    assert measure("ā€{}") == SmsLength(length=4, encoding="UCS-2", segments=1, limit=70)


def test_emoji_counts_two_units():
    assert measure("👍") == SmsLength(length=2, encoding="UCS-2", segments=1, limit=70)
    assert measure("See you soon 👍") == SmsLength(
        length=15, encoding="UCS-2", segments=1, limit=70
    )


def test_emoji_pushes_69_units_over_the_limit():
    text = "a" * 69 + "👍"
    assert len(text) == 70
    assert measure(text).length == 71
    assert _error(text).message == (
        'Message is 71 characters; one SMS holds 70 because it contains "👍".'
    )


# --- segment counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments"),
    [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_segment_counts(length, segments):
    assert measure("a" * length).segments == segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segment_counts(length, segments):
    assert measure("ā" * length).segments == segments


def test_empty_text_measures_zero_and_does_not_fit():
    size = measure("")
    assert size == SmsLength(length=0, encoding="GSM-7", segments=0, limit=160)
    assert not size.fits


# --- empty -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", " ", "\n", " \r\n\t ", "\u00a0"])
def test_blank_message_is_empty(text):
    error = _error(text, "text")
    assert error.code is ErrorCode.MESSAGE_EMPTY
    assert error.message == "Message is empty."
    assert error.field == "text"


def test_default_field_is_body():
    assert _error("").field == "body"


def test_surrounding_whitespace_is_counted_not_trimmed():
    assert check_message("  hi  ").length == 6
