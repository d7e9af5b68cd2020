"""The database going away for a moment: clear errors, nothing half-written, recovery unaided."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, text
from sqlmodel import select

import migrations
from api.app import Services, create_app
from models import User
from models.db import create_engine, session_factory
from models.demo import seed_demo
from tests.conftest import LOGIN

ME = "{ me { email } }"


def app_on(engine, settings, queue):
    services = Services(settings.model_copy(update={"database_url": str(engine.url)}), engine,
                        session_factory(engine), queue)
    return create_app(services=services)


async def login(http: httpx.AsyncClient) -> httpx.Response:
    return await http.post("/graphql", json={"query": LOGIN, "variables": {
        "email": "admin@example.com", "password": "admin-demo-password"}})


async def test_sqlite_that_cannot_be_opened_gives_a_clear_error_then_recovers(
        tmp_path, settings, services):
    # Given a database file whose folder is not there yet
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder / 'service.db'}"
    engine = create_engine(url)
    app = app_on(engine, settings, services.queue)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        # When signing in while it is away
        refused = await login(http)
        token_refused = await http.post("/graphql", json={"query": ME},
                                        headers={"Authorization": "Bearer whatever"})

        # Then both say so with a code, and no 500
        assert refused.status_code == 200
        assert refused.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert refused.json()["data"] is None
        assert token_refused.status_code == 503
        assert token_refused.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"

        # And when it comes back, the same app serves again without a restart
        folder.mkdir()
        await asyncio.to_thread(migrations.upgrade, url)
        await seed_demo(session_factory(engine))
        answered = await login(http)
        assert answered.json()["data"]["login"]["token"]
    await engine.dispose()


@pytest.fixture
def postgres(migrated):
    if not migrated.startswith("postgres"):
        pytest.skip("needs DATABASE_URL naming a PostgreSQL database")
    return migrated


async def set_connections(url: str, allowed: bool) -> None:
    """From the maintenance database: open or close the test database and drop its sessions."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"true" if allowed else "false"}'))
        if not allowed:
            await connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    await admin.dispose()


async def test_postgresql_restarting_under_the_app(postgres, anonymous, demo):
    # Given a signed-in admin with pooled connections already open
    admin = await anonymous.login("admin")
    await admin.ok(ME)
    async with demo() as session:
        users = (await session.exec(select(func.count()).select_from(User))).one()

    # When the database refuses connections and drops the open ones
    await set_connections(postgres, allowed=False)
    try:
        response = await admin.http.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {admin.token}"})
        login = await login_as_admin(anonymous)
    finally:
        await set_connections(postgres, allowed=True)

    # Then requests fail clearly, and nothing was written
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert login["errors"][0].get("extensions", {}).get("code") == "SERVICE_UNAVAILABLE", login
    async with demo() as session:
        assert (await session.exec(select(func.count()).select_from(User))).one() == users
    # And the same app answers again once it is back
    assert (await admin.ok(ME))["me"]["email"] == "admin@example.com"


async def login_as_admin(anonymous) -> dict:
    return await anonymous.post(LOGIN, {"email": "admin@example.com",
                                        "password": "admin-demo-password"})
