"""How long a text is as SMS (GSM-7 septets or UCS-2 units), and the one-segment rule."""

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


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def measure(text: str) -> SmsLength:
    if is_gsm7(text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
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


def check_message(text: str | None, field: str = "body") -> SmsLength:
    """Measure `text`, refusing it when blank or longer than one SMS."""
    if text is None or not text.strip():
        raise DomainError(ErrorCode.MESSAGE_EMPTY, "Message is empty.", field)
    size = measure(text)
    if not size.fits:
        raise DomainError(ErrorCode.MESSAGE_TOO_LONG, _too_long(text, size), field)
    return size


def _too_long(text: str, size: SmsLength) -> str:
    message = f"Message is {size.length} characters; one SMS holds {size.limit}"
    if size.encoding == GSM7:
        return message + "."
    # Name the culprit: a single macron (as in "Māori") cuts the limit from 160 to 70.
    culprit = next(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    return message + f' because it contains "{culprit}".'
