"""Benchmark: how soon a client's SMS reply reaches live subscribers in another API process.

    .venv/bin/python -m bench.reply_push [--quick] [--subscribers 100] [--replies 200]
                                         [--gap-ms 20 50] [--database-url postgresql://...]

Two uvicorn processes of `api.app:create_app` (ENVIRONMENT=production, Twilio settings so that
webhooks are verified) share one database and a Redis of their own. Process A holds
`--subscribers` websockets, each with `subscription { smsReplyReceived { id body } }`, spread
over as many users as the per-user limit asks for. Process B is sent `--replies` signed inbound
webhooks one at a time, `--gap-ms` apart, each Body with its sequence number. A reply's latency
for one subscriber runs from just before its POST to B to the moment that subscriber's
websocket hands the push over; a push that has not come once none has for QUIET_SECONDS is
missed. Exits 1 when any subscriber misses a reply or gets one twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets

from api.embedded_redis import EmbeddedRedis
from api.webhooks import signature
from bench import load
from bench.load import percentile, servers, table, write_results
from bench.setup import add_company, add_users, database
from models.db import create_engine, session_factory
from schema.subscription_seats import MAX_PER_USER

INBOUND = "/webhooks/twilio/inbound"
# PUBLIC_BASE_URL: what Twilio would be given, and so what each webhook is signed for.
PUBLIC = "https://sms.bench.example"
ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 32, "bench-auth-token"
FROM_NUMBER, SENDER = "+6498880000", "+64211234567"
TWILIO_ENV = {
    "SMS_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_FROM_NUMBER": FROM_NUMBER,
    "PUBLIC_BASE_URL": PUBLIC,
}
RECEIVED = "subscription { smsReplyReceived { id body } }"
WARM_UP, MEASURED = "warm-up", "bench reply"
GAP_MS = [20.0, 50.0]
# A push not come when none has come for this long (after the last POST) counts as missed.
QUIET_SECONDS = 5.0
# The table's columns: heading and figure.
COLUMNS = {
    "subs": "subscribers",
    "replies": "replies",
    "p50 ms": "p50_ms",
    "p99 ms": "p99_ms",
    "max ms": "max_ms",
    "<= 1 s %": "within_1s_percent",
    "missed": "missed",
    "dups": "duplicates",
    "behind ms": "last_push_after_last_post_ms",
    "POST p50 ms": "post_p50_ms",
    "POST p99 ms": "post_p99_ms",
    "A CPU ms/push": "a_cpu_ms_per_push",
    "B CPU ms/reply": "b_cpu_ms_per_reply",
}


@dataclass
class Subscriber:
    """One websocket with one subscription: when each measured reply reached it."""

    heard: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    warm: asyncio.Event = field(default_factory=asyncio.Event)


async def make_tokens(url: str, users: int) -> list[str]:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        return [u.token for u in await add_users(sessions, await add_company(sessions), users)]
    finally:
        await engine.dispose()


async def listen(url: str, token: str, subscriber: Subscriber, started: asyncio.Event) -> None:
    """Subscribe over graphql-transport-ws and note the time of every push until cancelled."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        if (ack := json.loads(await ws.recv()))["type"] != "connection_ack":
            raise RuntimeError(f"not acknowledged: {ack}")
        payload = {"query": RECEIVED, "variables": {}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        started.set()
        async for raw in ws:
            at = time.perf_counter()
            message = json.loads(raw)
            data = message.get("payload", {}).get("data") if message["type"] == "next" else None
            if not data:
                raise RuntimeError(f"subscription failed: {str(message)[:300]}")
            body: str = data["smsReplyReceived"]["body"]
            if body.startswith(WARM_UP):
                subscriber.warm.set()
                continue
            sequence = int(body.removeprefix(MEASURED))
            subscriber.duplicates += sequence in subscriber.heard
            subscriber.heard[sequence] = at


async def post_reply(http: httpx.AsyncClient, body: str, sid: str) -> float:
    """Send Twilio's inbound webhook for `body`; how long the POST took."""
    form = {
        "From": SENDER,
        "To": FROM_NUMBER,
        "Body": body,
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "NumSegments": "1",
    }
    headers = {
        "X-Twilio-Signature": signature(AUTH_TOKEN, PUBLIC + INBOUND, list(form.items())),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    began = time.perf_counter()
    response = await http.post(INBOUND, content=urlencode(form), headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")
    return time.perf_counter() - began


async def run(running: dict[str, load.Running], tokens: list[str], args: Any) -> dict[str, Any]:
    a, b = running["subscribers"], running["webhooks"]
    ws_url = a.base.replace("http", "ws", 1) + "/graphql"
    subscribers = [Subscriber() for _ in range(args.subscribers)]
    async with httpx.AsyncClient(base_url=b.base, timeout=30) as http:
        listeners = []
        for n, subscriber in enumerate(subscribers):
            started = asyncio.Event()
            token = tokens[n // MAX_PER_USER]
            listeners.append(asyncio.create_task(listen(ws_url, token, subscriber, started)))
            await first(started.wait(), *listeners)
        try:
            # Nothing tells a client its subscription listens: send warm-up replies until each
            # has had one.
            for attempt in range(20):
                await post_reply(http, f"{WARM_UP} {attempt}", f"SMW{attempt:031d}")
                everyone = asyncio.gather(*(s.warm.wait() for s in subscribers))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first(everyone, *listeners), 1.0)
                if all(s.warm.is_set() for s in subscribers):
                    break
            else:
                raise RuntimeError("some subscriptions never received a warm-up reply")
            cpu = {p.pid: load.cpu_seconds(p.pid) for p in (a, b)}
            gaps = random.Random(1)
            sent_at, posts = [], []
            for sequence in range(args.replies):
                await first(asyncio.sleep(gaps.uniform(*args.gap_ms) / 1000), *listeners)
                sent_at.append(time.perf_counter())
                posts.append(await post_reply(http, f"{MEASURED} {sequence}", f"SM{sequence:032d}"))
            last_post = time.perf_counter()
            # Late is not missed: wait while pushes still come.
            pushes, quiet_since = 0, last_post
            while (
                time.perf_counter() - quiet_since < QUIET_SECONDS
                and pushes < len(subscribers) * args.replies
            ):
                await first(asyncio.sleep(0.05), *listeners)
                if (now := sum(len(s.heard) for s in subscribers)) > pushes:
                    pushes, quiet_since = now, time.perf_counter()
            cpu = {pid: load.cpu_seconds(pid) - used for pid, used in cpu.items()}
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    latencies = [at - sent_at[n] for s in subscribers for n, at in s.heard.items()]
    expected = args.replies * args.subscribers
    last_push = max((at for s in subscribers for at in s.heard.values()), default=last_post)
    return {
        "subscribers": args.subscribers,
        "users": len(tokens),
        "replies": args.replies,
        "p50_ms": ms(percentile(latencies, 0.50)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(max(latencies, default=None)),
        # Over every (reply, subscriber) pair: a missed push counts as late.
        "within_1s_percent": round(100 * sum(x <= 1.0 for x in latencies) / expected, 2),
        "post_p50_ms": ms(percentile(posts, 0.50)),
        "post_p99_ms": ms(percentile(posts, 0.99)),
        "missed": expected - len(latencies),
        "duplicates": sum(s.duplicates for s in subscribers),
        # Behind by this much when the sending stopped: a backlog, if well above p50.
        "last_push_after_last_post_ms": ms(max(0.0, last_push - last_post)),
        "a_cpu_ms_per_push": round(1000 * cpu[a.pid] / max(1, len(latencies)), 2),
        "b_cpu_ms_per_reply": round(1000 * cpu[b.pid] / args.replies, 2),
        "gap_ms": args.gap_ms,
    }


async def first(awaitable: Any, *listeners: asyncio.Task) -> Any:
    """Await `awaitable`, but raise at once if a subscriber's listener fails meanwhile."""
    waiting = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait([waiting, *listeners], return_when=asyncio.FIRST_COMPLETED)
        for task in listeners:
            if task.done():
                task.result()  # raises its error
                raise RuntimeError("a subscriber's websocket was closed")
        return await waiting
    finally:
        if not waiting.done():
            waiting.cancel()
            # A cancelled gather ends with CancelledError as its exception: taken, not logged.
            waiting.add_done_callback(lambda done: done.cancelled() or done.exception())


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument(
        "--gap-ms",
        type=float,
        nargs=2,
        default=GAP_MS,
        metavar=("MIN", "MAX"),
        help="pause between replies, drawn from MIN..MAX ms (20 50)",
    )
    parser.add_argument("--quick", action="store_true", help="10 subscribers, 20 replies")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.subscribers, args.replies = 10, 20
    name = "reply_push" + ("-postgresql" if args.database_url else "")
    name += "-quick" if args.quick else ""
    name += "" if args.gap_ms == GAP_MS else "-gap{:g}-{:g}".format(*args.gap_ms)
    users = math.ceil(args.subscribers / MAX_PER_USER)
    load_before = os.getloadavg()
    with EmbeddedRedis() as redis, database(args.database_url, "bench_reply_push") as url:
        tokens = asyncio.run(make_tokens(url, users))
        # Its own Redis rather than the shared one bench.load names.
        load.SERVER_ENV.update({"REDIS_URL": redis.url, **TWILIO_ENV})
        apps = {"subscribers": "api.app:create_app", "webhooks": "api.app:create_app"}
        with servers(apps, url, log_prefix="reply_push") as running:
            figures = asyncio.run(run(running, tokens, args))
    figures["load_average_before"] = load_before
    row = ["postgresql" if args.database_url else "sqlite", *map(figures.get, COLUMNS.values())]
    print(table(["database", *COLUMNS], [row]))
    before, after = load_before, os.getloadavg()
    print(f"\nload average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}", end="")
    print(f", after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    print(f"written to {write_results(name, figures)}")
    return 1 if figures["missed"] or figures["duplicates"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
