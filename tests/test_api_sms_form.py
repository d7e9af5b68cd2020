"""The SMS form's helpers: recipients, contact-switch check, templates and the preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import models
from models.enums import OptOutMethod, RecipientKind
from models.errors import DomainError, ErrorCode
from models.recipients import RecipientRef
from models.subjects import load_subject

RECIPIENT = "kind id name smsNumber optedOut canReceiveSms problem"
SMS_RECIPIENTS = f"""
query Recipients($appointmentId: ID, $timeEntryId: ID) {{
  smsRecipients(appointmentId: $appointmentId, timeEntryId: $timeEntryId) {{ {RECIPIENT} }}
}}
"""
CHECK_RECIPIENT = f"""
query Check($recipient: RecipientInput!) {{
  checkRecipient(recipient: $recipient) {{ {RECIPIENT} }}
}}
"""
SMS_TEMPLATES = """
query Templates($kind: SmsTemplateKind, $activeOnly: Boolean) {
  smsTemplates(kind: $kind, activeOnly: $activeOnly) { name kind active }
}
"""
PREVIEW = """
query Preview($appointmentId: ID, $timeEntryId: ID, $templateId: ID, $body: String) {
  previewSms(appointmentId: $appointmentId, timeEntryId: $timeEntryId, templateId: $templateId,
             body: $body) {
    body length segments encoding errors { code field }
  }
}
"""
DISABLE_SMS = "mutation { updateSettings(input: {smsEnabled: false}) { errors { code } } }"

# 10:00am on Tuesday 6 March 2040 in Auckland (NZDT, +13).
START = datetime(2040, 3, 5, 21, 0, tzinfo=UTC)


async def row(sessions, model, **where):
    async with sessions() as session:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return (await session.exec(stmt)).one()


async def appointment(sessions, job_title: str, email: str = "tech@example.com",
                      to_client: bool = False) -> str:
    """An appointment at the job, with the job's contact, or the client itself."""
    user = await row(sessions, models.User, email=email)
    job = await row(sessions, models.Job, title=job_title)
    async with sessions.begin() as session:
        added = models.Appointment(user_id=user.id, job_id=job.id, start=START,
                                   end=START + timedelta(hours=1),
                                   contact_id=None if to_client else job.contact_id)
        session.add(added)
        await session.flush()
        return str(added.id)


async def template_id(sessions, name: str) -> str:
    return str((await row(sessions, models.SmsTemplate, name=name)).id)


def names(recipients: list[dict]) -> list[tuple[str, str]]:
    return [(r["kind"], r["name"]) for r in recipients]


async def test_recipients_of_an_appointment_put_its_contact_first(demo, tech):
    id = await appointment(demo, "Grease trap replacement")

    data = await tech.ok(SMS_RECIPIENTS, {"appointmentId": id})

    recipients = data["smsRecipients"]
    assert names(recipients) == [("CONTACT", "Mere Tane"), ("CLIENT", "Harbourside Cafe"),
                                 ("CONTACT", "Accounts")]
    mere, cafe, accounts = recipients
    assert (mere["smsNumber"], mere["canReceiveSms"], mere["problem"]) == (
        "+64215550111", True, None)
    assert (cafe["smsNumber"], cafe["canReceiveSms"]) == ("+64215550110", True)
    assert (accounts["smsNumber"], accounts["canReceiveSms"], accounts["problem"]) == (
        None, False, "NO_SMS_NUMBER")


async def test_recipients_leave_out_inactive_contacts_and_show_opt_outs(demo, tech):
    # Given Kelburn Villas, with an inactive former manager, whose own mobile opted out.
    id = await appointment(demo, "Stormwater drain clearing", to_client=True)
    async with demo.begin() as session:
        session.add(models.OptOut(number="+64295550133", method=OptOutMethod.KEYWORD))

    data = await tech.ok(SMS_RECIPIENTS, {"appointmentId": id})

    recipients = data["smsRecipients"]
    assert names(recipients) == [("CLIENT", "Kelburn Villas Body Corporate"),
                                 ("CONTACT", "Caretaker")]
    assert [(r["optedOut"], r["problem"]) for r in recipients] == [
        (True, "OPTED_OUT"), (False, "NO_SMS_NUMBER")]


async def test_recipients_of_a_time_entry_put_its_default_recipient_first(demo, tech):
    # Given the demo's time entry at the Parramatta job, whose task contact is Dr Anjali Rao.
    job = await row(demo, models.Job, title="Air conditioning isolator")
    entry = await row(demo, models.TimeEntry, job_id=job.id)

    data = await tech.ok(SMS_RECIPIENTS, {"timeEntryId": str(entry.id)})

    assert names(data["smsRecipients"]) == [
        ("CONTACT", "Dr Anjali Rao"), ("CLIENT", "Parramatta Medical Centre"),
        ("CONTACT", "Practice Manager")]
    assert data["smsRecipients"][2]["smsNumber"] == "+61412555302"


async def test_the_tech_lists_recipients_of_an_appointment_the_office_owns(demo, tech):
    id = await appointment(demo, "Grease trap replacement", email="office@example.com")

    data = await tech.ok(SMS_RECIPIENTS, {"appointmentId": id})
    neither = await tech.post(SMS_RECIPIENTS, {})

    assert "Mere Tane" in {r["name"] for r in data["smsRecipients"]}
    assert neither["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_check_recipient_reports_eligibility(demo, tech):
    mere = await row(demo, models.Contact, name="Mere Tane")
    tom = await row(demo, models.Contact, name="Tom Fletcher")
    async with demo.begin() as session:
        session.add(models.OptOut(number=mere.sms_number, method=OptOutMethod.KEYWORD))

    opted_out = await tech.ok(CHECK_RECIPIENT, {"recipient": {"kind": "CONTACT",
                                                               "id": str(mere.id)}})
    no_number = await tech.ok(CHECK_RECIPIENT, {"recipient": {"kind": "CONTACT",
                                                               "id": str(tom.id)}})
    client = await tech.ok(CHECK_RECIPIENT, {"recipient": {"kind": "CLIENT",
                                                            "id": str(mere.client_id)}})
    unknown = await tech.post(CHECK_RECIPIENT, {"recipient": {"kind": "CONTACT", "id": "98765"}})

    assert opted_out["checkRecipient"] == {
        "kind": "CONTACT", "id": str(mere.id), "name": "Mere Tane", "smsNumber": "+64215550111",
        "optedOut": True, "canReceiveSms": False, "problem": "OPTED_OUT"}
    assert (no_number["checkRecipient"]["canReceiveSms"],
            no_number["checkRecipient"]["problem"]) == (False, "NO_SMS_NUMBER")
    assert client["checkRecipient"]["name"] == "Harbourside Cafe"
    assert client["checkRecipient"]["canReceiveSms"] is True
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_templates_by_kind_and_only_active_ones_unless_asked(demo, office):
    async with demo.begin() as session:
        on_the_way = (await session.exec(
            select(models.SmsTemplate).where(models.SmsTemplate.name == "On the way"))).one()
        on_the_way.active = False
        session.add(on_the_way)

    appointment_kind = await office.ok(SMS_TEMPLATES, {"kind": "APPOINTMENT"})
    with_inactive = await office.ok(SMS_TEMPLATES, {"kind": "APPOINTMENT", "activeOnly": False})
    reminders = await office.ok(SMS_TEMPLATES, {"kind": "REMINDER_EVENT"})
    every = await office.ok(SMS_TEMPLATES, {})

    assert appointment_kind["smsTemplates"] == [
        {"name": "Appointment booked", "kind": "APPOINTMENT", "active": True},
        {"name": "Please confirm", "kind": "APPOINTMENT", "active": True}]
    assert [t["name"] for t in with_inactive["smsTemplates"]] == ["Appointment booked",
                                                                  "On the way", "Please confirm"]
    assert [t["name"] for t in reminders["smsTemplates"]] == ["Day-before reminder"]
    assert [t["name"] for t in every["smsTemplates"]] == ["Appointment booked",
                                                          "Day-before reminder", "Please confirm"]


async def test_preview_renders_a_template_for_the_appointment(demo, tech):
    id = await appointment(demo, "Grease trap replacement")

    data = await tech.ok(PREVIEW, {"appointmentId": id,
                                   "templateId": await template_id(demo, "Appointment booked")})

    expected = ("Hi Mere Tane, Kiwi Plumbing & Electrical has booked Grease trap replacement "
                "for Tue 6 Mar at 10:00am.")
    assert data["previewSms"] == {"body": expected, "length": len(expected), "segments": 1,
                                  "encoding": "GSM-7", "errors": []}


async def test_preview_renders_a_template_for_a_time_entry(demo, tech):
    job = await row(demo, models.Job, title="Air conditioning isolator")
    entry = await row(demo, models.TimeEntry, job_id=job.id)

    data = await tech.ok(PREVIEW, {"timeEntryId": str(entry.id),
                                   "templateId": await template_id(demo, "On the way")})

    assert data["previewSms"]["body"] == ("Hi Dr Anjali Rao, Tama Ruatapu from Kiwi Plumbing & "
                                          "Electrical is on the way now.")
    assert data["previewSms"]["errors"] == []


@pytest.mark.parametrize("body,length,segments,encoding,code", [
    ("x" * 160, 160, 1, "GSM-7", None),
    ("x" * 161, 161, 2, "GSM-7", "MESSAGE_TOO_LONG"),
    ("[" * 81, 162, 2, "GSM-7", "MESSAGE_TOO_LONG"),
    ("Kia ora, Māori " + "x" * 55, 70, 1, "UCS-2", None),
    ("Kia ora, Māori " + "x" * 56, 71, 2, "UCS-2", "MESSAGE_TOO_LONG"),
    ("   ", 3, 1, "GSM-7", "MESSAGE_EMPTY"),
])
async def test_preview_of_a_body_measures_it(demo, tech, body, length, segments, encoding, code):
    id = await appointment(demo, "Grease trap replacement")

    data = await tech.ok(PREVIEW, {"appointmentId": id, "body": body,
                                   "templateId": await template_id(demo, "On the way")})

    preview = data["previewSms"]
    assert (preview["body"], preview["length"], preview["segments"], preview["encoding"]) == (
        body, length, segments, encoding)
    assert [e["code"] for e in preview["errors"]] == ([code] if code else [])


async def test_preview_refuses_reminder_and_inactive_templates(demo, tech):
    id = await appointment(demo, "Grease trap replacement")
    async with demo.begin() as session:
        booked = (await session.exec(select(models.SmsTemplate).where(
            models.SmsTemplate.name == "Appointment booked"))).one()
        booked.active = False
        session.add(booked)

    reminder = await tech.ok(PREVIEW, {"appointmentId": id, "templateId": await template_id(
        demo, "Day-before reminder")})
    inactive = await tech.ok(PREVIEW, {"appointmentId": id, "templateId": str(booked.id)})
    nothing = await tech.ok(PREVIEW, {"appointmentId": id})

    assert reminder["previewSms"]["errors"] == [{"code": "INVALID_TEMPLATE",
                                                 "field": "templateId"}]
    assert inactive["previewSms"]["errors"] == [{"code": "INVALID_TEMPLATE",
                                                 "field": "templateId"}]
    assert nothing["previewSms"]["errors"] == [{"code": "MESSAGE_EMPTY", "field": "body"}]


@pytest.mark.parametrize("with_template", [True, False])
async def test_the_tech_previews_about_an_appointment_the_office_owns(demo, tech, with_template):
    id = await appointment(demo, "Grease trap replacement", email="office@example.com")
    variables = {"appointmentId": id}
    if with_template:
        variables["templateId"] = await template_id(demo, "On the way")
    else:
        variables["body"] = "Hello"

    data = await tech.ok(PREVIEW, variables)

    preview = data["previewSms"]
    assert preview["errors"] == []
    if with_template:
        assert preview["body"].endswith("is on the way now.")
    else:
        assert preview["body"] == "Hello"


async def test_a_preview_about_an_unknown_appointment_is_not_found(tech):
    body = await tech.post(PREVIEW, {"appointmentId": "987654", "body": "Hello"})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_every_form_helper_answers_sms_disabled_when_sms_is_off(demo, admin, tech):
    id = await appointment(demo, "Grease trap replacement")
    mere = await row(demo, models.Contact, name="Mere Tane")
    assert (await admin.ok(DISABLE_SMS))["updateSettings"]["errors"] == []

    answers = [
        await tech.post(SMS_RECIPIENTS, {"appointmentId": id}),
        await tech.post(CHECK_RECIPIENT, {"recipient": {"kind": "CONTACT", "id": str(mere.id)}}),
        await tech.post(SMS_TEMPLATES, {"kind": "APPOINTMENT"}),
        await tech.post(PREVIEW, {"appointmentId": id, "body": "Hello"}),
    ]

    assert [a["data"] for a in answers] == [None] * 4
    assert [a["errors"][0]["extensions"]["code"] for a in answers] == ["SMS_DISABLED"] * 4


@pytest.mark.parametrize("appointment_id,time_entry_id,code", [
    (None, None, ErrorCode.INVALID_INPUT),
    (1, 1, ErrorCode.INVALID_INPUT),
    (987654, None, ErrorCode.NOT_FOUND),
    (None, 987654, ErrorCode.NOT_FOUND),
])
async def test_a_subject_is_exactly_one_existing_appointment_or_time_entry(
        demo, appointment_id, time_entry_id, code):
    async with demo() as session:
        with pytest.raises(DomainError) as refused:
            await load_subject(session, appointment_id, time_entry_id)

    assert refused.value.code is code


async def test_a_time_entry_from_an_appointment_is_about_that_appointment(demo):
    # Given the demo's time entry that came from yesterday's Grease trap appointment.
    job = await row(demo, models.Job, title="Grease trap replacement")
    entry = await row(demo, models.TimeEntry, job_id=job.id)
    mere = await row(demo, models.Contact, name="Mere Tane")

    async with demo() as session:
        subject = await load_subject(session, None, entry.id)
        company = await session.get(models.GlobalSettings, 1)

    assert subject.appointment.id == entry.appointment_id
    assert subject.user.id == entry.user_id
    assert subject.default_recipient == RecipientRef(RecipientKind.CONTACT, mere.id)
    values = subject.values(None, company)
    assert (values.client_name, values.job_title, values.task_name, values.user_name) == (
        "Harbourside Cafe", "Grease trap replacement", "Remove old trap", "Tama Ruatapu")
    assert values.appointment_start == subject.appointment.start
