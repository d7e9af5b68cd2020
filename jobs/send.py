"""The send job: claim a message, recheck opt-outs, hand it to the provider, record the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from arq import Retry

from jobs.providers import Refused, Uncertain, Unreachable
from models.columns import utcnow
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.message_status import advance, claim, retry_later
from models.recipients import opted_out_numbers
from models.status_feed import announce

MAX_TRIES = 5
OPTED_OUT_REASON = "The recipient has opted out of SMS messages (replied STOP)."


def unreachable_reason(what: str) -> str:
    return f"The SMS provider {what} on each of {MAX_TRIES} tries."


def backoff(attempt: int, first_seconds: float) -> timedelta:
    """2 s, 4 s, 8 s, 16 s between the five tries by default."""
    return timedelta(seconds=first_seconds * 2 ** (attempt - 1))


async def settle(ctx: dict[str, Any], message_id: int, status: SmsStatus, **values) -> bool:
    async with ctx["sessions"].begin() as session:
        changed = await advance(session, message_id, status, **values)
    if changed:
        await announce(ctx.get("redis"), message_id, status)
    return changed


async def send_sms(ctx: dict[str, Any], message_id: int) -> str:
    """Send one message at most once, whatever retries, restarts or second workers do."""
    async with ctx["sessions"].begin() as session:
        claimed = await claim(session, message_id)
        if claimed is None:
            return "not ours"
        opted_out = bool(await opted_out_numbers(session, [claimed.to_number]))
        to, body, attempt = claimed.to_number, claimed.body, claimed.attempts
    await announce(ctx.get("redis"), message_id, SmsStatus.SENDING)
    if opted_out:
        await settle(
            ctx,
            message_id,
            SmsStatus.FAILED,
            error_code=ErrorCode.OPTED_OUT.value,
            error_message=OPTED_OUT_REASON,
        )
        return "opted out"
    try:
        accepted = await ctx["provider"].send(message_id, to, body)
    except Refused as refusal:
        await settle(
            ctx, message_id, SmsStatus.FAILED, error_code=refusal.code, error_message=refusal.reason
        )
        return "refused"
    except Uncertain:
        # Never resent blindly: the status callback settles it, or the sweeper fails it.
        return "awaiting callback"
    except Unreachable as unreachable:
        if attempt >= MAX_TRIES:
            await settle(
                ctx,
                message_id,
                SmsStatus.FAILED,
                error_code=ErrorCode.PROVIDER_ERROR.value,
                error_message=unreachable_reason(str(unreachable)),
            )
            return "unreachable"
        delay = backoff(attempt, ctx.get("backoff_seconds", 2.0))
        async with ctx["sessions"].begin() as session:
            await retry_later(session, message_id, utcnow() + delay)
        raise Retry(defer=delay) from None
    await settle(ctx, message_id, SmsStatus.SENT, provider_message_id=accepted.provider_message_id)
    if accepted.delivered:
        await settle(ctx, message_id, SmsStatus.DELIVERED)
    return "sent"
