"""Settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.config import Settings


def test_defaults_are_the_embedded_ones(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "SMS_PROVIDER", "ENVIRONMENT", "TIME_ZONE"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=None)

    assert settings.database_url == "sqlite:///./timetrak-sms.db"
    assert settings.redis_url is None
    assert settings.sms_provider == "log"
    assert settings.environment == "development"
    assert settings.time_zone == "Pacific/Auckland"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/timetrak")
    monkeypatch.setenv("SMS_PROVIDER", "twilio")
    monkeypatch.setenv("TIME_ZONE", "Australia/Sydney")

    settings = Settings(_env_file=None)

    assert (settings.database_url, settings.sms_provider, settings.time_zone) == (
        "postgresql://db.internal/timetrak", "twilio", "Australia/Sydney")


def test_a_secret_key_from_older_deployments_is_accepted_and_unused(monkeypatch):
    # SECRET_KEY was required in production and used for nothing; setting it still starts.
    monkeypatch.setenv("SECRET_KEY", "change-me")
    monkeypatch.setenv("ENVIRONMENT", "production")

    settings = Settings(_env_file=None)

    assert settings.production
    assert "secret_key" not in settings.model_dump()


def test_an_unknown_provider_is_refused():
    with pytest.raises(ValidationError):
        Settings(sms_provider="carrier-pigeon", _env_file=None)
