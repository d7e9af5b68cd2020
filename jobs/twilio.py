"""Twilio's Messages API over httpx, with failures sorted by whether a retry is safe."""

from __future__ import annotations

import httpx

from jobs.providers import Accepted, Refused, Uncertain, Unreachable
from models.config import Settings
from models.provider_errors import reason_for


class TwilioProvider:
    def __init__(self, settings: Settings, timeout: float = 10.0):
        self.settings = settings
        self.client = httpx.AsyncClient(
            base_url=settings.twilio_api_base.rstrip("/"),
            auth=(settings.twilio_account_sid, settings.twilio_auth_token),
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    def status_callback(self, message_id: int) -> str:
        base = self.settings.public_base_url.rstrip("/")
        return f"{base}/webhooks/twilio/status?message_id={message_id}"

    async def send(self, message_id: int, to: str, body: str) -> Accepted:
        path = f"/2010-04-01/Accounts/{self.settings.twilio_account_sid}/Messages.json"
        form = {
            "To": to,
            "From": self.settings.twilio_from_number,
            "Body": body,
            "StatusCallback": self.status_callback(message_id),
        }
        try:
            response = await self.client.post(path, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Unreachable("could not be reached") from error
        except httpx.TransportError as error:
            # The request may have reached Twilio: only its status callback can tell.
            raise Uncertain(str(error) or type(error).__name__) from error
        if response.status_code in (201, 200):
            return Accepted(provider_message_id=response.json()["sid"])
        if response.status_code == 429 or response.status_code >= 500:
            raise Unreachable(f"answered HTTP {response.status_code}")
        code, text = refusal(response)
        raise Refused(code, reason_for(code, text))

    async def close(self) -> None:
        await self.client.aclose()


def refusal(response: httpx.Response) -> tuple[str, str | None]:
    try:
        body = response.json()
        return str(body.get("code") or response.status_code), body.get("message")
    except ValueError:
        return str(response.status_code), None
