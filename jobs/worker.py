"""arq worker settings: what the worker runs and what every job finds in its context."""

from __future__ import annotations

import logging
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func, get_kwargs
from sqlalchemy.engine import make_url

from jobs.contacts import reconcile_contact_opt_outs
from jobs.providers import LogProvider, Provider
from jobs.reminders import check_reminder_events
from jobs.send import BATCH_TIMEOUT, SEND_TIMEOUT, SendSlots, send_sms, send_sms_batch
from jobs.steady_worker import SteadyWorker
from jobs.sweep import sweep_messages
from jobs.tokens import delete_expired_tokens
from jobs.twilio import TwilioProvider
from models.channels import (
    CHECK_REMINDERS_JOB,
    DELETE_EXPIRED_TOKENS_JOB,
    RECONCILE_CONTACTS_JOB,
    SEND_SMS_BATCH_JOB,
    SEND_SMS_JOB,
    SWEEP_MESSAGES_JOB,
    WORKER_HEALTH_KEY,
)
from models.config import Settings, get_settings
from models.db import create_engine, session_factory

log = logging.getLogger("timetrak_sms.worker")


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
    log.info(
        "worker started: database %s, Redis %s, SMS provider %s",
        shown_url(settings.database_url),
        redis_address(ctx.get("redis")),
        describe_provider(ctx["provider"]),
    )


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def redis_address(redis: Any) -> str:
    """Where the worker's pool connects, without a password (it never holds one in a URL)."""
    kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def describe_provider(provider: Provider) -> str:
    if isinstance(provider, TwilioProvider):
        settings = provider.settings
        return f"twilio ({settings.twilio_api_base}, from {settings.twilio_from_number or '?'})"
    if isinstance(provider, LogProvider):
        return "log (messages are written to the log, not sent)"
    return type(provider).__name__


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["provider"].close()
    await ctx["engine"].dispose()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    return RedisSettings.from_dsn(url) if url else RedisSettings()


class WorkerSettings:
    # keep_result=0: "sent once" is the claim in the database, not arq's result key.
    functions = [
        func(send_sms, name=SEND_SMS_JOB, max_tries=20, keep_result=0, timeout=SEND_TIMEOUT),
        func(
            send_sms_batch,
            name=SEND_SMS_BATCH_JOB,
            max_tries=20,
            keep_result=0,
            timeout=BATCH_TIMEOUT,
        ),
    ]
    cron_jobs = [
        # Four times a minute, so a dead worker's messages move on within the minute.
        cron(
            sweep_messages,
            name=SWEEP_MESSAGES_JOB,
            second={5, 20, 35, 50},
            unique=True,
            run_at_startup=True,
        ),
        # Every minute; run_at_startup catches up a run missed while the worker was down.
        cron(
            check_reminder_events,
            name=CHECK_REMINDERS_JOB,
            second=0,
            unique=True,
            run_at_startup=True,
        ),
        # Every quarter hour: contacts' stored opt-outs that two crossing transactions left
        # behind their number's (one UPDATE of those that differ).
        cron(
            reconcile_contact_opt_outs,
            name=RECONCILE_CONTACTS_JOB,
            minute={7, 22, 37, 52},
            second=30,
            unique=True,
        ),
        # Daily, at a quiet hour of the worker's clock; a missed day only leaves rows for the next.
        cron(
            delete_expired_tokens,
            name=DELETE_EXPIRED_TOKENS_JOB,
            hour=3,
            minute=17,
            second=0,
            unique=True,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    job_timeout = 60
    # Jobs at once: enough batches to keep the worker's provider slots busy (SEND_CONCURRENCY),
    # and no more. arq looks again at every job it has started each time it polls, four Redis
    # commands apiece, so a hundred batches waiting for two chunks' slots cost more than the
    # sends.
    max_jobs = 20
    # New jobs picked up promptly.
    poll_delay = 0.05
    health_check_key = WORKER_HEALTH_KEY
    health_check_interval = get_settings().worker_heartbeat_seconds


def build_worker(settings: Settings, **overrides: Any) -> SteadyWorker:
    """The worker as deployed (`timetrak-sms worker`, or inside the API with EMBEDDED_WORKER)."""
    options = get_kwargs(WorkerSettings) | {
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "health_check_interval": settings.worker_heartbeat_seconds,
        "ctx": {"settings": settings},
    }
    return SteadyWorker(**(options | overrides))
