"""Benchmark: `sendSms` from many App clients at once, against a plain Starlette insert.

    .venv/bin/python -m bench.send_sms [--quick] [--seconds 60] [--database-url postgresql://...]

64 App users, each with a token and an appointment whose contact has a valid mobile, send
without pause for --seconds (each send with its own idempotency key, as the App does). A send
is good when the answer is a message in status QUEUED and no errors; p50 and p99 are from
request to that answer. Nothing consumes the arq queue (Redis database 15, emptied before and
after). Afterwards the database must hold exactly one QUEUED message per good answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    __package__ = "bench"

import argparse
import asyncio
import json
import time
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import select

from bench.load import REDIS_URL, measure, servers, table, write_results
from bench.setup import SignedIn, add_company, add_users, add_week, database
from models import SmsMessage
from models.db import create_engine, session_factory
from models.enums import SmsStatus

MUTATION = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code field message } }
}
"""


async def build(url: str, clients: int) -> list[SignedIn]:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        profile_id = await add_company(sessions)
        users = await add_users(sessions, profile_id, clients, prefix="app")
        for user in users:
            await add_week(sessions, user, 4)
        return users
    finally:
        await engine.dispose()


def request_of(run: str, n: int, user: SignedIn) -> dict[str, Any]:
    # The second of the week's four goes to a contact with a valid mobile who has not opted out
    # (see add_week).
    given = {
        "appointmentId": str(user.appointment_ids[1]),
        "body": "On my way, about 15 min.",
        "source": "APP",
        "idempotencyKey": f"{run}-app{n}-__SEQ__",
    }
    return {
        "headers": {"authorization": f"Bearer {user.token}"},
        "body": json.dumps({"query": MUTATION, "variables": {"input": given}}),
    }


async def queued_messages(url: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return (
                await session.exec(
                    select(func.count())
                    .select_from(SmsMessage)
                    .where(SmsMessage.status == SmsStatus.QUEUED)
                )
            ).one()
    finally:
        await engine.dispose()


async def empty_queue() -> int:
    """Empties the benchmarks' Redis database; how many jobs were waiting in it."""
    redis = Redis.from_url(REDIS_URL)
    try:
        waiting = await redis.zcard("arq:queue")
        await redis.flushdb()
        return waiting
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.send_sms",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="A smoke run, well under 30 s.")
    parser.add_argument("--seconds", type=float, help="Measured seconds per server (60; quick 2).")
    parser.add_argument("--warmup", type=float, help="Unmeasured seconds first (2; quick 0.5).")
    parser.add_argument("--concurrency", type=int, help="Concurrent App clients (64; quick 16).")
    parser.add_argument("--database-url", help="A postgresql:// server; default a temp SQLite.")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (2 if args.quick else 60)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2)
    args.concurrency = args.concurrency or (16 if args.quick else 64)
    name = (
        "send_sms"
        + ("-postgresql" if args.database_url else "")
        + ("-quick" if args.quick else f"-{args.concurrency}-clients")
    )

    runs: dict[str, dict[str, Any]] = {}
    with database(args.database_url, "bench_send_sms") as url:
        kind = url.split(":", 1)[0]
        print(f"Building {args.concurrency} App users on {kind} ...", flush=True)
        users = asyncio.run(build(url, args.concurrency))
        apps = {"graphql": "api.app:create_app", "baseline": "bench.baseline:send_sms_app"}
        paths = {"graphql": "/graphql", "baseline": "/send-sms"}
        asyncio.run(empty_queue())
        with servers(apps, url, log_prefix="send_sms") as running:
            for app_name, server in running.items():
                before = asyncio.run(queued_messages(url))
                print(
                    f"  {app_name}: {args.concurrency} clients for {args.seconds} s ...", flush=True
                )
                figures = measure(
                    server,
                    {
                        "url": f"{server.base}{paths[app_name]}",
                        "concurrency": args.concurrency,
                        "seconds": args.seconds,
                        "warmup": args.warmup,
                        # Keys unique to each run: a repeated key answers with the first message.
                        "clients": [request_of(app_name, n, user) for n, user in enumerate(users)],
                        "expect": {
                            "data.sendSms.message.status": "QUEUED",
                            "data.sendSms.errors": [],
                        },
                    },
                )
                time.sleep(1)  # sends cut off at the end of the window may still be landing
                figures["queued_rows"] = asyncio.run(queued_messages(url)) - before
                figures["jobs_enqueued"] = asyncio.run(empty_queue())
                runs[app_name] = figures

    graphql, baseline = runs["graphql"], runs["baseline"]
    print()
    print(f"sendSms: {args.concurrency} App clients, {args.seconds} s each, {kind}")
    print(
        table(
            [
                "server",
                "sends/s",
                "p50 ms",
                "p99 ms",
                "server CPU ms/req",
                "sends",
                "errors",
                "QUEUED rows",
                "jobs",
            ],
            [
                [
                    n,
                    r["requests_per_second"],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["server_cpu_ms_per_request"],
                    r["requests"],
                    r["errors_including_warmup"],
                    r["queued_rows"],
                    r["jobs_enqueued"],
                ]
                for n, r in runs.items()
            ],
        )
    )
    ratio = graphql["requests_per_second"] / max(baseline["requests_per_second"], 1e-9)
    graphql_cpu, baseline_cpu = (r["server_cpu_ms_per_request"] for r in (graphql, baseline))
    cpu_ratio = baseline_cpu / graphql_cpu if graphql_cpu and baseline_cpu else 0.0
    print(
        f"ratio GraphQL/baseline: {ratio:.3f} by sends/s, {cpu_ratio:.3f} by server CPU per "
        "send (target >= 0.6)"
    )
    problems = []
    for app_name, r in runs.items():
        # Every answered send, warm-up included, is one QUEUED row and one waiting job.
        answered = r["requests_including_warmup"] - r["errors_including_warmup"]
        if r["errors_including_warmup"]:
            problems.append(
                f"{app_name}: {r['errors_including_warmup']} errors, e.g. {r['error_samples']}"
            )
        if r["queued_rows"] < answered or r["jobs_enqueued"] < answered:
            problems.append(
                f"{app_name}: {answered} sends answered QUEUED but "
                f"{r['queued_rows']} rows and {r['jobs_enqueued']} jobs"
            )
    for problem in problems:
        print(f"PROBLEM {problem}")
    path = write_results(
        name,
        {
            "benchmark": "send_sms",
            "database": kind,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "graphql": graphql,
            "baseline": baseline,
            "ratio": round(ratio, 4),
            "ratio_by_server_cpu": round(cpu_ratio, 4),
            "problems": problems,
        },
    )
    print(f"\nwritten to {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
