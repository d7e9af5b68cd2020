"""Load generation over HTTP, the uvicorn servers under test, and the reports.

`python -m bench.load SPEC.json` is the load generator: its own process, so that it never takes
the server's core. The spec names the URL, the concurrency, how long to run and warm up, one
request per simulated client (headers and body; `__SEQ__` in a body becomes a number unique to
that request) and what a good answer looks like. It prints one JSON object: requests/s, p50,
p99, errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
REDIS_URL = "redis://127.0.0.1:6379/15"
SERVER_ENV = {
    "REDIS_URL": REDIS_URL,
    "ENVIRONMENT": "production",
    "SECRET_KEY": "bench-secret-key-that-is-long-enough-for-production",
    "EMBEDDED_WORKER": "false",
}


# ---------------------------------------------------------------- the load generator process


def check(status: int, content: bytes, spec: dict[str, Any]) -> str | None:
    """Why the answer is wrong, or None when it is what the spec expects."""
    if status != 200:
        return f"HTTP {status}: {content[:200]!r}"
    document = orjson.loads(content)
    if document.get("errors"):
        return f"errors: {str(document['errors'])[:200]}"
    for path, wanted in spec.get("expect", {}).items():
        if (found := dig(document, path)) != wanted:
            return f"{path} is {str(found)[:200]}, not {wanted!r}"
    for path, wanted in spec.get("expect_len", {}).items():
        found = dig(document, path)
        if not isinstance(found, list) or len(found) != wanted:
            return (
                f"{path} has {len(found) if isinstance(found, list) else found!r} items, "
                f"not {wanted}"
            )
    return None


def dig(document: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    concurrency, clients = spec["concurrency"], spec["clients"]
    started = time.perf_counter()
    measuring_from = started + spec.get("warmup", 1.0)
    until = measuring_from + spec["seconds"]
    latencies: list[float] = []
    errors = {"measured": 0, "all": 0, "samples": []}
    done = {"all": 0, "sent": 0}
    sequence = iter(range(10**12))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client(n: int, http: httpx.AsyncClient) -> None:
        request = clients[n % len(clients)]
        headers = {"content-type": "application/json", **request.get("headers", {})}
        while (began := time.perf_counter()) < until:
            body = request["body"].replace("__SEQ__", str(next(sequence)))
            done["sent"] += 1
            try:
                response = await http.post(spec["url"], content=body, headers=headers)
                problem = check(response.status_code, response.content, spec)
            except Exception as error:  # a refused or timed-out request is an error, not a crash
                problem = f"{type(error).__name__}: {error}"
            ended = time.perf_counter()
            done["all"] += 1
            # Throughput counts the answers that arrive inside the measured window.
            counted = measuring_from <= ended <= until
            if problem is not None:
                errors["all"] += 1
                errors["measured"] += counted
                if len(errors["samples"]) < 5:
                    errors["samples"].append(problem)
            elif counted:
                latencies.append(ended - began)

    async with httpx.AsyncClient(limits=limits, timeout=spec.get("timeout", 30.0)) as http:
        tasks = [asyncio.create_task(client(n, http)) for n in range(concurrency)]
        # Answers after the window are not counted: do not wait long for them.
        _, late = await asyncio.wait(tasks, timeout=until - time.perf_counter() + 1.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return {
        "concurrency": concurrency,
        "seconds": spec["seconds"],
        "requests": len(latencies),
        "requests_per_second": len(latencies) / spec["seconds"],
        "p50_ms": _ms(percentile(latencies, 0.50)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "mean_ms": _ms(sum(latencies) / len(latencies)) if latencies else None,
        "max_ms": _ms(max(latencies, default=None)),
        "errors": errors["measured"],
        "errors_including_warmup": errors["all"],
        "requests_including_warmup": done["all"],
        # Sent, answered or not: a request cut off at the end still runs to its end on the server.
        "requests_sent": done["sent"],
        "error_samples": errors["samples"],
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# ---------------------------------------------------------------- driving it from a benchmark


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs the load generator as a separate process and returns its figures."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(spec, file)
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "bench.load", file.name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=spec["seconds"] + spec.get("warmup", 1.0) + 120,
        )
    finally:
        os.unlink(file.name)
    if finished.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{finished.stderr}")
    return json.loads(finished.stdout)


@dataclass(frozen=True)
class Running:
    base: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and the processes it started (`serve --workers`'
    API processes), all their threads (the SQLite driver's included)."""
    return sum(_own_cpu_seconds(p) for p in [pid, *_descendants(pid)])


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def measure(running: Running, spec: dict[str, Any]) -> dict[str, Any]:
    """The load generator's figures, and the server's CPU time per request: a figure that
    other work on the machine disturbs far less than requests per second or latency."""
    before = cpu_seconds(running.pid)
    figures = run_load(spec)
    # Requests cut off at the end of the window still run to their end: wait for the server to
    # go idle, then share its CPU time out over every request sent.
    used, deadline = cpu_seconds(running.pid), time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(running.pid)
        if now - used < 0.02:
            break
        used = now
    sent = figures["requests_sent"]
    figures["server_cpu_ms_per_request"] = round(1000 * (used - before) / sent, 2) if sent else None
    return figures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def servers(
    apps: dict[str, str],
    database_url: str,
    *,
    profile_to: Path | None = None,
    log_prefix: str = "server",
    serve_workers: int | None = None,
) -> Iterator[dict[str, Running]]:
    """Each app (name: module:factory) under a uvicorn process of its own, started together;
    yields each one's base URL by name. The logs go to bench/results/PREFIX-NAME.log.

    With `profile_to`, the (single) app runs under pyinstrument and saves its session there when
    stopped (SIGINT, so uvicorn shuts down cleanly and the profiler writes its file). With
    `serve_workers`, the (single) app is the service as deployed: `timetrak-sms serve --workers
    N`, its N API processes behind one port.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **SERVER_ENV, "DATABASE_URL": database_url}
    started: dict[str, tuple[subprocess.Popen, str, Path]] = {}
    try:
        for name, app in apps.items():
            port = free_port()
            command = [str(UVICORN), "--factory", app]
            if profile_to is not None:
                command = [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "--renderer",
                    "session",
                    "--outfile",
                    str(profile_to),
                    "--interval",
                    "0.0005",
                    "-m",
                    "uvicorn",
                    "--factory",
                    app,
                ]
            command += [
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                # Longer than any wait here: a connection the server drops as idle just
                # as the client reuses it would count as an error.
                "--timeout-keep-alive",
                "120",
            ]
            if serve_workers is not None:
                command = [
                    sys.executable,
                    "-m",
                    "api.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(serve_workers),
                    "--no-seed",
                ]
            log_path = RESULTS / f"{log_prefix}-{name}.log"
            with open(log_path, "w") as log:
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            started[name] = (process, f"http://127.0.0.1:{port}", log_path)
        for process, base, log_path in started.values():
            _wait_until_up(process, base, log_path)
        yield {name: Running(base, process.pid) for name, (process, base, _) in started.items()}
    finally:
        for process, _, _ in started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, _, _ in started.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen, base: str, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log_path.read_text()}")


# ---------------------------------------------------------------- reports


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**_about(), **figures}, indent=2, default=str) + "\n")
    return path


def _about() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit or None,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        # Other work on the machine skews every figure: keep a note of how busy it was.
        "load_average": os.getloadavg(),
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    try:
        import uvloop
    except ImportError:
        figures = asyncio.run(generate(spec))
    else:
        figures = uvloop.run(generate(spec))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
