"""The App's users over HTTP during a fault run (bench/faults.py): a reader, App users sending
and an administrator running reminder events, with every answer tallied."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx

from bench.pg_restart import ME, Tally, classify

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id } errors { code message } }
}
"""
RUN = "mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code } } }"
SENDERS = 4
# Seconds an App user waits between messages, and before sending one again.
SEND_EVERY = 0.25
SEND_AGAIN_AFTER = 0.2


@dataclass
class AppUsers:
    """One signed-in user's requests to the API, tallied (bench/pg_restart.Tally: the time and
    kind of every answer, and the unexpected ones in full)."""

    http: httpx.AsyncClient
    token: str
    appointments: list[int]
    tally: Tally = field(default_factory=Tally)
    # The messages sendSms answered with.
    sent: set[int] = field(default_factory=set)
    # Each message's idempotency key, unique for the run (a key used again is the same message).
    keys: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def graphql(self, query: str, variables: dict) -> tuple[str, dict | None]:
        """The answer's kind (pg_restart.classify: "answered", "unavailable", "http 500"...),
        and its data when answered."""
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as error:
            self.tally.seen.append((time.monotonic(), "no answer"))
            self.tally.surprises.append(f"no answer: {error!r}")
            return "no answer", None
        self.tally.add(response)
        kind = classify(response)
        return kind, response.json()["data"] if kind == "answered" else None

    async def read(self, until: asyncio.Event) -> None:
        """`me`, without pause."""
        while not until.is_set():
            await self.graphql(ME, {})
            await asyncio.sleep(0.05)

    async def send(self, until: asyncio.Event) -> None:
        """An App user: a message every SEND_EVERY s, each with an idempotency key, sent again
        with it while the answer is "unavailable", as the App does."""
        for _ in range(10_000):
            if until.is_set():
                return
            key = next(self.keys)
            variables = {
                "input": {
                    "appointmentId": str(self.appointments[key % len(self.appointments)]),
                    "body": f"On my way (number {key}).",
                    "idempotencyKey": f"bench-{key}",
                }
            }
            for _ in range(600):  # two minutes of "unavailable"
                kind, data = await self.graphql(SEND, variables)
                if kind != "unavailable":
                    break
                await asyncio.sleep(SEND_AGAIN_AFTER)
            if kind == "answered":
                payload = data["sendSms"]
                if payload["errors"]:
                    self.tally.surprises.append(f"sendSms: {payload['errors']}")
                else:
                    self.sent.add(int(payload["message"]["id"]))
            await asyncio.sleep(SEND_EVERY)

    async def run_reminders(self, event_id: int) -> int:
        """runReminderEvent, again while "unavailable"; the messages it wrote."""
        for _ in range(240):  # two minutes of "unavailable"
            kind, data = await self.graphql(RUN, {"id": str(event_id)})
            if kind != "unavailable":
                break
            await asyncio.sleep(0.5)
        if kind != "answered" or data["runReminderEvent"]["errors"]:
            raise RuntimeError(f"runReminderEvent answered {kind}: {data}")
        return data["runReminderEvent"]["affectedCount"]


class Senders:
    """SENDERS App users sending until stopped."""

    def __init__(self, users: AppUsers):
        self.users, self.until = users, asyncio.Event()
        self.before = len(users.sent)
        self.tasks = [asyncio.create_task(users.send(self.until)) for _ in range(SENDERS)]

    async def stop(self, after: float = 0.0) -> str:
        """After `after` s; what they sent."""
        await asyncio.sleep(after)
        self.until.set()
        await asyncio.gather(*self.tasks)
        return f"{len(self.users.sent) - self.before} sent"
