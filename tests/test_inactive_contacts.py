"""An inactive contact receives nothing: the SMS form says so, a send is refused, and it cannot be
made an appointment's contact. checkRecipient, given the appointment or time entry, refuses
anyone who is not its client or one of the client's contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

import models

RECIPIENT = "kind name smsNumber canReceiveSms problem"
CHECK_RECIPIENT = f"""
query Check($recipient: RecipientInput!, $appointmentId: ID, $timeEntryId: ID) {{
  checkRecipient(recipient: $recipient, appointmentId: $appointmentId,
                 timeEntryId: $timeEntryId) {{ {RECIPIENT} }}
}}
"""
SMS_RECIPIENTS = """
query Recipients($appointmentId: ID) { smsRecipients(appointmentId: $appointmentId) { name } }
"""
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id } errors { code field message } }
}
"""
APPOINTMENT_PAYLOAD = "appointment { contact { kind name } } errors { code field message }"
CREATE = f"""
mutation Create($input: AppointmentInput!) {{
  createAppointment(input: $input) {{ {APPOINTMENT_PAYLOAD} }}
}}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: AppointmentInput!) {{
  updateAppointment(id: $id, input: $input) {{ {APPOINTMENT_PAYLOAD} }}
}}
"""

START = datetime(2040, 3, 5, 21, 0, tzinfo=UTC)


async def row(sessions, model, **where):
    async with sessions() as session:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return (await session.exec(stmt)).one()


async def contact(sessions, name: str) -> dict:
    return {"kind": "CONTACT", "id": str((await row(sessions, models.Contact, name=name)).id)}


async def client(sessions, name: str) -> dict:
    return {"kind": "CLIENT", "id": str((await row(sessions, models.Client, name=name)).id)}


async def deactivate(sessions, name: str) -> None:
    async with sessions.begin() as session:
        found = (await session.exec(
            select(models.Contact).where(models.Contact.name == name))).one()
        found.active = False
        session.add(found)


async def kelburn_visit(sessions, contact_name: str | None = "Caretaker") -> str:
    """The technician's visit to Kelburn Villas, whose Former Manager is inactive."""
    user = await row(sessions, models.User, email="tech@example.com")
    job = await row(sessions, models.Job, title="Stormwater drain clearing")
    contact_id = (await row(sessions, models.Contact, name=contact_name)).id if contact_name \
        else None
    async with sessions.begin() as session:
        added = models.Appointment(user_id=user.id, job_id=job.id, start=START,
                                   end=START + timedelta(hours=1), contact_id=contact_id)
        session.add(added)
        await session.flush()
        return str(added.id)


def booking(job: str, **more) -> dict:
    return {"jobId": job, "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(), **more}


# --- the SMS form ---------------------------------------------------------------------------------


async def test_an_inactive_contact_cannot_receive(demo, tech):
    data = await tech.ok(CHECK_RECIPIENT, {"recipient": await contact(demo, "Former Manager")})

    assert data["checkRecipient"] == {"kind": "CONTACT", "name": "Former Manager",
                                      "smsNumber": "+64215550199", "canReceiveSms": False,
                                      "problem": "INVALID_RECIPIENT"}


async def test_check_recipient_about_an_appointment_takes_only_its_client_and_contacts(demo, tech):
    # Given the technician's Kelburn Villas visit
    visit = await kelburn_visit(demo)

    async def check(recipient: dict) -> dict:
        return await tech.post(CHECK_RECIPIENT, {"recipient": recipient, "appointmentId": visit})

    # When the form checks its own people, another client's contact, another client, nobody
    caretaker = await check(await contact(demo, "Caretaker"))
    itself = await check(await client(demo, "Kelburn Villas Body Corporate"))
    former = await check(await contact(demo, "Former Manager"))
    mere = await check(await contact(demo, "Mere Tane"))
    other_client = await check(await client(demo, "Harbourside Cafe"))
    nobody = await check({"kind": "CONTACT", "id": "98765"})

    # Then its own are answered, the inactive one unable to receive; the others are refused
    assert (caretaker["data"]["checkRecipient"]["name"],
            caretaker["data"]["checkRecipient"]["problem"]) == ("Caretaker", "NO_SMS_NUMBER")
    assert itself["data"]["checkRecipient"]["canReceiveSms"] is True
    assert (former["data"]["checkRecipient"]["canReceiveSms"],
            former["data"]["checkRecipient"]["problem"]) == (False, "INVALID_RECIPIENT")
    for refused in (mere, other_client, nobody):
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "INVALID_RECIPIENT"


async def test_check_recipient_about_a_time_entry_takes_only_its_client_and_contacts(demo, tech):
    # Given the demo's time entry at the Parramatta job
    job = await row(demo, models.Job, title="Air conditioning isolator")
    entry = str((await row(demo, models.TimeEntry, job_id=job.id)).id)

    own = await tech.ok(CHECK_RECIPIENT, {"recipient": await contact(demo, "Practice Manager"),
                                          "timeEntryId": entry})
    other = await tech.post(CHECK_RECIPIENT, {"recipient": await contact(demo, "Mere Tane"),
                                              "timeEntryId": entry})

    assert own["checkRecipient"]["canReceiveSms"] is True
    assert other["errors"][0]["extensions"]["code"] == "INVALID_RECIPIENT"


async def test_check_recipient_about_work_that_does_not_exist_is_not_found(demo, tech):
    body = await tech.post(CHECK_RECIPIENT, {"recipient": await contact(demo, "Caretaker"),
                                             "appointmentId": "987654"})

    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_an_appointment_whose_contact_left_offers_only_active_ones_and_sends_nothing(
        demo, tech):
    # Given a visit whose contact has since been made inactive
    visit = await kelburn_visit(demo, "Former Manager")

    # When the form lists recipients, and the technician sends to the default one
    offered = await tech.ok(SMS_RECIPIENTS, {"appointmentId": visit})
    sent = await tech.ok(SEND, {"input": {"appointmentId": visit, "body": "On my way."}})

    # Then the inactive contact is not offered, and the send is refused with the reason
    assert [r["name"] for r in offered["smsRecipients"]] == [
        "Kelburn Villas Body Corporate", "Caretaker"]
    assert sent["sendSms"]["message"] is None
    [error] = sent["sendSms"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_RECIPIENT", "recipient")
    assert "Former Manager is no longer active" in error["message"]


# --- an appointment's contact ---------------------------------------------------------------------


async def test_an_inactive_contact_cannot_be_made_an_appointments_contact(demo, office):
    # Given
    job = str((await row(demo, models.Job, title="Stormwater drain clearing")).id)
    former = await contact(demo, "Former Manager")
    visit = await kelburn_visit(demo)
    before = await appointment_count(demo)

    # When the office names the inactive contact on a new and on an existing appointment
    created = (await office.ok(CREATE, {"input": booking(job, contact=former)}))
    updated = (await office.ok(UPDATE, {"id": visit, "input": {"contact": former}}))

    # Then both are refused, and nothing changed
    for payload in (created["createAppointment"], updated["updateAppointment"]):
        assert payload["appointment"] is None
        [error] = payload["errors"]
        assert (error["code"], error["field"]) == ("INVALID_RECIPIENT", "contact")
        assert "Former Manager is no longer active" in error["message"]
    assert await appointment_count(demo) == before
    async with demo() as session:
        stored = await session.get(models.Appointment, int(visit))
    assert stored.contact_id == (await row(demo, models.Contact, name="Caretaker")).id


async def appointment_count(sessions) -> int:
    async with sessions() as session:
        return len((await session.exec(select(models.Appointment.id))).all())


async def test_an_appointment_keeps_a_contact_who_left_when_other_fields_change(demo, office):
    # Given a visit whose contact has since been made inactive
    visit = await kelburn_visit(demo, "Former Manager")
    later = START + timedelta(hours=2)

    # When the office moves it, sending the contact back as the form had it
    moved = (await office.ok(UPDATE, {"id": visit, "input": {
        "start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat(),
        "contact": await contact(demo, "Former Manager")}}))["updateAppointment"]

    # Then the move is saved; the contact was not newly made, so it stays
    assert moved["errors"] == []
    assert moved["appointment"]["contact"] == {"kind": "CONTACT", "name": "Former Manager"}


async def test_a_new_appointment_passes_over_an_inactive_default_contact(demo, office):
    # Given the job's contact has left
    await deactivate(demo, "Caretaker")
    job = str((await row(demo, models.Job, title="Stormwater drain clearing")).id)

    # When an appointment is made without naming a contact
    created = (await office.ok(CREATE, {"input": booking(job)}))["createAppointment"]

    # Then the client is its contact, as when the job has none
    assert created["errors"] == []
    assert created["appointment"]["contact"] == {"kind": "CLIENT",
                                                 "name": "Kelburn Villas Body Corporate"}
