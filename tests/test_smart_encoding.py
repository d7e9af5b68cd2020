"""Smart encoding through the API: what previewSms shows is what sendSms and a reminder run store
and send, with look-alikes replaced and macrons kept unless plainVowelsForMacrons makes it fit."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlmodel import select

from models import Appointment, Contact, Job, SmsMessage, SmsTemplate, Task, User
from models.demo import TECH_EMAIL
from models.enums import SmsStatus, SmsTemplateKind
from models.reminders import run_event
from tests.reminder_fixtures import open_shop

PREVIEW = """
query Preview($appointmentId: ID, $templateId: ID, $body: String) {
  previewSms(appointmentId: $appointmentId, templateId: $templateId, body: $body) {
    body length segments encoding replacedCharacters errors { code }
  }
}
"""
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id body segments } errors { code field } }
}
"""
SETTINGS = "{ settings { plainVowelsForMacrons smsEnabled companyName } }"
UPDATE_SETTINGS = """
mutation Update($input: SettingsInput!) {
  updateSettings(input: $input) { settings { plainVowelsForMacrons } errors { code } }
}
"""

# As typed on a phone: curly quotes, an en dash, an ellipsis and a no-break space.
TYPED = "Hi “Mere” – we’re running late\u2026 see you at 10\u00a0am."
SENT = "Hi \"Mere\" - we're running late... see you at 10 am."
# 77 characters with two macrons: too long for UCS-2, one SMS with plain vowels.
MACRONS = "Kia ora Tāmati, Aroha from Kiwi Plumbing visits Ōtaki on Tue 6 Mar at 9:30am."


async def harbourside_visit(sessions) -> Appointment:
    """A tech's appointment whose contact, Mere Tane, has a valid NZ mobile."""
    async with sessions() as session:
        return (await session.exec(
            select(Appointment).join(Job, Job.id == Appointment.job_id)
            .join(Task, Task.id == Appointment.task_id)
            .join(User, User.id == Appointment.user_id)
            .where(Job.title == "Grease trap replacement", Task.name == "Install and test",
                   User.email == TECH_EMAIL)
            .order_by(Appointment.start))).first()


async def stored(sessions, message_id: str) -> SmsMessage:
    async with sessions() as session:
        return await session.get(SmsMessage, int(message_id))


async def plain_vowels(admin, on: bool) -> None:
    data = await admin.ok(UPDATE_SETTINGS, {"input": {"plainVowelsForMacrons": on}})
    assert data["updateSettings"] == {"settings": {"plainVowelsForMacrons": on}, "errors": []}


# --- previewSms ------------------------------------------------------------------------------


async def test_the_preview_shows_the_text_that_will_go_and_what_was_replaced(demo, tech):
    # Given
    visit = await harbourside_visit(demo)

    # When
    data = await tech.ok(PREVIEW, {"appointmentId": str(visit.id), "body": TYPED})

    # Then
    assert data["previewSms"] == {
        "body": SENT, "length": len(SENT), "segments": 1, "encoding": "GSM-7",
        "replacedCharacters": ["“", "”", "–", "’", "\u2026", "\u00a0"], "errors": []}


async def test_a_preview_with_an_emoji_stays_ucs2_and_is_too_long(demo, tech):
    # Given 150 GSM-7 characters once the quotes are straight, and an emoji
    body = ("Hi “Mere”, it’s Tama from Kiwi Plumbing & Electrical. We’ll be at 14 Marine Parade "
            "at 9:30am tomorrow to replace the grease trap. Reply to reschedule. 👍")

    # When
    data = await tech.ok(PREVIEW, {"body": body})

    # Then
    preview = data["previewSms"]
    assert (preview["length"], preview["encoding"], preview["errors"]) == (
        153, "UCS-2", [{"code": "MESSAGE_TOO_LONG"}])
    assert preview["replacedCharacters"] == ["“", "”", "’"]
    assert preview["body"].startswith('Hi "Mere", it\'s Tama') and preview["body"].endswith("👍")


async def test_plain_vowels_are_used_only_with_the_setting_and_only_to_fit(demo, admin, tech):
    # Given the setting off: macrons kept, and the text refused
    off = (await tech.ok(PREVIEW, {"body": MACRONS}))["previewSms"]
    assert (off["body"], off["encoding"], off["replacedCharacters"], off["errors"]) == (
        MACRONS, "UCS-2", [], [{"code": "MESSAGE_TOO_LONG"}])

    # When the admin turns it on
    await plain_vowels(admin, True)
    long = (await tech.ok(PREVIEW, {"body": MACRONS}))["previewSms"]
    short = (await tech.ok(PREVIEW, {"body": "Kia ora Tāmati, see you in Ōtaki."}))["previewSms"]

    # Then the long text fits with plain vowels and the short one keeps its macrons
    assert long == {
        "body": MACRONS.replace("ā", "a").replace("Ō", "O"), "length": 77, "segments": 1,
        "encoding": "GSM-7", "replacedCharacters": ["ā", "Ō"], "errors": []}
    assert (short["body"], short["encoding"], short["replacedCharacters"], short["errors"]) == (
        "Kia ora Tāmati, see you in Ōtaki.", "UCS-2", [], [])


# --- settings --------------------------------------------------------------------------------


async def test_plain_vowels_for_macrons_is_off_by_default_and_round_trips(admin):
    before = (await admin.ok(SETTINGS))["settings"]
    assert before["plainVowelsForMacrons"] is False

    await plain_vowels(admin, True)
    assert (await admin.ok(SETTINGS))["settings"] == {**before, "plainVowelsForMacrons": True}

    # Leaving it out of the input leaves it as it is
    data = await admin.ok(UPDATE_SETTINGS, {"input": {"companyName": "Kiwi Plumbing"}})
    assert data["updateSettings"]["settings"] == {"plainVowelsForMacrons": True}

    await plain_vowels(admin, False)
    assert (await admin.ok(SETTINGS))["settings"]["plainVowelsForMacrons"] is False


# --- sendSms ---------------------------------------------------------------------------------


async def test_send_sms_stores_and_sends_the_replaced_text(demo, tech, twilio, drain):
    # Given
    visit = await harbourside_visit(demo)

    # When
    payload = (await tech.ok(SEND, {"input": {"appointmentId": str(visit.id), "body": TYPED}})
               )["sendSms"]
    await drain()

    # Then the answer, the row and the provider all have the replaced text, counted as GSM-7
    message = payload["message"]
    assert (payload["errors"], message["body"], message["segments"]) == ([], SENT, 1)
    row = await stored(demo, message["id"])
    assert (row.body, row.encoding, row.segments) == (SENT, "GSM-7", 1)
    [provider] = [r for r in twilio.received
                  if r["StatusCallback"].endswith(f"message_id={message['id']}")]
    assert provider["Body"] == SENT


@pytest.mark.parametrize("on", [False, True])
async def test_a_template_with_macrons_is_sent_plain_only_with_the_setting(demo, admin, tech, on):
    # Given a contact and a template with macrons: 74 characters rendered
    visit = await harbourside_visit(demo)
    async with demo.begin() as session:
        (await session.get(Contact, visit.contact_id)).name = "Mere Tāne"
        template = SmsTemplate(name="Ōtaki", kind=SmsTemplateKind.APPOINTMENT,
                               body="Kia ora {contact_name}, {user_name} from Kiwi Plumbing is on "
                                    "the way to Ōtaki.")
        session.add(template)
    await plain_vowels(admin, on)

    # When
    payload = (await tech.ok(SEND, {"input": {"appointmentId": str(visit.id),
                                              "templateId": str(template.id)}}))["sendSms"]

    # Then without the setting the macrons are kept and the text is refused; with it, it goes
    if not on:
        assert (payload["message"], payload["errors"]) == (
            None, [{"code": "MESSAGE_TOO_LONG", "field": "templateId"}])
        return
    body = "Kia ora Mere Tane, Tama Ruatapu from Kiwi Plumbing is on the way to Otaki."
    assert (payload["errors"], payload["message"]["body"]) == ([], body)
    row = await stored(demo, payload["message"]["id"])
    assert (row.body, row.encoding, row.segments) == (body, "GSM-7", 1)


# --- reminder runs ---------------------------------------------------------------------------

DAY = date(2026, 3, 10)


async def run_reminders(shop) -> list[SmsMessage]:
    await shop.visit(shop.at(DAY + timedelta(days=1), 9, 30), "Tāmati")
    event = await shop.event(run_at=time(17, 0))
    async with shop.sessions.begin() as session:
        await run_event(session, event, shop.at(DAY, 17))
    return await shop.messages()


async def test_a_reminder_stores_the_replaced_text(sessions):
    # Given a reminder template pasted from a word processor
    shop = await open_shop(sessions, body="Hi {contact_name} – {user_name} visits "
                                          "{appointment_date} at {appointment_time}\u2026 "
                                          "reply “R”.")

    # When the event runs
    [message] = await run_reminders(shop)

    # Then the look-alikes are plain, and the name keeps its macron: the text fits as UCS-2
    assert message.status is SmsStatus.QUEUED
    assert message.body == 'Hi Tāmati - Aroha visits Wed 11 Mar at 9:30am... reply "R".'
    assert (message.encoding, message.segments) == ("UCS-2", 1)


@pytest.mark.parametrize("on", [False, True])
async def test_a_reminder_too_long_with_macrons_is_sent_plain_only_with_the_setting(sessions, on):
    # Given a reminder of 73 characters for Tāmati, with “quotes”
    shop = await open_shop(sessions, body="Kia ora {contact_name}, “{user_name}” from Tui Plumbing "
                                          "visits on {appointment_date} at {appointment_time}.")
    await shop.settings(plain_vowels_for_macrons=on)

    # When the event runs
    [message] = await run_reminders(shop)

    # Then the quotes are straight either way; the macron goes only with the setting, and a
    # text refused is stored as it would have been sent
    text = 'Kia ora Tāmati, "Aroha" from Tui Plumbing visits on Wed 11 Mar at 9:30am.'
    if on:
        assert (message.status, message.body, message.encoding, message.segments) == (
            SmsStatus.QUEUED, text.replace("ā", "a"), "GSM-7", 1)
    else:
        assert (message.status, message.error_code, message.body, message.encoding) == (
            SmsStatus.FAILED, "MESSAGE_TOO_LONG", text, "UCS-2")
