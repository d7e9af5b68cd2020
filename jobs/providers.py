"""SMS providers: what a send asks of one, and the provider that only logs."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("timetrak_sms.sms")


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    # True when the provider reports the handset already has it (the log provider does).
    delivered: bool = False


class Refused(Exception):
    """The provider answered and said no; sending again would not help."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Unreachable(Exception):
    """No answer before the provider could have accepted: safe to try again."""


class Uncertain(Exception):
    """The request went out but no answer came: the provider may have accepted it."""


class Provider(Protocol):
    async def send(self, message_id: int, to: str, body: str) -> Accepted: ...

    async def close(self) -> None: ...


class LogProvider:
    """The embedded default: prints each message and reports it delivered."""

    _ids = itertools.count(1)

    async def send(self, message_id: int, to: str, body: str) -> Accepted:
        log.info("SMS %s to %s: %s", message_id, to, body)
        return Accepted(
            provider_message_id=f"LOG{message_id:010d}-{next(self._ids)}", delivered=True
        )

    async def close(self) -> None:
        return None
