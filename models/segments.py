"""How long a text is as SMS (GSM-7 septets or UCS-2 units), the one-segment rule, and the
look-alikes replaced so that what is sent is what was counted."""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import DomainError, ErrorCode

GSM7 = "GSM-7"
UCS2 = "UCS-2"
MAX_GSM7 = 160
MAX_UCS2 = 70
# In a multipart message each segment gives up room for the concatenation header.
_PART_GSM7 = 153
_PART_UCS2 = 67

ESCAPE = "\x1b"

# GSM 03.38 default alphabet in code order 0x00-0x7F, one row of 16 per line. Slot 0x1B is the
# escape into the extension table, not a character, so it is kept only to hold the positions.
GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(GSM7_TABLE) - {ESCAPE}
# Each of these is sent as escape + code, so it costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class SmsLength:
    """Size of a text: `length` in septets (GSM-7) or UTF-16 code units (UCS-2)."""

    length: int
    encoding: str
    segments: int
    limit: int

    @property
    def fits(self) -> bool:
        """True when the text is non-empty and goes as a single SMS."""
        return self.length > 0 and self.segments == 1


GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(text: str) -> bool:
    return GSM7_ALL.issuperset(text)


def measure(text: str) -> SmsLength:
    if is_gsm7(text):
        septets = len(text) + sum(text.count(ch) for ch in GSM7_EXTENSION)
        return _sized(septets, GSM7, MAX_GSM7, _PART_GSM7)
    # Carriers count UTF-16 units, so an emoji outside the BMP uses two of the 70.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return _sized(units, UCS2, MAX_UCS2, _PART_UCS2)


def _sized(length: int, encoding: str, limit: int, part: int) -> SmsLength:
    if length == 0:
        segments = 0
    elif length <= limit:
        segments = 1
    else:
        segments = -(-length // part)
    return SmsLength(length=length, encoding=encoding, segments=segments, limit=limit)


def check_message(
    text: str | None, field: str = "body", size: SmsLength | None = None
) -> SmsLength:
    """Measure `text` (unless its `size` is known), refusing it when blank or longer than one
    SMS."""
    if text is None or not text.strip():
        raise DomainError(ErrorCode.MESSAGE_EMPTY, "Message is empty.", field)
    size = size or measure(text)
    if not size.fits:
        raise DomainError(ErrorCode.MESSAGE_TOO_LONG, _too_long(text, size), field)
    return size


# Characters with a plain GSM-7 look-alike, replaced before any text is measured. Picked from
# the published tables, keeping only replacements that read the same (no fractions or "(TM)"):
#   Twilio https://www.twilio.com/docs/messaging/services/smart-encoding-char-list
#   Telnyx https://developers.telnyx.com/docs/messaging/messages/smart-encoding
#   Sinch  https://developers.sinch.com/docs/sms/resources/message-info/auto-encoding
#   Webex  https://docs.webexinteract.com/reference/message-encoding
_LOOK_ALIKE_GROUPS = (
    # double quotes: « » “ ” „ ‟ ″ ‶ ʺ ˮ ❝ ❞ 〝 〞
    ("\u00ab\u00bb\u201c\u201d\u201e\u201f\u2033\u2036\u02ba\u02ee\u275d\u275e\u301d\u301e", '"'),
    # single quotes and apostrophes: ‘ ’ ‚ ‛ ′ ‵ ʹ ʻ ʼ ʽ ˈ ˊ ˋ ´ ❛ ❜, and the grave accent `,
    # which GSM-7 lacks
    (
        "\u2018\u2019\u201a\u201b\u2032\u2035\u02b9\u02bb"
        "\u02bc\u02bd\u02c8\u02ca\u02cb\u00b4\u275b\u275c`",
        "'",
    ),
    # hyphens, dashes and minus: ‐ ‑ ‒ – — ― − ﹘ ﹣
    ("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63", "-"),
    # bullets: • ⁃
    ("\u2022\u2043", "-"),
    # tab, no-break space, U+2000-U+200A (en quad to hair space), narrow no-break,
    # medium mathematical and ideographic spaces
    ("\t\u00a0" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000", " "),
    # invisible, so removed (our addition): zero-width space, word joiner, byte order mark, soft
    # hyphen. Zero-width (non-)joiners stay: they build emoji and shape scripts, UCS-2 anyway.
    ("\u200b\u2060\ufeff\u00ad", ""),
    # leaders and ellipsis: ․ ‥ …
    ("\u2024", "."),
    ("\u2025", ".."),
    ("\u2026", "..."),
    # fraction slash ⁄, division slash ∕, divides ∣
    ("\u2044\u2215", "/"),
    ("\u2223", "|"),
)
# Fullwidth ASCII, U+FF01-U+FF5E, is its ASCII character less 0xFEE0; ｀ has no GSM-7 form.
_FULLWIDTH = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)} | {"\uff40": "'"}
LOOK_ALIKES = str.maketrans(
    {ch: plain for chars, plain in _LOOK_ALIKE_GROUPS for ch in chars} | _FULLWIDTH
)
# Māori long vowels (and a combining macron) written plainly: only when the company asks.
PLAIN_VOWELS = str.maketrans("āēīōūĀĒĪŌŪ", "aeiouAEIOU", "\u0304")


@dataclass(frozen=True)
class SmsText:
    """The text that goes, the characters replaced to get it (each once, first seen first)."""

    text: str
    replaced: tuple[str, ...]
    size: SmsLength


def smart_encode(text: str, plain_vowels_for_macrons: bool = False) -> SmsText:
    """`text` with its look-alikes replaced; with the setting on, and only when that is what
    makes it fit in one SMS, with ā ē ī ō ū as plain vowels too (names keep their macrons
    whenever they can)."""
    sent = _replaced(text, LOOK_ALIKES)
    if plain_vowels_for_macrons and not sent.size.fits:
        plain = _replaced(text, LOOK_ALIKES | PLAIN_VOWELS)
        if plain.size.fits:
            return plain
    return sent


def _replaced(text: str, table: dict[int, int | str | None]) -> SmsText:
    sent = text.translate(table)
    # Most texts have nothing to replace: looked through character by character only if changed.
    replaced = () if sent == text else tuple(dict.fromkeys(ch for ch in text if ord(ch) in table))
    return SmsText(text=sent, replaced=replaced, size=measure(sent))


def _too_long(text: str, size: SmsLength) -> str:
    message = f"Message is {size.length} characters; one SMS holds {size.limit}"
    if size.encoding == GSM7:
        return message + "."
    # Name the culprit: a single macron (as in "Māori") cuts the limit from 160 to 70.
    culprit = next(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    return message + f' because it contains "{culprit}".'
