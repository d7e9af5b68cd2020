"""The benchmarks' databases and data: a company, signed-in users and a week of their work."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

import migrations
from models import (
    Appointment,
    AuthToken,
    Client,
    Contact,
    GlobalSettings,
    Job,
    OptOut,
    Profile,
    SmsMessage,
    SmsMessageAppointment,
    Task,
    User,
)
from models.accounts import hash_password, token_digest
from models.columns import utcnow
from models.company import SETTINGS_ID
from models.db import Sessions, create_engine
from models.enums import OptOutMethod, RecipientKind, SmsSource, SmsStatus
from models.phone import is_sms_number

# A Monday far from any demo data; every benchmark week starts here.
WEEK = datetime(2031, 3, 3, tzinfo=UTC)
ONE_WEEK = timedelta(days=7)


@contextlib.contextmanager
def database(url: str | None, name: str, keep: bool = False) -> Iterator[str]:
    """A migrated, empty database for one run: a temp SQLite file, or `name` on the PostgreSQL
    server of `url` (created here, dropped afterwards unless `keep`)."""
    if not url:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        try:
            bench_url = f"sqlite:///{folder / f'{name}.db'}"
            migrations.upgrade(bench_url)
            yield bench_url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    server = make_url(url)
    if server.get_backend_name() != "postgresql":
        raise SystemExit("--database-url takes a postgresql:// URL (SQLite is the default).")
    admin = server.set(database=server.database or "postgres")
    bench_url = admin.set(database=name).render_as_string(hide_password=False)
    asyncio.run(
        _admin(
            admin.render_as_string(hide_password=False),
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )
    try:
        migrations.upgrade(bench_url)
        yield bench_url
    finally:
        if not keep:
            asyncio.run(
                _admin(
                    admin.render_as_string(hide_password=False),
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                )
            )


async def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def add_company(sessions: Sessions) -> int:
    """SMS and reminders on, and a profile with every permission; its id."""
    async with sessions.begin() as session:
        session.add(
            GlobalSettings(
                id=SETTINGS_ID,
                company_name="Bench Ltd",
                sms_enabled=True,
                sms_reminders_enabled=True,
            )
        )
        profile = Profile(
            name="Everything",
            edit_contact=True,
            send_sms_to_client=True,
            show_sms_errors=True,
            global_administrator=True,
        )
        session.add(profile)
        await session.flush()
        return profile.id


@dataclass
class SignedIn:
    user_id: int
    token: str
    appointment_ids: list[int] = field(default_factory=list)


# Hashed once: argon2 is slow on purpose, and nobody signs in with a password here.
_PASSWORD_HASH: list[str] = []


async def add_users(
    sessions: Sessions, profile_id: int, how_many: int, prefix: str = "user"
) -> list[SignedIn]:
    """Users with a bearer token each (kept as its SHA-256, as sign-in does)."""
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password("bench-password"))
    async with sessions.begin() as session:
        users = [
            User(
                email=f"{prefix}{n}@bench.example",
                name=f"{prefix.title()} {n}",
                password_hash=_PASSWORD_HASH[0],
                profile_id=profile_id,
            )
            for n in range(how_many)
        ]
        session.add_all(users)
        await session.flush()
        tokens = [secrets.token_urlsafe(32) for _ in users]
        session.add_all(
            [
                AuthToken(
                    user_id=u.id,
                    token_hash=token_digest(t),
                    expires_at=utcnow() + timedelta(days=30),
                )
                for u, t in zip(users, tokens, strict=True)
            ]
        )
        return [SignedIn(u.id, t) for u, t in zip(users, tokens, strict=True)]


def mobile(n: int) -> str:
    number = f"+6421{n % 10_000_000:07d}"
    assert is_sms_number(number), number
    return number


async def add_week(
    sessions: Sessions, who: SignedIn, appointments: int, start: datetime = WEEK
) -> None:
    """`appointments` of `who`'s appointments spread over the week from `start`, with their
    clients, contacts, jobs and tasks, some opted-out numbers, and a mix of messages so that
    smsCount is not always zero (failed messages are not counted)."""
    n_clients = max(2, appointments // 5)
    async with sessions.begin() as session:
        clients = [
            Client(name=f"Client {who.user_id}-{c}", sms_reminders=c % 2 == 0)
            for c in range(n_clients)
        ]
        session.add_all(clients)
        await session.flush()
        for c, client in enumerate(clients):
            # Every third client has no usable mobile: its appointments show NO_SMS_NUMBER.
            if c % 3 != 2:
                client.mobile_country_code, client.mobile_number = "+64", f"21{client.id:07d}"
                client.sms_number = mobile(client.id)
        contacts = [
            Contact(
                client_id=client.id, name=f"Contact {client.id}-{k}", mobile=f"021 {client.id:07d}"
            )
            for client in clients
            for k in range(2)
        ]
        session.add_all(contacts)
        await session.flush()
        for contact in contacts:
            contact.sms_number = mobile(5_000_000 + contact.id)
        # Some opted out (replied STOP): their recipients show OPTED_OUT.
        session.add_all(
            [
                OptOut(number=contact.sms_number, method=OptOutMethod.KEYWORD)
                for contact in contacts[::7]
            ]
        )
        jobs = [
            Job(
                client_id=client.id,
                title=f"Job {client.id}-{j}",
                contact_id=contacts[2 * c + j].id if j == 0 else None,
                latitude=-36.85 + c / 1000,
                longitude=174.76,
            )
            for c, client in enumerate(clients)
            for j in range(2)
        ]
        session.add_all(jobs)
        await session.flush()
        tasks = [
            Task(job_id=job.id, name=f"Task {job.id}", contact_id=job.contact_id)
            for job in jobs[::2]
        ]
        session.add_all(tasks)
        await session.flush()
        task_of = {task.job_id: task for task in tasks}
        step = ONE_WEEK / appointments
        rows = []
        for a in range(appointments):
            job = jobs[a % len(jobs)]
            task = task_of.get(job.id)
            at = start + step * a
            client_index = (a % len(jobs)) // 2
            rows.append(
                Appointment(
                    user_id=who.user_id,
                    job_id=job.id,
                    task_id=task.id if task else None,
                    start=at,
                    end=at + timedelta(minutes=45),
                    sms_reminder=a % 2 == 0,
                    # Half go to a contact, half to the client itself.
                    contact_id=contacts[2 * client_index + a % 2].id if a % 4 < 2 else None,
                )
            )
        session.add_all(rows)
        await session.flush()
        who.appointment_ids.extend(r.id for r in rows)
        messages, links = [], []
        for a, row in enumerate(rows):
            if a % 3:
                continue
            job = jobs[a % len(jobs)]
            for status in (SmsStatus.DELIVERED, SmsStatus.FAILED)[: 1 + (a % 2)]:
                messages.append(
                    SmsMessage(
                        to_number=mobile(row.id),
                        body=f"On my way ({a})",
                        status=status,
                        source=SmsSource.APP,
                        recipient_kind=RecipientKind.CLIENT,
                        recipient_id=job.client_id,
                        client_id=job.client_id,
                        appointment_id=row.id,
                        job_id=job.id,
                        sent_by_id=who.user_id,
                    )
                )
                links.append(row.id)
        session.add_all(messages)
        await session.flush()
        session.add_all(
            [
                SmsMessageAppointment(message_id=m.id, appointment_id=a)
                for m, a in zip(messages, links, strict=True)
            ]
        )
