"""SMS providers: what a send asks of one, and the provider that only logs."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models.enums import SmsStatus

log = logging.getLogger("timetrak_sms.sms")


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str
    # True when the provider reports the handset already has it (the log provider does).
    delivered: bool = False


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's own list shows it."""

    provider_message_id: str
    to: str
    body: str
    # What the provider's status means for ours: SENT, DELIVERED or FAILED.
    status: SmsStatus
    created_at: datetime
    error_code: str | None = None


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


class CannotAsk(Exception):
    """The provider cannot say what it has (unreachable, or it keeps no list)."""


class CannotList(CannotAsk):
    """The provider answers, but cannot say what it has for this one number (too long a list):
    asking about other numbers may still work."""


class Provider(Protocol):
    async def send(self, message_id: int, to: str, body: str) -> Accepted: ...

    async def messages_to(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Every message from our number to `to` the provider created at or after `since`.

        Raises CannotAsk when it cannot tell; an empty list means it has none.
        """
        ...

    async def close(self) -> None: ...


class LogProvider:
    """The embedded default: prints each message and reports it delivered."""

    _ids = itertools.count(1)

    async def send(self, message_id: int, to: str, body: str) -> Accepted:
        log.info("SMS %s to %s: %s", message_id, to, body)
        return Accepted(
            provider_message_id=f"LOG{message_id:010d}-{next(self._ids)}", delivered=True
        )

    async def messages_to(self, to: str, since: datetime) -> list[ProviderMessage]:
        raise CannotAsk("the log provider keeps no list of what it sent")

    async def close(self) -> None:
        return None
