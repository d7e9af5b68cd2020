"""Request bodies as JSON, refused before parsing when nested deeper than any request needs.

Python's parser recurses once per level: a body of a thousand nested brackets used to end in a
RecursionError and an HTTP 500. The depth is counted on the raw bytes first (brackets outside
strings), in C-speed passes, so a deep body costs no parse at all.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

# Deeper than any operation's variables go (an input object inside a list inside an input
# object is four levels below the body), with room to spare.
MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = [0] * 256
for _byte in b"[{":
    _STEP[_byte] = 1
for _byte in b"]}":
    _STEP[_byte] = -1


class NestedTooDeeply(json.JSONDecodeError):
    """A JSONDecodeError, so every caller that refuses broken JSON refuses this too."""

    message = f"Request body nested more than {MAX_DEPTH} levels deep."

    def __init__(self) -> None:
        super().__init__(self.message, "", 0)

    def __str__(self) -> str:
        return self.message


def nesting_depth(data: str | bytes) -> int:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _STRING.sub(b"", raw).translate(None, delete=_NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(data: str | bytes) -> object:
    if nesting_depth(data) > MAX_DEPTH:
        raise NestedTooDeeply
    return json.loads(data)
