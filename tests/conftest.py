"""Real parts for every test: a migrated database (SQLite, or PostgreSQL from DATABASE_URL),
a real Redis (REDIS_URL, or one the tests start), and the ASGI app over httpx."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import text
from sqlmodel import SQLModel

import migrations
import models  # noqa: F401  (registers the tables)
from api.app import Services, create_app
from api.embedded_redis import EmbeddedRedis
from models.config import Settings
from models.db import create_engine, session_factory
from models.demo import seed_demo
from schema.feed import StatusFeed

DEMO_LOGINS = {
    "admin": ("admin@example.com", "admin-demo-password"),
    "office": ("office@example.com", "office-demo-password"),
    "tech": ("tech@example.com", "tech-demo-password"),
}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = create_engine(url)

    async def reset() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    return url


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrations.upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def redis_url() -> AsyncIterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def settings(migrated: str, redis_url: str) -> Settings:
    return Settings(database_url=migrated, redis_url=redis_url, environment="test",
                    _env_file=None)


@pytest.fixture(scope="session")
async def services(settings: Settings) -> AsyncIterator[Services]:
    engine = create_engine(settings.database_url)
    queue = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    feed = StatusFeed(queue)
    yield Services(settings, engine, session_factory(engine), queue, feed)
    await feed.close()
    await queue.aclose()
    await engine.dispose()


@pytest.fixture
async def sessions(services: Services):
    """An empty database for each test."""
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    async with services.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(table.delete())
    await services.queue.flushdb()
    return services.sessions


@pytest.fixture
async def demo(sessions):
    """The demo company, as `timetrak-sms seed-demo` makes it, but for its sample conversations
    (tests/test_replies.py adds them): each test's messages and replies are its own."""
    await seed_demo(sessions, conversations=False)
    return sessions


@dataclass
class Api:
    """GraphQL over the ASGI app, signed in as one demo user or anonymous."""

    http: httpx.AsyncClient
    token: str | None = None

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        headers = {}
        if token or self.token:
            headers["Authorization"] = f"Bearer {token or self.token}"
        response = await self.http.post("/graphql", json={"query": query,
                                                          "variables": variables or {}},
                                        headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must not raise GraphQL errors."""
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def login(self, who: str) -> Api:
        email, password = DEMO_LOGINS[who]
        data = await self.ok(LOGIN, {"email": email, "password": password})
        assert data["login"]["errors"] == []
        return Api(self.http, data["login"]["token"])


LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    token errors { code message } user { email }
  }
}
"""


@pytest.fixture
async def app(services: Services):
    return create_app(services=services)


@pytest.fixture
async def anonymous(app, demo) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Api(http)


@pytest.fixture
async def admin(anonymous: Api) -> Api:
    return await anonymous.login("admin")


@pytest.fixture
async def office(anonymous: Api) -> Api:
    return await anonymous.login("office")


@pytest.fixture
async def tech(anonymous: Api) -> Api:
    return await anonymous.login("tech")


@pytest.fixture(scope="session")
def fake_twilio():
    from tests.fake_twilio import FakeTwilio

    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def twilio(fake_twilio):
    """The fake Twilio, reset for this test."""
    fake_twilio.received.clear()
    fake_twilio.refuse, fake_twilio.delay, fake_twilio.status = None, 0.0, None
    return fake_twilio


@pytest.fixture
def twilio_settings(settings: Settings, twilio) -> Settings:
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

    return settings.model_copy(update={
        "sms_provider": "twilio", "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN, "twilio_from_number": FROM_NUMBER,
        "twilio_api_base": twilio.base_url, "public_base_url": "https://sms.example.com",
    })


@pytest.fixture
async def drain(services: Services, twilio_settings: Settings):
    """Run a real arq worker in burst mode until the queue is empty: `await drain()`."""
    from arq.worker import Worker

    from jobs.twilio import TwilioProvider
    from jobs.worker import WorkerSettings

    async def run(settings: Settings = twilio_settings, provider_timeout: float = 2.0,
                  backoff_seconds: float = 0.0) -> None:
        provider = TwilioProvider(settings, timeout=provider_timeout)
        worker = Worker(
            functions=WorkerSettings.functions, burst=True,
            redis_settings=RedisSettings.from_dsn(settings.redis_url),
            on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown,
            handle_signals=False, poll_delay=0.05, max_jobs=10,
            ctx={"settings": settings, "provider": provider, "backoff_seconds": backoff_seconds},
        )
        try:
            await worker.main()
        finally:
            await worker.close()

    return run


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL cluster of the tests' own on 127.0.0.1, to stop and restart at will."""
    from tests.postgres_cluster import PostgresCluster, server_binaries

    if server_binaries() is None:
        pytest.skip("PostgreSQL's initdb is not installed")
    with PostgresCluster() as cluster:
        yield cluster
