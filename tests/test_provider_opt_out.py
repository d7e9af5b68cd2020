"""Twilio's refusal 21610 ("the recipient replied STOP to this sender") opts the number out, as an
inbound STOP would, so the next send is refused before it reaches Twilio."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Appointment, Job, OptOut, SmsMessage, Task, User
from models.channels import enqueue_send
from models.demo import TECH_EMAIL
from models.enums import SmsSource, SmsStatus
from tests.fake_twilio import Refusal

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status toNumber } errors { code message } }
}
"""
CHECK_RECIPIENT = """
query Check($recipient: RecipientInput!) { checkRecipient(recipient: $recipient) {
  optedOut canReceiveSms problem } }
"""

MERE = "+64215550111"


async def grease_trap_visit(sessions) -> Appointment:
    async with sessions() as session:
        return (await session.exec(
            select(Appointment).join(Job, Job.id == Appointment.job_id)
            .join(Task, Task.id == Appointment.task_id)
            .join(User, User.id == Appointment.user_id)
            .where(Job.title == "Grease trap replacement", Task.name == "Install and test",
                   User.email == TECH_EMAIL).order_by(Appointment.start))).first()


async def send_to_mere(tech, sessions) -> dict:
    """sendSms to Mere Tane, the grease trap visit's contact; the payload."""
    visit = await grease_trap_visit(sessions)
    return (await tech.ok(SEND, {"input": {"appointmentId": str(visit.id),
                                           "body": "Running 10 minutes late."}}))["sendSms"]


async def opt_out_of(sessions, number: str) -> OptOut | None:
    async with sessions() as session:
        return (await session.exec(select(OptOut).where(OptOut.number == number))).first()


async def stored(sessions, message_id: int) -> SmsMessage:
    async with sessions() as session:
        return await session.get(SmsMessage, message_id)


async def test_a_stop_refusal_opts_the_number_out_and_the_next_send_costs_nothing(
        tech, demo, twilio, drain, services):
    # Given Twilio refuses Mere's number: she replied STOP to our sender
    first = await send_to_mere(tech, demo)
    twilio.refuse = Refusal(400, 21610, "Attempt to send to unsubscribed recipient")

    # When the worker sends it
    await drain()

    # Then the message failed with Twilio's code, and the number is opted out
    refused = await stored(demo, int(first["message"]["id"]))
    assert (refused.status, refused.error_code) == (SmsStatus.FAILED, "21610")
    opt_out = await opt_out_of(demo, MERE)
    assert opt_out is not None and opt_out.opted_out is True
    mere = (await grease_trap_visit(demo)).contact_id
    check = await tech.ok(CHECK_RECIPIENT, {"recipient": {"kind": "CONTACT", "id": str(mere)}})
    assert check["checkRecipient"] == {"optedOut": True, "canReceiveSms": False,
                                       "problem": "OPTED_OUT"}

    # And the next manual send is refused by the API, before anything is queued
    twilio.refuse = None
    again = await send_to_mere(tech, demo)
    assert again["message"] is None
    assert [e["code"] for e in again["errors"]] == ["OPTED_OUT"]

    # And one already queued (a reminder, say) is failed by the worker without reaching Twilio
    async with demo.begin() as session:
        queued = SmsMessage(to_number=MERE, body="Reminder", status=SmsStatus.QUEUED,
                            source=SmsSource.REMINDER)
        session.add(queued)
    await enqueue_send(services.queue, queued.id)
    await drain()
    assert len(twilio.received) == 1
    assert (await stored(demo, queued.id)).error_code == "OPTED_OUT"


@pytest.mark.parametrize("code", [21211, 21614, 30007])
async def test_other_refusals_opt_nobody_out(tech, demo, twilio, drain, code):
    first = await send_to_mere(tech, demo)
    twilio.refuse = Refusal(400, code, "Refused")

    await drain()

    assert (await stored(demo, int(first["message"]["id"]))).error_code == str(code)
    assert await opt_out_of(demo, MERE) is None
