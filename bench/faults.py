"""Redis killed, and PostgreSQL restarted, under the service as deployed while messages go out:
none sent twice, none lost, no 500, no false FAILED, every status callback recorded.

`timetrak-sms serve` and `timetrak-sms worker` run as processes with a PostgreSQL cluster (fsync
on, tests/postgres_cluster.py) and a Redis of the run's own, and a fake Twilio on 127.0.0.1
that answers in --provider-delay s and posts the signed status callbacks Twilio would, again
after a 5xx or no answer (bench/deployed.py). Over HTTP (bench/app_users.py) one client reads
`me` without pause, four App users send (`sendSms`) while told to, and an administrator runs
the reminder events (`runReminderEvent`; the worker's cron would run them at 23:59).

redis: a reminder run of --messages while the App users send; Redis is SIGKILLed once 30 % of
  the run has reached the fake, and started again, empty, on its port --redis-down s later; the
  App users go on for 5 s more. The same worker process must carry on.
postgres: `pg_ctl restart -m fast`, then `-m immediate`, each once 20 % of a reminder run
  (--messages / 2 each) has reached the fake; then each 2 s into the App users' sending, which
  goes on for 3 s after the API answers again.

Passes when every message ends DELIVERED, each reached the fake once (0 duplicates, 0 lost),
none the fake accepted is FAILED, the API answered nothing but successes and "unavailable" (503,
SERVICE_UNAVAILABLE), and status callbacks got only 204 or 503 and none was given up.

    .venv/bin/python -m bench.faults redis|postgres [--messages 1000] [--provider-delay 1.0]
        [--redis-down 3] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.pool import NullPool
from sqlmodel import select

import migrations
from api.embedded_redis import EmbeddedRedis
from bench.app_users import AppUsers, Senders
from bench.deployed import (
    EMAIL,
    LOGS,
    PASSWORD,
    FakeTwilioProcess,
    build,
    environment,
    free_port,
    start,
    wait_until_serving,
)
from bench.figures import save
from models import Appointment, SmsMessage
from models.db import create_engine, session_factory
from models.enums import SmsSource, SmsStatus
from models.outages import is_outage
from tests.conftest import LOGIN
from tests.postgres_cluster import PostgresCluster

# Events the worker's cron must not run: the bench runs them when it means to.
NOT_BEFORE = clock_time(23, 59)
SETTLE_WITHIN = 180
# A log line's time (the processes' local time, to the millisecond).
LOGGED_AT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")


@dataclass
class Stage:
    """The running service, its dependencies, and the users of its API."""

    args: argparse.Namespace
    cluster: PostgresCluster
    redis: EmbeddedRedis
    fake: FakeTwilioProcess
    worker: subprocess.Popen
    events: list[int]
    users: AppUsers | None = None  # made with its HTTP client, in scenario()

    async def ask(self, command: str):
        """The fake Twilio's figures (bench/deployed.serve_fake), off the event loop."""
        return await asyncio.to_thread(self.fake.ask, command)

    async def messages(self) -> list | None:
        """Every message (id, status, source, created_at, send_started_at); None while the
        database is away."""
        engine = create_engine(self.cluster.url, poolclass=NullPool)
        columns = (
            SmsMessage.id,
            SmsMessage.status,
            SmsMessage.source,
            SmsMessage.created_at,
            SmsMessage.send_started_at,
        )
        try:
            async with session_factory(engine)() as session:
                return (await session.exec(select(*columns))).all()
        except Exception as error:
            if not is_outage(error):
                raise
            return None
        finally:
            await engine.dispose()

    async def at_the_fake(self, count: int) -> None:
        deadline = time.monotonic() + SETTLE_WITHIN
        while len(await self.ask("made")) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} messages reached the fake")
            await asyncio.sleep(0.1)

    async def all_delivered(self) -> float:
        """time.time() once every message is DELIVERED (nan if none is by SETTLE_WITHIN)."""
        deadline = time.monotonic() + SETTLE_WITHIN
        while time.monotonic() < deadline:
            rows = await self.messages()
            if rows and all(row.status is SmsStatus.DELIVERED for row in rows):
                return time.time()
            await asyncio.sleep(0.25)
        return float("nan")


def wall(moment: datetime | None) -> float:
    """A column's time as time.time() (a naive one is UTC)."""
    if moment is None:
        return float("nan")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def quiet_zone() -> str:
    """A company time zone where it is not yet 23:00, so NOT_BEFORE stays ahead for the run."""
    for zone in ("Pacific/Auckland", "Australia/Perth"):
        if datetime.now(ZoneInfo(zone)).time() < clock_time(23, 0):
            return zone
    raise AssertionError("unreachable: Perth is four hours behind Auckland")


async def restart_postgres(
    stage: Stage, mode: str, during: str, carry_on: Callable[[], Awaitable[str]] | None = None
) -> dict:
    """`pg_ctl restart -m MODE`; what the API's users, the worker and the callbacks saw, once
    the users have carried on (`carry_on` says what they did) and every message is DELIVERED."""
    tally = stage.users.tally
    callbacks = await stage.ask("callbacks")
    began = time.monotonic()
    await asyncio.to_thread(stage.cluster.restart, mode)
    returned, returned_at = time.monotonic(), time.time()
    while (back := tally.first_answer_after(returned)) is None:
        if time.monotonic() - returned > SETTLE_WITHIN:
            raise RuntimeError(f"no answer {SETTLE_WITHIN} s after restart -m {mode}")
        await asyncio.sleep(0.01)
    window = tally.between(began, back)
    refused = next((t for t, kind in window if kind != "answered"), back)
    if carry_on is not None:
        during += f" ({await carry_on()})"
    delivered = await stage.all_delivered()
    claims = [wall(m.send_started_at) for m in await stage.messages() or []]
    return {
        "event": f"restart -m {mode}",
        "during": during,
        "pg_ctl_s": returned - began,
        "api_saw_it_down_s": back - refused,
        "api_unavailable": [kind for _, kind in window].count("unavailable"),
        "api_answered_after_pg_ctl_s": back - returned,
        "worker_claimed_after_pg_ctl_s": min(
            (t for t in claims if t > returned_at), default=float("nan")
        )
        - returned_at,
        "all_delivered_after_pg_ctl_s": delivered - returned_at,
        "callbacks_503": (await stage.ask("callbacks"))["503"] - callbacks["503"],
        "last_refused_callback_taken_after_pg_ctl_s": max(
            (t for t in await stage.ask("taken again") if t > returned_at), default=float("nan")
        )
        - returned_at,
    }


async def postgres(stage: Stage) -> list[dict]:
    rows = []
    share = stage.args.messages // len(stage.events)
    for mode, event_id in zip(("fast", "immediate"), stage.events, strict=True):
        already = len(await stage.ask("made"))
        written = await stage.users.run_reminders(event_id)
        await stage.at_the_fake(already + share // 5)
        rows.append(await restart_postgres(stage, mode, f"reminder run of {written}"))
    for mode in ("fast", "immediate"):
        senders = Senders(stage.users)
        await asyncio.sleep(2)
        carry_on = functools.partial(senders.stop, after=3)
        rows.append(await restart_postgres(stage, mode, "App sends", carry_on))
    return rows


async def redis(stage: Stage) -> list[dict]:
    senders = Senders(stage.users)
    already = len(await stage.ask("made"))
    written = await stage.users.run_reminders(stage.events[0])
    await stage.at_the_fake(already + written * 3 // 10)
    killed = time.time()
    os.kill(stage.redis.process.pid, signal.SIGKILL)
    stage.redis.stop()
    await asyncio.sleep(stage.args.redis_down)
    # On this thread: the server ends with the thread that started it (api/embedded_redis.py).
    stage.redis = EmbeddedRedis(port=stage.redis.fixed_port).start()
    back = time.time()
    sent = await senders.stop(after=5)
    delivered = await stage.all_delivered()
    made = await stage.ask("made")
    rows = await stage.messages() or []
    queued_after = [r for r in rows if wall(r.created_at) > back]
    log = (LOGS / "faults-worker.log").read_text(errors="replace")
    return [
        {
            "event": "Redis SIGKILL, started again empty",
            "during": f"reminder run of {written}, App sends ({sent})",
            "redis_down_s": back - killed,
            "worker_said": ", ".join(re.findall(r"Redis (?:unavailable|back after [\d.]+ s)", log)),
            "same_worker_running": stage.worker.poll() is None,
            "queued_while_down": sum(killed < wall(r.created_at) < back for r in rows),
            "requeued_by_sweeper": sum(int(n) for n in re.findall(r"sweep: requeued (\d+)", log)),
            # The worker's jobs already running go on sending while Redis is away.
            "at_provider_while_down": sum(
                killed < t < back for times in made.values() for t in times
            ),
            "worker_saw_it_back_s": logged_after(log, "Redis back after", back) - back,
            "worker_took_a_job_s": logged_after(log, "→ send_sms", back) - back,
            "first_queued_after_back_claimed_s": min(
                (wall(r.send_started_at) for r in queued_after), default=float("nan")
            )
            - back,
            "first_queued_after_back_at_provider_s": min(
                (min(made[r.id]) for r in queued_after if r.id in made), default=float("nan")
            )
            - back,
            "all_delivered_after_back_s": delivered - back,
        }
    ]


def logged_after(log: str, words: str, moment: float) -> float:
    """When the first line of the log saying `words` after `moment` was written (time.time())."""
    for line in log.splitlines():
        stamp = LOGGED_AT.match(line)
        if stamp and words in line:
            at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            if at > moment:
                return at
    return float("nan")


async def verdict(stage: Stage) -> dict:
    """Every message at the fake once, DELIVERED; no answer that should not have been."""
    made = await stage.ask("made")
    callbacks = await stage.ask("callbacks")
    rows = await stage.messages() or []
    kinds = Counter(kind for _, kind in stage.users.tally.seen)
    app = {r.id for r in rows if r.source is not SmsSource.REMINDER}
    return {
        "event": "all",
        "messages": len(rows),
        "provider_received": sum(len(times) for times in made.values()),
        "duplicates": sum(len(times) > 1 for times in made.values()),
        "lost": sum(r.id not in made for r in rows),
        "false_failed": sum(r.status is SmsStatus.FAILED and r.id in made for r in rows),
        "not_delivered": sum(r.status is not SmsStatus.DELIVERED for r in rows),
        "app_sends_unanswered": len(app - stage.users.sent),
        "api_answers": dict(kinds),
        "api_500": kinds["http 500"],
        "api_unexpected": len(stage.users.tally.surprises),
        "callbacks": dict(callbacks),
        "callbacks_bad": sum(n for k, n in callbacks.items() if k not in ("204", "503")),
    }


MUST_BE_ZERO = (
    "duplicates",
    "lost",
    "false_failed",
    "not_delivered",
    "app_sends_unanswered",
    "api_unexpected",
    "callbacks_bad",
)


async def scenario(stage: Stage, api_port: int, token: str, appointments: list[int]) -> list[dict]:
    base = f"http://127.0.0.1:{api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        stage.users = AppUsers(http, token, appointments)
        done = asyncio.Event()
        reading = asyncio.create_task(stage.users.read(done))
        try:
            rows = await (redis if stage.args.scenario == "redis" else postgres)(stage)
        finally:
            done.set()
            await reading
        return [*rows, await verdict(stage)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["redis", "postgres"])
    parser.add_argument("--messages", type=int, default=1000, help="reminders, in all")
    parser.add_argument("--provider-delay", type=float, default=1.0)
    parser.add_argument("--redis-down", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=300, help="give up after this long")
    args = parser.parse_args()
    load_before = os.getloadavg()
    LOGS.mkdir(exist_ok=True)
    for name in ("faults-api.log", "faults-worker.log"):
        (LOGS / name).write_text("")
    with contextlib.ExitStack() as cleanup:
        cluster = PostgresCluster(fsync=True)
        cleanup.callback(cluster.close)
        cluster.start()
        cluster.create_database()
        migrations.upgrade(cluster.url)
        days = (1,) if args.scenario == "redis" else (1, 2)
        events = asyncio.run(build(cluster.url, args.messages, days, NOT_BEFORE, quiet_zone()))
        appointments = asyncio.run(appointment_ids(cluster.url))
        redis_server = EmbeddedRedis(port=free_port()).start()
        fake = FakeTwilioProcess(args.provider_delay)
        cleanup.callback(fake.stop)
        api_port = free_port()
        env = environment(cluster.url, redis_server.url, fake.base_url, api_port)
        api = start(["serve", "--no-seed", "--port", str(api_port)], env, LOGS / "faults-api.log")
        cleanup.callback(end, api)
        worker = start(["worker"], env, LOGS / "faults-worker.log")
        cleanup.callback(end, worker)
        stage = Stage(args, cluster, redis_server, fake, worker, events)
        cleanup.callback(lambda: stage.redis.stop())
        wait_until_serving(api_port)
        login = httpx.post(
            f"http://127.0.0.1:{api_port}/graphql",
            json={"query": LOGIN, "variables": {"email": EMAIL, "password": PASSWORD}},
        )
        token = login.json()["data"]["login"]["token"]
        started = time.monotonic()
        run = scenario(stage, api_port, token, appointments)
        rows = asyncio.run(asyncio.wait_for(run, args.timeout))
        summary = rows[-1]
        summary["seconds"] = round(time.monotonic() - started, 1)
        save(
            f"faults-{args.scenario}",
            rows,
            provider_delay=args.provider_delay,
            redis_down=args.redis_down,
            load_average_before=load_before,
            load_average_after=os.getloadavg(),
        )
        ok = all(summary[k] == 0 for k in MUST_BE_ZERO) and api.poll() is None
        print("PASS" if ok else "FAIL", summary)
        for surprise in stage.users.tally.surprises[:10]:
            print("unexpected:", surprise, file=sys.stderr)
        for at, why in fake.ask("unanswered")[:10]:
            print(f"callback unanswered at {at:.3f}: {why}", file=sys.stderr)
        return 0 if ok else 1


async def appointment_ids(url: str) -> list[int]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        ids = list((await session.exec(select(Appointment.id).order_by(Appointment.id))).all())
    await engine.dispose()
    return ids


def end(process: subprocess.Popen) -> None:
    """SIGTERM, as a supervisor stops it; SIGKILL after 30 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    sys.exit(main())
