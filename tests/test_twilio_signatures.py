"""Our webhook signature check against Twilio's own: twilio.request_validator.RequestValidator.

Twilio signs the URL it was given, and its validator accepts a signature over that URL with or
without the port (for https, Twilio has signed both ways); the webhook must accept what the
official library would, and what our tests sign must pass the official library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from api.app import Services, create_app
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, signed_form

STATUS = "/webhooks/twilio/status"
TWILIO = RequestValidator(AUTH_TOKEN)

# (PUBLIC_BASE_URL, the URL Twilio signs for a status callback to it)
SIGNED_URLS = {
    "https, signed as configured": ("https://sms.example.com", "https://sms.example.com" + STATUS),
    "https, signed with :443": ("https://sms.example.com", "https://sms.example.com:443" + STATUS),
    "https:443 configured, signed without": (
        "https://sms.example.com:443",
        "https://sms.example.com" + STATUS,
    ),
    "https:443 configured, signed with": (
        "https://sms.example.com:443",
        "https://sms.example.com:443" + STATUS,
    ),
    "another port, signed with it": (
        "https://sms.example.com:8443",
        "https://sms.example.com:8443" + STATUS,
    ),
    "http with its port": ("http://127.0.0.1:8000", "http://127.0.0.1:8000" + STATUS),
    "http, signed with :80": ("http://sms.example.com", "http://sms.example.com:80" + STATUS),
    "a query string": (
        "https://sms.example.com",
        "https://sms.example.com" + STATUS + "?message_id=12",
    ),
    "a query string, with :443": (
        "https://sms.example.com",
        "https://sms.example.com:443" + STATUS + "?message_id=12",
    ),
    "a base URL with a path": (
        "https://example.com/sms/",
        "https://example.com:443/sms" + STATUS,
    ),
}

# Forms as Twilio posts them: its parameters, odd characters and empty values included.
FORMS = {
    "delivered": {"MessageStatus": "delivered"},
    "failed with a code": {"MessageStatus": "undelivered", "ErrorCode": "30003"},
    "odd characters": {"MessageStatus": "sent", "Body": "Kia ora — 5 & 6 = 11? ✓ +64 %20"},
    "an empty value": {"MessageStatus": "sent", "ErrorCode": ""},
}


def callback(extra: dict[str, str]) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "7" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": "+64210000000",
        "To": "+64215550111",
        "SmsStatus": "sent",
    } | extra


@pytest.fixture
def public(request) -> str:
    return request.param


@pytest.fixture
async def http(services, twilio_settings, sessions, public) -> AsyncIterator[httpx.AsyncClient]:
    """The app as deployed with Twilio at `public`, on an empty database."""
    settings = twilio_settings.model_copy(update={"public_base_url": public})
    app = create_app(
        services=Services(settings, services.engine, services.sessions, services.queue)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


def path_of(url: str) -> str:
    return STATUS + url.partition(STATUS)[2]


@pytest.mark.parametrize(
    "public,url", SIGNED_URLS.values(), ids=SIGNED_URLS.keys(), indirect=["public"]
)
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
async def test_what_twilio_signs_is_accepted(http, url, form):
    # Given a callback signed by Twilio's own code
    posted = callback(form)
    signature = TWILIO.compute_signature(url, posted)

    # When it reaches the webhook
    response = await http.post(
        path_of(url),
        content=urlencode(posted),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    # Then it is taken as Twilio's (204: no such message here, but genuine)
    assert response.status_code == 204, response.text


# What Twilio's validator refuses, the webhook refuses too: these tests could fail.
FORGED_URLS = {
    "another host": ("https://sms.example.com", "https://evil.example.com" + STATUS),
    "another port": ("https://sms.example.com", "https://sms.example.com:8443" + STATUS),
    "http not https": ("https://sms.example.com", "http://sms.example.com" + STATUS),
    "https not http": ("http://sms.example.com", "https://sms.example.com" + STATUS),
    "another query": (
        "https://sms.example.com",
        "https://sms.example.com" + STATUS + "?message_id=13",
    ),
}


@pytest.mark.parametrize(
    "public,url", FORGED_URLS.values(), ids=FORGED_URLS.keys(), indirect=["public"]
)
async def test_a_signature_for_another_url_is_refused(http, public, url):
    posted = callback({"MessageStatus": "delivered"})
    requested = public.rstrip("/") + STATUS + ("?message_id=12" if "?" in url else "")
    assert not TWILIO.validate(requested, posted, TWILIO.compute_signature(url, posted))

    response = await http.post(
        STATUS + ("?message_id=12" if "?" in url else ""),
        content=urlencode(posted),
        headers={
            "X-Twilio-Signature": TWILIO.compute_signature(url, posted),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert response.status_code == 403


@pytest.mark.parametrize("url", [url for _, url in SIGNED_URLS.values()])
@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_what_our_tests_sign_passes_twilios_validator(url, form):
    posted = callback(form)

    headers = signed_form(url, posted)

    assert TWILIO.validate(url, posted, headers["X-Twilio-Signature"])
    assert TWILIO.compute_signature(url, posted) == headers["X-Twilio-Signature"]
    assert not TWILIO.validate(url, posted | {"MessageStatus": "read"},
                               headers["X-Twilio-Signature"])
