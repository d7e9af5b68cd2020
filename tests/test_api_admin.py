"""The Admin Console: company settings, SMS templates and reminder scheduled events."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from models import ReminderEvent, SmsTemplate

SETTINGS = "{ settings { smsEnabled smsRemindersEnabled timeZone maxMessageLength } }"
UPDATE_SETTINGS = """
mutation Update($input: SettingsInput!) {
  updateSettings(input: $input) {
    settings { smsEnabled smsRemindersEnabled timeZone }
    errors { code field message }
  }
}
"""
TEMPLATES = """
query Templates($kind: SmsTemplateKind) {
  smsTemplates(kind: $kind, activeOnly: false) { id name kind body active }
}
"""
CREATE_TEMPLATE = """
mutation Create($input: SmsTemplateInput!) {
  createSmsTemplate(input: $input) {
    template { id name kind body active }
    errors { code field message }
  }
}
"""
UPDATE_TEMPLATE = """
mutation Update($id: ID!, $input: SmsTemplateInput!) {
  updateSmsTemplate(id: $id, input: $input) {
    template { id name kind body active }
    errors { code field message }
  }
}
"""
EVENTS = """
{ reminderEvents { id description intervalDays runAt enabled lastRunOn template { id kind } } }
"""
CREATE_EVENT = """
mutation Create($input: ReminderEventInput!) {
  createReminderEvent(input: $input) {
    event { id description intervalDays runAt enabled template { id } }
    errors { code field message }
  }
}
"""
UPDATE_EVENT = """
mutation Update($id: ID!, $input: ReminderEventInput!) {
  updateReminderEvent(id: $id, input: $input) {
    event { id description intervalDays runAt enabled template { id } }
    errors { code field message }
  }
}
"""

GOOD_BODY = "Hi {contact_name}, see you {appointment_date} at {appointment_time}."


async def template_id(api, kind: str) -> str:
    templates = (await api.ok(TEMPLATES, {"kind": kind}))["smsTemplates"]
    return templates[0]["id"]


async def demo_event(api) -> dict:
    return (await api.ok(EVENTS))["reminderEvents"][0]


async def set_settings(api, **values) -> None:
    data = await api.ok(UPDATE_SETTINGS, {"input": values})
    assert data["updateSettings"]["errors"] == []


async def count(sessions, model) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


def new_event(template: str, **changes) -> dict:
    return {"description": "Two days ahead", "intervalDays": 2, "templateId": template,
            "runAt": "08:30", **changes}


# Settings


async def test_admin_changes_the_company_settings(admin):
    data = await admin.ok(UPDATE_SETTINGS, {"input": {"timeZone": "Australia/Sydney",
                                                      "smsRemindersEnabled": False}})

    assert data["updateSettings"] == {
        "settings": {"smsEnabled": True, "smsRemindersEnabled": False,
                     "timeZone": "Australia/Sydney"},
        "errors": []}
    assert (await admin.ok(SETTINGS))["settings"] == {
        "smsEnabled": True, "smsRemindersEnabled": False, "timeZone": "Australia/Sydney",
        "maxMessageLength": 160}


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "NZST+12"])
async def test_an_unknown_time_zone_is_invalid_input_and_changes_nothing(admin, zone):
    data = await admin.ok(UPDATE_SETTINGS, {"input": {"timeZone": zone, "smsEnabled": False}})

    assert data["updateSettings"]["settings"] is None
    assert [(e["code"], e["field"]) for e in data["updateSettings"]["errors"]] == [
        ("INVALID_INPUT", "timeZone")]
    settings = (await admin.ok(SETTINGS))["settings"]
    assert settings["timeZone"] == "Pacific/Auckland" and settings["smsEnabled"] is True


# SMS templates


async def test_admin_creates_a_template_and_it_is_offered(admin):
    data = await admin.ok(CREATE_TEMPLATE, {"input": {
        "name": "Running late", "kind": "APPOINTMENT", "body": GOOD_BODY}})

    created = data["createSmsTemplate"]
    assert created["errors"] == []
    assert created["template"] == {"id": created["template"]["id"], "name": "Running late",
                                   "kind": "APPOINTMENT", "body": GOOD_BODY, "active": True}
    listed = (await admin.ok(TEMPLATES, {"kind": "APPOINTMENT"}))["smsTemplates"]
    assert created["template"] in listed


@pytest.mark.parametrize("body,code", [
    ("Hi {client}, see you soon.", "INVALID_TEMPLATE"),
    ("Hi {contact_name!r}", "INVALID_TEMPLATE"),
    ("Hi {contact_name, see you.", "INVALID_TEMPLATE"),
    ("   ", "MESSAGE_EMPTY"),
])
async def test_a_bad_template_body_is_refused_on_create(admin, demo, body, code):
    before = await count(demo, SmsTemplate)

    data = await admin.ok(CREATE_TEMPLATE, {"input": {
        "name": "Broken", "kind": "APPOINTMENT", "body": body}})

    assert data["createSmsTemplate"]["template"] is None
    assert [(e["code"], e["field"]) for e in data["createSmsTemplate"]["errors"]] == [
        (code, "body")]
    assert await count(demo, SmsTemplate) == before


async def test_an_unknown_token_is_refused_on_update_and_the_body_kept(admin):
    template = await template_id(admin, "APPOINTMENT")
    before = {t["id"]: t for t in (await admin.ok(TEMPLATES))["smsTemplates"]}[template]

    data = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {
        "name": "Renamed", "body": "Hi {first_name}"}})

    assert data["updateSmsTemplate"]["template"] is None
    assert [e["code"] for e in data["updateSmsTemplate"]["errors"]] == ["INVALID_TEMPLATE"]
    after = {t["id"]: t for t in (await admin.ok(TEMPLATES))["smsTemplates"]}[template]
    assert after == before


async def test_admin_edits_a_template(admin):
    template = await template_id(admin, "APPOINTMENT")

    data = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {
        "name": "Booked", "body": GOOD_BODY, "active": False}})

    assert data["updateSmsTemplate"] == {"template": {
        "id": template, "name": "Booked", "kind": "APPOINTMENT", "body": GOOD_BODY,
        "active": False}, "errors": []}


async def test_a_template_an_enabled_reminder_event_uses_cannot_be_deactivated(admin):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {"active": False}})

    assert [e["code"] for e in data["updateSmsTemplate"]["errors"]] == ["INVALID_TEMPLATE"]
    listed = (await admin.ok(TEMPLATES, {"kind": "REMINDER_EVENT"}))["smsTemplates"]
    assert [t["active"] for t in listed if t["id"] == template] == [True]


async def test_a_template_an_enabled_reminder_event_uses_keeps_its_kind(admin):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {"kind": "APPOINTMENT"}})

    assert [e["code"] for e in data["updateSmsTemplate"]["errors"]] == ["INVALID_TEMPLATE"]
    assert await template_id(admin, "REMINDER_EVENT") == template


async def test_once_its_event_is_disabled_the_template_can_be_deactivated(admin):
    template = await template_id(admin, "REMINDER_EVENT")
    event = await demo_event(admin)
    disabled = await admin.ok(UPDATE_EVENT, {"id": event["id"], "input": {"enabled": False}})
    assert disabled["updateReminderEvent"]["errors"] == []

    data = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {"active": False}})

    assert data["updateSmsTemplate"]["errors"] == []
    assert data["updateSmsTemplate"]["template"]["active"] is False


async def test_an_event_cannot_be_enabled_again_while_its_template_is_inactive(admin):
    template = await template_id(admin, "REMINDER_EVENT")
    event = await demo_event(admin)
    await admin.ok(UPDATE_EVENT, {"id": event["id"], "input": {"enabled": False}})
    await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {"active": False}})

    data = await admin.ok(UPDATE_EVENT, {"id": event["id"], "input": {"enabled": True}})

    assert [(e["code"], e["field"]) for e in data["updateReminderEvent"]["errors"]] == [
        ("INVALID_TEMPLATE", "templateId")]
    assert (await demo_event(admin))["enabled"] is False


async def test_an_unknown_template_is_not_found(admin):
    data = await admin.ok(UPDATE_TEMPLATE, {"id": "999999", "input": {"name": "x"}})

    assert [(e["code"], e["field"]) for e in data["updateSmsTemplate"]["errors"]] == [
        ("NOT_FOUND", "id")]


# Reminder events


async def test_admin_sees_the_reminder_events(admin):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(EVENTS)

    assert data["reminderEvents"] == [{
        "id": data["reminderEvents"][0]["id"],
        "description": "Reminder for tomorrow's appointments", "intervalDays": 1,
        "runAt": "17:00:00", "enabled": True, "lastRunOn": None,
        "template": {"id": template, "kind": "REMINDER_EVENT"}}]


@pytest.mark.parametrize("interval,run_at", [(0, "07:00"), (28, "21:00"), (7, "12:15")])
async def test_admin_creates_a_reminder_event_within_the_limits(admin, interval, run_at):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(CREATE_EVENT, {"input": new_event(template, intervalDays=interval,
                                                            runAt=run_at)})

    created = data["createReminderEvent"]
    assert created["errors"] == []
    assert created["event"] == {"id": created["event"]["id"], "description": "Two days ahead",
                                "intervalDays": interval, "runAt": f"{run_at}:00",
                                "enabled": True, "template": {"id": template}}
    assert created["event"]["id"] in [e["id"] for e in (await admin.ok(EVENTS))["reminderEvents"]]


@pytest.mark.parametrize("interval", [-1, 29, 365])
async def test_an_interval_outside_today_to_four_weeks_is_refused(admin, demo, interval):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(CREATE_EVENT, {"input": new_event(template, intervalDays=interval)})

    assert data["createReminderEvent"]["event"] is None
    assert [(e["code"], e["field"]) for e in data["createReminderEvent"]["errors"]] == [
        ("INVALID_INTERVAL", "intervalDays")]
    assert await count(demo, ReminderEvent) == 1


@pytest.mark.parametrize("run_at", ["06:59", "21:01", "00:00", "23:30", "09:00:00+12:00"])
async def test_a_run_time_outside_seven_to_nine_is_refused(admin, demo, run_at):
    template = await template_id(admin, "REMINDER_EVENT")

    data = await admin.ok(CREATE_EVENT, {"input": new_event(template, runAt=run_at)})

    assert [(e["code"], e["field"]) for e in data["createReminderEvent"]["errors"]] == [
        ("INVALID_INPUT", "runAt")]
    assert await count(demo, ReminderEvent) == 1


async def test_an_appointment_template_cannot_drive_a_reminder_event(admin, demo):
    template = await template_id(admin, "APPOINTMENT")

    data = await admin.ok(CREATE_EVENT, {"input": new_event(template)})

    assert [(e["code"], e["field"]) for e in data["createReminderEvent"]["errors"]] == [
        ("INVALID_TEMPLATE", "templateId")]
    assert await count(demo, ReminderEvent) == 1


async def test_an_inactive_reminder_template_cannot_drive_a_reminder_event(admin, demo):
    made = await admin.ok(CREATE_TEMPLATE, {"input": {
        "name": "Old reminder", "kind": "REMINDER_EVENT", "body": GOOD_BODY, "active": False}})
    template = made["createSmsTemplate"]["template"]["id"]

    data = await admin.ok(CREATE_EVENT, {"input": new_event(template)})

    assert [e["code"] for e in data["createReminderEvent"]["errors"]] == ["INVALID_TEMPLATE"]
    assert await count(demo, ReminderEvent) == 1


async def test_a_missing_template_cannot_drive_a_reminder_event(admin):
    data = await admin.ok(CREATE_EVENT, {"input": new_event("999999")})

    assert [e["code"] for e in data["createReminderEvent"]["errors"]] == ["INVALID_TEMPLATE"]


async def test_admin_updates_a_reminder_event(admin):
    event = await demo_event(admin)

    data = await admin.ok(UPDATE_EVENT, {"id": event["id"], "input": {
        "description": "Three days ahead", "intervalDays": 3, "runAt": "09:45"}})

    assert data["updateReminderEvent"]["errors"] == []
    assert data["updateReminderEvent"]["event"] == {
        "id": event["id"], "description": "Three days ahead", "intervalDays": 3,
        "runAt": "09:45:00", "enabled": True, "template": {"id": event["template"]["id"]}}


@pytest.mark.parametrize("change,code,field", [
    ({"intervalDays": 29}, "INVALID_INTERVAL", "intervalDays"),
    ({"intervalDays": -1}, "INVALID_INTERVAL", "intervalDays"),
    ({"runAt": "21:30"}, "INVALID_INPUT", "runAt"),
    ({"runAt": "06:00"}, "INVALID_INPUT", "runAt"),
    ({"description": "  "}, "INVALID_INPUT", "description"),
])
async def test_an_invalid_change_to_a_reminder_event_is_refused_and_nothing_changes(
        admin, change, code, field):
    event = await demo_event(admin)

    data = await admin.ok(UPDATE_EVENT, {"id": event["id"],
                                         "input": {"description": "Changed", **change}})

    assert data["updateReminderEvent"]["event"] is None
    assert [(e["code"], e["field"]) for e in data["updateReminderEvent"]["errors"]] == [
        (code, field)]
    assert await demo_event(admin) == event


async def test_a_reminder_event_cannot_switch_to_an_appointment_template(admin):
    event = await demo_event(admin)
    appointment_template = await template_id(admin, "APPOINTMENT")

    data = await admin.ok(UPDATE_EVENT, {"id": event["id"],
                                         "input": {"templateId": appointment_template}})

    assert [e["code"] for e in data["updateReminderEvent"]["errors"]] == ["INVALID_TEMPLATE"]
    assert await demo_event(admin) == event


# Turned off


@pytest.mark.parametrize("switch", ["smsRemindersEnabled", "smsEnabled"])
async def test_reminder_events_are_prepared_while_sms_is_off(admin, switch):
    template = await template_id(admin, "REMINDER_EVENT")
    event = await demo_event(admin)
    await set_settings(admin, **{switch: False})

    created = await admin.ok(CREATE_EVENT, {"input": new_event(template)})
    updated = await admin.ok(UPDATE_EVENT, {"id": event["id"], "input": {"intervalDays": 2}})
    listed = await admin.ok(EVENTS)

    assert created["createReminderEvent"]["errors"] == []
    assert updated["updateReminderEvent"]["errors"] == []
    assert len(listed["reminderEvents"]) == 2
    assert [e["intervalDays"] for e in listed["reminderEvents"]] == [2, 2]


async def test_reminder_events_come_back_when_reminders_are_turned_on_again(admin):
    await set_settings(admin, smsRemindersEnabled=False)
    await set_settings(admin, smsRemindersEnabled=True)

    data = await admin.ok(EVENTS)

    assert len(data["reminderEvents"]) == 1


async def test_templates_are_prepared_while_sms_is_off(admin):
    template = await template_id(admin, "APPOINTMENT")
    await set_settings(admin, smsEnabled=False)

    created = await admin.ok(CREATE_TEMPLATE, {"input": {
        "name": "New", "kind": "APPOINTMENT", "body": GOOD_BODY}})
    updated = await admin.ok(UPDATE_TEMPLATE, {"id": template, "input": {"name": "Renamed"}})
    listed = await admin.ok(TEMPLATES)

    assert created["createSmsTemplate"]["errors"] == []
    assert updated["updateSmsTemplate"]["errors"] == []
    assert {"New", "Renamed"} <= {t["name"] for t in listed["smsTemplates"]}


async def test_the_sms_form_offers_no_templates_while_sms_is_off(admin, office):
    await set_settings(admin, smsEnabled=False)

    body = await office.post(TEMPLATES)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SMS_DISABLED"]
