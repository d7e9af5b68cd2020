"""Announcing status changes to every API process, through Redis pub/sub."""

from __future__ import annotations

import json
import logging
from typing import Any

from models.channels import SMS_STATUS_CHANNEL
from models.enums import SmsStatus

log = logging.getLogger(__name__)


def encode(message_id: int, status: SmsStatus) -> str:
    return json.dumps({"id": message_id, "status": status.value})


def decode(data: bytes | str) -> tuple[int, SmsStatus] | None:
    try:
        event = json.loads(data)
        return int(event["id"]), SmsStatus(event["status"])
    except (ValueError, KeyError, TypeError):
        return None


async def announce(redis: Any, message_id: int, status: SmsStatus) -> None:
    """Publish after the change is committed; a lost announcement loses no data, only a push."""
    if redis is None:
        return
    try:
        await redis.publish(SMS_STATUS_CHANNEL, encode(message_id, status))
    except Exception:
        log.warning("could not announce message %s as %s", message_id, status.value, exc_info=True)
