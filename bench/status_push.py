"""Benchmark: status pushes to a thousand live subscribers in two API processes while a
reminder run's messages are sent.

    .venv/bin/python -m bench.status_push [--quick] [--database-url postgresql://...]
                                          [--messages 20000] [--subscribers 1000]
                                          [--dashboards 2] [--failure-watchers 20]

A company with a reminder event due (bench.reminder_run's data, one message per job) runs the
event: `--messages` messages. Two uvicorn processes of `api.app:create_app` share the database
and a Redis of their own, and hold `--subscribers` websockets between them, alternately:

- `--dashboards` follow every change (`smsStatusChanged`, Global Administrators: an office's
  screen of everything being sent);
- `--failure-watchers` follow the failures (`smsFailures`, users with Show SMS Errors);
- the rest follow one appointment of the run each (`smsStatusChanged(appointmentId:)`, the
  technicians and office staff with an appointment open).

Then the run is handed over (its own failures announced, its sends enqueued) to two arq send
workers and a fake Twilio that answers at once and refuses one number in a hundred, as the
deployed worker would send them. The benchmark listens on Redis as the API processes do, in a
thread of its own, and notes when each status event was published; a push's latency runs from
there to the moment the subscriber's websocket hands it over (a busy benchmark notes that late:
the figures err long). Each event's facts say which subscribers it is for: a push an event's
subscriber never gets is missed, one a subscriber gets that is not for it is stray.
Exits 1 on any missed, stray or duplicate push.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import websockets
from arq import create_pool
from arq.connections import RedisSettings
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from sqlalchemy import func
from sqlmodel import col, select

from api.embedded_redis import EmbeddedRedis
from bench import load
from bench.load import percentile, servers, table, write_results
from bench.pipeline import FakeProvider, SendWorkers, provider_settings
from bench.reminder_run import load as build_company
from bench.reminder_run import run_now, timed_run
from bench.reply_push import first, ms
from bench.setup import add_users, database
from models import Profile, SmsMessage, SmsMessageAppointment
from models.channels import SMS_STATUS_CHANNEL
from models.db import create_engine, session_factory
from models.enums import SmsStatus
from models.reminders import RunResult, hand_over
from models.status_feed import StatusEvent, announce, decode_event, message_facts
from schema.subscription_seats import MAX_PER_USER

QUEUE = "bench:status-push"
FOLLOW = "subscription F($a: ID) { smsStatusChanged(appointmentId: $a) { id status } }"
EVERYTHING = "subscription { smsStatusChanged { id status toNumber } }"
FAILURES = "subscription { smsFailures { id status errorCode } }"
# One To number in this many refused by the fake Twilio: failures while the run is sent.
REFUSED_ONE_IN = 100
# Pushes still coming: the run is over once none has come for this long.
QUIET_SECONDS = 5.0
SETTLED = (SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.FAILED)
COLUMNS = {
    "subs": "subscribers",
    "messages": "messages",
    "events": "events",
    "pushes": "pushes_expected",
    "p50 ms": "p50_ms",
    "p99 ms": "p99_ms",
    "max ms": "max_ms",
    "<= 1 s %": "within_1s_percent",
    "missed": "missed",
    "stray": "stray",
    "dups": "duplicates",
    "sent/s": "messages_per_s",
    "API CPU ms/push": "api_cpu_ms_per_push",
}


@dataclass
class Subscriber:
    """One websocket with one subscription, and what reached it, by (message id, status)."""

    kind: str  # "dashboard", "failures" or "follower"
    token: str
    appointment_id: int | None = None
    heard: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    listening: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def subscription(self) -> dict[str, Any]:
        query = {"dashboard": EVERYTHING, "failures": FAILURES, "follower": FOLLOW}[self.kind]
        variables = {"a": str(self.appointment_id)} if self.kind == "follower" else {}
        return {"query": query, "variables": variables}

    def wants(self, event: StatusEvent) -> bool:
        """Whether the event is for this subscriber, from its facts (the contract's rules for
        these three subscriptions, written out again here rather than imported)."""
        if self.kind == "dashboard":
            return True
        if self.kind == "failures":
            return event.status is SmsStatus.FAILED
        return self.appointment_id in event.facts.appointment_ids


@dataclass
class Published:
    """Each status event as Redis delivered it to the benchmark, with when."""

    events: list[tuple[float, StatusEvent]] = field(default_factory=list)


class Recorder(threading.Thread):
    """Notes each status event as Redis delivers it, in a thread of its own: the benchmark's
    event loop, busy with a thousand websockets, would note them late."""

    def __init__(self, redis_url: str, published: Published):
        super().__init__(daemon=True)
        self.pubsub = SyncRedis.from_url(redis_url).pubsub()
        self.pubsub.subscribe(SMS_STATUS_CHANNEL)
        self.published = published
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            item = self.pubsub.get_message(timeout=0.1)
            if item and item["type"] == "message" and (event := decode_event(item["data"])):
                self.published.events.append((time.perf_counter(), event))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        self.pubsub.close()


async def listen(url: str, subscriber: Subscriber) -> None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:
        init = {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {subscriber.token}"},
        }
        await ws.send(json.dumps(init))
        if (ack := json.loads(await ws.recv()))["type"] != "connection_ack":
            raise RuntimeError(f"not acknowledged: {ack}")
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": subscriber.subscription})
        )
        async for raw in ws:
            at = time.perf_counter()
            message = json.loads(raw)
            data = message.get("payload", {}).get("data") if message["type"] == "next" else None
            if not data:
                raise RuntimeError(f"subscription failed: {str(message)[:300]}")
            (pushed,) = data.values()
            subscriber.heard.setdefault((int(pushed["id"]), pushed["status"]), []).append(at)
            subscriber.listening.set()


async def make_company(
    url: str, args: Any
) -> tuple[RunResult, dict[int, int], dict[str, list[str]]]:
    """The run (made, not yet handed over), each followed appointment's message, and tokens."""
    jobs = args.messages
    now = run_now()
    await build_company(url, math.ceil(jobs * 2.5), jobs, now)
    _, result, _ = await timed_run(url, now, False)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            links = (
                await session.exec(
                    select(SmsMessageAppointment.appointment_id, SmsMessageAppointment.message_id)
                    .where(col(SmsMessageAppointment.message_id).in_(result.queued))
                    .order_by(
                        SmsMessageAppointment.message_id, SmsMessageAppointment.appointment_id
                    )
                )
            ).all()
        # One appointment per message (its first), messages spread evenly over the run.
        first_of: dict[int, int] = {}
        for appointment_id, message_id in links:
            first_of.setdefault(message_id, appointment_id)
        followers = args.subscribers - args.dashboards - args.failure_watchers
        step = max(1, len(first_of) // max(1, followers))
        followed = {
            appointment_id: message_id
            for message_id, appointment_id in list(first_of.items())[::step][:followers]
        }
        tokens: dict[str, list[str]] = {}
        async with sessions.begin() as session:
            profiles = {
                "dashboard": Profile(name="Administrators", global_administrator=True),
                "failures": Profile(name="Office", send_sms_to_client=True, show_sms_errors=True),
                "follower": Profile(name="Technicians", send_sms_to_client=True),
            }
            session.add_all(profiles.values())
        counts = {
            "dashboard": args.dashboards,
            "failures": args.failure_watchers,
            "follower": len(followed),
        }
        for kind, profile in profiles.items():
            users = await add_users(
                sessions, profile.id, math.ceil(counts[kind] / MAX_PER_USER), prefix=kind
            )
            tokens[kind] = [users[n // MAX_PER_USER].token for n in range(counts[kind])]
        return result, followed, tokens
    finally:
        await engine.dispose()


async def warm_up(
    redis_url: str,
    url: str,
    subscribers: list[Subscriber],
    followed: dict[int, int],
    result: RunResult,
    listeners: list[asyncio.Task],
) -> None:
    """Nothing tells a client its subscription listens: announce each followed message as it
    is (QUEUED) and one of the run's failures, again until every subscriber has had a push."""
    engine = create_engine(url)
    redis = Redis.from_url(redis_url)
    try:
        async with session_factory(engine)() as session:
            facts = await message_facts(session, [*followed.values(), *result.failed[:1]])
        for _ in range(30):
            for message_id in followed.values():
                await announce(redis, message_id, SmsStatus.QUEUED, facts[message_id])
            for failed in result.failed[:1]:
                await announce(redis, failed, SmsStatus.FAILED, facts[failed])
            everyone = asyncio.gather(*(s.listening.wait() for s in subscribers))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first(everyone, *listeners), 1.0)
            if all(s.listening.is_set() for s in subscribers):
                break
        else:
            raise RuntimeError("some subscriptions never received a warm-up push")
        # Until the last warm-up push has come.
        pushes, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - quiet_since < 1.0:
            await first(asyncio.sleep(0.1), *listeners)
            if (now := sum(map(len, (s.heard for s in subscribers)))) != pushes:
                pushes, quiet_since = now, time.perf_counter()
    finally:
        await redis.aclose()
        await engine.dispose()


async def send_the_run(url: str, redis_url: str, result: RunResult, args: Any) -> float:
    """Hand the run over to the send workers and wait until every message is settled; the
    messages per second, from the hand-over."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    queue = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    try:
        with FakeProvider(0.0, REFUSED_ONE_IN) as fake:
            settings = provider_settings(url, redis_url, fake.base_url)
            with SendWorkers(settings, QUEUE, args.workers):
                began = time.perf_counter()
                await hand_over(queue, result)
                while True:
                    async with sessions() as session:
                        unsettled = (
                            await session.exec(
                                select(func.count()).where(col(SmsMessage.status).not_in(SETTLED))
                            )
                        ).one()
                    if not unsettled:
                        break
                    await asyncio.sleep(0.2)
                return len(result.queued) / (time.perf_counter() - began)
    finally:
        await queue.aclose()
        await engine.dispose()


async def run(
    running: dict[str, load.Running], url: str, redis_url: str, made: tuple, args: Any
) -> dict[str, Any]:
    result, followed, tokens = made
    subscribers = [Subscriber("dashboard", token) for token in tokens["dashboard"]]
    subscribers += [Subscriber("failures", token) for token in tokens["failures"]]
    subscribers += [
        Subscriber("follower", token, appointment)
        for token, appointment in zip(tokens["follower"], followed, strict=True)
    ]
    # Alternately in one process and the other, whatever their kind.
    urls = [r.base.replace("http", "ws", 1) + "/graphql" for r in running.values()]
    listeners = []
    for n, subscriber in enumerate(subscribers):
        listeners.append(asyncio.create_task(listen(urls[n % len(urls)], subscriber)))
        if n % 50 == 49:
            await asyncio.sleep(0.05)
    published = Published()
    recorder = Recorder(redis_url, published)
    recorder.start()
    try:
        await warm_up(redis_url, url, subscribers, followed, result, listeners)
        for subscriber in subscribers:
            subscriber.heard.clear()
        published.events.clear()
        cpu = {r.pid: load.cpu_seconds(r.pid) for r in running.values()}
        rate = await first(send_the_run(url, redis_url, result, args), *listeners)
        # Late is not missed: wait while pushes still come.
        pushes, quiet_since = -1, time.perf_counter()
        while time.perf_counter() - quiet_since < QUIET_SECONDS:
            await first(asyncio.sleep(0.1), *listeners)
            if (now := sum(map(len, (s.heard for s in subscribers)))) != pushes:
                pushes, quiet_since = now, time.perf_counter()
        cpu = {pid: load.cpu_seconds(pid) - used for pid, used in cpu.items()}
    finally:
        recorder.stop()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return figures(subscribers, published, rate, sum(cpu.values()), args)


def figures(
    subscribers: list[Subscriber], published: Published, rate: float, cpu: float, args: Any
) -> dict[str, Any]:
    # When each (message, status) was published: a status can be announced more than once.
    published_at: dict[tuple[int, str], list[float]] = {}
    expected: Counter = Counter()
    following: dict[int, list[int]] = {}
    for n, subscriber in enumerate(subscribers):
        following.setdefault(subscriber.appointment_id, []).append(n)
    for at, event in published.events:
        key = (event.message_id, event.status.value)
        published_at.setdefault(key, []).append(at)
        # Only the subscribers that could want it are asked (the followers by appointment).
        candidates = following.get(None, []) + [
            n for a in event.facts.appointment_ids for n in following.get(a, [])
        ]
        for n in candidates:
            if subscribers[n].wants(event):
                expected[n, key] += 1
    latencies: dict[str, list[float]] = {}
    missed = stray = duplicates = 0
    for n, subscriber in enumerate(subscribers):
        for key, times in subscriber.heard.items():
            wanted = expected.pop((n, key), 0)
            if not wanted:
                stray += len(times)
                continue
            duplicates += max(0, len(times) - wanted)
            missed += max(0, wanted - len(times))
            # The n-th push of a status answers its n-th publication.
            latencies.setdefault(subscriber.kind, []).extend(
                heard - sent for heard, sent in zip(sorted(times), published_at[key], strict=False)
            )
    missed += sum(expected.values())
    every = [x for values in latencies.values() for x in values]
    expected_pushes = len(every) + missed
    row = {
        "subscribers": len(subscribers),
        "dashboards": args.dashboards,
        "failure_watchers": args.failure_watchers,
        "followers": len(subscribers) - args.dashboards - args.failure_watchers,
        "messages": args.messages,
        "events": len(published.events),
        "failures": sum(e.status is SmsStatus.FAILED for _, e in published.events),
        "pushes_expected": expected_pushes,
        "p50_ms": ms(percentile(every, 0.50)),
        "p99_ms": ms(percentile(every, 0.99)),
        "max_ms": ms(max(every, default=None)),
        "within_1s_percent": round(100 * sum(x <= 1.0 for x in every) / max(1, expected_pushes), 2),
        "missed": missed,
        "stray": stray,
        "duplicates": duplicates,
        "messages_per_s": round(rate),
        "api_cpu_ms_per_push": round(1000 * cpu / max(1, len(every)), 3),
    }
    for kind, values in sorted(latencies.items()):
        row[f"{kind}_pushes"] = len(values)
        row[f"{kind}_p99_ms"] = ms(percentile(values, 0.99))
    return row


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, default=1_000)
    parser.add_argument("--dashboards", type=int, default=2)
    parser.add_argument("--failure-watchers", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="arq send worker processes")
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 100 subscribers")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.subscribers, args.dashboards, args.failure_watchers = 1_000, 100, 2, 10
    kind = "postgresql" if args.database_url else "sqlite"
    name = f"status_push-{kind}" + ("-quick" if args.quick else "")
    load_before = os.getloadavg()
    with EmbeddedRedis() as redis, database(args.database_url, "bench_status_push") as url:
        made = asyncio.run(make_company(url, args))
        load.SERVER_ENV.update({"REDIS_URL": redis.url})
        apps = {"a": "api.app:create_app", "b": "api.app:create_app"}
        with servers(apps, url, log_prefix="status_push") as running:
            row = asyncio.run(run(running, url, redis.url, made, args))
    row["load_average_before"] = load_before
    print(table(["database", *COLUMNS], [[kind, *map(row.get, COLUMNS.values())]]))
    after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {after[0]:.2f}")
    print(f"written to {write_results(name, row)}")
    return 1 if row["missed"] or row["stray"] or row["duplicates"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
