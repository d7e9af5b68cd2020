"""Replies to our number: every one stored; STOP opts the number out of SMS, START back in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from api.app import Services, create_app
from models import Appointment, InboundMessage, OptOut, SmsMessage
from models.enums import SmsStatus
from models.errors import ErrorCode
from models.opt_outs import Keyword, keyword
from tests.fake_twilio import ACCOUNT_SID, FROM_NUMBER, signed_form

INBOUND = "/webhooks/twilio/inbound"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status toNumber } errors { code field message } }
}
"""
APPOINTMENT_CONTACT = """
query Contact($id: ID!) { appointment(id: $id) { contact { kind id smsNumber optedOut problem } } }
"""
CLIENT_OPTED_OUT = "query Client($id: ID!) { client(id: $id) { optedOut } }"
CONTACT_OPTED_OUT = "query Contact($id: ID!) { contact(id: $id) { optedOut } }"


@pytest.fixture
async def app(services, twilio_settings):
    return create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                        services.queue, services.feed))


@pytest.fixture
async def http(app, sessions) -> AsyncIterator[httpx.AsyncClient]:
    """Twilio's side of the webhooks, on an empty database."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


# --- the keyword rule -----------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "STOP", "stop", "Stop", "  stop! ", "Stop.", "STOPALL", "stopall", "UNSUBSCRIBE",
    "unsubscribe", "CANCEL", "cancel", "END", "end", "QUIT", "Quit", "REVOKE", "revoke",
    "OPTOUT", "optout", "OptOut", "\n STOP \n", '"stop"', "...quit!!!", "¡Stop!",
])
def test_a_single_opt_out_word_opts_out(body):
    assert keyword(body) is Keyword.OPT_OUT


@pytest.mark.parametrize("body", ["START", "start", " Start! ", "YES", "yes.", "UNSTOP", "unstop"])
def test_a_single_opt_in_word_opts_in(body):
    assert keyword(body) is Keyword.OPT_IN


@pytest.mark.parametrize("body", [
    "stop please", "please stop", "STOP STOP", "Don't stop", "stopping", "nonstop", "opt out",
    "st op", "S.T.O.P", "yes please", "Thanks, see you then", "", "   ", "!!!", None,
])
def test_anything_else_is_no_keyword(body):
    assert keyword(body) is None


# --- the inbound webhook --------------------------------------------------------------------


async def reply(http, sender: str, body: str, sid: str) -> None:
    form = {"From": sender, "To": FROM_NUMBER, "Body": body, "MessageSid": sid,
            "AccountSid": ACCOUNT_SID, "NumSegments": "1"}
    response = await http.post(INBOUND, content=urlencode(form),
                               headers=signed_form("https://sms.example.com" + INBOUND, form))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response></Response>" in response.text


async def opt_out_of(sessions, number: str) -> OptOut | None:
    async with sessions() as session:
        return (await session.exec(select(OptOut).where(OptOut.number == number))).first()


async def send_first_possible(user, sessions) -> dict:
    """A manual send for the first appointment that can take one: its message and appointment."""
    async with sessions() as session:
        appointments = (await session.exec(select(Appointment.id).order_by(Appointment.id))).all()
    for appointment_id in appointments:
        body = await user.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                              "body": "See you at 10."}})
        if not body["sendSms"]["errors"]:
            return {"appointment_id": appointment_id, **body["sendSms"]["message"]}
    raise AssertionError("no appointment in the demo can take an SMS")


async def test_every_inbound_message_is_stored(http, sessions):
    await reply(http, "+64215550111", "Running 5 min late, the gate code is 1234",
                "SM" + "1" * 32)
    await reply(http, "+61412555301", "STOP", "SM" + "2" * 32)

    async with sessions() as session:
        stored = (await session.exec(select(InboundMessage).order_by(InboundMessage.id))).all()
    assert [(m.from_number, m.to_number, m.body, m.provider_message_id) for m in stored] == [
        ("+64215550111", FROM_NUMBER, "Running 5 min late, the gate code is 1234", "SM" + "1" * 32),
        ("+61412555301", FROM_NUMBER, "STOP", "SM" + "2" * 32),
    ]
    assert all(m.received_at is not None for m in stored)
    assert await opt_out_of(sessions, "+64215550111") is None


async def test_a_replayed_inbound_message_is_stored_once(http, sessions):
    for _ in range(2):
        await reply(http, "+64215550111", "STOP", "SM" + "3" * 32)

    async with sessions() as session:
        assert len((await session.exec(select(InboundMessage))).all()) == 1
    assert (await opt_out_of(sessions, "+64215550111")).opted_out is True



async def test_a_replayed_stop_does_not_undo_a_later_start(http, sessions):
    await reply(http, "+64215550111", "STOP", "SM" + "e" * 32)
    await reply(http, "+64215550111", "START", "SM" + "f" * 32)

    await reply(http, "+64215550111", "STOP", "SM" + "e" * 32)

    assert (await opt_out_of(sessions, "+64215550111")).opted_out is False


@pytest.mark.parametrize("body", ["STOP", "  stop! ", "Stop.", "optout", "UNSUBSCRIBE", "Cancel",
                                  "end", "QUIT", "revoke", "StopAll"])
async def test_an_opt_out_word_opts_the_number_out(http, sessions, body):
    await reply(http, "+64215550111", body, "SM" + "4" * 32)

    opt_out = await opt_out_of(sessions, "+64215550111")
    assert opt_out is not None and opt_out.opted_out is True


@pytest.mark.parametrize("body", ["stop please", "please stop", "Can you stop by at 3?"])
async def test_a_sentence_containing_stop_does_not_opt_out(http, sessions, body):
    await reply(http, "+64215550111", body, "SM" + "5" * 32)

    assert await opt_out_of(sessions, "+64215550111") is None
    async with sessions() as session:
        assert len((await session.exec(select(InboundMessage))).all()) == 1


@pytest.mark.parametrize("word", ["START", "yes", "Unstop!"])
async def test_an_opt_in_word_opts_the_number_back_in(http, sessions, word):
    await reply(http, "+64215550111", "STOP", "SM" + "6" * 32)

    await reply(http, "+64215550111", word, "SM" + "7" * 32)

    opt_out = await opt_out_of(sessions, "+64215550111")
    assert opt_out.opted_out is False and opt_out.opted_in_at is not None


async def test_a_stop_affects_only_the_number_that_sent_it(http, sessions):
    await reply(http, "+64215550111", "STOP", "SM" + "8" * 32)

    assert await opt_out_of(sessions, "+64215550123") is None



async def test_replies_from_one_number_at_once_are_all_stored(http, sessions):
    await asyncio.gather(*(reply(http, "+64215550111", word, f"SM{i:032d}")
                           for i, word in enumerate(["STOP", "Stop", "stop!", "QUIT"])))

    async with sessions() as session:
        assert len((await session.exec(select(InboundMessage))).all()) == 4
        assert [o.opted_out for o in (await session.exec(select(OptOut))).all()] == [True]


@pytest.mark.parametrize("sender", ["whatsapp:+64215550111", "TimeTrak", "+6421555011100000001"])
async def test_a_stop_from_a_sender_we_never_send_to_is_stored_and_opts_nothing_out(
        http, sessions, sender):
    await reply(http, sender, "STOP", "SM" + "d" * 32)

    async with sessions() as session:
        assert [m.from_number for m in (await session.exec(select(InboundMessage))).all()] == [
            sender]
        assert (await session.exec(select(OptOut))).all() == []


# --- what opting out does to sending --------------------------------------------------------


async def test_after_stop_the_recipient_shows_opted_out_and_sends_are_refused(admin, demo):
    sent = await send_first_possible(admin, demo)
    recipient = (await admin.ok(APPOINTMENT_CONTACT, {"id": str(sent["appointment_id"])}))[
        "appointment"]["contact"]
    assert recipient["optedOut"] is False and recipient["smsNumber"] == sent["toNumber"]
    own = CLIENT_OPTED_OUT if recipient["kind"] == "CLIENT" else CONTACT_OPTED_OUT
    assert list((await admin.ok(own, {"id": recipient["id"]})).values())[0]["optedOut"] is False

    await reply(admin.http, sent["toNumber"], "Stop.", "SM" + "9" * 32)

    assert list((await admin.ok(own, {"id": recipient["id"]})).values())[0]["optedOut"] is True
    recipient = (await admin.ok(APPOINTMENT_CONTACT, {"id": str(sent["appointment_id"])}))[
        "appointment"]["contact"]
    assert recipient["optedOut"] is True and recipient["problem"] == "OPTED_OUT"
    refused = await admin.ok(SEND, {"input": {"appointmentId": str(sent["appointment_id"]),
                                              "body": "Are you there?"}})
    assert refused["sendSms"]["message"] is None
    assert [e["code"] for e in refused["sendSms"]["errors"]] == [ErrorCode.OPTED_OUT.value]


async def test_a_message_queued_before_stop_fails_without_reaching_twilio(admin, demo, twilio,
                                                                            drain):
    sent = await send_first_possible(admin, demo)
    assert sent["status"] == "QUEUED"

    await reply(admin.http, sent["toNumber"], "STOP", "SM" + "a" * 32)
    await drain()

    assert twilio.received == []
    async with demo() as session:
        message = await session.get(SmsMessage, int(sent["id"]))
    assert message.status is SmsStatus.FAILED
    assert message.error_code == ErrorCode.OPTED_OUT.value
    assert "opted out" in message.error_message


async def test_after_start_sending_works_again(admin, demo, twilio, drain):
    sent = await send_first_possible(admin, demo)
    await drain()
    await reply(admin.http, sent["toNumber"], "STOP", "SM" + "b" * 32)
    await reply(admin.http, sent["toNumber"], "START", "SM" + "c" * 32)

    again = await admin.ok(SEND, {"input": {"appointmentId": str(sent["appointment_id"]),
                                            "body": "Back on the list."}})
    await drain()

    assert again["sendSms"]["errors"] == []
    assert [m["Body"] for m in twilio.received] == ["See you at 10.", "Back on the list."]
    async with demo() as session:
        message = await session.get(SmsMessage, int(again["sendSms"]["message"]["id"]))
    assert message.status is SmsStatus.SENT
