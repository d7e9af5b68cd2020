"""Restart a real PostgreSQL under the app, again and again: no 500s, and how soon it answers.

Starts its own cluster (tests/postgres_cluster.py, fsync on) and Redis, seeds the demo company
and runs the app in-process (httpx ASGITransport) with clients that read (`me`), send
(`sendSms`) and post Twilio status callbacks without pause, while the cluster is restarted
(`pg_ctl restart -m fast`, `-m immediate`) and stopped for a while, then started. Per event:
requests answered, answered "unavailable" (503 or SERVICE_UNAVAILABLE) and anything else (a 500
would be one); how long pg_ctl took; how long after it returned the first request succeeded.

    .venv/bin/python -m bench.pg_restart [--quick] [--rounds 3] [--down 2] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from arq import create_pool
from arq.connections import RedisSettings
from sqlmodel import select

import migrations
from api.app import Services, create_app
from api.embedded_redis import EmbeddedRedis
from bench.figures import save
from models import Appointment, SmsMessage
from models.config import Settings
from models.db import create_engine, session_factory
from models.demo import seed_demo
from models.enums import SmsSource, SmsStatus
from tests.conftest import LOGIN
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, signed_form
from tests.postgres_cluster import PostgresCluster, server_binaries

PUBLIC = "https://sms.example.com"
ME = "{ me { email } }"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id } errors { code } }
}
"""
BACK_WITHIN_SECONDS = 60


@dataclass
class Tally:
    """Every answer the clients got, with when."""

    seen: list[tuple[float, str]] = field(default_factory=list)
    surprises: list[str] = field(default_factory=list)

    def add(self, response: httpx.Response) -> None:
        kind = classify(response)
        self.seen.append((time.monotonic(), kind))
        if kind not in ("answered", "unavailable"):
            self.surprises.append(f"{response.status_code} {response.text[:300]}")

    def first_answer_after(self, moment: float) -> float | None:
        return next((t for t, kind in self.seen if t > moment and kind == "answered"), None)

    def between(self, start: float, end: float) -> list[tuple[float, str]]:
        return [(t, kind) for t, kind in self.seen if start <= t <= end]


def classify(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 204 or (
        response.status_code == 200 and isinstance(body, dict) and "errors" not in body
    ):
        return "answered"
    errors = body.get("errors") if isinstance(body, dict) else None
    if response.status_code == 503 or (
        response.status_code == 200
        and errors
        and all(e.get("extensions", {}).get("code") == "SERVICE_UNAVAILABLE" for e in errors)
    ):
        return "unavailable"
    return f"http {response.status_code}"


async def client(
    request: Callable[[], Awaitable[httpx.Response]], tally: Tally, done: asyncio.Event
) -> None:
    while not done.is_set():
        tally.add(await request())
        await asyncio.sleep(0.005)


async def prepare(url: str) -> tuple[int, int]:
    """The demo company; an appointment to text about and a SENT message for callbacks."""
    await asyncio.to_thread(migrations.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    await seed_demo(sessions)
    async with sessions.begin() as session:
        appointment = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
        message = SmsMessage(
            to_number="+64215550111",
            body="Hello",
            source=SmsSource.APP,
            status=SmsStatus.SENT,
            provider_message_id="SM" + "a" * 32,
        )
        session.add(message)
    await engine.dispose()
    return appointment, message.id


async def event(name: str, cluster: PostgresCluster, tally: Tally, down: float) -> dict:
    began = time.monotonic()
    if name == "stop, start":
        await asyncio.to_thread(cluster.stop, "fast")
        await asyncio.sleep(down)
        starting = time.monotonic()
        await asyncio.to_thread(cluster.start)
    else:
        starting = began
        await asyncio.to_thread(cluster.restart, name.split()[-1])
    returned = time.monotonic()
    while (back := tally.first_answer_after(returned)) is None:
        if time.monotonic() - returned > BACK_WITHIN_SECONDS:
            raise RuntimeError(f"no answer {BACK_WITHIN_SECONDS} s after {name}")
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    window = tally.between(began, back)
    first_refusal = next((t for t, kind in window if kind != "answered"), None)
    kinds = [kind for _, kind in window]
    return {
        "event": name,
        "pg_ctl_s": returned - starting,
        "first_answer_after_pg_ctl_s": back - returned,
        "clients_saw_it_down_s": back - first_refusal if first_refusal else 0.0,
        "answered": kinds.count("answered"),
        "unavailable": kinds.count("unavailable"),
        "http_5xx_other": sum(k.startswith("http 5") for k in kinds),
        "other": sum(k not in ("answered", "unavailable") for k in kinds),
    }


async def run(args: argparse.Namespace) -> list[dict]:
    with PostgresCluster(fsync=True) as cluster, EmbeddedRedis() as redis:
        appointments, message_id = await prepare(cluster.url)
        settings = Settings(
            database_url=cluster.url,
            redis_url=redis.url,
            environment="test",
            sms_provider="twilio",
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_from_number=FROM_NUMBER,
            public_base_url=PUBLIC,
            _env_file=None,
        )
        queue = await create_pool(RedisSettings.from_dsn(redis.url))
        engine = create_engine(cluster.url)
        app = create_app(services=Services(settings, engine, session_factory(engine), queue))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        tally, done = Tally(), asyncio.Event()
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"email": "admin@example.com", "password": "admin-demo-password"},
                },
            )
            auth = {"Authorization": f"Bearer {login.json()['data']['login']['token']}"}
            path = f"/webhooks/twilio/status?message_id={message_id}"
            callback = {
                "AccountSid": ACCOUNT_SID,
                "MessageSid": "SM" + "a" * 32,
                "MessageStatus": "sent",
            }
            send = {"input": {"appointmentId": str(appointments[-1]), "body": "On my way."}}
            requests = [
                lambda: http.post("/graphql", json={"query": ME}, headers=auth),
                lambda: http.post(
                    "/graphql", json={"query": SEND, "variables": send}, headers=auth
                ),
                lambda: http.post(
                    path, content=urlencode(callback), headers=signed_form(PUBLIC + path, callback)
                ),
            ]
            clients = [asyncio.create_task(client(r, tally, done)) for r in requests]
            rows = []
            try:
                await asyncio.sleep(1)
                for _ in range(args.rounds):
                    for name in ("restart -m fast", "restart -m immediate", "stop, start"):
                        rows.append(await event(name, cluster, tally, args.down))
            finally:
                done.set()
                await asyncio.gather(*clients)
        await queue.aclose()
        await engine.dispose()
    for surprise in tally.surprises[:10]:
        print("unexpected:", surprise, file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--down", type=float, default=2.0, help="seconds the cluster stays stopped in 'stop, start'"
    )
    parser.add_argument("--timeout", type=float, default=300, help="give up after this long")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    # One line per refused webhook otherwise; the table counts them.
    logging.getLogger("api.webhooks").setLevel(logging.ERROR)
    if server_binaries() is None:
        print("PostgreSQL's initdb is not installed", file=sys.stderr)
        return 2
    rows = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    save(
        "pg_restart" + ("-quick" if args.quick else ""),
        rows,
        rounds=args.rounds,
        down_seconds=args.down,
        clients=["me", "sendSms", "status callback"],
    )
    return 1 if any(row["other"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
