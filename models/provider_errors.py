"""What the SMS provider's message statuses and error codes mean for us."""

from __future__ import annotations

from models.enums import SmsStatus

# What Twilio's message statuses (in its list and its status callbacks) mean for ours. A status
# not named here still means Twilio has the message: SENT, never "send it again".
STATUSES = {
    "queued": SmsStatus.SENT,
    "accepted": SmsStatus.SENT,
    "scheduled": SmsStatus.SENT,
    "sending": SmsStatus.SENT,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.FAILED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}

REASONS = {
    "21211": "The number is not a valid phone number.",
    "21408": "Sending to this region is not enabled on the SMS account.",
    "21610": "The recipient has unsubscribed (replied STOP to the provider).",
    "21614": "The number cannot receive SMS (not a mobile number).",
    "21612": "The SMS provider cannot route messages to this number.",
    "21606": "The sending number cannot send SMS.",
    "21617": "The message is too long.",
    "30003": "The handset is switched off or unreachable.",
    "30004": "The message was blocked by the recipient's network.",
    "30005": "The number is unknown to the recipient's network or no longer in service.",
    "30006": "The number is a landline or cannot receive SMS.",
    "30007": "The message was filtered by the recipient's network as spam.",
    "30008": "The recipient's network did not deliver the message.",
    "20003": "The SMS provider refused our credentials.",
    "20429": "The SMS provider is limiting how fast we send.",
}


# "The recipient replied STOP to this sender": Twilio blocks every send to the number until it
# replies START, so the refusal is an opt-out as surely as an inbound STOP (models.opt_outs).
STOPPED_BY_RECIPIENT = "21610"


def reason_for(code: str | int | None, provider_text: str | None = None) -> str:
    if code is not None and str(code) in REASONS:
        return REASONS[str(code)]
    if provider_text:
        return f"The SMS provider refused the message: {provider_text}"
    return "The SMS provider could not deliver the message."
