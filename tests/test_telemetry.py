"""Traces and error reports only when configured: OpenTelemetry spans for GraphQL operations with
the SQL and Redis work beneath them, sent to a collector; Sentry set up from SENTRY_DSN; neither
package imported otherwise, and a missing extra a warning, not a failure.

The processes that turn them on are started afresh (they change the whole process: a tracer
provider, instrumented libraries), with a collector of the test's own on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api import telemetry
from models.config import Settings

ROOT = Path(__file__).resolve().parent.parent

NOTHING_IMPORTED = """
import sys
from api.app import create_app
from api.cli import main
from jobs.worker import WorkerSettings, build_worker
from models.config import Settings

settings = Settings(database_url=sys.argv[1], redis_url=sys.argv[2], _env_file=None)
create_app(settings)
build_worker(settings, handle_signals=False)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "sentry_sdk"))
print(loaded)
"""

TRACED = """
import asyncio, sys
import httpx
from api.app import create_app, open_services, close_services
from api import telemetry
from models.config import Settings
from models.demo import seed_demo

async def main():
    settings = Settings(database_url=sys.argv[1], redis_url=sys.argv[2], environment="test",
                        otel_exporter_otlp_endpoint=sys.argv[3], _env_file=None)
    assert telemetry.start(settings, service="timetrak-sms-test")
    services = await open_services(settings)  # after tracing starts, as create_app does it
    await services.queue.flushdb()
    await seed_demo(services.sessions)
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        login = await http.post("/graphql", json={
            "query": "mutation SignIn($e: String!, $p: String!) "
                     "{ login(input: {email: $e, password: $p}) { token } }",
            "variables": {"e": "admin@example.com", "p": "admin-demo-password"}})
        token = login.json()["data"]["login"]["token"]
        team = await http.post("/graphql", json={"query": "query Team { users { email } }"},
                               headers={"Authorization": f"Bearer {token}"})
        assert "admin@example.com" in team.text, team.text
    await close_services(services)
    from opentelemetry import trace
    trace.get_tracer_provider().force_flush()

asyncio.run(main())
"""

SENTRY = """
import sys
from api import telemetry
from models.config import Settings
import sentry_sdk

settings = Settings(sentry_dsn=sys.argv[1], environment="production", _env_file=None)
telemetry.start(settings)
client = sentry_sdk.get_client()
print(client.is_active(), client.options["send_default_pii"],
      "strawberry" in client.integrations, "logging" in client.integrations)
"""


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP collector on 127.0.0.1: its address, and the export requests it received."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                received.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def spans(received: list[bytes]) -> list:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    found = []
    for body in received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                found += list(scope.spans)
    return found


def attributes(span) -> dict[str, str]:
    return {a.key: a.value.string_value or str(a.value.int_value) for a in span.attributes}


def test_neither_opentelemetry_nor_sentry_is_imported_unless_configured(migrated, redis_url):
    assert run(NOTHING_IMPORTED, migrated, redis_url).strip() == "[]"


def test_a_graphql_operation_is_traced_with_its_sql_and_redis_work(
        migrated, redis_url, collector, sessions):
    pytest.importorskip("opentelemetry.sdk")
    address, received = collector

    run(TRACED, migrated, redis_url, address)

    found = spans(received)
    by_id = {span.span_id: span for span in found}

    def operation_of(span):
        while span.parent_span_id and span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
        return span.name

    names = {span.name for span in found}
    assert {"GraphQL Query: SignIn", "GraphQL Query: Team"} <= names, names
    sql = [span for span in found if attributes(span).get("db.system") in ("sqlite", "postgresql")]
    redis = [span for span in found if attributes(span).get("db.system") == "redis"]
    # The users, read by the query's DataLoader; the sign-in's limits, counted in Redis
    assert "GraphQL Query: Team" in {operation_of(span) for span in sql}, names
    assert "GraphQL Query: SignIn" in {operation_of(span) for span in redis}, names
    # A span for each root field, none for the fields beneath; no password anywhere
    assert "GraphQL Resolving: users" in names and "GraphQL Resolving: email" not in names
    everything = json.dumps([attributes(span) for span in found])
    assert "admin-demo-password" not in everything


def test_sentry_is_set_up_from_sentry_dsn_without_personal_data(migrated):
    pytest.importorskip("sentry_sdk")
    active, pii, strawberry, logging_on = run(SENTRY, "http://key@127.0.0.1:9/1").split()
    assert (active, pii, strawberry, logging_on) == ("True", "False", "False", "True")


def test_a_configured_extra_that_is_not_installed_is_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(telemetry, "_started", {})
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)
    settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
                        sentry_dsn="http://key@127.0.0.1:9/1", _env_file=None)

    with caplog.at_level(logging.WARNING, logger="timetrak_sms.telemetry"):
        assert telemetry.start(settings) is False

    said = caplog.text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT is set" in said and "timetrak-sms[otel]" in said
    assert "SENTRY_DSN is set" in said and "timetrak-sms[sentry]" in said
