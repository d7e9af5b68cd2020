"""Every benchmark in one sitting, one after another, and one table of what they measured.

    .venv/bin/python -m bench.all                     # everything: about 40 minutes
    .venv/bin/python -m bench.all --only grids send_sms
    .venv/bin/python -m bench.all --quick             # smoke run of each, a few minutes

Runs each benchmark as its own process (so one's memory and threads never touch the next's),
on SQLite and on the PostgreSQL server of `--database-url`, at the sizes of their targets: the
calendar of one user's 200 appointments against the hand-written endpoint (and `serve --workers
1` and `2` under the same load), `sendSms` at 1, 8 and 64 clients against the hand-written
endpoint, every grid at a million rows, the reminder run of 100,000 due appointments and the
send pipeline, the SMS-number backfill of a million contacts, live replies to 100
subscribers, and status pushes to 1,000 subscribers while a reminder run is sent. Each writes
its own JSON to bench/results/; this reads them back and prints one table, each figure beside
its target and its baseline, with the date, the commit and the machine's load average when each
step started. The table goes to bench/results/all.md too, ready for the README. Exits 1 when
a step fails to run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.load import RESULTS, ROOT

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
Row = dict[str, Any]


@dataclass
class Step:
    name: str
    args: list[str]
    result: str
    rows: Callable[[dict[str, Any], str], list[Row]]
    load: tuple[float, float, float] | None = None
    seconds: float | None = None
    failed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 2) if part and whole else None


def within(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def calendar_rows(result: dict[str, Any], db: str) -> list[Row]:
    graphql, baseline = result["graphql"], result["baseline"]
    by_cpu = ratio(baseline["server_cpu_ms_per_request"], graphql["server_cpu_ms_per_request"])
    by_rate = ratio(graphql["requests_per_second"], baseline["requests_per_second"])
    mirror = result.get("mirror")
    rows = [
        {
            "benchmark": f"calendar, 200 appointments, {result['concurrency']} clients ({db})",
            "figure": f"{graphql['requests_per_second']:.1f} req/s, "
            f"{graphql['server_cpu_ms_per_request']:.1f} ms CPU/req; ratio {by_rate} by req/s, "
            f"{by_cpu} by CPU",
            "baseline": f"{baseline['requests_per_second']:.1f} req/s, "
            f"{baseline['server_cpu_ms_per_request']:.1f} ms CPU/req",
            "target": "ratio >= 0.5",
            "within": within(min(by_cpu or 0, by_rate or 0) >= 0.5),
        }
    ]
    if mirror:
        rows.append(
            {
                "benchmark": f"calendar against a DataLoader plan, no GraphQL ({db})",
                "figure": f"ratio {result['ratio_to_mirror']:.2f} by req/s, "
                f"{result['ratio_to_mirror_by_server_cpu']:.2f} by CPU",
                "baseline": f"{mirror['requests_per_second']:.1f} req/s, "
                f"{mirror['server_cpu_ms_per_request']:.1f} ms CPU/req",
                "target": "",
                "within": "",
            }
        )
    counts = result["statements_per_query"]
    graphql_counts = {size: c["graphql"] for size, c in counts.items()}
    rows.append(
        {
            "benchmark": f"calendar statements per query, 20/200/2,000 appointments ({db})",
            "figure": "/".join(str(n) for n in graphql_counts.values()),
            "baseline": "/".join(str(c["baseline"]) for c in counts.values()),
            "target": "constant",
            "within": within(len(set(graphql_counts.values())) == 1),
        }
    )
    served = result.get("serve_workers") or {}
    if served:
        rates = {n: r["requests_per_second"] for n, r in served.items()}
        one = rates.get("1")
        rows.append(
            {
                "benchmark": f"calendar on `serve --workers N`, N = {', '.join(rates)} ({db})",
                "figure": ", ".join(f"{rate:.1f}" for rate in rates.values())
                + " req/s"
                + (f" ({max(rates.values()) / one:.2f}x)" if one else ""),
                "baseline": "",
                "target": "scales with cores",
                "within": "",
            }
        )
    return rows


def send_sms_rows(result: dict[str, Any], db: str) -> list[Row]:
    graphql, baseline = result["graphql"], result["baseline"]
    by_cpu = ratio(baseline["server_cpu_ms_per_request"], graphql["server_cpu_ms_per_request"])
    return [
        {
            "benchmark": f"sendSms, {result['concurrency']} clients ({db})",
            "figure": f"{graphql['requests_per_second']:.1f} sends/s, "
            f"{graphql['server_cpu_ms_per_request']:.2f} ms CPU/send, {graphql['errors']} "
            f"errors; ratio {by_cpu} by CPU",
            "baseline": f"{baseline['requests_per_second']:.1f} sends/s, "
            f"{baseline['server_cpu_ms_per_request']:.2f} ms CPU/send",
            "target": "ratio >= 0.6 by CPU, 0 errors",
            "within": within((by_cpu or 0) >= 0.6 and graphql["errors"] == 0),
        }
    ]


def grid_rows(result: dict[str, Any], db: str) -> list[Row]:
    rows = result["rows"]
    searches = [r for r in rows if "search" in r["case"]]
    others = [r for r in rows if "search" not in r["case"]]
    found = []
    for label, group in (("cases", others), ("cases with a text search", searches)):
        worst50 = max(group, key=lambda r: r["p50 ms"])
        worst99 = max(group, key=lambda r: r["p99 ms"])
        met = sum(r["within"] == "yes" for r in group)
        found.append(
            {
                "benchmark": f"grid pages at 1,000,000 rows, {len(group)} {label} ({db})",
                "figure": f"worst p50 {worst50['p50 ms']:.0f} ms ({worst50['grid']}, "
                f"{worst50['case']}), worst p99 {worst99['p99 ms']:.0f} ms; {met} of "
                f"{len(group)} within",
                "baseline": "",
                "target": "p50 < 100 ms, p99 < 250 ms"
                + ("" if db == "postgresql" else " (PostgreSQL; SQLite stated)"),
                "within": within(met == len(group)) if db == "postgresql" else "",
            }
        )
    return found


def reminder_rows(result: dict[str, Any], _: str) -> list[Row]:
    found = []
    for row in result["rows"]:
        db, measure = row["db"], row["measure"]
        if "pipeline" in measure:
            target = 718 if "0 ms" in measure and "50" not in measure else 200
            found.append(
                {
                    "benchmark": f"reminder {measure} ({db})",
                    "figure": f"{row['per_s']:.0f} messages/s",
                    "baseline": "",
                    "target": f">= {target}/s" + (" (PostgreSQL)" if db != "postgresql" else ""),
                    "within": within(row["per_s"] >= target) if db == "postgresql" else "",
                }
            )
        elif measure.startswith("run_event"):
            found.append(
                {
                    "benchmark": f"reminder run, {row['due']:,} due appointments over "
                    f"{row['jobs']:,} jobs: select and insert ({db})",
                    "figure": f"{row['seconds']:.1f} s",
                    "baseline": "",
                    "target": "<= 6.0 s (PostgreSQL)",
                    "within": within(row["seconds"] <= 6.0) if db == "postgresql" else "",
                }
            )
    return found


def reply_rows(result: dict[str, Any], db: str) -> list[Row]:
    return [
        {
            "benchmark": f"reply pushed to {result.get('subscribers')} subscribers in another "
            f"API process ({db})",
            "figure": f"p50 {result.get('p50_ms')} ms, p99 {result.get('p99_ms')} ms, "
            f"{result.get('missed')} missed",
            "baseline": "",
            "target": "p99 < 1 s, none missed",
            "within": within((result.get("p99_ms") or 1e9) < 1000 and not result.get("missed")),
        }
    ]


def status_push_rows(result: dict[str, Any], db: str) -> list[Row]:
    kinds = ", ".join(
        f"{result.get(f'{kind}_p99_ms')} ms {label}"
        for kind, label in (
            ("follower", "followers"),
            ("failures", "failure watchers"),
            ("dashboard", "dashboards"),
        )
    )
    return [
        {
            "benchmark": f"status pushes to {result.get('subscribers')} subscribers in 2 API "
            f"processes ({result.get('followers')} following an appointment, "
            f"{result.get('failure_watchers')} smsFailures, {result.get('dashboards')} every "
            f"change) while a {result.get('messages'):,}-message reminder run is sent ({db})",
            "figure": f"{result.get('pushes_expected'):,} pushes: p50 {result.get('p50_ms')} ms, "
            f"p99 {result.get('p99_ms')} ms (p99 {kinds}), {result.get('missed')} missed, "
            f"{result.get('stray')} stray, {result.get('duplicates')} twice; "
            f"{result.get('messages_per_s')} messages/s sent",
            "baseline": "",
            "target": "p99 < 1 s, none missed, stray or twice",
            "within": within(
                (result.get("p99_ms") or 1e9) < 1000
                and not result.get("missed")
                and not result.get("stray")
                and not result.get("duplicates")
            ),
        }
    ]


def backfill_rows(result: dict[str, Any], _: str) -> list[Row]:
    found = []
    for db in ("sqlite", "postgresql"):
        runs = sorted((r for r in result["rows"] if r["db"] == db), key=lambda r: r["contacts"])
        if not runs:
            continue
        largest = runs[-1]
        rss = ", ".join(f"{r['peak_rss_mib']:.0f}" for r in runs)
        sizes = ", ".join(f"{r['contacts']:,}" for r in runs)
        found.append(
            {
                "benchmark": f"backfill-sms-numbers, {sizes} contacts ({db})",
                "figure": f"{largest['contacts_per_s']:,} contacts/s at {largest['contacts']:,}; "
                f"peak memory {rss} MiB",
                "baseline": "",
                "target": "flat memory",
                "within": within(
                    max(r["peak_rss_mib"] for r in runs)
                    <= 1.25 * min(r["peak_rss_mib"] for r in runs)
                ),
            }
        )
    return found


def steps(quick: bool, postgres: str) -> list[Step]:
    small = ["--quick"] if quick else []
    found = []
    for db, url in (("sqlite", []), ("postgresql", ["--database-url", postgres])):
        suffix = "-postgresql" if url else ""
        workers = [] if quick or url else ["--serve-workers", "1", "2"]
        found.append(
            Step(
                f"calendar ({db})",
                ["bench.calendar", "--no-profile", *small, *url, *workers],
                f"calendar{suffix}{'-quick' if quick else ''}",
                calendar_rows,
            )
        )
        for clients in [16] if quick else [1, 8, 64]:
            found.append(
                Step(
                    f"send_sms {clients} clients ({db})",
                    [
                        "bench.send_sms",
                        "--seconds",
                        "2" if quick else "15",
                        "--concurrency",
                        str(clients),
                        *url,
                    ],
                    f"send_sms{suffix}-{clients}-clients",
                    send_sms_rows,
                )
            )
    for db, url in (("postgresql", ["--database-url", postgres]), ("sqlite", [])):
        found.append(Step(f"grids ({db})", ["bench.grids", *small, *url], f"grids-{db}", grid_rows))
    found.append(
        Step(
            "backfill",
            ["bench.backfill", *small],
            "backfill" + ("_quick" if quick else ""),
            backfill_rows,
        )
    )
    found.append(
        Step(
            "reminder_run",
            ["bench.reminder_run", *small],
            "reminder_run" + ("_quick" if quick else ""),
            reminder_rows,
        )
    )
    for db, url in (("sqlite", []), ("postgresql", ["--database-url", postgres])):
        found.append(
            Step(
                f"reply_push ({db})",
                ["bench.reply_push", *small, *url],
                "reply_push" + ("-postgresql" if url else "") + ("-quick" if quick else ""),
                reply_rows,
            )
        )
    found.append(
        Step(
            "status_push (postgresql)",
            ["bench.status_push", *small, "--database-url", postgres],
            "status_push-postgresql" + ("-quick" if quick else ""),
            status_push_rows,
        )
    )
    return found


def run(step: Step) -> None:
    step.load = os.getloadavg()
    started = time.monotonic()
    print(f"\n== {step.name}: python -m {' '.join(step.args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", *step.args], cwd=ROOT)
    step.seconds = time.monotonic() - started
    step.failed = done.returncode != 0 and not (RESULTS / f"{step.result}.json").exists()


def table(rows: list[Row]) -> str:
    columns = ["benchmark", "figure", "baseline", "target", "within", "load"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=POSTGRES, help=f"PostgreSQL ({POSTGRES})")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", help="steps whose name starts with one of these")
    args = parser.parse_args(argv)
    chosen = [
        s
        for s in steps(args.quick, args.database_url)
        if not args.only or any(s.name.startswith(o) for o in args.only)
    ]
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    for step in chosen:
        for stale in (RESULTS / f"{step.result}.json",):
            stale.unlink(missing_ok=True)
        run(step)
    rows: list[Row] = []
    for step in chosen:
        path = RESULTS / f"{step.result}.json"
        if step.failed or not path.exists():
            rows.append({"benchmark": step.name, "figure": "did not run", "within": "NO"})
            continue
        db = "postgresql" if "postgresql" in step.name else "sqlite"
        load = "" if step.load is None else f"{step.load[0]:.1f}"
        for row in step.rows(json.loads(path.read_text()), db):
            rows.append({**row, "load": load})
    heading = (
        f"Measured {started}, commit {commit}, on {os.cpu_count()} cores; `load` is the 1-minute "
        "load average as each step started (each step follows the last)."
    )
    text = heading + "\n\n" + table(rows) + "\n"
    print("\n" + text)
    (RESULTS / "all.md").write_text(text)
    (RESULTS / "all.json").write_text(
        json.dumps({"started": started, "commit": commit, "rows": rows}, indent=2) + "\n"
    )
    return 1 if any(s.failed for s in chosen) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
