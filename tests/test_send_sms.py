"""sendSms: who may send, to whom, what text, where from, and that a retry is the same message."""

from __future__ import annotations

import asyncio

import pytest
from geopy.distance import geodesic
from sqlmodel import select

from models import (
    Appointment,
    Client,
    Contact,
    Job,
    OptOut,
    Profile,
    SmsMessage,
    SmsTemplate,
    Task,
    TimeEntry,
    User,
)
from models.demo import TECH_EMAIL
from models.enums import OptOutMethod, SmsStatus
from tests.test_statement_count import counting_statements

SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) {
    message {
      id status toNumber body segments
      recipient { kind id name }
      appointment { id }
      timeEntry { id }
      location { latitude longitude accuracyMeters distanceFromJobMeters }
    }
    errors { code field message }
  }
}
"""

TURN_SMS = """
mutation Turn($enabled: Boolean!) {
  updateSettings(input: {smsEnabled: $enabled}) { errors { code } }
}
"""

ACTIVITIES = """
query Activities($id: ID!) {
  appointment(id: $id) {
    activities { kind summary message { id } location { distanceFromJobMeters } }
  }
}
"""

LATE = "Running 10 minutes late."


# Given: the demo company, looked up by the names models/demo.py gives it.

async def appointment_for(sessions, job_title: str, task_name: str | None = None,
                          email: str = TECH_EMAIL) -> Appointment:
    async with sessions() as session:
        query = (select(Appointment).join(Job, Job.id == Appointment.job_id)
                 .join(User, User.id == Appointment.user_id)
                 .where(Job.title == job_title, User.email == email))
        if task_name is not None:
            query = query.join(Task, Task.id == Appointment.task_id).where(Task.name == task_name)
        found = (await session.exec(query.order_by(Appointment.start))).first()
    assert found is not None, (job_title, task_name, email)
    return found


async def harbourside_visit(sessions) -> Appointment:
    """A tech's appointment whose contact, Mere Tane, has a valid NZ mobile."""
    return await appointment_for(sessions, "Grease trap replacement", "Install and test")


async def row_named(sessions, model, name: str):
    async with sessions() as session:
        found = (await session.exec(select(model).where(model.name == name))).one()
    return found


async def change(sessions, model, row_id: int, **values) -> None:
    async with sessions.begin() as session:
        row = await session.get(model, row_id)
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


async def stored_messages(sessions) -> list[SmsMessage]:
    async with sessions() as session:
        return list((await session.exec(select(SmsMessage).order_by(SmsMessage.id))).all())


def send_input(appointment: Appointment, **extra) -> dict:
    return {"input": {"appointmentId": str(appointment.id), "body": LATE, **extra}}


async def refused(api, variables: dict) -> tuple[str, str | None]:
    payload = (await api.ok(SEND, variables))["sendSms"]
    assert payload["message"] is None, payload
    assert len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    return error["code"], error["field"]


async def assert_nothing_written_or_sent(sessions, twilio, drain) -> None:
    await drain()
    assert await stored_messages(sessions) == []
    assert twilio.received == []


# Who may send

async def test_with_sms_turned_off_a_send_is_refused(admin, tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    assert (await admin.ok(TURN_SMS, {"enabled": False}))["updateSettings"]["errors"] == []

    # When
    code, _ = await refused(tech, send_input(appointment))

    # Then
    assert code == "SMS_DISABLED"
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_a_send_after_turning_sms_off_in_the_same_request_is_refused(
        admin, demo, twilio, drain):
    # Given one request that turns SMS off, then sends
    appointment = await harbourside_visit(demo)
    both = """
    mutation Both($input: SendSmsInput!) {
      updateSettings(input: {smsEnabled: false}) { errors { code } }
      sendSms(input: $input) { message { id } errors { code } }
    }
    """

    # When it runs
    data = await admin.ok(both, send_input(appointment))

    # Then the send goes by the settings as the first mutation left them
    assert data["updateSettings"]["errors"] == []
    assert data["sendSms"] == {"message": None, "errors": [{"code": "SMS_DISABLED"}]}
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_a_profile_without_send_sms_to_client_is_refused(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    technician = await row_named(demo, Profile, "Technician")
    await change(demo, Profile, technician.id, send_sms_to_client=False)

    # When
    code, _ = await refused(tech, send_input(appointment))

    # Then
    assert code == "PERMISSION_DENIED"
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_the_office_sends_about_the_technicians_appointment(office, demo, twilio, drain):
    # Given: the technician's appointment
    appointment = await harbourside_visit(demo)

    # When
    payload = (await office.ok(SEND, send_input(appointment)))["sendSms"]
    await drain()

    # Then
    assert payload["errors"] == []
    [message] = await stored_messages(demo)
    assert (message.appointment_id, message.status) == (appointment.id, SmsStatus.SENT)
    assert len(twilio.received) == 1


# To whom

async def test_the_recipient_defaults_to_the_appointments_contact(tech, demo):
    # Given: the job's contact is Mere Tane, but this appointment's contact is the client itself
    appointment = await harbourside_visit(demo)
    await change(demo, Appointment, appointment.id, contact_id=None)
    client = await row_named(demo, Client, "Harbourside Cafe")

    # When
    message = (await tech.ok(SEND, send_input(appointment)))["sendSms"]["message"]

    # Then
    assert message["toNumber"] == client.sms_number == "+64215550110"
    assert message["recipient"] == {"kind": "CLIENT", "id": str(client.id),
                                    "name": "Harbourside Cafe"}
    assert message["appointment"] == {"id": str(appointment.id)}


async def test_for_a_time_entry_the_recipient_defaults_to_its_task_contact(tech, demo):
    # Given: a time entry not from an appointment, whose task contact differs from the job's
    anjali = await row_named(demo, Contact, "Dr Anjali Rao")
    await change(demo, Contact, anjali.id, sms_number="+61412555777")
    async with demo() as session:
        entry = (await session.exec(select(TimeEntry).where(
            TimeEntry.appointment_id == None))).one()  # noqa: E711

    # When
    message = (await tech.ok(SEND, {"input": {"timeEntryId": str(entry.id), "body": LATE}})
               )["sendSms"]["message"]

    # Then
    assert message["toNumber"] == "+61412555777"
    assert message["recipient"]["id"] == str(anjali.id)
    assert message["timeEntry"] == {"id": str(entry.id)} and message["appointment"] is None


async def test_a_given_recipient_may_be_the_client(tech, demo):
    # Given
    appointment = await harbourside_visit(demo)
    client = await row_named(demo, Client, "Harbourside Cafe")

    # When
    message = (await tech.ok(SEND, send_input(
        appointment, recipient={"kind": "CLIENT", "id": str(client.id)})))["sendSms"]["message"]

    # Then
    assert message["toNumber"] == "+64215550110"


@pytest.mark.parametrize(("job_title", "contact_name"), [
    ("Grease trap replacement", "Sarah Chen"),  # another client's contact
    ("Stormwater drain clearing", "Former Manager"),  # the client's, but inactive
])
async def test_a_recipient_outside_the_clients_active_contacts_is_refused(
        tech, demo, twilio, drain, job_title, contact_name):
    # Given: both contacts have valid mobiles, so only who they are can stop the send
    appointment = await appointment_for(demo, job_title)
    contact = await row_named(demo, Contact, contact_name)
    assert contact.sms_number

    # When
    code, field = await refused(tech, send_input(
        appointment, recipient={"kind": "CONTACT", "id": str(contact.id)}))

    # Then
    assert (code, field) == ("INVALID_RECIPIENT", "recipient")
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_a_recipient_without_an_sms_number_is_refused(tech, demo, twilio, drain):
    # Given: Bookings has a landline only
    appointment = await appointment_for(demo, "Kitchen hot water tap")

    # When
    code, _ = await refused(tech, send_input(appointment))

    # Then
    assert code == "NO_SMS_NUMBER"
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_a_recipient_whose_sms_number_is_not_a_mobile_is_refused(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    mere = await row_named(demo, Contact, "Mere Tane")
    await change(demo, Contact, mere.id, sms_number="+6491234567")

    # When
    code, _ = await refused(tech, send_input(appointment))

    # Then
    assert code == "INVALID_SMS_NUMBER"
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_a_recipient_who_opted_out_is_refused(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    mere = await row_named(demo, Contact, "Mere Tane")
    async with demo.begin() as session:
        session.add(OptOut(number=mere.sms_number, method=OptOutMethod.KEYWORD))

    # When
    code, _ = await refused(tech, send_input(appointment))

    # Then
    assert code == "OPTED_OUT"
    await assert_nothing_written_or_sent(demo, twilio, drain)


# What text

async def test_a_template_is_rendered_for_the_appointment(tech, demo):
    # Given
    appointment = await harbourside_visit(demo)
    template = await row_named(demo, SmsTemplate, "On the way")
    variables = {"input": {"appointmentId": str(appointment.id), "templateId": str(template.id)}}

    # When
    message = (await tech.ok(SEND, variables))["sendSms"]["message"]

    # Then
    assert message["body"] == ("Hi Mere Tane, Tama Ruatapu from Kiwi Plumbing & Electrical is "
                               "on the way now.")


async def test_a_typed_body_wins_over_a_template(tech, demo):
    # Given
    appointment = await harbourside_visit(demo)
    template = await row_named(demo, SmsTemplate, "On the way")

    # When
    message = (await tech.ok(SEND, send_input(appointment, templateId=str(template.id)))
               )["sendSms"]["message"]

    # Then
    assert message["body"] == LATE


@pytest.mark.parametrize("template_name", ["Day-before reminder", "inactive On the way"])
async def test_only_an_active_appointment_template_may_be_used(
        tech, demo, twilio, drain, template_name):
    # Given
    appointment = await harbourside_visit(demo)
    if template_name.startswith("inactive "):
        template = await row_named(demo, SmsTemplate, template_name.removeprefix("inactive "))
        await change(demo, SmsTemplate, template.id, active=False)
    else:
        template = await row_named(demo, SmsTemplate, template_name)

    # When
    code, field = await refused(tech, {"input": {"appointmentId": str(appointment.id),
                                                 "templateId": str(template.id)}})

    # Then
    assert (code, field) == ("INVALID_TEMPLATE", "templateId")
    await assert_nothing_written_or_sent(demo, twilio, drain)


@pytest.mark.parametrize(("body", "code"), [
    (None, "MESSAGE_EMPTY"),
    ("   ", "MESSAGE_EMPTY"),
    ("a" * 161, "MESSAGE_TOO_LONG"),
    ("ā" * 71, "MESSAGE_TOO_LONG"),
], ids=["none", "blank", "161-gsm", "71-ucs2"])
async def test_an_empty_or_too_long_message_is_refused(tech, demo, twilio, drain, body, code):
    # Given
    appointment = await harbourside_visit(demo)

    # When
    got, field = await refused(tech, send_input(appointment, body=body))

    # Then
    assert (got, field) == (code, "body")
    await assert_nothing_written_or_sent(demo, twilio, drain)


@pytest.mark.parametrize("body", ["a" * 160, "ā" * 70], ids=["160-gsm", "70-ucs2"])
async def test_a_message_filling_one_sms_is_accepted(tech, demo, body):
    # Given
    appointment = await harbourside_visit(demo)

    # When
    payload = (await tech.ok(SEND, send_input(appointment, body=body)))["sendSms"]

    # Then
    assert payload["errors"] == []
    assert payload["message"]["body"] == body and payload["message"]["segments"] == 1


# Where from

@pytest.mark.parametrize(("location", "field"), [
    ({"latitude": 90.5, "longitude": 174.0}, "location.latitude"),
    ({"latitude": -90.5, "longitude": 174.0}, "location.latitude"),
    ({"latitude": -36.8, "longitude": 180.5}, "location.longitude"),
    ({"latitude": -36.8, "longitude": -180.5}, "location.longitude"),
    ({"latitude": -36.8, "longitude": 174.7, "accuracyMeters": -1.0}, "location.accuracyMeters"),
])
async def test_an_impossible_location_is_refused(tech, demo, twilio, drain, location, field):
    # Given
    appointment = await harbourside_visit(demo)

    # When
    got = await refused(tech, send_input(appointment, location=location))

    # Then
    assert got == ("INVALID_LOCATION", field)
    await assert_nothing_written_or_sent(demo, twilio, drain)


async def test_the_location_is_kept_with_its_distance_from_the_job_site(tech, demo):
    # Given: the grease trap job is at -36.8406, 174.7580
    appointment = await harbourside_visit(demo)
    here = {"latitude": -36.8500, "longitude": 174.7640, "accuracyMeters": 12.5}
    expected = geodesic((-36.8500, 174.7640), (-36.8406, 174.7580)).meters

    # When
    message = (await tech.ok(SEND, send_input(appointment, location=here)))["sendSms"]["message"]
    shown = (await tech.ok(ACTIVITIES, {"id": str(appointment.id)}))["appointment"]

    # Then
    assert message["location"] == {**here, "distanceFromJobMeters": pytest.approx(expected)}
    assert 1000 < expected < 1300
    assert [(a["message"]["id"], a["location"]["distanceFromJobMeters"])
            for a in shown["activities"]] == [(message["id"], pytest.approx(expected))]


async def test_without_job_coordinates_the_distance_is_unknown(tech, demo):
    # Given
    appointment = await harbourside_visit(demo)
    await change(demo, Job, appointment.job_id, latitude=None, longitude=None)
    here = {"latitude": -36.85, "longitude": 174.764}

    # When
    message = (await tech.ok(SEND, send_input(appointment, location=here)))["sendSms"]["message"]

    # Then
    assert message["location"] == {**here, "accuracyMeters": None, "distanceFromJobMeters": None}


# Retries

async def test_a_retry_with_the_same_key_is_the_same_message(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    variables = send_input(appointment, idempotencyKey="tap-1")
    first = (await tech.ok(SEND, variables))["sendSms"]["message"]

    # When
    again = (await tech.ok(SEND, variables))["sendSms"]
    await drain()

    # Then
    assert again["errors"] == [] and again["message"]["id"] == first["id"]
    assert [m.id for m in await stored_messages(demo)] == [int(first["id"])]
    assert len(twilio.received) == 1


async def test_concurrent_retries_with_the_same_key_make_one_message(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)
    variables = send_input(appointment, idempotencyKey="double-tap")

    # When
    answers = await asyncio.gather(*(tech.ok(SEND, variables) for _ in range(5)))
    await drain()

    # Then
    assert [a["sendSms"]["errors"] for a in answers] == [[]] * 5
    ids = {a["sendSms"]["message"]["id"] for a in answers}
    assert len(ids) == 1
    assert [str(m.id) for m in await stored_messages(demo)] == list(ids)
    assert len(twilio.received) == 1


async def test_the_same_key_from_another_user_is_another_message(tech, admin, demo, twilio, drain):
    # Given: the administrator may message about the technician's appointment
    appointment = await harbourside_visit(demo)
    variables = send_input(appointment, idempotencyKey="shared-key")
    mine = (await tech.ok(SEND, variables))["sendSms"]["message"]

    # When
    theirs = (await admin.ok(SEND, variables))["sendSms"]
    await drain()

    # Then
    assert theirs["errors"] == [] and theirs["message"]["id"] != mine["id"]
    assert len(await stored_messages(demo)) == 2
    assert len(twilio.received) == 2


# Written before it is sent

async def test_the_answer_is_queued_and_the_provider_is_not_waited_for(tech, demo, twilio, drain):
    # Given
    appointment = await harbourside_visit(demo)

    # When
    message = (await tech.ok(SEND, send_input(appointment)))["sendSms"]["message"]

    # Then: written QUEUED, nothing at the provider until a worker runs
    assert message["status"] == "QUEUED"
    [row] = await stored_messages(demo)
    assert (row.id, row.status, row.attempts) == (int(message["id"]), SmsStatus.QUEUED, 0)
    assert twilio.received == []

    await drain()
    [row] = await stored_messages(demo)
    assert row.status is SmsStatus.SENT and len(twilio.received) == 1


SEND_ONLY = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id status } errors { code field message } }
}
"""


async def test_a_send_reads_the_token_user_profile_and_company_once_and_the_subject_once(
        tech, demo, services):
    # Given a send with an idempotency key, about an appointment, to its contact
    visit = await harbourside_visit(demo)

    # When it is sent
    with counting_statements(services.engine) as statements:
        data = await tech.ok(SEND_ONLY, send_input(visit, idempotencyKey="count-me"))
    assert data["sendSms"]["errors"] == []

    # Then: the token with its user, profile and the company's settings; any earlier send with
    # the key; the appointment with its job, client, user and task; the contact with its
    # opt-out; the message and its link to the appointment
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    writes = [s.split("(")[0].strip() for s in statements
              if s.lstrip().upper().startswith("INSERT")]
    assert len(reads) == 4, reads
    assert "auth_token" in reads[0] and "global_settings" in reads[0]
    assert "idempotency_key" in reads[1]
    assert all(table in reads[2] for table in ("appointment", "job", "client", "app_user"))
    assert "contact" in reads[3] and "opt_out" in reads[3]
    assert writes == ["INSERT INTO sms_message", "INSERT INTO sms_message_appointment"]
