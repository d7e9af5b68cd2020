"""Twilio's webhooks: delivery status callbacks and the SMS clients send us (models.replies)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from models.columns import MAX_ROW_ID, utcnow
from models.config import Settings
from models.enums import SmsStatus
from models.input_limits import keepable
from models.message_status import advance
from models.metrics import REPLIES, REPLY_DUPLICATES
from models.opt_outs import record_refusal
from models.outages import is_outage
from models.provider_errors import STATUSES, reason_for
from models.replies import announce_reply, record_reply
from models.sms import InboundMessage, SmsMessage
from models.status_feed import announce, message_facts

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form parameters."""
    payload = url + "".join(key + value for key, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def public_url(settings: Settings, request: Request) -> str:
    query = request.url.query
    return settings.public_base_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def with_and_without_port(url: str) -> tuple[str, str]:
    """The URL as Twilio may have signed it: Twilio has signed https URLs both with and without
    :443, and its own validator (twilio.request_validator) tries the URL with the port (the
    scheme's default when none is given) and without any."""
    parts = urlsplit(url)
    bare = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (
        urlunsplit(parts._replace(netloc=f"{bare}:{port}")),
        urlunsplit(parts._replace(netloc=bare)),
    )


class NotFromTwilio(Exception):
    """Not a genuine Twilio request for our account; the message says why, for the log (never
    the signature or the token)."""


async def verified_form(settings: Settings, request: Request) -> dict[str, str]:
    """The form of a genuine Twilio request for our account; raises NotFromTwilio."""
    if not settings.twilio_auth_token:
        raise NotFromTwilio("TWILIO_AUTH_TOKEN is not set, so no signature can be checked")
    try:
        params = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise NotFromTwilio("the body is not UTF-8") from None
    given = request.headers.get("x-twilio-signature", "").encode()
    if not given:
        raise NotFromTwilio("no X-Twilio-Signature")
    url = public_url(settings, request)
    if not signed_for(settings, url, params, given):
        if signed_for(settings, str(request.url), params, given):
            raise NotFromTwilio(
                f"signed for {request.url}, not for {url}: is PUBLIC_BASE_URL the address "
                "Twilio is given?"
            )
        raise NotFromTwilio(f"the signature is wrong for {url}")
    form = dict(params)
    if form.get("AccountSid") != settings.twilio_account_sid:
        raise NotFromTwilio("signed, but for another account (AccountSid)")
    return form


def signed_for(settings: Settings, url: str, params: list[tuple[str, str]], given: bytes) -> bool:
    return any(
        hmac.compare_digest(signature(settings.twilio_auth_token, variant, params).encode(), given)
        for variant in with_and_without_port(url)
    )


def forbidden(request: Request, refusal: NotFromTwilio) -> Response:
    log.info("webhook %s refused (403): %s", request.url.path, refusal)
    return Response("Forbidden", status_code=403, media_type="text/plain")


def unavailable(error: Exception, form: dict[str, str]) -> Response:
    """The database is away: Twilio sends a webhook again after a 5xx, so nothing is lost."""
    log.warning("database unavailable; Twilio will retry %s: %s", form.get("MessageSid"), error)
    return Response(
        "Service Unavailable",
        status_code=503,
        media_type="text/plain",
        headers={"Retry-After": "5"},
    )


def status_endpoint(services: Callable) -> Callable:
    async def status(request: Request) -> Response:
        current = services()
        try:
            form = await verified_form(current.settings, request)
        except NotFromTwilio as refusal:
            return forbidden(request, refusal)
        new_status = STATUSES.get(form.get("MessageStatus", "").lower())
        sid = form.get("MessageSid", "")
        if new_status is None or not sid:
            return Response(status_code=204)
        message_id = request.query_params.get("message_id", "")
        try:
            async with current.sessions.begin() as session:
                where = col(SmsMessage.provider_message_id) == sid
                if message_id.isascii() and message_id.isdigit() and int(message_id) <= MAX_ROW_ID:
                    where = col(SmsMessage.id) == int(message_id)
                message = (await session.exec(select(SmsMessage).where(where))).first()
                if message is None or (message.provider_message_id not in (None, sid)):
                    return Response(status_code=204)
                values = {"provider_message_id": sid, "retry_at": None}
                if new_status is SmsStatus.FAILED:
                    code = form.get("ErrorCode") or None
                    values |= {"error_code": code, "error_message": reason_for(code)}
                changed = await advance(session, message.id, new_status, **values)
                if changed and new_status is SmsStatus.FAILED:
                    await record_refusal(session, message.to_number, values["error_code"], utcnow())
                facts = (
                    (await message_facts(session, [message.id]))[message.id] if changed else None
                )
        except IntegrityError:
            # The sid is already another message's (settled from Twilio's list): nothing to
            # record, and a 5xx would only have Twilio send it again and again.
            log.warning("status callback for %s names a sid another message holds", message_id)
            return Response(status_code=204)
        except Exception as error:
            if is_outage(error):
                return unavailable(error, form)
            raise
        if changed:
            await announce(current.queue, message.id, new_status, facts)
        return Response(status_code=204)

    return status


async def stored_already(sessions: Callable, sid: str | None) -> bool:
    """Whether a reply with this provider id is stored: Twilio sent the webhook again."""
    if sid is None:
        return False
    async with sessions() as session:
        found = await session.exec(
            select(InboundMessage.id).where(InboundMessage.provider_message_id == sid)
        )
        return found.first() is not None


def inbound_endpoint(services: Callable) -> Callable:
    async def inbound(request: Request) -> Response:
        current = services()
        try:
            form = await verified_form(current.settings, request)
        except NotFromTwilio as refusal:
            return forbidden(request, refusal)
        sender = keepable(form.get("From", "").strip(), 40)
        sid = keepable(form.get("MessageSid", ""), 64) or None
        try:
            async with current.sessions.begin() as session:
                reply = await record_reply(
                    session,
                    from_number=sender,
                    to_number=keepable(form.get("To", ""), 40),
                    body=keepable(form.get("Body", ""), 2000),
                    provider_message_id=sid,
                    received_at=utcnow(),
                )
        except IntegrityError:
            if not await stored_already(current.sessions, sid):
                raise
            REPLY_DUPLICATES.inc()
            log.info("inbound message %s already stored", sid)
        except Exception as error:
            if is_outage(error):
                return unavailable(error, form)
            raise
        else:
            linked = reply.in_reply_to_id is not None
            REPLIES.labels(reply.effect.value, str(linked).lower()).inc()
            # The effect, not the text: a reply is the office's to read, not the log's.
            log.info(
                "reply %d stored from inbound message %s: %s, %s",
                reply.id,
                sid,
                reply.effect.value,
                f"answers message {reply.in_reply_to_id}" if linked else "answers no message",
                extra={"reply_id": reply.id, "effect": reply.effect.value},
            )
            await announce_reply(current.queue, reply)
        return Response(EMPTY_TWIML, media_type="text/xml")

    return inbound
