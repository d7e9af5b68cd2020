"""Backfill benchmark: `timetrak-sms backfill-sms-numbers` over many contacts, as a subprocess.

    python -m bench.backfill [--quick] [--db sqlite|postgresql ...] [--sizes N ...]

Fills a fresh database with contacts (mobiles, fixable numbers, landlines, empties, numbers
already set) by Core executemany, runs the real CLI command on it and reports contacts/s and
the command's peak RSS (/usr/bin/time's maximum resident size), with RSS samples
along the way to show it is flat.
Run from the project root.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from sqlalchemy import func, select

from bench.databases import Stopwatch, after_bulk_load, fresh_database, insert_rows
from bench.figures import save
from models import Client, Contact
from models.db import create_engine

PROJECT = Path(__file__).resolve().parent.parent
CONTACTS_PER_CLIENT = 20


def contact_numbers(rnd: random.Random, n: int) -> dict:
    """One contact's mobile / phone / sms_number, drawn from the mix seen in real data."""
    digits = f"{n % 10_000_000:07d}"
    mobile = f"021 {digits[:3]} {digits[3:]}"
    landline = f"09 3{digits[1:3]} {digits[3:]}"
    roll = rnd.random()
    if roll < 0.35:  # a mobile as people type it
        return dict(mobile=mobile, phone=landline if roll < 0.1 else None, sms_number=None)
    if roll < 0.50:  # a mobile that needs the suggested fix
        fixable = rnd.choice(
            [
                f"0064 21 {digits[:3]} {digits[3:]}",
                f"64 21{digits}",
                f"{mobile} (mob)",
                f"+64 021 {digits[:3]} {digits[3:]}",
            ]
        )
        return dict(mobile=fixable, phone=None, sms_number=None)
    if roll < 0.60:  # no mobile, but the phone is one
        return dict(mobile=None, phone=mobile, sms_number=None)
    if roll < 0.75:  # landlines only (NZ and AU)
        return dict(
            mobile=rnd.choice([None, landline]),
            phone=rnd.choice([landline, f"(02) 9{digits[:3]} {digits[3:]}"]),
            sms_number=None,
        )
    if roll < 0.90:  # nothing usable
        return dict(
            mobile=rnd.choice([None, "", "n/a"]), phone=rnd.choice([None, ""]), sms_number=None
        )
    return dict(mobile=mobile, phone=None, sms_number=f"+6421{digits}")  # already set


def contact_rows(count: int, seed: int = 11):
    rnd = random.Random(seed)
    for n in range(1, count + 1):
        yield dict(
            id=n,
            client_id=(n - 1) // CONTACTS_PER_CLIENT + 1,
            name=f"Contact {n}",
            active=True,
            **contact_numbers(rnd, n),
        )


async def load(url: str, contacts: int) -> None:
    engine = create_engine(url)
    clients = -(-contacts // CONTACTS_PER_CLIENT)
    async with engine.begin() as connection:
        await insert_rows(
            connection,
            Client.__table__,
            (
                dict(id=c, name=f"Client {c}", active=True, sms_reminders=False)
                for c in range(1, clients + 1)
            ),
        )
        await insert_rows(connection, Contact.__table__, contact_rows(contacts))
        await after_bulk_load(connection, [Client.__table__, Contact.__table__])
    await engine.dispose()


async def missing_numbers(url: str) -> int:
    engine = create_engine(url)
    async with engine.connect() as connection:
        count = (
            await connection.execute(
                select(func.count()).where(Contact.__table__.c.sms_number.is_(None))
            )
        ).scalar_one()
    await engine.dispose()
    return count


def run_command(url: str, batch_size: int) -> dict:
    """Run the CLI; its wall time, exit, last output line, peak RSS and RSS samples over time."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(PROJECT)}
    # Under /usr/bin/time: a child's ru_maxrss keeps the RSS of the process it was forked from,
    # so wait4 on a child of this (large) process would report this process's size.
    command = [
        "/usr/bin/time",
        "-f",
        "PEAK_RSS_KB %M",
        sys.executable,
        "-m",
        "api.cli",
        "backfill-sms-numbers",
        "--batch-size",
        str(batch_size),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    progress: list[str] = []
    reader = threading.Thread(target=lambda: progress.extend(process.stderr), daemon=True)
    reader.start()
    watched = _command_process(psutil.Process(process.pid))
    samples: list[tuple[float, int, int]] = []  # (seconds, contacts checked, rss bytes)
    while True:
        try:
            rss = watched.memory_info().rss
        except psutil.Error:
            break
        if watched.status() == psutil.STATUS_ZOMBIE:
            break
        samples.append((time.perf_counter() - start, _checked(progress), rss))
        time.sleep(0.2)
    stdout = process.stdout.read()
    process.wait()
    seconds = time.perf_counter() - start
    reader.join(5)
    peak = next(int(line.split()[1]) for line in progress if line.startswith("PEAK_RSS_KB"))
    if process.returncode != 0:
        raise RuntimeError(f"backfill failed ({process.returncode}): {''.join(progress)[-2000:]}")
    return dict(
        seconds=seconds,
        output=stdout.strip(),
        peak_rss=peak * 1024,
        samples=samples,
        first_batch_at=_first_progress_time(samples),
    )


def _command_process(timer: psutil.Process) -> psutil.Process:
    deadline = time.monotonic() + 10
    while not (children := timer.children()):
        if time.monotonic() > deadline:
            raise RuntimeError("the backfill command did not start")
        time.sleep(0.01)
    return children[0]


def _checked(progress: list[str]) -> int:
    for line in reversed(progress):
        if line.startswith("checked "):
            return int(line.split()[1])
    return 0


def _first_progress_time(samples: list[tuple[float, int, int]]) -> float | None:
    return next((t for t, checked, _ in samples if checked), None)


def rss_along(samples: list[tuple[float, int, int]], total: int) -> str:
    """RSS in MiB when a quarter, half, three quarters and all of the contacts were checked."""
    marks = []
    for share in (0.25, 0.5, 0.75, 1.0):
        hit = next((rss for _, checked, rss in samples if checked >= share * total), None)
        marks.append(f"{hit / 2**20:.0f}" if hit else "-")
    return "/".join(marks)


async def bench_one(kind: str, contacts: int, batch_size: int, quick: bool) -> dict:
    name = f"timetrak_bench_backfill_{contacts}" + ("_quick" if quick else "")
    url = await asyncio.to_thread(fresh_database, kind, name)
    with Stopwatch() as build:
        await load(url, contacts)
    before = await missing_numbers(url)
    print(
        f"   {kind} {contacts:,} contacts built in {build.seconds:.1f} s; running the command",
        flush=True,
    )
    run = await asyncio.to_thread(run_command, url, batch_size)
    after = await missing_numbers(url)
    # Contacts/s over the batches: from the first progress line on, leaving out start-up.
    start_up = run["first_batch_at"] or 0.0
    return dict(
        db=kind,
        contacts=contacts,
        seconds=round(run["seconds"], 1),
        contacts_per_s=round(contacts / run["seconds"]),
        peak_rss_mib=round(run["peak_rss"] / 2**20, 1),
        rss_at_25_50_75_100pct_mib=rss_along(run["samples"], contacts),
        start_up_s=round(start_up, 1),
        filled=before - after,
        result=run["output"],
        build_s=round(build.seconds, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 contacts")
    parser.add_argument(
        "--db", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=2000, help="the command's default")
    args = parser.parse_args()
    sizes = args.sizes or ([2_000, 20_000] if args.quick else [100_000, 1_000_000])
    rows = []
    for kind in args.db:
        for size in sizes:
            row = asyncio.run(bench_one(kind, size, args.batch_size, args.quick))
            print(f"   {row}", flush=True)
            rows.append(row)
    print()
    save(
        "backfill" + ("_quick" if args.quick else ""),
        rows,
        quick=args.quick,
        batch_size=args.batch_size,
        note="seconds and contacts/s include the command's start-up (start_up_s); peak RSS "
        "is /usr/bin/time's maximum resident set size of the command process",
    )


if __name__ == "__main__":
    main()
