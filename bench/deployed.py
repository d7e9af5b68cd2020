"""The service as deployed, for fault runs: its data, a fake Twilio in a process of its own, and
`timetrak-sms serve` and `timetrak-sms worker` processes (bench/kill_worker.py, bench/faults.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from datetime import time as clock_time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func
from sqlmodel import select

from bench.pipeline import SPAWN, provider_settings
from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    Profile,
    ReminderEvent,
    SmsMessage,
    SmsTemplate,
    User,
)
from models.accounts import hash_password
from models.db import create_engine, session_factory
from models.enums import SmsStatus, SmsTemplateKind

ROOT = Path(__file__).resolve().parent.parent
CLI = [str(ROOT / ".venv" / "bin" / "timetrak-sms")]
LOGS = Path("/tmp/timetrak-bench")
ZONE = "Pacific/Auckland"
EMAIL = "tech@example.com"
PASSWORD = "bench-password-7"
# A status callback answered 5xx, or not at all, is posted again, up to this many tries in all,
# after 0.5 s, doubling up to 4 s (about 30 s), as Twilio does when its callbacks are retried.
CALLBACK_TRIES = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def build(
    url: str,
    count: int,
    days: tuple[int, ...] = (1,),
    run_at: clock_time = clock_time(0, 0),
    zone: str = ZONE,
) -> list[int]:
    """A company with `count` jobs, each with one appointment at 10:00 `days[i % len(days)]`
    days ahead and a contact who can receive SMS; one reminder event per day ahead, run at
    `run_at` (midnight: due whenever the worker looks); a Global Administrator who may send
    (EMAIL, PASSWORD). The events' ids, in the order of `days`."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    today = datetime.now(ZoneInfo(zone)).date()
    async with sessions.begin() as session:
        session.add(
            GlobalSettings(
                company_name="Fault Test Ltd",
                sms_enabled=True,
                sms_reminders_enabled=True,
                time_zone=zone,
            )
        )
        profile = Profile(name="Administrator", send_sms_to_client=True, global_administrator=True)
        session.add(profile)
        await session.flush()
        user = User(
            email=EMAIL, name="Tech", password_hash=hash_password(PASSWORD), profile_id=profile.id
        )
        template = SmsTemplate(
            name="Reminder",
            kind=SmsTemplateKind.REMINDER_EVENT,
            body="{company_name}: see you {appointment_date} {appointment_time}",
        )
        session.add_all([user, template])
        await session.flush()
        events = [
            ReminderEvent(
                description=f"{n} days ahead",
                interval_days=n,
                template_id=template.id,
                run_at=run_at,
            )
            for n in days
        ]
        clients = [Client(name=f"Client {i}") for i in range(count)]
        session.add_all([*events, *clients])
        await session.flush()
        contacts = [
            Contact(client_id=c.id, name=f"Contact {i}", sms_number=f"+6421{i:07d}")
            for i, c in enumerate(clients)
        ]
        jobs = [Job(client_id=c.id, title=f"Job {i}") for i, c in enumerate(clients)]
        session.add_all([*contacts, *jobs])
        await session.flush()
        for i, (contact, job) in enumerate(zip(contacts, jobs, strict=True)):
            day = today + timedelta(days=days[i % len(days)])
            start = datetime.combine(day, clock_time(10, 0), tzinfo=ZoneInfo(zone))
            session.add(
                Appointment(
                    user_id=user.id,
                    job_id=job.id,
                    contact_id=contact.id,
                    start=start,
                    end=start + timedelta(hours=1),
                    sms_reminder=True,
                )
            )
    await engine.dispose()
    return [event.id for event in events]


def message_id_of(form: dict[str, str]) -> int | None:
    """The message a send request is for, from the StatusCallback URL it carries."""
    query = dict(parse_qsl(urlsplit(form.get("StatusCallback", "")).query))
    return int(query["message_id"]) if query.get("message_id", "").isdigit() else None


def serve_fake(pipe: Connection, delay: float) -> None:
    """tests/fake_twilio.FakeTwilio in this process, answering `delay` seconds after a request,
    whose status callbacks are posted again after a 5xx or no answer. Answers over `pipe`:
    "made" (when each message was created, time.time(), by our message id: more than one is a
    duplicate), "callbacks" (the answers its callbacks got, and how many it gave up on), "taken
    again" (when each callback answered 5xx or not at all was taken in the end)."""
    from tests.fake_twilio import ACCOUNT_SID, FakeTwilio, signed_form

    class RetryingTwilio(FakeTwilio):
        client: httpx.AsyncClient | None = None

        def created(self, form: dict[str, str]) -> dict:
            message = super().created(form)
            made[message_id_of(form)].append(self.made_at[message["sid"]])
            return message

        async def call_back(self, url: str, message: dict) -> None:
            # One client for all callbacks: making one per message costs the fake more CPU
            # than the service spends on the message. A connection each, as Twilio's callbacks
            # come: a kept-alive one may be closed by the server as it is used again, and its
            # callback would go unanswered for the client's sake, not the service's.
            if self.client is None:
                self.client = httpx.AsyncClient(
                    timeout=10,
                    limits=httpx.Limits(max_connections=200, max_keepalive_connections=0),
                )
            await asyncio.sleep(self.callback_after)
            for status in ("sent", "delivered"):
                self.progress(message, status)
                form = {
                    "AccountSid": ACCOUNT_SID,
                    "MessageSid": message["sid"],
                    "MessageStatus": status,
                }
                if not await post_until_taken(self.client, url, form):
                    answers["given up"] += 1
                    return

    async def post_until_taken(client: httpx.AsyncClient, url: str, form: dict) -> bool:
        for attempt in range(CALLBACK_TRIES):
            try:
                response = await client.post(url, data=form, headers=signed_form(url, form))
            except httpx.HTTPError as error:
                answers[f"no answer ({type(error).__name__})"] += 1
                unanswered.append((time.time(), repr(error)))
            else:
                answers[str(response.status_code)] += 1
                if response.status_code < 500:
                    if attempt:
                        taken_again.append(time.time())
                    return True
            await asyncio.sleep(min(0.5 * 2**attempt, 4.0))
        return False

    made: defaultdict[int | None, list[float]] = defaultdict(list)
    answers: Counter[str] = Counter()
    taken_again: list[float] = []  # when a callback refused before was taken (time.time())
    unanswered: list[tuple[float, str]] = []  # when a callback got no answer, and why
    fake = RetryingTwilio(delay=delay, callback_after=0.2).start()
    pipe.send(fake.port)
    while (command := pipe.recv()) != "stop":
        if command == "made":
            pipe.send({k: list(v) for k, v in made.items()})
        elif command == "callbacks":
            pipe.send(Counter(answers))
        elif command == "taken again":
            pipe.send(list(taken_again))
        else:  # "unanswered"
            pipe.send(list(unanswered))
    fake.stop()


class FakeTwilioProcess:
    """serve_fake in a spawned process; `ask` its figures."""

    def __init__(self, delay: float):
        self.pipe, child = SPAWN.Pipe()
        self.process = SPAWN.Process(target=serve_fake, args=(child, delay), daemon=True)
        self.process.start()
        self.port: int = self.pipe.recv()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ask(self, command: str):
        self.pipe.send(command)
        return self.pipe.recv()

    def stop(self) -> None:
        self.pipe.send("stop")
        self.process.join(timeout=15)


def environment(database_url: str, redis_url: str, twilio_base: str, api_port: int) -> dict:
    """What `serve` and `worker` run with: the fake Twilio, and the API's address as the one
    Twilio signs its callbacks for."""
    return {
        **os.environ,
        **{
            k.upper(): str(v)
            for k, v in provider_settings(database_url, redis_url, twilio_base).items()
        },
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
    }


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`timetrak-sms COMMAND` in a session of its own (a signal to it reaches nothing else)."""
    return subprocess.Popen(
        CLI + command,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_serving(port: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.2)


async def statuses(url: str) -> dict[str, int]:
    """Messages by status, and FAILED ones without a reason ("failed_without_reason")."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(select(SmsMessage.status, func.count()).group_by(SmsMessage.status))
        ).all()
        unexplained = (
            await session.exec(
                select(func.count())
                .select_from(SmsMessage)
                .where(SmsMessage.status == SmsStatus.FAILED, SmsMessage.error_message.is_(None))
            )
        ).one()
    await engine.dispose()
    found = {status.value: n for status, n in rows}
    found["failed_without_reason"] = unexplained
    return found
