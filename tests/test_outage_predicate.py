"""models.outages.is_outage on real failures from the real drivers: away is an outage, a bad
statement is not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import aiosqlite
import asyncpg
import pytest
from sqlalchemy import text
from starlette.authentication import AuthenticationError

from models.db import create_engine
from models.outages import is_outage
from tests.fake_twilio import closed_port


async def failure(work: Awaitable) -> BaseException:
    """The exception `work` raises; the test fails if it raises none."""
    try:
        await work
    except Exception as error:
        return error
    pytest.fail("expected the database to fail")


async def run(engine, *statements: str) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


@pytest.fixture
async def sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'outages.db'}")
    await run(engine, "CREATE TABLE t (x INTEGER UNIQUE)", "INSERT INTO t VALUES (1)")
    yield engine
    await engine.dispose()


# --- SQLite, through aiosqlite ---------------------------------------------------------------


async def test_a_sqlite_file_in_a_missing_folder_is_an_outage(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'removed' / 'service.db'}")

    error = await failure(run(engine, "SELECT 1"))

    assert is_outage(error), repr(error)
    await engine.dispose()


async def test_a_sqlite_path_that_is_not_a_file_is_an_outage(tmp_path):
    (tmp_path / "service.db").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'service.db'}")

    error = await failure(run(engine, "SELECT 1"))

    assert is_outage(error), repr(error)
    await engine.dispose()


async def test_a_locked_sqlite_database_is_an_outage(tmp_path):
    path = tmp_path / "locked.db"
    async with aiosqlite.connect(path) as writer, aiosqlite.connect(path, timeout=0) as other:
        await writer.execute("CREATE TABLE t (x)")
        await writer.commit()
        await writer.execute("BEGIN IMMEDIATE")

        error = await failure(other.execute("INSERT INTO t VALUES (1)"))

        await writer.rollback()
    assert "locked" in str(error) and is_outage(error)


async def test_a_pool_with_no_connection_to_spare_is_an_outage(tmp_path):
    engine = create_engine(
        f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0, pool_timeout=0.1
    )
    async with engine.connect():
        error = await failure(run(engine, "SELECT 1"))

    assert is_outage(error), repr(error)
    await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM no_such_table",
        "SELEC 1",
        "INSERT INTO t VALUES (1)",
    ],
)
async def test_a_statement_sqlite_refuses_is_not_an_outage(sqlite, statement):
    error = await failure(run(sqlite, statement))

    assert not is_outage(error), repr(error)


async def test_a_file_that_is_not_a_database_is_not_an_outage(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"not a database" * 300)
    engine = create_engine(f"sqlite:///{tmp_path / 'junk.db'}")

    error = await failure(run(engine, "SELECT 1"))

    assert not is_outage(error), repr(error)
    await engine.dispose()


# --- PostgreSQL, through asyncpg ---------------------------------------------------------------


async def test_nothing_listening_is_an_outage():
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/timetrak")

    error = await failure(run(engine, "SELECT 1"))

    assert isinstance(error, ConnectionRefusedError) and is_outage(error)
    await engine.dispose()


@pytest.fixture
async def postgres(postgres_cluster):
    """An engine on the tests' own cluster, running; a test may stop it."""
    if not postgres_cluster.running():
        await asyncio.to_thread(postgres_cluster.start)
    engine = create_engine(postgres_cluster.url)
    await run(
        engine,
        "CREATE TABLE IF NOT EXISTS outage_probe (x INTEGER UNIQUE)",
        "CREATE SEQUENCE IF NOT EXISTS outage_probe_sequence",
        "TRUNCATE outage_probe",
        "INSERT INTO outage_probe VALUES (1)",
    )
    yield engine
    await engine.dispose()
    if not postgres_cluster.running():
        await asyncio.to_thread(postgres_cluster.start)


async def terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url)
    await admin.execute("SELECT pg_terminate_backend($1)", pid)
    await admin.close()


async def test_a_pooled_connection_the_server_dropped_is_an_outage(postgres, postgres_cluster):
    async with postgres.connect() as connection:
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        await terminate(postgres_cluster.url, pid)

        error = await failure(connection.execute(text("SELECT 1")))

    assert is_outage(error), repr(error)


async def test_a_query_cut_short_by_a_shutdown_is_an_outage(postgres, postgres_cluster):
    async with postgres.connect() as connection:
        pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        running = asyncio.ensure_future(connection.execute(text("SELECT pg_sleep(10)")))
        await asyncio.sleep(0.3)
        await terminate(postgres_cluster.url, pid)

        error = await failure(running)

    assert is_outage(error), repr(error)


async def test_a_server_shutting_down_is_an_outage(postgres, postgres_cluster):
    # A smart shutdown waits for open sessions and turns new ones away meanwhile.
    session = await asyncpg.connect(postgres_cluster.url)
    await postgres.dispose()
    cluster = postgres_cluster
    await asyncio.to_thread(
        cluster.run, "pg_ctl", "-D", str(cluster.data), "-m", "smart", "-W", "stop"
    )
    try:
        await asyncio.sleep(0.2)
        error = await failure(run(postgres, "SELECT 1"))
    finally:
        await session.close()
        await asyncio.to_thread(cluster.wait_stopped)

    assert isinstance(error.__cause__.__cause__, asyncpg.CannotConnectNowError), repr(error)
    assert is_outage(error)


async def test_a_stopped_server_is_an_outage(postgres, postgres_cluster):
    await run(postgres, "SELECT 1")
    await asyncio.to_thread(postgres_cluster.stop, "fast")

    error = await failure(run(postgres, "SELECT 1"))

    assert is_outage(error), repr(error)


async def test_a_database_closed_to_connections_is_an_outage(postgres, postgres_cluster):
    name = postgres_cluster.database
    admin = await asyncpg.connect(postgres_cluster.maintenance_url)
    await postgres.dispose()
    await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        error = await failure(run(postgres, "SELECT 1"))
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()

    assert "not currently accepting connections" in str(error) and is_outage(error)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT 1/0",
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "INSERT INTO outage_probe VALUES (1)",
        # The same SQLSTATE (55000) as a database closed to connections, about a statement.
        "SELECT currval('outage_probe_sequence')",
    ],
)
async def test_a_statement_postgresql_refuses_is_not_an_outage(postgres, statement):
    error = await failure(run(postgres, statement))

    assert not is_outage(error), repr(error)


async def test_two_operations_at_once_on_one_connection_is_a_bug_not_an_outage(postgres_cluster):
    connection = await asyncpg.connect(postgres_cluster.url)
    slow = asyncio.ensure_future(connection.execute("SELECT pg_sleep(0.2)"))
    await asyncio.sleep(0.05)

    error = await failure(connection.execute("SELECT 1"))

    await slow
    await connection.close()
    assert "another operation is in progress" in str(error) and not is_outage(error)


# --- the chain ---------------------------------------------------------------------------------


async def test_an_error_raised_from_an_outage_is_an_outage():
    refused = await failure(asyncpg.connect(port=closed_port(), host="127.0.0.1"))
    try:
        raise AuthenticationError("unavailable") from refused
    except AuthenticationError as error:
        wrapped = error

    assert is_outage(wrapped)


async def test_an_error_that_set_an_outage_aside_is_not_one():
    refused = await failure(asyncpg.connect(port=closed_port(), host="127.0.0.1"))
    try:
        try:
            raise refused
        except OSError:
            raise ValueError("our own mistake") from None
    except ValueError as error:
        dismissed = error

    assert not is_outage(dismissed)
    assert not is_outage(None) and not is_outage(RuntimeError("boom"))
