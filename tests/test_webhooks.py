"""Twilio's status callbacks, and the signature check that guards both webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

import api.webhooks
from api.app import Services, create_app
from models import Appointment, InboundMessage, OptOut, SmsMessage
from models.enums import SmsSource, SmsStatus
from models.provider_errors import reason_for
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, signed_form

PUBLIC = "https://sms.example.com"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status toNumber } errors { code message } }
}
"""
MESSAGE = """
query Message($id: ID!) {
  appointment(id: $id) { smsMessages { id status errorMessage deliveredAt } }
}
"""


@pytest.fixture
async def app(services, twilio_settings):
    """The app as deployed with Twilio: webhooks verify against its auth token and account."""
    return create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                        services.queue, services.feed))


@pytest.fixture
async def http(app, sessions) -> AsyncIterator[httpx.AsyncClient]:
    """Twilio's side of the webhooks, on an empty database."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client



async def post(http: httpx.AsyncClient, path: str, form: dict[str, str],
               headers: dict[str, str] | None = None) -> httpx.Response:
    """Post `form` as Twilio would: signed for the public URL of `path` unless told otherwise."""
    if headers is None:
        headers = signed_form(PUBLIC + path, form)
    return await http.post(path, content=urlencode(form), headers=headers)


def status_form(sid: str, status: str, error_code: str | None = None) -> dict[str, str]:
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
            "To": "+64215550111", "From": "+64210000000"}
    if error_code is not None:
        form["ErrorCode"] = error_code
    return form


async def sent_message(admin, demo, drain) -> SmsMessage:
    """A manual send that went through the real worker to the fake Twilio: SENT, with its SID."""
    async with demo() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        body = await admin.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                               "body": "Your technician is on the way."}})
        if not body["sendSms"]["errors"]:
            break
    await drain()
    return await message_row(demo, int(body["sendSms"]["message"]["id"]))


async def message_row(sessions, message_id: int) -> SmsMessage:
    async with sessions() as session:
        return await session.get(SmsMessage, message_id)


async def stored_message(sessions, status: SmsStatus, sid: str | None = None) -> SmsMessage:
    async with sessions.begin() as session:
        row = SmsMessage(to_number="+64215550111", body="Hello", source=SmsSource.APP,
                         status=status, provider_message_id=sid)
        session.add(row)
    return row


def status_path(message: SmsMessage) -> str:
    return f"/webhooks/twilio/status?message_id={message.id}"


# --- the signature --------------------------------------------------------------------------


def test_the_signature_matches_twilios_published_example():
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]

    assert api.webhooks.signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
                                  params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


# --- status callbacks -----------------------------------------------------------------------


@pytest.mark.parametrize("twilio_status, expected", [
    ("queued", SmsStatus.SENT), ("accepted", SmsStatus.SENT), ("sending", SmsStatus.SENT),
    ("sent", SmsStatus.SENT), ("delivered", SmsStatus.DELIVERED),
    ("undelivered", SmsStatus.FAILED), ("failed", SmsStatus.FAILED),
])
async def test_each_twilio_status_maps_to_ours(http, sessions, twilio_status, expected):
    message = await stored_message(sessions, SmsStatus.SENDING)

    response = await post(http, status_path(message),
                          status_form("SM" + "a" * 32, twilio_status))

    assert response.status_code < 300
    row = await message_row(sessions, message.id)
    assert row.status is expected
    assert row.provider_message_id == "SM" + "a" * 32


async def test_delivered_marks_a_sent_message_delivered(admin, demo, drain):
    message = await sent_message(admin, demo, drain)
    assert message.status is SmsStatus.SENT and message.delivered_at is None

    response = await post(admin.http, status_path(message),
                          status_form(message.provider_message_id, "delivered"))

    assert response.status_code == 204
    row = await message_row(demo, message.id)
    assert row.status is SmsStatus.DELIVERED and row.delivered_at is not None
    history = await admin.ok(MESSAGE, {"id": str(message.appointment_id)})
    shown = [m for m in history["appointment"]["smsMessages"] if m["id"] == str(message.id)]
    assert shown[0]["status"] == "DELIVERED" and shown[0]["deliveredAt"] is not None


async def test_undelivered_fails_the_message_with_the_plain_language_reason(admin, demo, drain):
    message = await sent_message(admin, demo, drain)

    await post(admin.http, status_path(message),
               status_form(message.provider_message_id, "undelivered", "30003"))

    row = await message_row(demo, message.id)
    assert row.status is SmsStatus.FAILED
    assert row.error_code == "30003"
    assert row.error_message == "The handset is switched off or unreachable."
    history = await admin.ok(MESSAGE, {"id": str(message.appointment_id)})
    shown = [m for m in history["appointment"]["smsMessages"] if m["id"] == str(message.id)]
    assert shown[0] == {"id": str(message.id), "status": "FAILED", "deliveredAt": None,
                        "errorMessage": "The handset is switched off or unreachable."}


async def test_a_failure_with_an_unknown_code_still_says_why(http, sessions):
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "b" * 32)

    await post(http, status_path(message),
               status_form("SM" + "b" * 32, "failed", "39999"))

    row = await message_row(sessions, message.id)
    assert row.status is SmsStatus.FAILED and row.error_code == "39999"
    assert row.error_message == reason_for(None)


@pytest.mark.parametrize(("error_code", "opted_out"), [("21610", True), ("30003", False)])
async def test_a_stop_failure_in_a_status_callback_opts_the_number_out(
        http, sessions, error_code, opted_out):
    # Given a message Twilio took, then failed because the recipient had replied STOP to it
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "c" * 32)

    await post(http, status_path(message), status_form("SM" + "c" * 32, "failed", error_code))

    # Then the number is opted out, as the refusal of a send request would have done
    async with sessions() as session:
        opt_out = (await session.exec(
            select(OptOut).where(OptOut.number == message.to_number))).first()
    assert (opt_out is not None and opt_out.opted_out) is opted_out


async def test_a_replayed_callback_is_harmless(admin, demo, drain):
    message = await sent_message(admin, demo, drain)
    form = status_form(message.provider_message_id, "delivered")
    await post(admin.http, status_path(message), form)
    first = await message_row(demo, message.id)

    replies = [await post(admin.http, status_path(message), form) for _ in range(3)]

    assert [r.status_code for r in replies] == [204, 204, 204]
    again = await message_row(demo, message.id)
    assert again.status is SmsStatus.DELIVERED
    assert (again.delivered_at, again.updated_at) == (first.delivered_at, first.updated_at)


@pytest.mark.parametrize("settled, late", [
    ("delivered", "sent"), ("delivered", "queued"), ("failed", "sent"), ("failed", "delivered"),
    ("delivered", "failed"), ("undelivered", "sending"),
])
async def test_status_never_moves_backwards(http, sessions, settled, late):
    sid = "SM" + "c" * 32
    message = await stored_message(sessions, SmsStatus.SENT, sid)
    await post(http, status_path(message), status_form(sid, settled, "30005"))
    before = await message_row(sessions, message.id)
    assert before.status in (SmsStatus.DELIVERED, SmsStatus.FAILED)

    response = await post(http, status_path(message), status_form(sid, late, "30003"))

    assert response.status_code == 204
    after = await message_row(sessions, message.id)
    assert (after.status, after.error_code, after.error_message, after.updated_at) == (
        before.status, before.error_code, before.error_message, before.updated_at)


@pytest.mark.parametrize("twilio_status, expected", [
    ("sent", SmsStatus.SENT), ("delivered", SmsStatus.DELIVERED), ("failed", SmsStatus.FAILED),
])
async def test_a_callback_settles_a_send_whose_request_timed_out(admin, demo, twilio, drain,
                                                                  twilio_status, expected):
    twilio.delay = 0.4
    async with demo() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        body = await admin.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                               "body": "Running late."}})
        if not body["sendSms"]["errors"]:
            break
    message_id = int(body["sendSms"]["message"]["id"])
    await drain(provider_timeout=0.1)
    waiting = await message_row(demo, message_id)
    assert waiting.status is SmsStatus.SENDING and waiting.provider_message_id is None

    response = await post(admin.http, f"/webhooks/twilio/status?message_id={message_id}",
                          status_form("SM" + "d" * 32, twilio_status, "30003"))

    assert response.status_code == 204
    row = await message_row(demo, message_id)
    assert row.status is expected
    assert row.provider_message_id == "SM" + "d" * 32


async def test_a_callback_without_message_id_is_matched_by_sid(admin, demo, drain):
    message = await sent_message(admin, demo, drain)

    await post(admin.http, "/webhooks/twilio/status",
               status_form(message.provider_message_id, "delivered"))

    assert (await message_row(demo, message.id)).status is SmsStatus.DELIVERED


async def test_a_callback_with_another_messages_sid_changes_nothing(http, sessions):
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "e" * 32)

    response = await post(http, status_path(message),
                          status_form("SM" + "f" * 32, "failed", "30003"))

    assert response.status_code == 204
    assert (await message_row(sessions, message.id)).status is SmsStatus.SENT


# --- forged requests ------------------------------------------------------------------------


def forgeries(path: str, form: dict[str, str]) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Each way a request can fail to be Twilio's: name -> (form posted, headers sent)."""
    url = PUBLIC + path
    good = signed_form(url, form)
    tampered = dict(form, Body="START") if "Body" in form else dict(form, MessageStatus="sent")
    other_account = dict(form, AccountSid="AC" + "9" * 32)
    return {
        "no signature": (form, {"Content-Type": good["Content-Type"]}),
        "wrong signature": (form, dict(good, **{"X-Twilio-Signature":
                                                 "0/KCTR6DLpKmkAf8muzZqo1nDgQ="})),
        "wrong auth token": (form, signed_form(url, form, auth_token="not-" + AUTH_TOKEN)),
        "another host": (form, signed_form("https://evil.example.com" + path, form)),
        "another path": (form, signed_form(PUBLIC + "/webhooks/twilio/other", form)),
        "another query": (form, signed_form(url + "0", form)),
        "http not https": (form, signed_form(url.replace("https", "http"), form)),
        "tampered param": (tampered, good),
        "extra param": (dict(form, Extra="1"), good),
        "wrong account": (other_account, signed_form(url, other_account)),
    }


STATUS_FORGERIES = list(forgeries("/x", {"MessageStatus": "x"}))


@pytest.mark.parametrize("forgery", STATUS_FORGERIES)
async def test_a_forged_status_callback_is_refused_and_changes_nothing(http, sessions, forgery):
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "1" * 32)
    path = status_path(message)
    form, headers = forgeries(path, status_form("SM" + "1" * 32, "delivered"))[forgery]

    response = await post(http, path, form, headers)

    assert response.status_code == 403
    row = await message_row(sessions, message.id)
    assert row.status is SmsStatus.SENT and row.delivered_at is None


@pytest.mark.parametrize("forgery", STATUS_FORGERIES)
async def test_a_forged_inbound_message_is_refused_and_changes_nothing(http, sessions, forgery):
    path = "/webhooks/twilio/inbound"
    genuine = {"From": "+64215550111", "To": "+64210000000", "Body": "STOP",
               "MessageSid": "SM" + "2" * 32, "AccountSid": ACCOUNT_SID}
    form, headers = forgeries(path, genuine)[forgery]

    response = await post(http, path, form, headers)

    assert response.status_code == 403
    async with sessions() as session:
        assert (await session.exec(select(InboundMessage))).all() == []
        assert (await session.exec(select(OptOut))).all() == []


async def test_the_same_request_signed_properly_is_accepted(http, sessions):
    """The forgery tests' control: only the forgery, never the request itself, is refused."""
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "1" * 32)

    response = await post(http, status_path(message),
                          status_form("SM" + "1" * 32, "delivered"))

    assert response.status_code == 204
    assert (await message_row(sessions, message.id)).status is SmsStatus.DELIVERED


@pytest.mark.parametrize("path", ["/webhooks/twilio/status", "/webhooks/twilio/inbound"])
async def test_without_an_auth_token_configured_every_request_is_refused(
        services, twilio_settings, sessions, path):
    unconfigured = twilio_settings.model_copy(update={"twilio_auth_token": ""})
    app = create_app(services=Services(unconfigured, services.engine, services.sessions,
                                       services.queue, services.feed))
    message = await stored_message(sessions, SmsStatus.SENT, "SM" + "3" * 32)
    form = (status_form("SM" + "3" * 32, "failed", "30003") if path.endswith("status") else
            {"From": "+64215550111", "To": "+64210000000", "Body": "STOP",
             "MessageSid": "SM" + "4" * 32, "AccountSid": ACCOUNT_SID})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        response = await post(http, path, form, signed_form(PUBLIC + path, form, auth_token=""))

    assert response.status_code == 403
    assert (await message_row(sessions, message.id)).status is SmsStatus.SENT
    async with sessions() as session:
        assert (await session.exec(select(InboundMessage))).all() == []
        assert (await session.exec(select(OptOut))).all() == []
