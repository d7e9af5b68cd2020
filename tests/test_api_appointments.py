"""createAppointment and updateAppointment: default contact and reminder, checks, layout locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

import models
from models.access import require_visible
from models.appointment_rules import contact_id_of, default_contact
from models.enums import FieldVisibility, OptOutMethod, RecipientKind
from models.errors import DomainError, ErrorCode
from models.recipients import RecipientRef

PAYLOAD = """
    appointment {
      id start end smsReminder user { email } job { title } task { name }
      contact { kind id name }
    }
    errors { code field }
    warnings { code field }
"""
CREATE = f"""
mutation Create($input: AppointmentInput!) {{
  createAppointment(input: $input) {{ {PAYLOAD} }}
}}
"""
UPDATE = f"""
mutation Update($id: ID!, $input: AppointmentInput!) {{
  updateAppointment(id: $id, input: $input) {{ {PAYLOAD} }}
}}
"""

START = datetime(2040, 3, 5, 21, 0, tzinfo=UTC)
END = START + timedelta(hours=2)


@dataclass
class Demo:
    """Demo rows by name, and the database to read back from."""

    sessions: object

    async def row(self, model, **where):
        async with self.sessions() as session:
            stmt = select(model)
            for name, value in where.items():
                stmt = stmt.where(getattr(model, name) == value)
            return (await session.exec(stmt)).one()

    async def job(self, title: str) -> str:
        return str((await self.row(models.Job, title=title)).id)

    async def task(self, name: str) -> str:
        return str((await self.row(models.Task, name=name)).id)

    async def contact(self, name: str) -> dict:
        return {"kind": "CONTACT", "id": str((await self.row(models.Contact, name=name)).id)}

    async def client(self, name: str) -> dict:
        return {"kind": "CLIENT", "id": str((await self.row(models.Client, name=name)).id)}

    async def appointment_count(self) -> int:
        async with self.sessions() as session:
            return (await session.exec(select(func.count()).select_from(models.Appointment))).one()

    async def appointment(self, id: str) -> models.Appointment:
        async with self.sessions() as session:
            return await session.get(models.Appointment, int(id))


@pytest.fixture
def named(demo) -> Demo:
    return Demo(demo)


def booking(job: str, **more) -> dict:
    return {"jobId": job, "start": START.isoformat(), "end": END.isoformat(), **more}


async def create(api, input: dict) -> dict:
    return (await api.ok(CREATE, {"input": input}))["createAppointment"]


async def update(api, id: str, input: dict) -> dict:
    return (await api.ok(UPDATE, {"id": id, "input": input}))["updateAppointment"]


@pytest.mark.parametrize("job,task,contact,warnings", [
    ("Hot water cylinder replacement", "Pressure valve check", ("CONTACT", "Tom Fletcher"),
     [{"code": "NO_SMS_NUMBER", "field": "smsReminder"}]),
    ("Hot water cylinder replacement", "Replace cylinder", ("CONTACT", "Sarah Chen"), []),
    ("Hot water cylinder replacement", None, ("CONTACT", "Sarah Chen"), []),
    ("Leaking shower, Jervois Rd", "Find the leak", ("CLIENT", "Ponsonby Property Management"),
     []),
])
async def test_new_appointment_contact_is_task_then_job_contact_then_client(
        named, tech, job, task, contact, warnings):
    input = booking(await named.job(job))
    if task:
        input["taskId"] = await named.task(task)

    created = await create(tech, input)

    assert created["errors"] == []
    appointment = created["appointment"]
    assert (appointment["contact"]["kind"], appointment["contact"]["name"]) == contact
    assert appointment["user"] == {"email": "tech@example.com"}
    assert appointment["smsReminder"] is True
    assert created["warnings"] == warnings
    stored = await named.appointment(appointment["id"])
    assert stored.sms_reminder is True
    assert datetime.fromisoformat(appointment["start"]) == START == stored.start


@pytest.mark.parametrize("job,inherited", [
    ("Electrical safety check", False),
    ("Grease trap replacement", True),
])
async def test_new_appointment_inherits_the_clients_sms_reminders(named, office, job, inherited):
    created = await create(office, booking(await named.job(job)))

    assert created["errors"] == []
    assert created["appointment"]["smsReminder"] is inherited
    assert (await named.appointment(created["appointment"]["id"])).sms_reminder is inherited


async def test_office_may_choose_the_contact_and_the_reminder(named, office):
    input = booking(await named.job("Grease trap replacement"),
                    contact=await named.client("Harbourside Cafe"), smsReminder=False)

    created = await create(office, input)

    assert created["errors"] == [] and created["warnings"] == []
    assert created["appointment"]["contact"]["name"] == "Harbourside Cafe"
    assert created["appointment"]["smsReminder"] is False
    stored = await named.appointment(created["appointment"]["id"])
    assert (stored.contact_id, stored.sms_reminder) == (None, False)


async def test_contact_of_another_client_is_an_invalid_recipient(named, office):
    before = await named.appointment_count()
    input = booking(await named.job("Grease trap replacement"),
                    contact=await named.contact("Sarah Chen"))

    created = await create(office, input)

    assert created["appointment"] is None
    assert [e["code"] for e in created["errors"]] == ["INVALID_RECIPIENT"]
    assert await named.appointment_count() == before


async def give_problem(sessions, problem: str) -> None:
    """Make Mere Tane (Grease trap's contact) unable to receive SMS, in the given way."""
    async with sessions.begin() as session:
        mere = (await session.exec(
            select(models.Contact).where(models.Contact.name == "Mere Tane"))).one()
        if problem == "NO_SMS_NUMBER":
            mere.sms_number = None
        elif problem == "INVALID_SMS_NUMBER":
            mere.sms_number = "+6495550123"
        else:
            session.add(models.OptOut(number=mere.sms_number, method=OptOutMethod.KEYWORD))
        session.add(mere)


@pytest.mark.parametrize("problem", ["NO_SMS_NUMBER", "INVALID_SMS_NUMBER", "OPTED_OUT"])
async def test_reminder_to_a_contact_who_cannot_get_sms_stops_a_visible_layout(
        named, office, problem):
    await give_problem(named.sessions, problem)
    before = await named.appointment_count()

    created = await create(office, booking(await named.job("Grease trap replacement")))

    assert created["appointment"] is None
    assert created["errors"] == [{"code": problem, "field": "smsReminder"}]
    assert await named.appointment_count() == before


@pytest.mark.parametrize("problem", ["NO_SMS_NUMBER", "OPTED_OUT"])
async def test_reminder_problem_is_only_a_warning_for_a_read_only_layout(named, tech, problem):
    await give_problem(named.sessions, problem)
    before = await named.appointment_count()

    created = await create(tech, booking(await named.job("Grease trap replacement")))

    assert created["errors"] == []
    assert created["warnings"] == [{"code": problem, "field": "smsReminder"}]
    assert created["appointment"]["contact"]["name"] == "Mere Tane"
    assert await named.appointment_count() == before + 1


async def test_office_turning_the_reminder_off_saves_despite_a_bad_contact(named, office):
    created = await create(office, booking(await named.job("Kitchen hot water tap"),
                                           smsReminder=False))

    assert created["errors"] == [] and created["warnings"] == []
    assert created["appointment"]["contact"]["name"] == "Bookings"
    assert created["appointment"]["smsReminder"] is False


async def test_tech_may_repeat_the_defaults_but_not_change_them(named, tech):
    job = await named.job("Grease trap replacement")
    same = await create(tech, booking(job, contact=await named.contact("Mere Tane"),
                                      smsReminder=True))
    before = await named.appointment_count()

    other_contact = await create(tech, booking(job, contact=await named.client("Harbourside Cafe")))
    no_reminder = await create(tech, booking(job, smsReminder=False))

    assert same["errors"] == [] and same["appointment"]["contact"]["name"] == "Mere Tane"
    assert other_contact["errors"] == [{"code": "PERMISSION_DENIED", "field": "contact"}]
    assert no_reminder["errors"] == [{"code": "PERMISSION_DENIED", "field": "smsReminder"}]
    assert other_contact["appointment"] is None and no_reminder["appointment"] is None
    assert await named.appointment_count() == before


async def test_bad_bookings_are_refused_and_write_nothing(named, office):
    before = await named.appointment_count()
    grease_trap = await named.job("Grease trap replacement")

    backwards = await create(office, booking(grease_trap, start=END.isoformat(),
                                             end=START.isoformat()))
    wrong_task = await create(office, booking(grease_trap,
                                              taskId=await named.task("Replace cylinder")))
    no_job = await create(office, booking("987654"))

    assert [e["code"] for e in backwards["errors"]] == ["INVALID_INPUT"]
    assert wrong_task["errors"] == [{"code": "INVALID_INPUT", "field": "taskId"}]
    assert no_job["errors"] == [{"code": "NOT_FOUND", "field": "jobId"}]
    assert await named.appointment_count() == before


async def test_the_office_books_for_the_tech(named, office):
    tech = await named.row(models.User, email="tech@example.com")
    input = booking(await named.job("Surgery rewiring"), userId=str(tech.id))
    before = await named.appointment_count()

    booked = await create(office, input)

    assert booked["errors"] == []
    assert booked["appointment"]["user"] == {"email": "tech@example.com"}
    assert await named.appointment_count() == before + 1


async def test_the_office_books_while_sms_is_off(named, admin, office):
    # Given SMS switched off for the company
    off = await admin.ok("mutation { updateSettings(input: {smsEnabled: false}) "
                         "{ errors { code } } }")
    assert off["updateSettings"]["errors"] == []

    # When the office books a visit
    booked = await create(office, booking(await named.job("Surgery rewiring")))

    # Then it is booked: only SMS itself stops
    assert booked["errors"] == [] and booked["appointment"]["id"]


async def test_an_unknown_user_cannot_be_booked(named, office):
    before = await named.appointment_count()

    refused = await create(office, booking(await named.job("Surgery rewiring"), userId="987654"))

    assert refused["errors"] == [{"code": "NOT_FOUND", "field": "userId"}]
    assert await named.appointment_count() == before


async def test_the_tech_moves_an_appointment_the_office_booked(named, office, tech):
    created = await create(office, booking(await named.job("Surgery rewiring")))
    id = created["appointment"]["id"]
    earlier = START - timedelta(hours=1)

    moved = await update(tech, id, {"start": earlier.isoformat()})

    assert moved["errors"] == []
    assert (await named.appointment(id)).start == earlier


async def test_update_moves_the_times_and_keeps_contact_and_reminder(named, tech):
    created = await create(tech, booking(await named.job("Surgery rewiring")))
    id = created["appointment"]["id"]
    later = START + timedelta(days=1)

    updated = await update(tech, id, {"start": later.isoformat(),
                                      "end": (later + timedelta(hours=1)).isoformat()})

    assert updated["errors"] == []
    assert updated["appointment"]["contact"] == created["appointment"]["contact"]
    assert updated["appointment"]["smsReminder"] is True
    stored = await named.appointment(id)
    assert (stored.start, stored.end) == (later, later + timedelta(hours=1))


async def test_update_end_before_start_is_refused(named, tech):
    created = await create(tech, booking(await named.job("Surgery rewiring")))
    id = created["appointment"]["id"]

    refused = await update(tech, id, {"end": (START - timedelta(hours=1)).isoformat()})

    assert refused["errors"] == [{"code": "INVALID_INPUT", "field": "end"}]
    assert (await named.appointment(id)).end == END


async def test_tech_update_cannot_unlock_contact_or_reminder(named, tech):
    created = await create(tech, booking(await named.job("Grease trap replacement")))
    id = created["appointment"]["id"]

    contact = await update(tech, id, {"contact": await named.client("Harbourside Cafe")})
    reminder = await update(tech, id, {"smsReminder": False})

    assert contact["errors"] == [{"code": "PERMISSION_DENIED", "field": "contact"}]
    assert reminder["errors"] == [{"code": "PERMISSION_DENIED", "field": "smsReminder"}]
    stored = await named.appointment(id)
    assert stored.contact_id == (await named.row(models.Contact, name="Mere Tane")).id
    assert stored.sms_reminder is True


async def test_office_update_to_a_contact_without_sms_is_refused_while_reminding(named, office):
    created = await create(office, booking(await named.job("Grease trap replacement")))
    id = created["appointment"]["id"]
    accounts = await named.contact("Accounts")

    refused = await update(office, id, {"contact": accounts})
    allowed = await update(office, id, {"contact": accounts, "smsReminder": False})

    assert refused["errors"] == [{"code": "NO_SMS_NUMBER", "field": "smsReminder"}]
    assert allowed["errors"] == []
    assert allowed["appointment"]["contact"]["name"] == "Accounts"
    stored = await named.appointment(id)
    assert (stored.contact_id, stored.sms_reminder) == (int(accounts["id"]), False)


async def test_update_to_another_job_takes_that_jobs_default_contact(named, office):
    created = await create(office, booking(await named.job("Grease trap replacement")))
    id = created["appointment"]["id"]

    moved = await update(office, id, {"jobId": await named.job("Surgery rewiring")})

    assert moved["errors"] == []
    assert moved["appointment"]["job"] == {"title": "Surgery rewiring"}
    assert moved["appointment"]["contact"]["name"] == "Reception"
    assert (await named.appointment(id)).contact_id == (
        await named.row(models.Contact, name="Reception")).id


async def test_update_of_an_unknown_appointment_is_not_found(office):
    refused = await update(office, "987654", {"smsReminder": False})

    assert refused == {"appointment": None, "errors": [{"code": "NOT_FOUND", "field": "id"}],
                       "warnings": []}


@pytest.mark.parametrize("task_contact,job_contact,expected", [
    ("Sarah Chen", "Tom Fletcher", "Sarah Chen"), (None, "Tom Fletcher", "Tom Fletcher"),
    (None, None, None)])
async def test_default_contact_is_task_then_job_contact_then_none_for_the_client(
        named, task_contact, job_contact, expected):
    async def id_of(name):
        return (await named.row(models.Contact, name=name)).id if name else None

    task = models.Task(id=1, job_id=1, name="t", contact_id=await id_of(task_contact))
    job = models.Job(id=1, client_id=1, title="j", contact_id=await id_of(job_contact))

    async with named.sessions() as session:
        assert await default_contact(session, task, job) == await id_of(expected)
        assert await default_contact(session, None, job) == await id_of(job_contact)


@pytest.mark.parametrize("visibility", [FieldVisibility.READ_ONLY, FieldVisibility.HIDDEN])
def test_a_hidden_or_read_only_layout_field_is_locked(visibility):
    with pytest.raises(DomainError) as refused:
        require_visible(visibility, "Appointment > Contact", "contact")

    assert (refused.value.code, refused.value.field) == (ErrorCode.PERMISSION_DENIED, "contact")


def test_a_visible_layout_field_is_unlocked():
    assert require_visible(FieldVisibility.VISIBLE, "Appointment > Contact", "contact") is None


def test_the_client_as_a_recipient_is_stored_as_no_contact():
    assert contact_id_of(RecipientRef(RecipientKind.CLIENT, 4), client_id=4) is None
    assert contact_id_of(RecipientRef(RecipientKind.CONTACT, 4), client_id=4) == 4
