"""Tests for SMS length: the GSM 03.38 table, encodings, segment counts, the one-SMS rule and the
look-alikes replaced before it."""

from __future__ import annotations

import pytest

from models.errors import DomainError, ErrorCode
from models.segments import (
    ESCAPE,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_TABLE,
    LOOK_ALIKES,
    MAX_GSM7,
    MAX_UCS2,
    PLAIN_VOWELS,
    SmsLength,
    check_message,
    is_gsm7,
    measure,
    smart_encode,
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


# --- smart encoding ----------------------------------------------------------------------------

# 150 characters as typed on a phone: curly quotes and apostrophes.
CURLY = ("Hi “Mere”, it’s Tama from Kiwi Plumbing & Electrical. We’ll be at 14 Marine Parade at "
         "9:30am tomorrow to replace the grease trap. Reply to reschedule.")
# 77 characters with two macrons: too long for UCS-2, short enough for GSM-7.
MACRONS = "Kia ora Tāmati, Aroha from Kiwi Plumbing visits Ōtaki on Tue 6 Mar at 9:30am."


@pytest.mark.parametrize("table", [LOOK_ALIKES, PLAIN_VOWELS], ids=["look-alikes", "macrons"])
def test_every_replacement_is_gsm7_and_replaces_only_what_gsm7_lacks(table):
    for code in table:
        plain = chr(code).translate(table)
        assert not is_gsm7(chr(code)), f"U+{code:04X} is GSM-7 already"
        assert is_gsm7(plain), f"U+{code:04X} -> {plain!r}"


def test_a_150_character_text_with_curly_quotes_is_one_gsm7_sms_after_replacement():
    # Given a text that is three UCS-2 segments as typed
    assert len(CURLY) == 150 and measure(CURLY).segments == 3

    # When it is smart-encoded
    sent = smart_encode(CURLY)

    # Then straight quotes go, as one GSM-7 SMS, and each replaced character is named once
    assert sent.text == CURLY.replace("“", '"').replace("”", '"').replace("’", "'")
    assert sent.replaced == ("“", "”", "’")
    assert sent.size == SmsLength(length=150, encoding="GSM-7", segments=1, limit=160)
    assert check_message(sent.text) == sent.size


def test_the_same_text_with_an_emoji_stays_ucs2_and_is_refused():
    sent = smart_encode(CURLY + " 👍")

    assert sent.replaced == ("“", "”", "’")
    assert sent.size.encoding == "UCS-2" and not sent.size.fits
    error = _error(sent.text)
    assert error.code is ErrorCode.MESSAGE_TOO_LONG
    assert error.message == (
        'Message is 153 characters; one SMS holds 70 because it contains "👍".')


@pytest.mark.parametrize(("typed", "sent"), [
    ("9\u20135pm \u2014 or later", "9-5pm - or later"),
    ("Hmm\u2026", "Hmm..."),
    ("\u2022 Parts \u2043 labour", "- Parts - labour"),
    ("\u00ab Non \u00bb \u201eJa\u201c", '" Non " "Ja"'),
    ("Tama\u2019s \u2018van\u2019 \u02bcok\u02bc `x\u00b4", "Tama's 'van' 'ok' 'x'"),
    ("\uff08\uff11\uff09\uff1f\uff01\uff20\uff3b\uff5d\uff40", "(1)?!@[}'"),
    ("1\u20442 \u2212 3", "1/2 - 3"),
])
def test_look_alikes_are_replaced_by_plain_characters(typed, sent):
    assert smart_encode(typed).text == sent
    assert measure(sent).encoding == "GSM-7"


@pytest.mark.parametrize("space", [
    "\t", "\u00a0", *map(chr, range(0x2000, 0x200B)), "\u202f", "\u205f", "\u3000"])
def test_every_unicode_space_becomes_a_plain_space(space):
    sent = smart_encode(f"10{space}am")
    assert (sent.text, sent.replaced) == ("10 am", (space,))


@pytest.mark.parametrize("invisible", ["\u200b", "\u2060", "\ufeff", "\u00ad"])
def test_invisible_characters_are_removed(invisible):
    sent = smart_encode(f"{invisible}See you{invisible} soon")
    assert (sent.text, sent.replaced) == ("See you soon", (invisible,))
    assert sent.size.encoding == "GSM-7"


def test_an_ellipsis_counts_as_the_three_dots_it_becomes():
    sent = smart_encode("a" * 157 + "\u2026")
    assert sent.size == SmsLength(length=160, encoding="GSM-7", segments=1, limit=160)
    assert not smart_encode("a" * 158 + "\u2026").size.fits


def test_a_text_of_invisible_characters_and_no_break_spaces_is_empty():
    error = _error(smart_encode("\u200b\u00a0\ufeff").text)
    assert error.code is ErrorCode.MESSAGE_EMPTY


def test_emoji_sequences_are_left_whole():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    sent = smart_encode(f"Thanks {family}")
    assert (sent.text, sent.replaced) == (f"Thanks {family}", ())
    assert sent.size.encoding == "UCS-2"


def test_plain_text_is_sent_as_typed():
    sent = smart_encode("Quote: $120.50 incl GST (£60) @ 9am")
    assert (sent.text, sent.replaced) == ("Quote: $120.50 incl GST (£60) @ 9am", ())


# --- macrons -----------------------------------------------------------------------------------


def test_macrons_are_kept_by_default_even_when_that_is_refused():
    sent = smart_encode(MACRONS)

    assert (sent.text, sent.replaced) == (MACRONS, ())
    assert sent.size == SmsLength(length=77, encoding="UCS-2", segments=2, limit=70)
    assert _error(sent.text).message == (
        'Message is 77 characters; one SMS holds 70 because it contains "ā".')


def test_with_the_setting_a_short_macron_text_that_fits_keeps_its_macrons():
    text = "Kia ora Tāmati, see you in Ōtaki at 9:30am."

    sent = smart_encode(text, plain_vowels_for_macrons=True)

    assert (sent.text, sent.replaced) == (text, ())
    assert sent.size == SmsLength(length=43, encoding="UCS-2", segments=1, limit=70)


def test_with_the_setting_a_text_that_fits_only_without_macrons_gets_plain_vowels():
    sent = smart_encode(MACRONS, plain_vowels_for_macrons=True)

    assert sent.text == MACRONS.replace("ā", "a").replace("Ō", "O")
    assert sent.replaced == ("ā", "Ō")
    assert sent.size == SmsLength(length=77, encoding="GSM-7", segments=1, limit=160)


def test_with_the_setting_a_text_too_long_even_without_macrons_keeps_them_and_is_refused():
    text = MACRONS + " " + "x" * 83
    assert len(text) == 161

    sent = smart_encode(text, plain_vowels_for_macrons=True)

    assert (sent.text, sent.replaced) == (text, ())
    assert _error(sent.text).code is ErrorCode.MESSAGE_TOO_LONG


def test_with_the_setting_an_emoji_keeps_the_macrons_too():
    # Plain vowels cannot bring a text with an emoji back to GSM-7, so they would gain nothing.
    text = MACRONS[:-1] + " 👍"
    assert not smart_encode(text, plain_vowels_for_macrons=True).size.fits
    assert smart_encode(text, plain_vowels_for_macrons=True).text == text


def test_every_macron_vowel_and_a_combining_macron_become_plain():
    text = "ĀāĒēĪīŌōŪū a\u0304" + "x" * 60

    sent = smart_encode(text, plain_vowels_for_macrons=True)

    assert sent.text == "AaEeIiOoUu a" + "x" * 60
    assert sent.replaced == tuple("ĀāĒēĪīŌōŪū") + ("\u0304",)


def test_replaced_characters_are_listed_once_in_the_order_first_seen():
    text = "“Kia ora” Tāmati — ā, ā, “ā”… " + "x" * 50

    sent = smart_encode(text, plain_vowels_for_macrons=True)

    assert sent.text == '"Kia ora" Tamati - a, a, "a"... ' + "x" * 50
    assert sent.replaced == ("“", "”", "ā", "—", "…")
