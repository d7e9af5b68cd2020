"""Traces (OpenTelemetry, the `otel` extra) and error reports (Sentry, the `sentry` extra), each
on only when its variable is set, and neither imported otherwise.

Traces: a span for each GraphQL query or mutation (schema.tracing), with the SQL, Redis and
provider (httpx) spans of its work beneath it, sent over OTLP/HTTP to
OTEL_EXPORTER_OTLP_ENDPOINT; the worker's jobs make SQL, Redis and provider spans of their own.
Errors: what is logged at ERROR (an unexpected GraphQL error, a job that raised) goes to
SENTRY_DSN. A variable set without its extra installed is a warning at start, not a failure:
the service still sends SMS, untraced.
"""

from __future__ import annotations

import logging
import os

from models.config import Settings

log = logging.getLogger("timetrak_sms.telemetry")

# What this process turned on, once: instrumenting twice would wrap twice.
_started: dict[str, bool] = {}


def start(settings: Settings, service: str = "timetrak-sms") -> bool:
    """Turn on what is configured; whether traces are on (the schema then adds its spans)."""
    start_error_reports(settings)
    return start_tracing(settings, service)


def tracing() -> bool:
    return _started.get("tracing", False)


def start_tracing(settings: Settings, service: str) -> bool:
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return False
    if "tracing" in _started:
        return _started["tracing"]
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed (%s): no "
            "traces. Install the otel extra: pip install 'timetrak-sms[otel]'",
            error,
        )
        _started["tracing"] = False
        return False
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
    )
    trace.set_tracer_provider(provider)
    # Engines made from now on are traced (models.db looks create_async_engine up each time);
    # Redis and httpx clients are traced whenever they were made.
    # Its declared range ends before SQLAlchemy 2.1, whose engine events it hooks are unchanged
    # (tests/test_telemetry.py checks the SQL spans); without skipping the check it does nothing.
    SQLAlchemyInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _started["tracing"] = True
    log.info("traces to %s/v1/traces as %s", endpoint.rstrip("/"), name)
    return True


def start_error_reports(settings: Settings) -> bool:
    if not settings.sentry_dsn:
        return False
    if "errors" in _started:
        return _started["errors"]
    try:
        import sentry_sdk
    except ImportError as error:
        log.warning(
            "SENTRY_DSN is set but sentry-sdk is not installed (%s): no error reports. Install "
            "the sentry extra: pip install 'timetrak-sms[sentry]'",
            error,
        )
        _started["errors"] = False
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        # No headers, cookies, bodies or user details: a token or a password never leaves.
        send_default_pii=False,
        disabled_integrations=_without_strawberry(),
    )
    _started["errors"] = True
    log.info("error reports to Sentry (%s)", settings.environment)
    return True


def _without_strawberry() -> list:
    """Sentry's strawberry integration reports every error in an answer, a refused sign-in too;
    unexpected errors reach Sentry from the log instead (schema.client_errors logs them at
    ERROR). Where it cannot work with this strawberry it is off already."""
    from sentry_sdk.integrations import DidNotEnable

    try:
        from sentry_sdk.integrations.strawberry import StrawberryIntegration
    except (ImportError, DidNotEnable):
        return []
    return [StrawberryIntegration()]
