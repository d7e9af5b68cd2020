"""Twilio's webhooks: delivery status callbacks and inbound replies (STOP, START, ...)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from models.columns import utcnow
from models.config import Settings
from models.enums import SmsStatus
from models.message_status import advance
from models.opt_outs import keyword, record_keyword
from models.provider_errors import reason_for
from models.sms import InboundMessage, SmsMessage
from models.status_feed import announce

log = logging.getLogger(__name__)

STATUSES = {
    "queued": SmsStatus.SENT,
    "accepted": SmsStatus.SENT,
    "sending": SmsStatus.SENT,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.FAILED,
    "failed": SmsStatus.FAILED,
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form parameters."""
    payload = url + "".join(key + value for key, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def public_url(settings: Settings, request: Request) -> str:
    query = request.url.query
    return settings.public_base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


async def verified_form(settings: Settings, request: Request) -> dict[str, str] | None:
    """The form of a genuine Twilio request for our account, else None."""
    if not settings.twilio_auth_token:
        return None
    try:
        params = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        return None
    expected = signature(settings.twilio_auth_token, public_url(settings, request), params)
    given = request.headers.get("x-twilio-signature", "")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return None
    form = dict(params)
    if form.get("AccountSid") != settings.twilio_account_sid:
        return None
    return form


def forbidden() -> Response:
    return Response("Forbidden", status_code=403, media_type="text/plain")


def status_endpoint(services: Callable) -> Callable:
    async def status(request: Request) -> Response:
        current = services()
        form = await verified_form(current.settings, request)
        if form is None:
            return forbidden()
        new_status = STATUSES.get(form.get("MessageStatus", "").lower())
        sid = form.get("MessageSid", "")
        if new_status is None or not sid:
            return Response(status_code=204)
        message_id = request.query_params.get("message_id", "")
        async with current.sessions.begin() as session:
            where = col(SmsMessage.provider_message_id) == sid
            if message_id.isdigit():
                where = col(SmsMessage.id) == int(message_id)
            message = (await session.exec(select(SmsMessage).where(where))).first()
            if message is None or (message.provider_message_id not in (None, sid)):
                return Response(status_code=204)
            values = {"provider_message_id": sid, "retry_at": None}
            if new_status is SmsStatus.FAILED:
                code = form.get("ErrorCode") or None
                values |= {"error_code": code, "error_message": reason_for(code)}
            changed = await advance(session, message.id, new_status, **values)
        if changed:
            await announce(current.queue, message.id, new_status)
        return Response(status_code=204)

    return status


def inbound_endpoint(services: Callable) -> Callable:
    async def inbound(request: Request) -> Response:
        current = services()
        form = await verified_form(current.settings, request)
        if form is None:
            return forbidden()
        sender = form.get("From", "").strip()[:40]
        body = form.get("Body", "")[:2000]
        now = utcnow()
        try:
            async with current.sessions.begin() as session:
                session.add(
                    InboundMessage(
                        from_number=sender,
                        to_number=form.get("To", "")[:40],
                        body=body,
                        received_at=now,
                        provider_message_id=form.get("MessageSid") or None,
                    )
                )
                word = keyword(body)
                if word is not None and sender:
                    await record_keyword(session, sender, word, now)
        except IntegrityError:
            log.info("inbound message %s already stored", form.get("MessageSid"))
        return Response(EMPTY_TWIML, media_type="text/xml")

    return inbound
