"""Who may do what: every permission-gated query and mutation, for each demo profile.

admin: every permission. office: Edit Contact, Show SMS Errors, Send SMS, not a Global
Administrator. tech: Send SMS only, with the client's SMS reminders field hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import SQLModel, select

from models import Appointment, Client, Contact, ReminderEvent, SmsTemplate, User
from models.demo import ADMIN_EMAIL, OFFICE_EMAIL, TECH_EMAIL
from models.enums import SmsTemplateKind
from models.periods import MAX_PERIOD

EVERYONE = ("admin", "office", "tech")
ADMIN = frozenset({"admin"})
SHOW_SMS_ERRORS = frozenset({"admin", "office"})
EDIT_CONTACT = frozenset({"admin", "office"})
CLIENT_SMS_REMINDERS_VISIBLE = frozenset({"admin", "office"})
EMAILS = {"admin": ADMIN_EMAIL, "office": OFFICE_EMAIL, "tech": TECH_EMAIL}
# Whose calendar each user asks for: always somebody else's.
OTHER_USER = {"admin": TECH_EMAIL, "office": TECH_EMAIL, "tech": OFFICE_EMAIL}

UPDATE_SETTINGS = """
mutation { updateSettings(input: {timeZone: "Australia/Perth"}) {
  settings { timeZone } errors { code } } }
"""
CREATE_SMS_TEMPLATE = """
mutation { createSmsTemplate(input: {name: "New", kind: APPOINTMENT, body: "Hi {contact_name}"}) {
  template { id } errors { code } } }
"""
UPDATE_SMS_TEMPLATE = """
mutation($id: ID!) { updateSmsTemplate(id: $id, input: {name: "Renamed"}) {
  template { id } errors { code } } }
"""
CREATE_REMINDER_EVENT = """
mutation($template: ID!) {
  createReminderEvent(input: {description: "Week ahead", intervalDays: 7, templateId: $template,
                              runAt: "08:00"}) {
    event { id } errors { code } } }
"""
UPDATE_REMINDER_EVENT = """
mutation($id: ID!) { updateReminderEvent(id: $id, input: {intervalDays: 2}) {
  event { id } errors { code } } }
"""
REMINDER_EVENTS = "{ reminderEvents { id } }"
SMS_MESSAGES = "{ smsMessages { totalCount } }"
SMS_FAILURES = "{ smsFailures(recentOnly: false) { totalCount } }"
SMS_FAILURE_ALERT = "{ smsFailureAlert { shouldAlert } }"
ACKNOWLEDGE_SMS_FAILURE_ALERT = "mutation { acknowledgeSmsFailureAlert { shouldAlert } }"
CREATE_CONTACT = """
mutation($client: ID!) { createContact(input: {clientId: $client, name: "Site Manager",
                                               mobile: "021 555 0177"}) {
  contact { id } errors { code } } }
"""
UPDATE_CONTACT = """
mutation($id: ID!) { updateContact(id: $id, input: {name: "Mere Tane-Smith"}) {
  contact { id } errors { code } } }
"""
UPDATE_CONTACT_NUMBER = """
mutation($id: ID!) { updateContactNumber(id: $id, field: PHONE, value: "09 555 0999") {
  contact { id } errors { code } } }
"""
COPY_CONTACT_NUMBER_TO_SMS = """
mutation($id: ID!) { copyContactNumberToSms(id: $id, from: PHONE) {
  contact { id } errors { code } } }
"""
CONTACTS_FOR_BULK_UPDATE = "{ contactsForBulkUpdate { totalCount } }"
SET_CLIENTS_SMS_REMINDERS = """
mutation($ids: [ID!]) { setClientsSmsReminders(enabled: true, ids: $ids) {
  affectedCount errors { code } } }
"""
def calendar_document() -> str:
    """The demo's weeks around today: the longest period a calendar may ask for."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=21)
    end = start + MAX_PERIOD
    return f"""
query($user: ID) {{ calendar(start: "{start.isoformat()}", end: "{end.isoformat()}",
                            userId: $user) {{ id }} }}
"""


CALENDAR = calendar_document()
APPOINTMENT = "query($id: ID!) { appointment(id: $id) { id user { email } } }"
UPDATE_APPOINTMENT = """
mutation($id: ID!) { updateAppointment(id: $id, input: {start: "2031-03-04T20:00:00Z",
                                                        end: "2031-03-04T21:00:00Z"}) {
  appointment { id } errors { code } } }
"""
SEND_SMS = """
mutation($id: ID!) { sendSms(input: {appointmentId: $id, body: "Running 10 minutes late."}) {
  message { id } errors { code } } }
"""
ANONYMOUS_ME = "{ me { id } }"


@dataclass(frozen=True)
class Ids:
    users: dict[str, str]
    appointment_template: str
    reminder_template: str
    reminder_event: str
    client: str
    contact: str
    # A mobile typed into the phone field, with no SMS number yet.
    phone_only_contact: str
    clients_without_reminders: list[str]
    # One appointment of each user's, by e-mail.
    appointments: dict[str, str]


@pytest.fixture
async def ids(demo) -> Ids:
    async with demo() as session:
        templates = {t.kind: t for t in (await session.exec(select(SmsTemplate))).all()}
        contacts = {c.name: c for c in (await session.exec(select(Contact))).all()}
        clients = (await session.exec(select(Client).order_by(Client.id))).all()
        users = {u.email: str(u.id) for u in (await session.exec(select(User))).all()}
        event = (await session.exec(select(ReminderEvent))).one()
        appointments = (await session.exec(select(Appointment).order_by(Appointment.id))).all()
    return Ids(
        users=users,
        appointment_template=str(templates[SmsTemplateKind.APPOINTMENT].id),
        reminder_template=str(templates[SmsTemplateKind.REMINDER_EVENT].id),
        reminder_event=str(event.id),
        client=str(clients[0].id),
        contact=str(contacts["Mere Tane"].id),
        phone_only_contact=str(contacts["Dr Anjali Rao"].id),
        clients_without_reminders=[str(c.id) for c in clients if not c.sms_reminders],
        appointments={email: str(next(a.id for a in appointments if str(a.user_id) == user))
                      for email, user in users.items()
                      if any(str(a.user_id) == user for a in appointments)},
    )


@dataclass(frozen=True)
class Operation:
    field: str
    document: str
    allowed: frozenset[str]
    variables: Callable[[Ids, str], dict[str, Any]] = lambda ids, who: {}

    @property
    def is_mutation(self) -> bool:
        return self.document.lstrip().startswith("mutation")

    def __str__(self) -> str:
        return self.field


OPERATIONS = [
    Operation("updateSettings", UPDATE_SETTINGS, ADMIN),
    Operation("createSmsTemplate", CREATE_SMS_TEMPLATE, ADMIN),
    Operation("updateSmsTemplate", UPDATE_SMS_TEMPLATE, ADMIN,
              lambda ids, who: {"id": ids.appointment_template}),
    Operation("createReminderEvent", CREATE_REMINDER_EVENT, ADMIN,
              lambda ids, who: {"template": ids.reminder_template}),
    Operation("updateReminderEvent", UPDATE_REMINDER_EVENT, ADMIN,
              lambda ids, who: {"id": ids.reminder_event}),
    Operation("reminderEvents", REMINDER_EVENTS, ADMIN),
    Operation("smsMessages", SMS_MESSAGES, ADMIN),
    Operation("smsFailures", SMS_FAILURES, SHOW_SMS_ERRORS),
    Operation("smsFailureAlert", SMS_FAILURE_ALERT, SHOW_SMS_ERRORS),
    Operation("acknowledgeSmsFailureAlert", ACKNOWLEDGE_SMS_FAILURE_ALERT, SHOW_SMS_ERRORS),
    Operation("createContact", CREATE_CONTACT, EDIT_CONTACT,
              lambda ids, who: {"client": ids.client}),
    Operation("updateContact", UPDATE_CONTACT, EDIT_CONTACT,
              lambda ids, who: {"id": ids.contact}),
    Operation("updateContactNumber", UPDATE_CONTACT_NUMBER, EDIT_CONTACT,
              lambda ids, who: {"id": ids.contact}),
    Operation("copyContactNumberToSms", COPY_CONTACT_NUMBER_TO_SMS, EDIT_CONTACT,
              lambda ids, who: {"id": ids.phone_only_contact}),
    Operation("contactsForBulkUpdate", CONTACTS_FOR_BULK_UPDATE, EDIT_CONTACT),
    Operation("setClientsSmsReminders", SET_CLIENTS_SMS_REMINDERS, CLIENT_SMS_REMINDERS_VISIBLE,
              lambda ids, who: {"ids": ids.clients_without_reminders}),
    # The office books and messages about the technicians' days: no ownership rule.
    Operation("calendar", CALENDAR, frozenset(EVERYONE),
              lambda ids, who: {"user": ids.users[OTHER_USER[who]]}),
    Operation("appointment", APPOINTMENT, frozenset(EVERYONE),
              lambda ids, who: {"id": ids.appointments[OTHER_USER[who]]}),
    Operation("updateAppointment", UPDATE_APPOINTMENT, frozenset(EVERYONE),
              lambda ids, who: {"id": ids.appointments[OTHER_USER[who]]}),
    # Every demo profile has Send SMS; tests/test_api_office.py has one without.
    Operation("sendSms", SEND_SMS, frozenset(EVERYONE),
              lambda ids, who: {"id": ids.appointments[OTHER_USER[who]]}),
]
MATRIX = [pytest.param(op, who, id=f"{op}-{who}") for op in OPERATIONS for who in EVERYONE]


async def snapshot(services) -> dict[str, list[tuple]]:
    """Every row of every table but the sign-in tokens, to compare before and after."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != "auth_token"]
    async with services.engine.connect() as connection:
        return {t.name: sorted((tuple(row) for row in (await connection.execute(t.select()))),
                               key=repr)
                for t in tables}


def user_errors(data: dict[str, Any], field: str) -> list[str]:
    """The payload's UserError codes; acknowledgeSmsFailureAlert's answer has no `errors`."""
    return [error["code"] for error in data[field].get("errors", [])]


@pytest.mark.parametrize("operation,who", MATRIX)
async def test_each_profile_may_do_exactly_what_its_permissions_allow(
        anonymous, services, ids, operation, who):
    api = await anonymous.login(who)
    before = await snapshot(services)

    body = await api.post(operation.document, operation.variables(ids, who))

    after = await snapshot(services)
    if who in operation.allowed:
        assert "errors" not in body, body["errors"]
        assert body["data"][operation.field] is not None
        if operation.is_mutation:
            assert user_errors(body["data"], operation.field) == []
            assert after != before, "an allowed mutation should have changed something"
        else:
            assert after == before
        return
    assert after == before, "a refused operation wrote to the database"
    if operation.is_mutation and body.get("data") and "errors" in body["data"][operation.field]:
        payload = body["data"][operation.field]
        assert [e["code"] for e in payload["errors"]] == ["PERMISSION_DENIED"]
        assert all(v is None for k, v in payload.items() if k not in ("errors", "affectedCount"))
        assert payload.get("affectedCount", 0) == 0
        assert "errors" not in body
    else:
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["PERMISSION_DENIED"]


def test_the_matrix_covers_every_gated_field_of_the_brief():
    assert {op.field for op in OPERATIONS} == {
        "updateSettings", "createSmsTemplate", "updateSmsTemplate", "createReminderEvent",
        "updateReminderEvent", "reminderEvents", "smsMessages", "smsFailures",
        "smsFailureAlert", "acknowledgeSmsFailureAlert", "createContact", "updateContact",
        "updateContactNumber", "copyContactNumberToSms", "contactsForBulkUpdate",
        "setClientsSmsReminders", "calendar", "appointment", "updateAppointment", "sendSms"}
    assert {who for op in OPERATIONS for who in op.allowed} <= set(EVERYONE)


@pytest.mark.parametrize("who", EVERYONE)
async def test_everyone_may_see_their_own_calendar(anonymous, ids, who):
    api = await anonymous.login(who)

    data = await api.ok(CALENDAR, {"user": ids.users[EMAILS[who]]})

    assert isinstance(data["calendar"], list)


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
async def test_nobody_signed_out_may_do_any_of_it(anonymous, services, ids, operation):
    before = await snapshot(services)

    body = await anonymous.post(operation.document, operation.variables(ids, "admin"))

    # A nullable root field is nulled by its error; a non-null one nulls the whole answer.
    assert body["data"] in (None, {operation.field: None})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert await snapshot(services) == before


async def test_a_refused_query_shows_no_partial_data_beside_allowed_fields(anonymous):
    tech = await anonymous.login("tech")

    body = await tech.post("{ settings { timeZone } smsMessages { totalCount } }")

    # smsMessages is non-null: its refusal nulls the whole answer, so nothing leaks beside it.
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PERMISSION_DENIED"]
    assert [e["path"] for e in body["errors"]] == [["smsMessages"]]
