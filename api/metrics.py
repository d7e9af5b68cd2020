"""/metrics in Prometheus' text format: the API's route, and a worker's own small server.

Both answer only with METRICS_TOKEN as a bearer token when it is set (401 otherwise). The API
also measures timetrak_sms_queue_depth at each scrape (one COUNT); a worker reports only what it
did itself.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import socket
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.auth import bearer_token
from models.config import Settings
from models.metrics import QUEUE_DEPTH, measure_queue_depth

log = logging.getLogger("timetrak_sms.metrics")


def allowed(settings: Settings, authorization: str | None) -> bool:
    if not settings.metrics_token:
        return True
    given = bearer_token(authorization) or ""
    return hmac.compare_digest(given.encode(), settings.metrics_token.encode())


def unauthorised() -> PlainTextResponse:
    return PlainTextResponse(
        "Unauthorized: /metrics needs METRICS_TOKEN as a bearer token.",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def metrics_endpoint(services: Callable) -> Callable:
    async def metrics(request: Request) -> Response:
        current = services()
        if not allowed(current.settings, request.headers.get("authorization")):
            return unauthorised()
        # The database away leaves the gauge out; the counters are still worth reading.
        with contextlib.suppress(Exception):
            await measure_queue_depth(current.sessions)
        return Response(generate_latest(scraped()), media_type=CONTENT_TYPE_LATEST)

    return metrics


def shared_across_processes() -> bool:
    """`serve --workers N` runs N API processes, each counting what it did: they write their
    counts to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode, set up by
    `serve`), and whichever process answers a scrape adds them all up."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def scraped() -> CollectorRegistry:
    """What a scrape reports: this process's metrics, or every API process's, and the queue
    depth this process just measured."""
    if not shared_across_processes():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(QUEUE_DEPTH)
    return registry


def process_ended() -> None:
    """An API process stopping: its live gauges leave the sum (its counts stay)."""
    if shared_across_processes():
        multiprocess.mark_process_dead(os.getpid())


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


class WorkerMetrics:
    """prometheus_client's WSGI app behind the token check, on a thread of its own: it answers
    while the worker waits out an outage, and stops with the process."""

    def __init__(self, settings: Settings, host: str, port: int):
        metrics = make_wsgi_app(REGISTRY)

        def app(environ, start_response):
            if not allowed(settings, environ.get("HTTP_AUTHORIZATION")):
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
                )
                return [b"Unauthorized: /metrics needs METRICS_TOKEN as a bearer token.\n"]
            return metrics(environ, start_response)

        server = _Server6 if ":" in host else _Server
        self.server = make_server(host, port, app, server, handler_class=_QuietHandler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="metrics", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"

    def start(self) -> WorkerMetrics:
        self.thread.start()
        log.info("worker metrics at %s", self.address)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
