"""The ASGI application: GraphQL over HTTP and websockets, provider webhooks, health checks."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import IO, Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from cross_web import HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from api import graphiql, logs, metrics, request_json, telemetry
from api.auth import (
    BearerTokenBackend,
    SignedInUser,
    bearer_token,
    signed_in,
    unavailable,
)
from api.limits import BodySizeLimit
from api.metrics import metrics_endpoint
from api.request_ids import RequestIds
from api.webhooks import inbound_endpoint, status_endpoint
from jobs.presence import worker_last_seen
from jobs.steady_worker import SteadyWorker
from jobs.worker import build_worker
from models.config import Settings, get_settings
from models.db import Sessions, create_engine, feed_engine, session_factory
from schema import build_schema
from schema.context import Context
from schema.feed import StatusFeed
from schema.loaders import Loaders

MAX_SUBSCRIPTIONS = 10


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: Sessions
    queue: ArqRedis | None
    feed: StatusFeed | None = None
    # The live feed's reads (models.db.feed_engine); the main engine's when not set.
    feed_engine: AsyncEngine | None = None

    @cached_property
    def feed_sessions(self) -> Sessions:
        return session_factory(self.feed_engine or self.engine)


async def open_services(settings: Settings) -> Services:
    engine = create_engine(settings.database_url)
    queue = (
        await create_pool(RedisSettings.from_dsn(settings.redis_url))
        if settings.redis_url
        else None
    )
    return Services(
        settings,
        engine,
        session_factory(engine),
        queue,
        StatusFeed(queue) if queue is not None else None,
        feed_engine(settings.database_url),
    )


async def close_services(services: Services) -> None:
    if services.feed is not None:
        await services.feed.close()
    if services.queue is not None:
        await services.queue.aclose()
    if services.feed_engine is not None:
        await services.feed_engine.dispose()
    await services.engine.dispose()


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a server that allocates many short-lived objects.

    A GraphQL answer builds thousands of small objects; with Python's default thresholds the
    collector runs dozens of times per request and, with many requests in flight, rescans the
    whole heap. Freezing what start-up built and collecting the youngest generation less often
    halves the CPU a calendar request costs (bench/calendar.py).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


# The lock that makes this process the one with the embedded worker, held while it lives.
_WORKER_LOCK: list[IO] = []


def runs_the_embedded_worker(settings: Settings) -> bool:
    """Of `serve --workers N`'s processes, the one that locks EMBEDDED_WORKER_LOCK first; one
    worker on the embedded Redis is enough, and one that dies frees the lock for the process
    uvicorn starts in its place. A single process needs no lock."""
    if not settings.embedded_worker_lock:
        return True
    handle = open(settings.embedded_worker_lock, "a")  # noqa: SIM115 (held for the process)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _WORKER_LOCK.append(handle)
    return True


def start_worker(services: Services) -> SteadyWorker:
    """An arq worker in this process, on the API's Redis (embedded defaults); like a separate
    worker it rides out Redis and database outages."""
    worker = build_worker(services.settings, handle_signals=False)
    asyncio.get_running_loop().create_task(worker.async_run())
    return worker


async def worker_check(queue: ArqRedis) -> tuple[bool, str]:
    """Whether a worker wrote arq's health check key lately (any worker, on this Redis)."""
    try:
        seen = await worker_last_seen(queue)
    except Exception:
        return False, "unknown (Redis unavailable)"
    return (False, "not seen") if seen is None else (True, f"seen {seen:.0f} s ago")


class GraphQLApp(GraphQL):
    def __init__(self, services: Callable[[], Services], settings: Settings):
        # Introspection and GraphiQL help developers and attackers alike: development only.
        development = settings.environment == "development"
        super().__init__(
            build_schema(
                settings.production, introspection=development, tracing=telemetry.tracing()
            ),
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=False,
            subscription_protocols=("graphql-transport-ws",),
            connection_init_wait_timeout=timedelta(seconds=settings.websocket_init_timeout_seconds),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        )
        self.services = services

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql.page()

    def decode_json(self, data: str | bytes) -> object:
        # Bodies over HTTP and messages over websockets alike.
        return request_json.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except request_json.NestedTooDeeply as error:
            raise HTTPException(400, str(error)) from error
        except ValueError as error:
            # Broken JSON, bytes that are not UTF-8, an integer past Python's 4,300 digits.
            raise HTTPException(400, "Unable to parse request body as JSON") from error

    async def get_context(self, request: Any, response: Any) -> Context:
        user = request.scope.get("user")
        signed = user if isinstance(user, SignedInUser) else None
        services = self.services()
        loaders = Loaders(services.sessions, services.settings.time_zone)
        if signed is not None and signed.company is not None:
            loaders.prime_company(signed.company)
        return Context(
            request=request,
            response=response,
            sessions=services.sessions,
            settings=services.settings,
            loaders=loaders,
            user=signed.user if signed else None,
            profile=signed.profile if signed else None,
            queue=services.queue,
            feed=services.feed,
            feed_sessions=services.feed_sessions,
        )

    async def on_ws_connect(self, context: Context) -> None:
        """Websockets sign in with the bearer token in connection_init's payload."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        token = bearer_token(header) if isinstance(header, str) else None
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        try:
            signed = await signed_in(self.services().sessions, token)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"code": "SERVICE_UNAVAILABLE"}) from error
        if signed is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.user, context.profile = signed.user, signed.profile


def served() -> Starlette:
    """The app as `timetrak-sms serve` runs it, in each of its API processes: logging set up as
    the command sets it, which a process started by `serve --workers` has not inherited."""
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The app; given `services` it uses them as they are, else it opens its own in the lifespan."""
    settings = services.settings if services else settings or get_settings()
    # Before the engines are made (in the lifespan) and the schema is built: both get traced.
    telemetry.start(settings)
    holder: dict[str, Services] = {}

    def current() -> Services:
        return services or holder["services"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        holder["services"] = opened = await open_services(settings)
        first = settings.embedded_worker and runs_the_embedded_worker(settings)
        worker = start_worker(opened) if first else None
        tune_garbage_collector()
        try:
            yield
        finally:
            if worker is not None:
                await worker.close()
            await close_services(opened)
            metrics.process_ended()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks = {"database": False, "redis": False}
        with contextlib.suppress(Exception):
            async with current().engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["redis"] = bool(current().queue and await current().queue.ping())
        worker_seen, worker = (
            await worker_check(current().queue)
            if checks["redis"]
            else (False, "unknown (Redis unavailable)")
        )
        ready = all(checks.values()) and worker_seen
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks, "worker": worker},
            status_code=200 if ready else 503,
        )

    graphql = GraphQLApp(current, settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/webhooks/twilio/status", status_endpoint(current), methods=["POST"]),
            Route("/webhooks/twilio/inbound", inbound_endpoint(current), methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(current)),
            *(graphiql.routes() if graphql.graphql_ide else ()),
        ],
        middleware=[
            # Outermost: even a refused body or an unavailable sign-in answers with its id.
            Middleware(RequestIds),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerTokenBackend(lambda: current().sessions),
                on_error=unavailable,
            ),
        ],
        lifespan=lifespan,
    )
    return app
