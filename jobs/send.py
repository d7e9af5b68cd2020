"""The send job: claim a QUEUED message, recheck opt-outs, hand it to the provider."""

from __future__ import annotations

from typing import Any

from jobs.providers import Refused, Unreachable
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.message_status import advance
from models.recipients import opted_out_numbers
from models.sms import SmsMessage

OPTED_OUT_REASON = "The recipient has opted out of SMS messages (replied STOP)."


async def send_sms(ctx: dict[str, Any], message_id: int) -> str:
    """Send one message at most once, whatever retries or second workers do."""
    sessions = ctx["sessions"]
    async with sessions.begin() as session:
        if not await advance(session, message_id, SmsStatus.SENDING):
            return "not queued"
        message = await session.get(SmsMessage, message_id)
        if await opted_out_numbers(session, [message.to_number]):
            await advance(session, message_id, SmsStatus.FAILED,
                          error_code=ErrorCode.OPTED_OUT.value, error_message=OPTED_OUT_REASON)
            return "opted out"
        message.attempts += 1
        to, body = message.to_number, message.body
    try:
        accepted = await ctx["provider"].send(message_id, to, body)
    except Refused as refusal:
        async with sessions.begin() as session:
            await advance(session, message_id, SmsStatus.FAILED, error_code=refusal.code,
                          error_message=refusal.reason)
        return "refused"
    except Unreachable:
        async with sessions.begin() as session:
            await advance(session, message_id, SmsStatus.FAILED,
                          error_code=ErrorCode.PROVIDER_ERROR.value,
                          error_message="The SMS provider could not be reached.")
        return "unreachable"
    async with sessions.begin() as session:
        await advance(session, message_id, SmsStatus.SENT,
                      provider_message_id=accepted.provider_message_id)
        if accepted.delivered:
            await advance(session, message_id, SmsStatus.DELIVERED)
    return "sent"
