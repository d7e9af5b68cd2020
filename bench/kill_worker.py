"""Kill the worker (SIGKILL) at random points while reminders go out, again and again.

The worker runs as deployed (`timetrak-sms worker`: reminder cron, sweeper, send jobs) against
a fake Twilio that also sends the signed status callbacks Twilio would, to a running
`timetrak-sms serve`. After the kills one last worker runs until every message is settled.
Passes when the fake received each message at most once and every message ended DELIVERED,
or FAILED with a reason: zero duplicates, zero silently lost.

    .venv/bin/python -m bench.kill_worker [--quick] [--messages 1000] [--kills 20]
        [--db sqlite|postgresql] [--seed 7] [--provider-delay 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func
from sqlmodel import select

from api.embedded_redis import EmbeddedRedis
from bench.databases import fresh_database
from bench.figures import save
from bench.pipeline import SPAWN, provider_settings
from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    Profile,
    ReminderEvent,
    SmsMessage,
    SmsTemplate,
    User,
)
from models.db import create_engine, session_factory
from models.enums import SmsStatus, SmsTemplateKind

ROOT = Path(__file__).resolve().parent.parent
CLI = [str(ROOT / ".venv" / "bin" / "timetrak-sms")]
ZONE = "Pacific/Auckland"
SETTLED = (SmsStatus.DELIVERED, SmsStatus.FAILED)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def build(url: str, count: int) -> None:
    """A company with `count` jobs, each with one appointment tomorrow and a contact who can
    receive SMS, and a reminder event that is due whenever the worker looks."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    tomorrow = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, clock_time(10, 0), tzinfo=ZoneInfo(ZONE))
    async with sessions.begin() as session:
        session.add(GlobalSettings(company_name="Kill Test Ltd", sms_enabled=True,
                                   sms_reminders_enabled=True, time_zone=ZONE))
        profile = Profile(name="Staff")
        session.add(profile)
        await session.flush()
        user = User(email="tech@example.com", name="Tech", password_hash="-",
                    profile_id=profile.id)
        template = SmsTemplate(name="Reminder", kind=SmsTemplateKind.REMINDER_EVENT,
                               body="{company_name}: see you {appointment_date} {appointment_time}")
        session.add_all([user, template])
        await session.flush()
        # Midnight: due at any time of day, so the bench runs whenever it is started.
        session.add(ReminderEvent(description="Tomorrow", interval_days=1,
                                  template_id=template.id, run_at=clock_time(0, 0)))
        for i in range(count):
            client = Client(name=f"Client {i}")
            session.add(client)
            await session.flush()
            contact = Contact(client_id=client.id, name=f"Contact {i}",
                              sms_number=f"+6421{i:07d}")
            job = Job(client_id=client.id, title=f"Job {i}")
            session.add_all([contact, job])
            await session.flush()
            session.add(Appointment(user_id=user.id, job_id=job.id, contact_id=contact.id,
                                    start=start, end=start + timedelta(hours=1),
                                    sms_reminder=True))
    await engine.dispose()


def serve_fake(pipe: Connection, delay: float) -> None:
    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio(delay=delay, callback_after=0.2).start()
    pipe.send(fake.port)
    while pipe.recv() == "numbers":
        pipe.send(Counter(form["To"] for form in fake.received))
    fake.stop()


async def statuses(url: str) -> dict[str, int]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = (await session.exec(
            select(SmsMessage.status, func.count()).group_by(SmsMessage.status))).all()
        unexplained = (await session.exec(select(func.count()).select_from(SmsMessage).where(
            SmsMessage.status == SmsStatus.FAILED, SmsMessage.error_message.is_(None)))).one()
    await engine.dispose()
    found = {status.value: n for status, n in rows}
    found["failed_without_reason"] = unexplained
    return found


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(CLI + command, env=env, stdout=log.open("a"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 messages, 5 kills")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--provider-delay", type=float, default=1.0,
                        help="seconds the fake Twilio takes to answer, so kills land mid-send")
    args = parser.parse_args()
    count, kills = (200, 5) if args.quick else (args.messages, args.kills)
    chance = random.Random(args.seed)
    logs = Path("/tmp/timetrak-bench")
    logs.mkdir(exist_ok=True)
    url = fresh_database(args.db, "timetrak_bench_kill_worker")
    asyncio.run(build(url, count))
    redis = EmbeddedRedis().start()
    pipe, child = SPAWN.Pipe()
    fake = SPAWN.Process(target=serve_fake, args=(child, args.provider_delay), daemon=True)
    fake.start()
    fake_port = pipe.recv()
    api_port = free_port()
    env = {**os.environ, **{k.upper(): str(v) for k, v in provider_settings(
        url, redis.url, f"http://127.0.0.1:{fake_port}").items()},
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}", "UNSETTLED_AFTER_SECONDS": "10"}
    api = start(["serve", "--no-seed", "--port", str(api_port)], env, logs / "kill-api.log")
    rows: list[dict] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{api_port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)
        started = time.monotonic()
        for kill in range(1, kills + 1):
            worker = start(["worker"], env, logs / "kill-worker.log")
            time.sleep(chance.uniform(1.0, 4.0))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            rows.append({"kill": kill, **asyncio.run(statuses(url))})
        worker = start(["worker"], env, logs / "kill-worker.log")
        deadline = time.monotonic() + 300
        while True:
            now = asyncio.run(statuses(url))
            settled = sum(now.get(s.value, 0) for s in SETTLED)
            total = sum(n for key, n in now.items() if key != "failed_without_reason")
            if total == count and settled == count:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        pipe.send("numbers")
        received = pipe.recv()
        final = asyncio.run(statuses(url))
        rows.append({"kill": "final", **final})
        duplicates = sum(1 for n in received.values() if n > 1)
        summary = {
            "messages": count, "kills": kills, "seconds": round(time.monotonic() - started, 1),
            "provider_received": sum(received.values()), "duplicates": duplicates,
            "settled": sum(final.get(s.value, 0) for s in SETTLED),
            "failed_without_reason": final["failed_without_reason"],
        }
        rows.append(summary)
        save("kill_worker" + ("_quick" if args.quick else ""), rows, db=args.db,
             seed=args.seed, provider_delay=args.provider_delay)
        ok = (duplicates == 0 and summary["settled"] == count
              and final["failed_without_reason"] == 0)
        print("PASS" if ok else "FAIL", summary)
        return 0 if ok else 1
    finally:
        pipe.send("stop")
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=30)
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
