"""Service configuration read from the environment, one cached instance."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./timetrak-sms.db"
    # Unset means the service starts its own Redis server (embedded defaults).
    redis_url: str | None = None
    sms_provider: Literal["log", "twilio"] = "log"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    public_base_url: str = "http://127.0.0.1:8000"
    time_zone: str = "Pacific/Auckland"
    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = PLACEHOLDER_SECRET
    token_ttl_hours: int = 24 * 30
    max_body_bytes: int = 256 * 1024
    # A message handed to the provider with no answer by then becomes FAILED, outcome unknown.
    unsettled_after_seconds: int = 15 * 60
    # A websocket that has not sent connection_init by then is closed (4408).
    websocket_init_timeout_seconds: float = 10.0
    # Run an arq worker inside the API process; `serve` turns it on with its embedded Redis.
    embedded_worker: bool = False

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @model_validator(mode="after")
    def _secret_set_in_production(self) -> Settings:
        if self.production and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError("SECRET_KEY must be set to a real secret when ENVIRONMENT=production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
