"""Benchmark: one user's week in the `calendar` query, GraphQL against plain Starlette baselines.

    .venv/bin/python -m bench.calendar [--quick] [--seconds 10] [--database-url postgresql://...]

The baseline is the endpoint written by hand for the same JSON (bench.baseline's calendar_lean:
three statements, Core rows); the mirror is the same JSON from a DataLoader's plan without
GraphQL (bench.baseline's calendar: eight statements, each by a list of ids, ORM entities).
Each server is a uvicorn process of its own, loaded by bench/load.py from another process.
Before the load, the SQL statements of one query are counted in-process (httpx ASGITransport
and a before_cursor_execute listener) for 20, 200 and 2,000 appointments; the JSON answers of
all three must be equal, in-process and over HTTP. Then the GraphQL server runs once more under
pyinstrument and the top of its profile is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and __package__ in (None, ""):
    # Run as a file, bench/ would shadow the standard library's `calendar`: go by module.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    __package__ = "bench"

import argparse
import asyncio
import gc
import json
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from api.app import Services, create_app
from bench.baseline import calendar_app, calendar_lean_app
from bench.load import RESULTS, measure, servers, table, write_results
from bench.setup import ONE_WEEK, WEEK, SignedIn, add_company, add_users, add_week, database
from models.config import Settings
from models.db import create_engine, session_factory

QUERY = """
query Calendar($start: DateTime!, $end: DateTime!) {
  calendar(start: $start, end: $end) {
    id start end smsReminder smsCount
    job { id title latitude longitude client { id name smsNumber } }
    task { id name }
    contact { kind id name smsNumber optedOut canReceiveSms problem }
  }
}
"""
VARIABLES = {"start": WEEK.isoformat(), "end": (WEEK + ONE_WEEK).isoformat()}
BODY = json.dumps({"query": QUERY, "variables": VARIABLES})
SIZES = (20, 200, 2000)


def settings(url: str) -> Settings:
    return Settings(
        database_url=url,
        redis_url=None,
        environment="production",
        secret_key="bench-secret-key-that-is-long-enough-for-production",
        _env_file=None,
    )


async def build(url: str, sizes: tuple[int, ...]) -> dict[int, SignedIn]:
    """One user per size, each with that many appointments in the benchmark week."""
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        profile_id = await add_company(sessions)
        users = await add_users(sessions, profile_id, len(sizes), prefix="tech")
        for user, size in zip(users, sizes, strict=True):
            await add_week(sessions, user, size)
        return dict(zip(sizes, users, strict=True))
    finally:
        await engine.dispose()


@contextmanager
def collector_time():
    """CPU seconds spent in the garbage collector while inside, and collections per generation."""
    spent = {"seconds": 0.0, "began": 0.0, "collections": [0, 0, 0]}

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            spent["began"] = time.process_time()
        else:
            spent["seconds"] += time.process_time() - spent["began"]
            spent["collections"][info["generation"]] += 1

    gc.callbacks.append(note)
    try:
        yield spent
    finally:
        gc.callbacks.remove(note)


@contextmanager
def statements_of(engine):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def count_statements(
    url: str, users: dict[int, SignedIn], quick: bool = False
) -> dict[int, dict[str, Any]]:
    """Per size: statements per query for GraphQL, the baseline and the mirror, which must all
    answer with the same JSON."""
    engine = create_engine(url)
    try:
        services = Services(settings(url), engine, session_factory(engine), None)
        apps = {
            "graphql": (create_app(services=services), "/graphql"),
            "baseline": (calendar_lean_app(engine), "/calendar"),
            "mirror": (calendar_app(engine), "/calendar"),
        }
        counted: dict[int, dict[str, Any]] = {}
        for size, user in users.items():
            answers, statements, cpu = {}, {}, {}
            repeat = 2 if quick else 10 if size <= 200 else 3
            for name, (app, path) in apps.items():
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    headers = {
                        "authorization": f"Bearer {user.token}",
                        "content-type": "application/json",
                    }
                    await http.post(path, content=BODY, headers=headers)  # warm caches
                    with statements_of(engine) as seen:
                        response = await http.post(path, content=BODY, headers=headers)
                    # One request at a time in this process: CPU per request, and how much of
                    # it the garbage collector takes.
                    with collector_time() as collector:
                        began = time.process_time()
                        for _ in range(repeat):
                            await http.post(path, content=BODY, headers=headers)
                        cpu[name] = {
                            "cpu_ms_per_request": round(
                                1000 * (time.process_time() - began) / repeat, 2
                            ),
                            "gc_ms_per_request": round(1000 * collector["seconds"] / repeat, 2),
                            "collections_per_request": [
                                round(n / repeat, 2) for n in collector["collections"]
                            ],
                        }
                answers[name], statements[name] = response.json(), seen
            shown = answers["graphql"].get("data") or {}
            for other in ("baseline", "mirror"):
                if answers["graphql"] != answers[other] or len(shown["calendar"]) != size:
                    raise SystemExit(
                        f"{size} appointments: GraphQL and the {other} disagree:\n"
                        f"{str(answers['graphql'])[:500]}\n"
                        f"{str(answers[other])[:500]}"
                    )
            counted[size] = {
                "graphql": len(statements["graphql"]),
                "baseline": len(statements["baseline"]),
                "mirror": len(statements["mirror"]),
                "in_process": cpu,
                "statements": [" ".join(s.split())[:100] for s in statements["graphql"]],
            }
        return counted
    finally:
        await engine.dispose()


def load_spec(url: str, user: SignedIn, size: int, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "url": url,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "clients": [{"headers": {"authorization": f"Bearer {user.token}"}, "body": BODY}],
        "expect_len": {"data.calendar": size},
    }


def over_http(
    url: str, users: dict[int, SignedIn], size: int, args: argparse.Namespace
) -> dict[str, Any]:
    user = users[size]
    headers = {"authorization": f"Bearer {user.token}", "content-type": "application/json"}
    apps = {
        "graphql": args.graphql_app,
        "baseline": "bench.baseline:calendar_lean_app",
        "mirror": "bench.baseline:calendar_app",
    }
    paths = {"graphql": "/graphql", "baseline": "/calendar", "mirror": "/calendar"}
    runs, answers = {}, {}
    with servers(apps, url, log_prefix="calendar") as running:
        for name, server in running.items():
            answers[name] = httpx.post(
                f"{server.base}{paths[name]}", content=BODY, headers=headers, timeout=60
            ).json()
        if not answers["graphql"] == answers["baseline"] == answers["mirror"]:
            raise SystemExit("over HTTP, GraphQL and the baselines answered differently")
        for name, server in running.items():
            print(f"  {name}: {args.concurrency} clients for {args.seconds} s ...", flush=True)
            runs[name] = measure(server, load_spec(f"{server.base}{paths[name]}", user, size, args))
    return runs


def serve_workers(
    url: str, users: dict[int, SignedIn], size: int, args: argparse.Namespace, workers: int
) -> dict[str, Any]:
    """The same load on the service as deployed with `serve --workers N`."""
    with servers(
        {"graphql": "api.app:served"},
        url,
        log_prefix=f"calendar-serve-{workers}",
        serve_workers=workers,
    ) as running:
        server = running["graphql"]
        print(f"  serve --workers {workers}: {args.concurrency} clients ...", flush=True)
        return measure(server, load_spec(f"{server.base}/graphql", users[size], size, args))


def profile(
    url: str, users: dict[int, SignedIn], size: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The GraphQL server under pyinstrument for up to 10 s of the load; its tree, flat list and the
    share of time per library."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    saved = RESULTS / "calendar-profile.pyisession"
    seconds = min(args.seconds, 10)
    with servers(
        {"profiled": args.graphql_app}, url, profile_to=saved, log_prefix="calendar"
    ) as running:
        server = running["profiled"]
        spec = {**load_spec(f"{server.base}/graphql", users[size], size, args), "seconds": seconds}
        loaded = measure(server, spec)
    session = Session.load(str(saved))
    options = {"filter_threshold": 0.01}
    tree = ConsoleRenderer(
        show_all=False,
        unicode=False,
        color=False,
        time="percent_of_total",
        processor_options=options,
    ).render(session)
    flat = ConsoleRenderer(
        flat=True, unicode=False, color=False, time="percent_of_total", processor_options=options
    ).render(session)
    libraries, functions = self_times(session)
    (RESULTS / "calendar-profile.txt").write_text(
        tree
        + "\n\n"
        + flat
        + "\n\nSelf time by function, imports left out (%):\n"
        + "\n".join(f"{share:5.1f}  {name}" for name, share in functions[:60])
    )
    return {"load": loaded, "by_library": libraries, "by_function": functions}


def self_times(session) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Self time of the main thread while serving (imports left out), in % of the whole: by
    package, and by function."""
    libraries: dict[str, float] = defaultdict(float)
    functions: dict[str, float] = defaultdict(float)

    def walk(frame, parent: str, caller: str) -> None:
        if frame.function in ("_find_and_load", "import_module"):
            return
        own = max(frame.time - sum(child.time for child in frame.children), 0.0)
        here = library(frame, parent)
        name = (
            caller
            if frame.is_synthetic
            else (f"{frame.function}  {frame.file_path_short}:{frame.line_no}")
        )
        libraries[here] += own
        functions[name] += own
        for child in frame.children:
            walk(child, here, name)

    walk(session.root_frame(), "(root)", "(root)")
    whole = sum(libraries.values()) or 1.0

    def ranked(totals: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(
            ((k, round(100 * t / whole, 1)) for k, t in totals.items()), key=lambda item: -item[1]
        )

    return ranked(libraries), ranked(functions)


def library(frame, parent: str) -> str:
    """The package a frame's code belongs to; pyinstrument's [self] leaves go to their parent."""
    if frame.function in ("poll", "select", "epoll.poll") or frame.identifier.startswith("[idle]"):
        return "(idle: waiting for the network or the database thread)"
    if frame.is_synthetic or frame.file_path in (None, "", "<built-in>"):
        return parent
    path = (frame.file_path or "").replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    for room in ("api", "schema", "models", "jobs", "bench"):
        if f"/{room}/" in path:
            return f"app: {room}/"
    if "/lib/python" in path:
        rest = path.split("/lib/python")[1].split("/", 1)[1]
        return "stdlib: " + rest.split("/")[0].removesuffix(".py")
    return path or frame.function


def ratios(graphql: dict[str, Any], baseline: dict[str, Any]) -> tuple[float, float]:
    """GraphQL against a baseline: by requests per second, and by server CPU per request."""
    by_rate = graphql["requests_per_second"] / max(baseline["requests_per_second"], 1e-9)
    by_cpu = (
        baseline["server_cpu_ms_per_request"] / graphql["server_cpu_ms_per_request"]
        if graphql["server_cpu_ms_per_request"] and baseline["server_cpu_ms_per_request"]
        else 0.0
    )
    return by_rate, by_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calendar",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="A smoke run, well under 30 s.")
    parser.add_argument("--seconds", type=float, help="Measured seconds per server (10; quick 2).")
    parser.add_argument("--warmup", type=float, help="Unmeasured seconds first (2; quick 0.5).")
    parser.add_argument("--concurrency", type=int, help="Concurrent clients (32; quick 8).")
    parser.add_argument("--appointments", type=int, default=200, choices=SIZES)
    parser.add_argument("--database-url", help="A postgresql:// server; default a temp SQLite.")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--serve-workers",
        type=int,
        nargs="*",
        default=[],
        help="Also measure `timetrak-sms serve --workers N` for each N given (e.g. 1 2).",
    )
    parser.add_argument(
        "--graphql-app",
        default="api.app:create_app",
        help="The GraphQL app factory to serve (module:function), for trying "
        "a variant; importable from the project root or PYTHONPATH.",
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (2 if args.quick else 10)
    args.concurrency = args.concurrency or (8 if args.quick else 32)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2)
    variant = (
        ""
        if args.graphql_app == "api.app:create_app"
        else "-" + "".join(c if c.isalnum() else "_" for c in args.graphql_app)
    )
    name = (
        "calendar"
        + variant
        + ("-postgresql" if args.database_url else "")
        + ("-quick" if args.quick else "")
    )

    with database(args.database_url, "bench_calendar") as url:
        kind = url.split(":", 1)[0]
        print(f"Building {', '.join(map(str, SIZES))} appointments on {kind} ...", flush=True)
        users = asyncio.run(build(url, SIZES))
        print("Counting statements in-process ...", flush=True)
        counted = asyncio.run(count_statements(url, users, args.quick))
        print(f"Over HTTP, {args.appointments} appointments:", flush=True)
        runs = over_http(url, users, args.appointments, args)
        profiled = (
            None if args.no_profile or args.quick else profile(url, users, args.appointments, args)
        )
        served = {
            n: serve_workers(url, users, args.appointments, args, n) for n in args.serve_workers
        }

    graphql, baseline, mirror = runs["graphql"], runs["baseline"], runs["mirror"]
    ratio, cpu_ratio = ratios(graphql, baseline)
    mirror_ratio, mirror_cpu_ratio = ratios(graphql, mirror)
    print()
    print(
        f"calendar: {args.appointments} appointments, {args.concurrency} clients, "
        f"{args.seconds} s each, {kind}"
    )
    print(
        table(
            ["server", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "requests", "errors"],
            [
                [
                    n,
                    r["requests_per_second"],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["server_cpu_ms_per_request"],
                    r["requests"],
                    r["errors"],
                ]
                for n, r in runs.items()
            ],
        )
    )
    print(
        f"ratio GraphQL/baseline: {ratio:.3f} by req/s, {cpu_ratio:.3f} by server CPU per "
        f"request  (target >= 0.5); GraphQL/mirror: {mirror_ratio:.3f} and {mirror_cpu_ratio:.3f}"
    )
    print()
    print(
        table(
            ["appointments", "GraphQL statements", "baseline statements", "mirror statements"],
            [[size, c["graphql"], c["baseline"], c["mirror"]] for size, c in counted.items()],
        )
    )
    print()
    print(
        "In-process, one request at a time (ASGITransport): CPU and garbage collector per request"
    )
    print(
        table(
            ["appointments", "app", "CPU ms/req", "GC ms/req", "collections gen0/1/2"],
            [
                [
                    size,
                    app,
                    f["cpu_ms_per_request"],
                    f["gc_ms_per_request"],
                    "/".join(map(str, f["collections_per_request"])),
                ]
                for size, c in counted.items()
                for app, f in c["in_process"].items()
            ],
        )
    )
    if served:
        print()
        print("`timetrak-sms serve --workers N`, the same load:")
        print(
            table(
                ["API processes", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "errors"],
                [
                    [
                        n,
                        r["requests_per_second"],
                        r["p50_ms"],
                        r["p99_ms"],
                        r["server_cpu_ms_per_request"],
                        r["errors"],
                    ]
                    for n, r in served.items()
                ],
            )
        )
    constant = len({c["graphql"] for c in counted.values()}) == 1
    print(f"statements per query constant: {'yes' if constant else 'NO'}; the statements:")
    for statement in counted[args.appointments]["statements"]:
        print(f"  {statement}")
    if profiled:
        print()
        print(
            f"Profile of the GraphQL server ({profiled['load']['requests_per_second']:.1f} "
            f"req/s under pyinstrument), share of main-thread samples by library:"
        )
        print(table(["library", "%"], [list(item) for item in profiled["by_library"][:12]]))
        print("The same by function (self time):")
        print(table(["function", "%"], [list(item) for item in profiled["by_function"][:20]]))
        print(f"(tree and flat list: {RESULTS / 'calendar-profile.txt'})")
    path = write_results(
        name,
        {
            "benchmark": "calendar",
            "database": kind,
            "appointments": args.appointments,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "graphql_app": args.graphql_app,
            "graphql": graphql,
            "baseline": baseline,
            "mirror": mirror,
            "ratio": round(ratio, 4),
            "ratio_to_mirror": round(mirror_ratio, 4),
            "ratio_to_mirror_by_server_cpu": round(mirror_cpu_ratio, 4),
            "serve_workers": {str(n): r for n, r in served.items()},
            "ratio_by_server_cpu": round(cpu_ratio, 4),
            "statements_per_query": {
                str(size): {k: c[k] for k in ("graphql", "baseline", "mirror")}
                for size, c in counted.items()
            },
            "in_process": {str(size): c["in_process"] for size, c in counted.items()},
            "statements_constant": constant,
            "profile_by_library": profiled and profiled["by_library"],
            "profile_by_function": profiled and profiled["by_function"][:40],
        },
    )
    print(f"\nwritten to {path}")
    errors = graphql["errors"] + baseline["errors"] + mirror["errors"]
    return 1 if errors or not constant else 0


if __name__ == "__main__":
    sys.exit(main())
