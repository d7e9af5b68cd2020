"""Service configuration read from the environment, one cached instance."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # extra="ignore": a variable the service no longer reads (SECRET_KEY, which nothing used) is
    # accepted and ignored, so old deployments keep starting.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./timetrak-sms.db"
    # Unset means the service starts its own Redis server (embedded defaults).
    redis_url: str | None = None
    sms_provider: Literal["log", "twilio"] = "log"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    # Where Twilio reaches the service; its webhook signatures are checked against it. Unset,
    # `serve` takes the address it listens on (listening_on); other commands this default.
    public_base_url: str = "http://127.0.0.1:8000"
    time_zone: str = "Pacific/Auckland"
    environment: Literal["development", "test", "production"] = "development"
    token_ttl_hours: int = 24 * 30
    # Failed sign-ins allowed in any window of this long, per e-mail address and per client
    # address (counted in Redis, shared by every API process); past either, TOO_MANY_ATTEMPTS.
    sign_in_window_seconds: float = 15 * 60
    sign_in_failures_per_email: int = 5
    # Higher: an office behind one NAT address shares it.
    sign_in_failures_per_client: int = 20
    max_body_bytes: int = 256 * 1024
    # A message handed to the provider with no answer by then becomes FAILED, outcome unknown,
    # when the provider cannot be asked about it (unreachable, or it keeps no list).
    unsettled_after_seconds: int = 15 * 60
    # A message handed to the provider with no answer is looked up in its list this long after.
    provider_check_after_seconds: float = 60.0
    # A worker writes arq's health check key and its presence this often; one silent for two of
    # these is taken as gone (readyz, and the sweeper, which hands its jobs to other workers).
    worker_heartbeat_seconds: float = 10.0
    # A websocket that has not sent connection_init by then is closed (4408).
    websocket_init_timeout_seconds: float = 10.0
    # Run an arq worker inside the API process; `serve` turns it on with its embedded Redis.
    embedded_worker: bool = False
    # With `serve --workers N`, a file the API processes lock to choose the one that runs the
    # embedded worker; `serve` sets it.
    embedded_worker_lock: str = ""
    # Log lines for people ("text") or for a log pipeline, one JSON object a line ("json").
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # When set, /metrics (the API's and a worker's --metrics-port) answers only with it as a
    # bearer token.
    metrics_token: str = ""
    # Traces to this OTLP/HTTP collector (the `otel` extra), and errors to Sentry (`sentry`).
    otel_exporter_otlp_endpoint: str = ""
    sentry_dsn: str = ""

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def listening_on(self, host: str, port: int) -> Settings:
        """These settings for a server on host:port: PUBLIC_BASE_URL, unless set, is its address."""
        if "public_base_url" in self.model_fields_set:
            return self
        return self.model_copy(update={"public_base_url": local_address(host, port)})


def local_address(host: str, port: int) -> str:
    """The http address of a server listening on host:port, as seen from this machine."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
