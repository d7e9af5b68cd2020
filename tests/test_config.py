"""Settings from the environment, and the production safety check on SECRET_KEY."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.config import PLACEHOLDER_SECRET, Settings


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


@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, ""])
def test_production_refuses_a_placeholder_secret(secret):
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=secret, _env_file=None)


def test_production_accepts_a_real_secret():
    assert Settings(environment="production", secret_key="k" * 40, _env_file=None).production


def test_an_unknown_provider_is_refused():
    with pytest.raises(ValidationError):
        Settings(sms_provider="carrier-pigeon", _env_file=None)
