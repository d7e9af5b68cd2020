"""Reminder run benchmark: run_event over N due appointments, then the send pipeline's rate.

    python -m bench.reminder_run [--quick] [--db sqlite|postgresql ...] [--profile]

Builds a company with 100,000 due appointments over 40,000 jobs (plus as many that are not
due) with Core executemany inserts, times run_event (select + insert the run's messages),
then sends a subset of the queued messages through real arq workers and TwilioProvider to a
fake Twilio answering at once and after 50 ms. Run from the project root.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import time as clock
import warnings
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import func, text, update
from sqlmodel import col, select

from api.embedded_redis import EmbeddedRedis
from bench.databases import Stopwatch, after_bulk_load, fresh_database, insert_rows
from bench.figures import RESULTS, save
from bench.pipeline import FakeProvider, SendWorkers, cpu_seconds, provider_settings
from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    OptOut,
    Profile,
    ReminderEvent,
    SmsMessage,
    SmsTemplate,
    Task,
    User,
)
from models.company import SETTINGS_ID
from models.db import create_engine, session_factory
from models.enums import OptOutMethod, SmsStatus, SmsTemplateKind
from models.reminders import RunResult, hand_over, run_event

ZONE = "Pacific/Auckland"
BODY = (
    "Hi {contact_name}, {user_name} from {company_name} visits on {appointment_date} at "
    "{appointment_time} for {job_title}. Reply STOP to opt out."
)
QUEUE = "bench:reminder-run"
# SQLModel nudges UPDATE statements towards session.exec(); they need execute().
warnings.filterwarnings(
    "ignore", r"\s*.*You probably want to use `session.exec", DeprecationWarning
)
USERS = 20
CORES = os.cpu_count() or 1


def mobile(n: int) -> str:
    return f"+6421{n % 10_000_000:07d}"


def build_rows(appointments: int, jobs: int, now: datetime, seed: int = 7) -> dict:
    """Every table's rows; jobs get 2 or 3 due appointments tomorrow, and as many not due."""
    rnd = random.Random(seed)
    clients_n = jobs // 4
    tomorrow = now.astimezone(ZoneInfo(ZONE)).date() + timedelta(days=1)

    def at(day: date, minutes: int) -> datetime:
        return datetime.combine(day, time(8), tzinfo=ZoneInfo(ZONE)).astimezone(UTC) + timedelta(
            minutes=minutes
        )

    clients, contacts, opt_outs = [], [], []
    for c in range(1, clients_n + 1):
        has_mobile = rnd.random() > 0.02
        clients.append(
            dict(
                id=c,
                name=f"Client {c}",
                active=True,
                sms_reminders=True,
                mobile_country_code="+64" if has_mobile else None,
                mobile_number=f"21 {c:07d}"[:12] if has_mobile else None,
                sms_number=mobile(c) if has_mobile else None,
            )
        )
        for k in (0, 1):
            cid = 2 * (c - 1) + k + 1
            number = mobile(5_000_000 + cid) if rnd.random() > 0.01 else None
            contacts.append(
                dict(
                    id=cid,
                    client_id=c,
                    name=f"Contact {cid}",
                    active=True,
                    mobile=number,
                    sms_number=number,
                )
            )
            if number and rnd.random() < 0.005:
                opt_outs.append(
                    dict(
                        number=number, opted_out=True, method=OptOutMethod.KEYWORD, opted_out_at=now
                    )
                )
    jobs_rows, tasks, due, later = [], [], [], []
    per_job = [2 + (j % 2) for j in range(jobs)]
    # Trim or pad so the due count is exactly `appointments`.
    extra = appointments - sum(per_job)
    for j in range(abs(extra)):
        per_job[j % jobs] += 1 if extra > 0 else -1
    appointment_id = 0
    for j in range(1, jobs + 1):
        client = (j - 1) % clients_n + 1
        jobs_rows.append(dict(id=j, client_id=client, title=f"Job {j}: hot water cylinder"))
        task = j if j % 2 else None
        if task:
            tasks.append(dict(id=j, job_id=j, name=f"Task {j}"))
        for a in range(per_job[j - 1] * 2):
            appointment_id += 1
            contact = 2 * (client - 1) + rnd.randint(1, 2) if rnd.random() < 0.6 else None
            is_due = a < per_job[j - 1]
            if is_due:
                start, reminder = at(tomorrow, rnd.randrange(0, 9 * 60, 15)), True
            elif rnd.random() < 0.2:
                start, reminder = at(tomorrow, rnd.randrange(0, 9 * 60, 15)), False
            else:
                start, reminder = (
                    at(tomorrow + timedelta(days=rnd.randint(1, 13)), rnd.randrange(0, 9 * 60, 15)),
                    True,
                )
            (due if is_due else later).append(
                dict(
                    id=appointment_id,
                    user_id=rnd.randint(1, USERS),
                    job_id=j,
                    task_id=task,
                    start=start,
                    end=start + timedelta(hours=1),
                    contact_id=contact,
                    sms_reminder=reminder,
                )
            )
    return dict(
        clients=clients,
        contacts=contacts,
        opt_outs=opt_outs,
        jobs=jobs_rows,
        tasks=tasks,
        appointments=due + later,
        due=len(due),
    )


async def load(url: str, appointments: int, jobs: int, now: datetime) -> dict:
    rows = build_rows(appointments, jobs, now)
    engine = create_engine(url)
    tables = [
        GlobalSettings,
        Profile,
        User,
        SmsTemplate,
        ReminderEvent,
        Client,
        Contact,
        OptOut,
        Job,
        Task,
        Appointment,
    ]
    async with engine.begin() as connection:
        t = lambda model: model.__table__  # noqa: E731
        await connection.execute(
            t(GlobalSettings).insert(),
            [
                dict(
                    id=SETTINGS_ID,
                    company_name="Bench Plumbing",
                    sms_enabled=True,
                    sms_reminders_enabled=True,
                    time_zone=ZONE,
                )
            ],
        )
        await connection.execute(t(Profile).insert(), [dict(id=1, name="Staff")])
        await connection.execute(
            t(User).insert(),
            [
                dict(
                    id=u,
                    email=f"tech{u}@example.com",
                    name=f"Tech {u}",
                    password_hash="x",
                    profile_id=1,
                )
                for u in range(1, USERS + 1)
            ],
        )
        await connection.execute(
            t(SmsTemplate).insert(),
            [
                dict(
                    id=1,
                    name="Reminder",
                    kind=SmsTemplateKind.REMINDER_EVENT,
                    body=BODY,
                    active=True,
                )
            ],
        )
        await connection.execute(
            t(ReminderEvent).insert(),
            [
                dict(
                    id=1,
                    description="Day before",
                    interval_days=1,
                    template_id=1,
                    run_at=time(17),
                    enabled=True,
                )
            ],
        )
        for model, key in (
            (Client, "clients"),
            (Contact, "contacts"),
            (OptOut, "opt_outs"),
            (Job, "jobs"),
            (Task, "tasks"),
            (Appointment, "appointments"),
        ):
            await insert_rows(connection, t(model), rows[key])
        await after_bulk_load(connection, [t(m) for m in tables])
    await engine.dispose()
    return {k: (len(v) if isinstance(v, list) else v) for k, v in rows.items()}


async def timed_run(url: str, now: datetime, profile: bool) -> tuple[float, RunResult, str]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    profiler = cProfile.Profile() if profile else None
    start = clock.perf_counter()
    if profiler:
        profiler.enable()
    async with sessions.begin() as session:
        result = await run_event(session, 1, now, claim=True)
    if profiler:
        profiler.disable()
    seconds = clock.perf_counter() - start
    await engine.dispose()
    report = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        report = out.getvalue()
    return seconds, result, report


async def pipeline(
    url: str,
    redis_url: str,
    ids: list[int],
    delay: float,
    workers: int,
    max_jobs: int | None,
    redis_pid: int | None,
    profile_to: str | None = None,
    poll_delay: float | None = None,
) -> dict:
    """Enqueue `ids` with hand_over and wait until every one is settled; rate over the lot."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    lo, hi = ids[0], ids[-1]
    async with sessions.begin() as session:
        # Run-failed rows in the range stay settled; sent ones come back from an earlier pass.
        await session.execute(
            update(SmsMessage)
            .where(
                col(SmsMessage.id).in_(ids)
                if len(ids) < 900
                else col(SmsMessage.id).between(lo, hi),
                SmsMessage.status != SmsStatus.FAILED,
            )
            .values(
                status=SmsStatus.QUEUED,
                attempts=0,
                sent_at=None,
                send_started_at=None,
                provider_message_id=None,
                delivered_at=None,
            )
        )
    redis = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    await redis.flushdb()
    settled = (SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED)
    in_range = col(SmsMessage.id).between(lo, hi)
    async with sessions() as session:
        total = (await session.exec(select(func.count()).where(in_range))).one()
    with FakeProvider(delay) as fake:
        settings = provider_settings(url, redis_url, fake.base_url)
        with SendWorkers(settings, QUEUE, workers, max_jobs, poll_delay, profile_to) as pool:
            parts = {
                "workers": [p.pid for p in pool.processes],
                "provider": [fake.process.pid],
                "redis": [redis_pid] if redis_pid else [],
            }
            before = {name: cpu_seconds(pids) for name, pids in parts.items()}
            started = datetime.now(UTC)
            t0 = clock.perf_counter()
            await hand_over(redis, RunResult(queued=ids))
            enqueue_seconds = clock.perf_counter() - t0
            while True:
                async with sessions() as session:
                    done = (
                        await session.exec(
                            select(func.count()).where(
                                in_range, col(SmsMessage.status).in_(settled)
                            )
                        )
                    ).one()
                if done >= total:
                    break
                if clock.perf_counter() - t0 > 900:
                    raise RuntimeError(f"pipeline stalled at {done}/{total}")
                await asyncio.sleep(0.25)
            async with sessions() as session:
                finished = (
                    await session.exec(
                        select(func.max(SmsMessage.updated_at)).where(
                            in_range, SmsMessage.status != SmsStatus.FAILED
                        )
                    )
                ).one()
                sent = (
                    await session.exec(
                        select(func.count()).where(
                            col(SmsMessage.id).in_(ids) if len(ids) < 900 else in_range,
                            SmsMessage.status == SmsStatus.SENT,
                        )
                    )
                ).one()
                parts["database"] = await backend_pids(session)
            used = {name: cpu_seconds(pids) - before.get(name, 0.0) for name, pids in parts.items()}
            provider_saw = fake.received()
    await redis.aclose()
    await engine.dispose()
    seconds = (finished - started).total_seconds()
    cpu_ms = {name: round(value * 1000 / len(ids), 2) for name, value in used.items()}
    total_ms = sum(cpu_ms.values())
    return dict(
        cpu_ms_per_message=cpu_ms,
        cpu_ms_total=round(total_ms, 2),
        cpu_ceiling_per_s=round(CORES * 1000 / total_ms) if total_ms else None,
        provider_ms=int(delay * 1000),
        messages=len(ids),
        sent=sent,
        provider_received=provider_saw,
        enqueue_s=round(enqueue_seconds, 2),
        pipeline_s=round(seconds, 2),
        messages_per_s=round(len(ids) / seconds, 1),
    )


async def backend_pids(session) -> list[int]:
    """PostgreSQL backends serving this database, other than the asking one (the workers')."""
    if session.bind.dialect.name != "postgresql":
        return []
    rows = await session.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    )
    return [pid for (pid,) in rows.all()]


def profile_to(args, kind: str, delay: float) -> str | None:
    """Where the workers dump their CPU profiles (one file per worker), with --profile."""
    if not args.profile:
        return None
    RESULTS.mkdir(exist_ok=True)
    return str(RESULTS / f"reminder_run_worker_{kind}_{int(delay * 1000)}ms.prof")


def run_now() -> datetime:
    """17:05 today in the company's zone: the day-before event is due, tomorrow is the target."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    return datetime.combine(today, time(17, 5), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


async def bench_database(kind: str, args, redis_url: str, redis_pid: int | None) -> list[dict]:
    name = "timetrak_bench_reminder_run" + ("_quick" if args.quick else "")
    print(f"\n== {kind}: building {args.appointments:,} due appointments over {args.jobs:,} jobs")
    url = await asyncio.to_thread(fresh_database, kind, name)
    now = run_now()
    with Stopwatch() as build:
        counts = await load(url, args.appointments, args.jobs, now)
    print(f"   built in {build.seconds:.1f} s: {counts}")
    seconds, result, report = await timed_run(url, now, args.profile)
    print(
        f"   run_event: {seconds:.2f} s, {len(result.queued):,} queued, "
        f"{len(result.failed):,} failed"
    )
    if report:
        print(report)
    rows = [
        dict(
            db=kind,
            measure="run_event (select + insert)",
            due=counts["due"],
            jobs=args.jobs,
            messages=len(result.queued) + len(result.failed),
            queued=len(result.queued),
            seconds=round(seconds, 2),
            target="< 20 s (PostgreSQL)",
            build_s=round(build.seconds, 1),
        )
    ]
    subset = sorted(result.queued)[: args.pipeline_messages]
    for delay, target in ((0.0, 500), (0.05, 200)):
        print(
            f"   pipeline: {len(subset):,} messages, provider {delay * 1000:.0f} ms ...", flush=True
        )
        figures = await pipeline(
            url,
            redis_url,
            subset,
            delay,
            args.workers,
            args.max_jobs,
            redis_pid,
            profile_to(args, kind, delay),
            args.poll_delay,
        )
        print(f"   {figures}")
        rows.append(
            dict(
                db=kind,
                measure=f"send pipeline, provider {int(delay * 1000)} ms",
                messages=figures["messages"],
                sent=figures["sent"],
                seconds=figures["pipeline_s"],
                per_s=figures["messages_per_s"],
                enqueue_s=figures["enqueue_s"],
                provider_received=figures["provider_received"],
                cpu_ms_per_msg=figures["cpu_ms_total"],
                cpu_bound_per_s=figures["cpu_ceiling_per_s"],
                cpu_split_ms=" ".join(f"{k}={v}" for k, v in figures["cpu_ms_per_message"].items()),
                target=f">= {target}/s",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 appointments, 100 sends")
    parser.add_argument(
        "--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--workers", type=int, default=2, help="arq worker processes")
    parser.add_argument(
        "--max-jobs",
        type=int,
        default=None,
        help="arq max_jobs per worker (default: WorkerSettings', as deployed)",
    )
    parser.add_argument(
        "--poll-delay",
        type=float,
        default=None,
        help="arq poll_delay in seconds (default: WorkerSettings', as deployed)",
    )
    parser.add_argument("--pipeline-messages", type=int, default=None)
    parser.add_argument("--name", help="results file name (default reminder_run[_quick])")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile run_event and the workers (CPU time)"
    )
    parser.add_argument("--redis-url", help="default: a private redis-server for the run")
    args = parser.parse_args()
    args.appointments, args.jobs = (2_000, 800) if args.quick else (100_000, 40_000)
    args.pipeline_messages = args.pipeline_messages or (100 if args.quick else 20_000)
    rows: list[dict] = []
    with EmbeddedRedis() if not args.redis_url else _Given(args.redis_url) as server:
        for kind in args.db:
            rows += asyncio.run(bench_database(kind, args, server.url, redis_pid(server)))
    print()
    save(
        args.name or "reminder_run" + ("_quick" if args.quick else ""),
        rows,
        quick=args.quick,
        workers=args.workers,
        max_jobs=args.max_jobs or "WorkerSettings.max_jobs",
        poll_delay=args.poll_delay or "WorkerSettings.poll_delay",
        pipeline_note=f"pipeline measured over the first {args.pipeline_messages:,} queued "
        "messages of the run, enqueue (hand_over) to last status update",
    )


def redis_pid(server) -> int | None:
    process = getattr(server, "process", None)
    return process.pid if process is not None else None


class _Given:
    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return None


if __name__ == "__main__":
    main()
