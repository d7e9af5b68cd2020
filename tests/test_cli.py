"""Tests for the timetrak-sms command, run as a real process against a fresh database."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    Profile,
    SmsTemplate,
    Task,
    User,
)
from models.accounts import verify_password
from models.db import create_engine, session_factory
from models.demo import DEMO_LOGINS
from models.enums import FieldVisibility
from models.segments import measure
from models.templates import TemplateValues, render

REPO = Path(__file__).resolve().parents[1]
SUMMARY = "set {}, already set {}, no usable number {}"


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture(params=["sqlite", "postgresql"])
async def cli_database_url(request, tmp_path):
    """An empty database: a SQLite file, or a scratch database on the DATABASE_URL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        pytest.skip("DATABASE_URL is not a PostgreSQL server")
    name = f"timetrak_cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def cli(cli_database_url, tmp_path):
    """Runs `python -m api.cli ARGS` in an empty directory, so no .env is read."""
    env = {**os.environ, "DATABASE_URL": cli_database_url, "ENVIRONMENT": "test",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    async def run(*args: str) -> Run:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.cli", *args, cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        return Run(process.returncode, out.decode(), err.decode())

    return run


@pytest.fixture
async def cli_sessions(cli_database_url):
    engine = create_engine(cli_database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def seeded(cli):
    result = await cli("seed-demo")
    assert result.status == 0, result.err


async def count(sessions, table, *where) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(table).where(*where))).one()


async def table_counts(sessions) -> dict[str, int]:
    tables = (User, Profile, Client, Contact, Job, Task, Appointment, SmsTemplate)
    return {table.__name__: await count(sessions, table) for table in tables}


async def appointments_of(sessions, email: str) -> list[tuple[Appointment, Job, Client, Contact]]:
    async with sessions() as session:
        rows = await session.exec(
            select(Appointment, Job, Client, Contact)
            .join(User, User.id == Appointment.user_id)
            .join(Job, Job.id == Appointment.job_id)
            .join(Client, Client.id == Job.client_id)
            .outerjoin(Contact, Contact.id == Appointment.contact_id)
            .where(User.email == email)
        )
        return list(rows.all())


# --- migrate and seed-demo ---------------------------------------------------------------------


async def test_migrate_then_seed_demo_twice_adds_the_company_once(cli, cli_sessions):
    migrated = await cli("migrate")
    assert migrated.status == 0, migrated.err
    assert await count(cli_sessions, User) == 0

    first = await cli("seed-demo")
    after_first = await table_counts(cli_sessions)
    second = await cli("seed-demo")

    assert (first.status, second.status) == (0, 0), first.err + second.err
    assert "Demo data added" in first.err
    assert "already present" in second.err
    assert after_first["User"] == 3
    assert after_first["Client"] >= 8
    assert await table_counts(cli_sessions) == after_first


async def test_demo_logins_sign_in_with_their_profiles(seeded, cli_sessions):
    async with cli_sessions() as session:
        rows = (await session.exec(select(User, Profile).join(Profile))).all()
        company = await session.get(GlobalSettings, 1)
    profiles = {user.email: profile for user, profile in rows}
    hashes = {user.email: user.password_hash for user, _ in rows}

    assert all(verify_password(hashes[email], password) for email, password in DEMO_LOGINS.items())
    assert not verify_password(hashes["tech@example.com"], "admin-demo-password")
    assert profiles["admin@example.com"].global_administrator
    assert not profiles["office@example.com"].global_administrator
    assert profiles["office@example.com"].edit_contact
    tech = profiles["tech@example.com"]
    assert tech.send_sms_to_client
    assert not (tech.edit_contact or tech.show_sms_errors or tech.global_administrator)
    assert tech.layout_appointment_contact is FieldVisibility.READ_ONLY
    assert tech.layout_client_sms_reminders is FieldVisibility.HIDDEN
    assert company.sms_enabled and company.sms_reminders_enabled


@pytest.mark.parametrize("email", ["office@example.com", "tech@example.com"])
async def test_demo_users_have_two_weeks_of_appointments(seeded, cli_sessions, email):
    now = datetime.now(UTC)
    rows = await appointments_of(cli_sessions, email)
    upcoming = [row for row in rows if now < row[0].start < now + timedelta(days=15)]
    numbers = [contact.sms_number if contact else client.sms_number
               for _, _, client, contact in upcoming]

    assert len(upcoming) >= 10
    assert all(row[0].start < row[0].end for row in upcoming)
    assert None in numbers, "some appointment's contact should be unable to receive SMS"
    assert sum(number is not None for number in numbers) > len(numbers) / 2


async def test_demo_templates_render_to_a_single_sms_for_every_appointment(seeded, cli_sessions):
    async with cli_sessions() as session:
        templates = (await session.exec(select(SmsTemplate))).all()
        company = await session.get(GlobalSettings, 1)
        users = {user.id: user.name for user in (await session.exec(select(User))).all()}
    rows = await appointments_of(cli_sessions, "office@example.com")
    rows += await appointments_of(cli_sessions, "tech@example.com")

    texts = [
        render(template.body, TemplateValues(
            client_name=client.name, contact_name=contact.name if contact else client.name,
            appointment_start=appointment.start, job_title=job.title,
            user_name=users[appointment.user_id], company_name=company.company_name,
            time_zone=company.time_zone))
        for template in templates
        for appointment, job, client, contact in rows
    ]

    assert len(templates) == 4
    assert all(measure(text).fits for text in texts), max(texts, key=len)


# --- create-user -------------------------------------------------------------------------------


async def test_create_user_then_refuse_the_same_email(cli, cli_sessions):
    await cli("migrate")

    created = await cli("create-user", "--email", "Hine@Example.co.nz", "--name", "Hine",
                        "--password", "correct horse")
    again = await cli("create-user", "--email", "hine@example.co.nz", "--name", "Other",
                      "--password", "another one")

    assert created.status == 0, created.err
    assert again.status == 1
    assert "already exists" in again.err
    async with cli_sessions() as session:
        users = (await session.exec(
            select(User, Profile).join(Profile).where(User.email == "hine@example.co.nz")
        )).all()
    assert len(users) == 1
    user, profile = users[0]
    assert user.name == "Hine"
    assert verify_password(user.password_hash, "correct horse")
    assert not profile.global_administrator


async def test_create_admin_user_joins_the_administrator_profile(cli, seeded, cli_sessions):
    profiles_before = await count(cli_sessions, Profile)

    result = await cli("create-user", "--email", "boss@example.com", "--name", "Boss",
                       "--password", "pw-for-boss", "--admin")

    assert result.status == 0, result.err
    assert await count(cli_sessions, Profile) == profiles_before
    async with cli_sessions() as session:
        profile = (await session.exec(
            select(Profile).join(User).where(User.email == "boss@example.com")
        )).one()
    assert profile.name == "Administrator" and profile.global_administrator


async def test_create_admin_user_refuses_a_non_administrator_profile(cli, seeded, cli_sessions):
    result = await cli("create-user", "--email", "x@example.com", "--name", "X",
                       "--password", "pw-for-x-user", "--profile", "Technician", "--admin")

    assert result.status == 1
    assert "not a Global Administrator" in result.err
    assert await count(cli_sessions, User, User.email == "x@example.com") == 0


async def test_create_user_refuses_a_password_the_api_would_refuse(cli, cli_sessions):
    await cli("migrate")

    result = await cli("create-user", "--email", "short@example.com", "--name", "Short",
                       "--password", "seven..")

    assert result.status == 1
    assert "at least 8 characters" in result.err
    assert await count(cli_sessions, User, User.email == "short@example.com") == 0


# --- backfill-sms-numbers ----------------------------------------------------------------------


async def test_backfill_sets_missing_numbers_once(cli, seeded, cli_sessions):
    contacts = await count(cli_sessions, Contact)
    had_number = await count(cli_sessions, Contact, Contact.sms_number.is_not(None))

    first = await cli("backfill-sms-numbers", "--batch-size", "4")
    now_have = await count(cli_sessions, Contact, Contact.sms_number.is_not(None))
    second = await cli("backfill-sms-numbers")

    assert (first.status, second.status) == (0, 0), first.err + second.err
    newly_set = now_have - had_number
    assert newly_set > 0
    without = contacts - now_have
    assert first.out.strip() == SUMMARY.format(newly_set, had_number, without)
    assert len(first.err.strip().splitlines()) == math.ceil(contacts / 4)
    assert second.out.strip() == SUMMARY.format(0, now_have, without)
    async with cli_sessions() as session:
        fixed = (await session.exec(select(Contact).where(Contact.name == "Tom Fletcher"))).one()
    assert fixed.sms_number == "+64215550102"
