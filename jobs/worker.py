"""arq worker settings: what the worker runs and what every job finds in its context."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from arq.worker import func

from jobs.providers import LogProvider
from jobs.send import send_sms
from models.channels import SEND_SMS_JOB
from models.config import get_settings
from models.db import create_engine, session_factory


async def startup(ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["engine"] = create_engine(settings.database_url)
    ctx["sessions"] = session_factory(ctx["engine"])
    ctx["provider"] = ctx.get("provider") or LogProvider()


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["provider"].close()
    await ctx["engine"].dispose()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    return RedisSettings.from_dsn(url) if url else RedisSettings()


class WorkerSettings:
    functions = [func(send_sms, name=SEND_SMS_JOB)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    max_tries = 5
    job_timeout = 60

