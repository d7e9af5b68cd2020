"""What a reminder run writes for each job, as runReminderEvent reports it and the history shows
it: an inactive contact fails like a missing number, a text too long keeps what would have been
sent, and affectedCount counts every message written, failed ones included."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from models import Appointment, Client, Contact, Job, SmsTemplate, User
from models.demo import TECH_EMAIL, TIME_ZONE
from models.enums import SmsTemplateKind
from models.segments import measure
from tests.reminder_fixtures import GOOD_NUMBER

RUN = """
mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code field } } }
"""
CREATE_EVENT = """
mutation Create($input: ReminderEventInput!) {
  createReminderEvent(input: $input) { event { id } errors { code field } }
}
"""
APPOINTMENT = """
query Appointment($id: ID!) {
  appointment(id: $id) {
    smsMessages { status toNumber body segments errorCode errorMessage }
  }
}
"""

AHEAD = 20  # past the demo's fortnight of appointments
LONG_TITLE = "Replace the hot water cylinder, tempering valve and every tap " * 2


async def visits_ahead(sessions) -> dict[str, int]:
    """One job per case, each with a visit AHEAD days from today; appointment id by case."""
    zone = ZoneInfo(TIME_ZONE)
    day = datetime.now(UTC).astimezone(zone).date() + timedelta(days=AHEAD)
    cases = {
        "fine": ("Hana", GOOD_NUMBER, True, "Roof leak"),
        "inactive": ("Former Tenant", "+64213333333", False, "Gutter clean"),
        "no number": ("Nobody", None, True, "Fence repair"),
        "too long": ("Rua", "+64214444444", True, LONG_TITLE.strip()),
    }
    async with sessions.begin() as session:
        tech = (await session.exec(select(User).where(User.email == TECH_EMAIL))).one()
        client = Client(name="Oriental Bay Flats")
        session.add(client)
        await session.flush()
        appointments = {}
        for case, (name, number, active, title) in cases.items():
            contact = Contact(client_id=client.id, name=name, mobile=number, sms_number=number,
                              active=active)
            job = Job(client_id=client.id, title=title)
            session.add_all([contact, job])
            await session.flush()
            appointments[case] = Appointment(
                user_id=tech.id, job_id=job.id, contact_id=contact.id, sms_reminder=True,
                start=datetime.combine(day, time(9), tzinfo=zone),
                end=datetime.combine(day, time(10), tzinfo=zone))
        session.add_all(appointments.values())
    return {case: row.id for case, row in appointments.items()}


async def reminder_event(admin, sessions) -> str:
    async with sessions() as session:
        template = (await session.exec(select(SmsTemplate.id).where(
            SmsTemplate.kind == SmsTemplateKind.REMINDER_EVENT))).first()
    data = await admin.ok(CREATE_EVENT, {"input": {
        "description": "Three weeks ahead", "intervalDays": AHEAD, "runAt": "09:00:00",
        "templateId": str(template)}})
    assert data["createReminderEvent"]["errors"] == []
    return data["createReminderEvent"]["event"]["id"]


async def message_about(api, appointment_id: int) -> dict:
    [message] = (await api.ok(APPOINTMENT, {"id": str(appointment_id)}))["appointment"][
        "smsMessages"]
    return message


async def test_a_run_counts_every_message_it_wrote_failed_ones_included(admin, demo):
    # Given four jobs due: one fine, one inactive contact, one without a number, one too long
    await visits_ahead(demo)
    event = await reminder_event(admin, demo)

    # When an administrator runs the event now, twice
    first = (await admin.ok(RUN, {"id": event}))["runReminderEvent"]
    second = (await admin.ok(RUN, {"id": event}))["runReminderEvent"]

    # Then the first run wrote four messages (three of them FAILED), the second none
    assert first == {"affectedCount": 4, "errors": []}
    assert second == {"affectedCount": 0, "errors": []}


async def test_an_inactive_contact_gets_a_failed_reminder_like_a_missing_number(
        admin, demo, twilio, drain):
    # Given
    visits = await visits_ahead(demo)
    event = await reminder_event(admin, demo)

    # When the event runs and a real worker drains the queue
    await admin.ok(RUN, {"id": event})
    await drain()

    # Then the inactive contact's reminder FAILED with the reason, and never reached Twilio
    inactive = await message_about(admin, visits["inactive"])
    missing = await message_about(admin, visits["no number"])
    assert (inactive["status"], inactive["errorCode"], inactive["errorMessage"]) == (
        "FAILED", "INVALID_RECIPIENT", "Former Tenant is no longer active.")
    assert (missing["status"], missing["errorCode"]) == ("FAILED", "NO_SMS_NUMBER")
    assert [r["To"] for r in twilio.received] == [GOOD_NUMBER]
    assert (await message_about(admin, visits["fine"]))["status"] == "SENT"


async def test_a_reminder_refused_as_too_long_keeps_the_text_that_would_have_been_sent(
        admin, demo):
    # Given
    visits = await visits_ahead(demo)
    event = await reminder_event(admin, demo)

    # When
    await admin.ok(RUN, {"id": event})

    # Then the body is the rendered text, not the template, measured as it is
    message = await message_about(admin, visits["too long"])
    assert (message["status"], message["errorCode"]) == ("FAILED", "MESSAGE_TOO_LONG")
    assert message["body"].startswith("Reminder: ") and "{" not in message["body"]
    assert message["body"].endswith(f"for {LONG_TITLE.strip()}.")
    assert message["segments"] == measure(message["body"]).segments > 1
    assert message["errorMessage"].startswith(f"Message is {measure(message['body']).length} ")
