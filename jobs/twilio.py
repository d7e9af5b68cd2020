"""Twilio's Messages API over httpx, with failures sorted by whether a retry is safe."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from jobs.providers import (
    Accepted,
    CannotAsk,
    CannotList,
    ProviderMessage,
    Refused,
    Uncertain,
    Unreachable,
)
from models.config import Settings
from models.enums import SmsStatus
from models.provider_errors import STATUSES, reason_for

# Seconds a request to Twilio may take; a send job's timeout is sized from it (jobs/worker.py).
REQUEST_TIMEOUT = 10.0
LIST_PAGE_SIZE = 1000
# Sends spread over several small connection pools: httpcore looks through every connection of
# a pool for each request it starts or ends, so one pool of 100 costs the worker more CPU in
# that bookkeeping than the requests themselves.
POOLS, POOL_SIZE = 10, 10
# An idle connection is dropped well before a server would close it (5 s is common): a request
# sent on a connection the server has just closed fails with no answer, and such a message waits
# for its status callback or Twilio's list instead of being sent again.
KEEPALIVE_SECONDS = 2.0
# More pages than this of messages to one number from ours: too many to look through.
LIST_MAX_PAGES = 5


class TwilioProvider:
    def __init__(self, settings: Settings, timeout: float = REQUEST_TIMEOUT):
        self.settings = settings
        self.clients = [
            httpx.AsyncClient(
                base_url=settings.twilio_api_base.rstrip("/"),
                auth=(settings.twilio_account_sid, settings.twilio_auth_token),
                timeout=httpx.Timeout(timeout, connect=5.0),
                limits=httpx.Limits(
                    max_connections=POOL_SIZE,
                    max_keepalive_connections=POOL_SIZE,
                    keepalive_expiry=KEEPALIVE_SECONDS,
                ),
            )
            for _ in range(POOLS)
        ]
        self.client = self.clients[0]
        self.next_client = itertools.cycle(self.clients).__next__

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.settings.twilio_account_sid}/Messages.json"

    def status_callback(self, message_id: int) -> str:
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/webhooks/twilio/status?message_id={message_id}"

    async def send(self, message_id: int, to: str, body: str) -> Accepted:
        form = {
            "To": to,
            "From": self.settings.twilio_from_number,
            "Body": body,
            "StatusCallback": self.status_callback(message_id),
        }
        try:
            response = await self.next_client().post(self.messages_path, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Unreachable("could not be reached") from error
        except httpx.TransportError as error:
            # The request may have reached Twilio: only its status callback can tell.
            raise Uncertain(str(error) or type(error).__name__) from error
        if response.status_code in (201, 200):
            return Accepted(provider_message_id=response.json()["sid"])
        if response.status_code in (429, 503):
            # Twilio says it did not take the message: too many requests, or unavailable.
            raise Unreachable(f"answered HTTP {response.status_code}")
        if response.status_code >= 500:
            # A 500, 502 or 504 may come after Twilio created the message: never resent
            # blindly; its status callback or Twilio's message list settles it.
            raise Uncertain(f"answered HTTP {response.status_code}")
        code, text = refusal(response)
        raise Refused(code, reason_for(code, text))

    async def messages_to(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Twilio's Message list, filtered by To and From, page by page.

        Not filtered by DateSent as well: a message Twilio accepted but has not sent yet has no
        date_sent, and such a filter would hide exactly the message that must not be sent twice.
        `since` is applied to date_created here instead.
        """
        params = {"To": to, "From": self.settings.twilio_from_number, "PageSize": LIST_PAGE_SIZE}
        found: list[ProviderMessage] = []
        url: str | None = self.messages_path
        for _ in range(LIST_MAX_PAGES):
            page = await self._page(url, params)
            params = None  # the next page's URI carries them
            for item in page.get("messages") or []:
                message = listed(item)
                if message is not None and message.created_at >= since:
                    found.append(message)
            url = page.get("next_page_uri")
            if not url:
                return found
        raise CannotList(f"more than {LIST_MAX_PAGES * LIST_PAGE_SIZE} messages to {to}")

    async def _page(self, url: str, params: dict | None) -> dict:
        try:
            response = await self.client.get(url, params=params)
        except httpx.TransportError as error:
            raise CannotAsk(f"could not be reached ({type(error).__name__})") from error
        if response.status_code != 200:
            raise CannotAsk(f"answered HTTP {response.status_code} to the message list")
        try:
            return response.json()
        except ValueError as error:
            raise CannotAsk("answered the message list with something other than JSON") from error

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def listed(item: dict) -> ProviderMessage | None:
    """One entry of Twilio's message list; None when it lacks what we match on."""
    try:
        created = parsedate_to_datetime(item["date_created"])
        if created.tzinfo is None:  # "-0000": GMT, as Twilio's dates are
            created = created.replace(tzinfo=UTC)
        sid, to, body = item["sid"], item["to"], item["body"]
    except (KeyError, TypeError, ValueError):
        return None
    status = STATUSES.get(str(item.get("status", "")).lower(), SmsStatus.SENT)
    code = item.get("error_code")
    return ProviderMessage(
        provider_message_id=sid,
        to=to,
        body=body,
        status=status,
        created_at=created,
        error_code=str(code) if code is not None else None,
    )


def refusal(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body = response.json()
        return str(body.get("code") or response.status_code), body.get("message")
    except ValueError:
        return str(response.status_code), None
