"""The worker as deployed, for tests that kill things: `timetrak-sms worker` in a process of its
own, a Redis of the test's own it may stop and start again, and messages written as the API
writes them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from models import GlobalSettings, SmsMessage
from models.config import Settings
from models.enums import SmsSource, SmsStatus
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

# The command of the environment running the tests (the lowest-versions job has its own).
CLI = str(Path(sys.executable).parent / "timetrak-sms")


class WorkerProcess:
    """`timetrak-sms worker` with the test's database, Redis and fake Twilio; its output is kept."""

    def __init__(self, settings: Settings, redis_url: str, twilio_base: str, folder: Path,
                 options: tuple[str, ...] = (), **environment: str):
        self.log = folder / f"worker-{time.monotonic_ns()}.log"
        env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": redis_url,
               "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": FROM_NUMBER,
               "TWILIO_API_BASE": twilio_base, "PUBLIC_BASE_URL": "https://sms.example.com",
               "ENVIRONMENT": "test", "WORKER_HEARTBEAT_SECONDS": "1", **environment}
        # Its own session: a SIGKILL aimed at it reaches nothing else, and it reads no .env.
        self.process = subprocess.Popen([CLI, "worker", *options], env=env, cwd=folder,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as a supervisor stops it; the exit status."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float,
                     what: str) -> float:
    """Seconds until `check` holds; fails the test after `within` seconds."""
    started = time.monotonic()
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return time.monotonic() - started
        assert time.monotonic() - started < within, f"not within {within:g} s: {what}"
        await asyncio.sleep(0.1)


async def sms_on(sessions) -> None:
    """The company sends SMS (each send checks it again as the message leaves)."""
    async with sessions.begin() as session:
        session.add(GlobalSettings(company_name="Outage Test Ltd", sms_enabled=True))


async def queued(sessions, texts: dict[str, str]) -> list[int]:
    """QUEUED messages {number: text}, as a send or a reminder run writes them; their ids."""
    async with sessions.begin() as session:
        rows = [SmsMessage(to_number=number, body=text, source=SmsSource.APP)
                for number, text in texts.items()]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def statuses(sessions, ids: list[int]) -> dict[int, SmsStatus]:
    from sqlmodel import col, select

    async with sessions() as session:
        rows = await session.exec(select(SmsMessage.id, SmsMessage.status)
                                  .where(col(SmsMessage.id).in_(ids)))
        return dict(rows.all())
