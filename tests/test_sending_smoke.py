"""A manual send travels from the mutation through a real worker to the fake Twilio."""

from __future__ import annotations

from sqlmodel import select

from models import SmsMessage
from models.enums import SmsStatus

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status toNumber body } errors { code field message } }
}
"""


async def first_sendable_appointment(sessions, user_email: str) -> int:
    from models import Appointment, User

    async with sessions() as session:
        rows = (await session.exec(
            select(Appointment.id).join(User, User.id == Appointment.user_id)
            .where(User.email == user_email).order_by(Appointment.start))).all()
    return rows


async def test_a_manual_send_reaches_twilio_once_and_is_marked_sent(tech, demo, twilio, drain):
    appointments = await first_sendable_appointment(demo, "tech@example.com")
    for appointment_id in appointments:
        body = await tech.ok(SEND, {"input": {"appointmentId": str(appointment_id),
                                              "body": "Running 10 minutes late."}})
        if not body["sendSms"]["errors"]:
            break
    message = body["sendSms"]["message"]
    assert message["status"] == "QUEUED"

    await drain()

    assert len(twilio.received) == 1
    sent = twilio.received[0]
    assert sent["To"] == message["toNumber"] and sent["Body"] == "Running 10 minutes late."
    assert sent["StatusCallback"] == (
        f"https://sms.example.com/webhooks/twilio/status?message_id={message['id']}")
    async with demo() as session:
        row = await session.get(SmsMessage, int(message["id"]))
    assert row.status is SmsStatus.SENT
    assert row.provider_message_id.startswith("SM")
