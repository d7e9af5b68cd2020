"""The reminder cron: every minute, run the reminder events that are due."""

from __future__ import annotations

from typing import Any

from models.columns import utcnow
from models.reminders import due_events, hand_over, run_event


async def check_reminder_events(ctx: dict[str, Any]) -> int:
    """Runs each due event once for today; a second worker finds the day already claimed."""
    now = ctx.get("clock", utcnow)()
    async with ctx["sessions"]() as session:
        event_ids = await due_events(session, now)
    queued = 0
    for event_id in event_ids:
        async with ctx["sessions"].begin() as session:
            result = await run_event(session, event_id, now)
        await hand_over(ctx["redis"], result)
        queued += len(result.queued)
    return queued
