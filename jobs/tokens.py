"""Once a day: delete the bearer tokens that have expired, which only take room."""

from __future__ import annotations

import logging
from typing import Any

from models.accounts import delete_expired_tokens as delete_batch
from models.columns import utcnow

log = logging.getLogger("timetrak_sms.tokens")

# One transaction per batch: short locks, and a job cut short keeps what it had deleted.
BATCH = 1000


async def delete_expired_tokens(ctx: dict[str, Any]) -> int:
    """Idempotent: a second run finds nothing left to delete."""
    now = ctx.get("clock", utcnow)()
    deleted = 0
    while True:
        async with ctx["sessions"].begin() as session:
            batch = await delete_batch(session, now, BATCH)
        deleted += batch
        if batch < BATCH:
            break
    if deleted:
        log.info("deleted %d expired bearer tokens", deleted)
    return deleted
