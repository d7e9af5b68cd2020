"""The calendar, one appointment with its SMS history, and time entries' default recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import models
from models.enums import SmsSource, SmsStatus

CALENDAR = """
query Calendar($start: DateTime!, $end: DateTime!, $userId: ID) {
  calendar(start: $start, end: $end, userId: $userId) {
    id start end smsReminder smsCount
    user { email }
    job { title client { name } }
    task { name }
    contact { kind name smsNumber canReceiveSms problem }
  }
}
"""

APPOINTMENT = """
query Appointment($id: ID!) {
  appointment(id: $id) {
    id smsCount
    job { title latitude longitude }
    contact { kind id name canReceiveSms problem }
    smsMessages { id body status source createdAt }
    activities {
      kind at summary user { email } message { id }
      location { latitude longitude accuracyMeters distanceFromJobMeters }
    }
  }
}
"""

TIME_ENTRY = """
query TimeEntry($id: ID!) {
  timeEntry(id: $id) {
    id job { title } task { name } appointment { id }
    defaultRecipient { kind id name smsNumber canReceiveSms problem }
  }
}
"""

# Far from the demo's own appointments (the next two weeks), so they never overlap.
DAY = datetime(2040, 3, 5, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def row_named(sessions, model, **where):
    async with sessions() as session:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return (await session.exec(stmt)).one()


async def add(sessions, *rows):
    async with sessions.begin() as session:
        session.add_all(rows)
        await session.flush()
        ids = [getattr(row, "id", None) for row in rows]
    return ids


async def appointment_at(sessions, email: str, job_title: str, start: datetime, hours: float = 1,
                         **fields) -> int:
    user = await row_named(sessions, models.User, email=email)
    job = await row_named(sessions, models.Job, title=job_title)
    [appointment_id] = await add(sessions, models.Appointment(
        user_id=user.id, job_id=job.id, start=start, end=start + timedelta(hours=hours),
        **fields))
    return appointment_id


async def test_calendar_lists_my_next_two_weeks_in_start_order(tech):
    now = datetime.now(UTC)

    data = await tech.ok(CALENDAR, {"start": iso(now), "end": iso(now + timedelta(days=15))})

    calendar = data["calendar"]
    starts = [parsed(a["start"]) for a in calendar]
    assert len(calendar) == 20
    assert starts == sorted(starts)
    assert {a["user"]["email"] for a in calendar} == {"tech@example.com"}
    assert all(a["job"]["title"] and a["job"]["client"]["name"] for a in calendar)


async def test_calendar_holds_appointments_overlapping_the_window_and_no_others(demo, tech):
    given = {
        "ends at window start": await appointment_at(demo, "tech@example.com",
                                                     "Surgery rewiring", DAY.replace(hour=9)),
        "inside": await appointment_at(demo, "tech@example.com", "Surgery rewiring",
                                       DAY.replace(hour=10, minute=15), hours=0.5),
        "starts at window end": await appointment_at(demo, "tech@example.com",
                                                     "Surgery rewiring", DAY.replace(hour=11)),
        "spans the window": await appointment_at(demo, "tech@example.com", "Surgery rewiring",
                                                 DAY.replace(hour=8), hours=5),
        "someone else's": await appointment_at(demo, "office@example.com", "Surgery rewiring",
                                               DAY.replace(hour=10)),
    }

    data = await tech.ok(CALENDAR, {"start": iso(DAY.replace(hour=10)),
                                    "end": iso(DAY.replace(hour=11))})

    assert [a["id"] for a in data["calendar"]] == [str(given["spans the window"]),
                                                    str(given["inside"])]


async def test_calendar_shows_job_task_and_contact_with_eligibility(demo, tech):
    # Given the Pressure valve check, whose task contact has only an unformatted mobile.
    job = await row_named(demo, models.Job, title="Hot water cylinder replacement")
    task = await row_named(demo, models.Task, name="Pressure valve check")
    contact = await row_named(demo, models.Contact, name="Tom Fletcher")
    await appointment_at(demo, "tech@example.com", job.title, DAY, task_id=task.id,
                         contact_id=contact.id, sms_reminder=True)
    await appointment_at(demo, "tech@example.com", "Leaking shower, Jervois Rd",
                         DAY + timedelta(hours=2))

    data = await tech.ok(CALENDAR, {"start": iso(DAY), "end": iso(DAY + timedelta(days=1))})

    first, second = data["calendar"]
    assert first["job"] == {"title": job.title,
                            "client": {"name": "Ponsonby Property Management"}}
    assert first["task"] == {"name": "Pressure valve check"}
    assert first["smsReminder"] is True
    assert first["smsCount"] == 0
    assert first["contact"] == {"kind": "CONTACT", "name": "Tom Fletcher", "smsNumber": None,
                                "canReceiveSms": False, "problem": "NO_SMS_NUMBER"}
    assert second["task"] is None
    assert second["smsReminder"] is False
    assert second["contact"] == {"kind": "CLIENT", "name": "Ponsonby Property Management",
                                 "smsNumber": "+64225550120", "canReceiveSms": True,
                                 "problem": None}


async def test_calendar_refuses_an_empty_or_backwards_window(tech):
    body = await tech.post(CALENDAR, {"start": iso(DAY), "end": iso(DAY - timedelta(hours=1))})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("who", ["admin", "office", "tech"])
async def test_everyone_sees_the_techs_calendar(demo, anonymous, who):
    api = await anonymous.login(who)
    tech = await row_named(demo, models.User, email="tech@example.com")
    now = datetime.now(UTC)

    data = await api.ok(CALENDAR, {"start": iso(now), "end": iso(now + timedelta(days=15)),
                                   "userId": str(tech.id)})

    assert len(data["calendar"]) == 20
    assert {a["user"]["email"] for a in data["calendar"]} == {"tech@example.com"}


def message(text: str, created: datetime, **fields) -> models.SmsMessage:
    return models.SmsMessage(to_number="+64215550111", body=text, created_at=created,
                             **{"source": SmsSource.APP, "status": SmsStatus.SENT, **fields})


async def test_appointment_shows_its_messages_newest_first_with_activities(demo, tech):
    # Given an appointment at the Grease trap job, with a sent SMS from the job site, a failed
    # one from about a kilometre north, a reminder shared with another appointment, and a
    # message about another appointment altogether.
    job = await row_named(demo, models.Job, title="Grease trap replacement")
    user = await row_named(demo, models.User, email="tech@example.com")
    appointment_id = await appointment_at(demo, user.email, job.title, DAY)
    other_id = await appointment_at(demo, user.email, job.title, DAY + timedelta(hours=3))
    sent, failed, reminder, unrelated = await add(
        demo,
        message("On my way", DAY - timedelta(hours=1), sent_by_id=user.id, job_id=job.id,
                appointment_id=appointment_id, latitude=job.latitude, longitude=job.longitude,
                accuracy_meters=5.0),
        message("Running late", DAY - timedelta(minutes=30), sent_by_id=user.id, job_id=job.id,
                appointment_id=appointment_id, status=SmsStatus.FAILED,
                error_message="Handset unreachable", latitude=job.latitude + 0.01,
                longitude=job.longitude),
        message("Reminder: tomorrow", DAY - timedelta(minutes=10), job_id=job.id,
                source=SmsSource.REMINDER, status=SmsStatus.DELIVERED),
        message("Elsewhere", DAY - timedelta(minutes=5), job_id=job.id,
                appointment_id=other_id),
    )
    await add(demo, *[models.SmsMessageAppointment(message_id=m, appointment_id=a) for m, a in
                      [(sent, appointment_id), (failed, appointment_id),
                       (reminder, appointment_id), (reminder, other_id),
                       (unrelated, other_id)]])

    data = await tech.ok(APPOINTMENT, {"id": str(appointment_id)})

    shown = data["appointment"]
    assert shown["smsCount"] == 2
    assert [m["id"] for m in shown["smsMessages"]] == [str(reminder), str(failed), str(sent)]
    assert [m["body"] for m in shown["smsMessages"]] == ["Reminder: tomorrow", "Running late",
                                                         "On my way"]
    kinds = [(a["kind"], a["message"]["id"]) for a in shown["activities"]]
    assert kinds == [("REMINDER_SENT", str(reminder)), ("SMS_FAILED", str(failed)),
                     ("SMS_SENT", str(sent))]
    reminded, failure, on_site = shown["activities"]
    assert reminded["location"] is None and reminded["user"] is None
    assert "Handset unreachable" in failure["summary"]
    assert failure["user"] == {"email": "tech@example.com"}
    assert 1100 < failure["location"]["distanceFromJobMeters"] < 1125
    assert on_site["location"]["distanceFromJobMeters"] == pytest.approx(0, abs=0.01)
    assert on_site["location"]["accuracyMeters"] == 5.0


async def test_the_office_opens_an_appointment_of_the_techs(demo, office):
    appointment_id = await appointment_at(demo, "tech@example.com", "Surgery rewiring", DAY)

    data = await office.ok(APPOINTMENT, {"id": str(appointment_id)})

    assert data["appointment"]["id"] == str(appointment_id)


async def test_unknown_appointment_and_time_entry_are_null(tech):
    data = await tech.ok(APPOINTMENT, {"id": "987654"})
    entry = await tech.ok(TIME_ENTRY, {"id": "987654"})

    assert data == {"appointment": None}
    assert entry == {"timeEntry": None}


async def time_entry(sessions, job_title: str, task_name: str | None = None,
                     appointment_id: int | None = None) -> int:
    user = await row_named(sessions, models.User, email="tech@example.com")
    job = await row_named(sessions, models.Job, title=job_title)
    task = await row_named(sessions, models.Task, name=task_name) if task_name else None
    [entry_id] = await add(sessions, models.TimeEntry(
        user_id=user.id, job_id=job.id, task_id=task and task.id, appointment_id=appointment_id,
        start=DAY, end=DAY + timedelta(hours=1)))
    return entry_id


@pytest.mark.parametrize("job,task,expected", [
    ("Air conditioning isolator", "Install isolator switch", ("CONTACT", "Dr Anjali Rao")),
    ("Hot water cylinder replacement", "Replace cylinder", ("CONTACT", "Sarah Chen")),
    ("Leaking shower, Jervois Rd", "Find the leak", ("CLIENT", "Ponsonby Property Management")),
    ("Kitchen hot water tap", None, ("CONTACT", "Bookings")),
])
async def test_time_entry_without_appointment_defaults_to_task_then_job_contact_then_client(
        demo, tech, job, task, expected):
    entry_id = await time_entry(demo, job, task)

    data = await tech.ok(TIME_ENTRY, {"id": str(entry_id)})

    recipient = data["timeEntry"]["defaultRecipient"]
    assert (recipient["kind"], recipient["name"]) == expected


async def test_time_entry_from_an_appointment_defaults_to_the_appointment_contact(demo, tech):
    # Given an appointment whose contact was switched to the client, though its task has one.
    task = await row_named(demo, models.Task, name="Install and test")
    appointment_id = await appointment_at(demo, "tech@example.com", "Grease trap replacement",
                                          DAY, task_id=task.id, contact_id=None)
    entry_id = await time_entry(demo, "Grease trap replacement", "Install and test",
                                appointment_id)
    client = await row_named(demo, models.Client, name="Harbourside Cafe")

    data = await tech.ok(TIME_ENTRY, {"id": str(entry_id)})

    assert data["timeEntry"]["appointment"] == {"id": str(appointment_id)}
    assert data["timeEntry"]["defaultRecipient"] == {
        "kind": "CLIENT", "id": str(client.id), "name": "Harbourside Cafe",
        "smsNumber": "+64215550110", "canReceiveSms": True, "problem": None}


async def test_demo_time_entries_follow_their_appointment_or_task(demo, tech):
    async with demo() as session:
        entries = (await session.exec(select(models.TimeEntry).order_by(models.TimeEntry.id))).all()

    shown = [(await tech.ok(TIME_ENTRY, {"id": str(e.id)}))["timeEntry"] for e in entries]

    assert [(e["defaultRecipient"]["name"], e["defaultRecipient"]["problem"]) for e in shown] == [
        ("Mere Tane", None), ("Dr Anjali Rao", "NO_SMS_NUMBER")]


async def test_the_office_opens_a_time_entry_of_the_techs(demo, office):
    entry_id = await time_entry(demo, "Surgery rewiring")

    data = await office.ok(TIME_ENTRY, {"id": str(entry_id)})

    assert data["timeEntry"]["id"] == str(entry_id)
