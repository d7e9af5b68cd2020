"""Kill the worker (SIGKILL) at random points while reminders go out, again and again.

The worker runs as deployed (`timetrak-sms worker`: reminder cron, sweeper, send jobs, default
timings) against a fake Twilio that also sends the signed status callbacks Twilio would, to a
running `timetrak-sms serve`, and lists what it received as Twilio does. After the kills one
last worker runs until every message is settled. Passes when every message reached the fake
within 60 s of the last kill, none twice (zero duplicates), none missing (zero lost), and every
message ended DELIVERED, or FAILED with a reason.

    .venv/bin/python -m bench.kill_worker [--quick] [--messages 1000] [--kills 20]
        [--db sqlite|postgresql] [--database-name NAME] [--seed 7] [--provider-delay 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import sys
import time

from api.embedded_redis import EmbeddedRedis
from bench.databases import fresh_database
from bench.deployed import (
    LOGS,
    FakeTwilioProcess,
    build,
    environment,
    free_port,
    start,
    statuses,
    wait_until_serving,
)
from bench.figures import save
from models.enums import SmsStatus

SETTLED = (SmsStatus.DELIVERED, SmsStatus.FAILED)
# Every message at the provider within this many seconds of the last kill.
MOVED_ON_WITHIN = 60


def logged_count(log: str, words: str) -> int:
    """The sum of the counts in lines like "<words> 12 messages: ..." of a worker's log."""
    return sum(int(n) for n in re.findall(re.escape(words) + r" (\d+) messages", log))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 messages, 5 kills")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-name",
        default="timetrak_bench_kill_worker",
        help="the database (or SQLite file) to create afresh; dropped first",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--provider-delay",
        type=float,
        default=1.0,
        help="seconds the fake Twilio takes to answer, so kills land mid-send",
    )
    args = parser.parse_args()
    count, kills = (200, 5) if args.quick else (args.messages, args.kills)
    chance = random.Random(args.seed)
    logs = LOGS
    logs.mkdir(exist_ok=True)
    for name in ("kill-api.log", "kill-worker.log"):
        (logs / name).write_text("")
    url = fresh_database(args.db, args.database_name)
    asyncio.run(build(url, count))
    redis = EmbeddedRedis().start()
    fake = FakeTwilioProcess(args.provider_delay)
    api_port = free_port()
    env = environment(url, redis.url, fake.base_url, api_port)
    api = start(["serve", "--no-seed", "--port", str(api_port)], env, logs / "kill-api.log")
    rows: list[dict] = []
    try:
        wait_until_serving(api_port)
        started = time.monotonic()
        for kill in range(1, kills + 1):
            worker = start(["worker"], env, logs / "kill-worker.log")
            time.sleep(chance.uniform(1.0, 4.0))
            os.killpg(worker.pid, signal.SIGKILL)
            last_kill = time.time()
            worker.wait()
            rows.append({"kill": kill, **asyncio.run(statuses(url))})
        worker = start(["worker"], env, logs / "kill-worker.log")
        deadline = time.monotonic() + 300
        settled_at = float("nan")
        while True:
            now = asyncio.run(statuses(url))
            settled = sum(now.get(s.value, 0) for s in SETTLED)
            total = sum(n for key, n in now.items() if key != "failed_without_reason")
            if total == count and settled == count:
                settled_at = time.time()
                break
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        # When the fake created each message, by message: more than once is a duplicate.
        made = fake.ask("made")
        final = asyncio.run(statuses(url))
        rows.append({"kill": "final", **final})
        duplicates = sum(1 for times in made.values() if len(times) > 1)
        worker_log = (logs / "kill-worker.log").read_text(errors="replace")
        last_arrival = max((min(times) for times in made.values()), default=float("nan"))
        summary = {
            "messages": count,
            "kills": kills,
            "seconds": round(time.monotonic() - started, 1),
            "provider_received": sum(len(times) for times in made.values()),
            "duplicates": duplicates,
            "lost": count - len(made),
            # Negative when the last message had reached the provider before the last kill.
            "last_at_provider_after_last_kill_s": round(last_arrival - last_kill, 1),
            "settled_after_last_kill_s": round(settled_at - last_kill, 1),
            "settled": sum(final.get(s.value, 0) for s in SETTLED),
            "failed_without_reason": final["failed_without_reason"],
            "jobs_taken_over": worker_log.count("is gone; its job"),
            "found_in_provider_list": logged_count(worker_log, "found at the provider and settled"),
            "resent_never_arrived": logged_count(worker_log, "never reached the provider, sending"),
        }
        rows.append(summary)
        save(
            "kill_worker" + ("_quick" if args.quick else ""),
            rows,
            db=args.db,
            seed=args.seed,
            provider_delay=args.provider_delay,
        )
        ok = (
            duplicates == 0
            and summary["lost"] == 0
            and summary["settled"] == count
            and final["failed_without_reason"] == 0
            and summary["last_at_provider_after_last_kill_s"] <= MOVED_ON_WITHIN
        )
        print("PASS" if ok else "FAIL", summary)
        return 0 if ok else 1
    finally:
        fake.stop()
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=30)
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
