"""arq worker settings: what the worker runs and what every job finds in its context."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from jobs.providers import LogProvider, Provider
from jobs.reminders import check_reminder_events
from jobs.send import SendSlots, send_sms, send_sms_batch
from jobs.sweep import sweep_messages
from jobs.twilio import TwilioProvider
from models.channels import (
    CHECK_REMINDERS_JOB,
    SEND_SMS_BATCH_JOB,
    SEND_SMS_JOB,
    SWEEP_MESSAGES_JOB,
)
from models.config import Settings, get_settings
from models.db import create_engine, session_factory


def provider_for(settings: Settings) -> Provider:
    return TwilioProvider(settings) if settings.sms_provider == "twilio" else LogProvider()


async def startup(ctx: dict[str, Any]) -> None:
    """Fill the context; tests may have put their own settings or provider in it already."""
    settings = ctx.setdefault("settings", get_settings())
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = session_factory(ctx["engine"])
    ctx.setdefault("provider", provider_for(settings))
    # Made here, in the context every job's own context is copied from, so all jobs share it.
    ctx.setdefault("send_slots", SendSlots())


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["provider"].close()
    await ctx["engine"].dispose()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    return RedisSettings.from_dsn(url) if url else RedisSettings()


class WorkerSettings:
    # keep_result=0: "sent once" is the claim in the database, not arq's result key.
    functions = [
        func(send_sms, name=SEND_SMS_JOB, max_tries=20, keep_result=0),
        # A batch waits its turn for provider slots behind other batches: give it time.
        func(send_sms_batch, name=SEND_SMS_BATCH_JOB, max_tries=20, keep_result=0, timeout=600),
    ]
    cron_jobs = [
        cron(sweep_messages, name=SWEEP_MESSAGES_JOB, second=30, unique=True, run_at_startup=True),
        # Every minute; run_at_startup catches up a run missed while the worker was down.
        cron(
            check_reminder_events,
            name=CHECK_REMINDERS_JOB,
            second=0,
            unique=True,
            run_at_startup=True,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    job_timeout = 60
    # Sends mostly wait on the provider: many at once, and new ones picked up promptly.
    max_jobs = 100
    poll_delay = 0.05
