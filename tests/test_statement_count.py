"""The calendar's DataLoaders: SQL statements do not grow with the number of appointments."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlmodel import select

import models
from models.enums import RecipientKind, SmsSource, SmsStatus

# Every field of an appointment that the calendar offers, and the ones below them.
CALENDAR = """
query Calendar($start: DateTime!, $end: DateTime!) {
  calendar(start: $start, end: $end) {
    id start end smsReminder smsCount
    user { id name email profile { name globalAdministrator layout { appointmentContact } } }
    job {
      id title latitude longitude
      client { id name smsNumber optedOut smsReminders contacts { id name optedOut } }
      contact { id name smsNumber optedOut }
    }
    task { id name contact { id name } job { id title } }
    contact { kind id name smsNumber optedOut canReceiveSms problem }
    smsMessages {
      id toNumber body status errorCode errorMessage source segments createdAt sentAt
      recipient { kind id name canReceiveSms }
      appointment { id }
      job { id title }
      sentBy { id name }
      reminderEvent { id description template { id name kind } }
      location { latitude longitude accuracyMeters distanceFromJobMeters }
    }
    activities {
      kind at summary
      user { id name }
      message { id status }
      location { latitude longitude distanceFromJobMeters }
    }
  }
}
"""


@contextmanager
def counting_statements(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def book(sessions, start: datetime, how_many: int) -> None:
    """`how_many` of the tech's appointments from `start`, cycling through every demo job and
    task, and a repeating mix of messages: sent with a location, failed to the client, a reminder
    shared by two appointments, and none."""
    async with sessions.begin() as session:
        tech = (await session.exec(
            select(models.User).where(models.User.email == "tech@example.com"))).one()
        jobs = {j.id: j for j in (await session.exec(select(models.Job))).all()}
        tasks = (await session.exec(select(models.Task).order_by(models.Task.id))).all()
        event_id = (await session.exec(select(models.ReminderEvent.id))).first()
        visits = [(jobs[t.job_id], t) for t in tasks] + [
            (j, None) for j in jobs.values() if all(t.job_id != j.id for t in tasks)]
        appointments = []
        for n in range(how_many):
            job, task = visits[n % len(visits)]
            at = start + timedelta(minutes=30 * n)
            appointments.append(models.Appointment(
                user_id=tech.id, job_id=job.id, task_id=task and task.id, start=at,
                end=at + timedelta(minutes=25), sms_reminder=n % 2 == 0,
                contact_id=(task and task.contact_id) or job.contact_id))
        session.add_all(appointments)
        await session.flush()

        links = []
        for n, appointment in enumerate(appointments):
            job = jobs[appointment.job_id]
            common = {"body": f"Message {n}", "job_id": job.id, "created_at": appointment.start
                      - timedelta(days=1)}
            if n % 4 == 0:
                sent = models.SmsMessage(
                    to_number="+64215550111", source=SmsSource.APP, status=SmsStatus.SENT,
                    sent_by_id=tech.id, appointment_id=appointment.id,
                    recipient_kind=RecipientKind.CONTACT, recipient_id=appointment.contact_id
                    or job.contact_id, latitude=-36.85, longitude=174.76, accuracy_meters=8.0,
                    **common)
                failed = models.SmsMessage(
                    to_number="+64225550120", source=SmsSource.APP, status=SmsStatus.FAILED,
                    error_code="OPTED_OUT", error_message="Opted out", sent_by_id=tech.id,
                    appointment_id=appointment.id, recipient_kind=RecipientKind.CLIENT,
                    recipient_id=job.client_id, **common)
                session.add_all([sent, failed])
                await session.flush()
                links += [(sent.id, appointment.id), (failed.id, appointment.id)]
            elif n % 4 == 1:
                reminder = models.SmsMessage(
                    to_number="+64215550110", source=SmsSource.REMINDER,
                    status=SmsStatus.DELIVERED, reminder_event_id=event_id,
                    run_date=start.date() + timedelta(days=n), **common)
                session.add(reminder)
                await session.flush()
                links += [(reminder.id, appointment.id), (reminder.id, appointments[n + 1].id)
                          if n + 1 < how_many else (reminder.id, appointment.id)]
        session.add_all([models.SmsMessageAppointment(message_id=m, appointment_id=a)
                         for m, a in dict.fromkeys(links)])


async def calendar_statements(api, engine, start: datetime, expected: int) -> int:
    with counting_statements(engine) as statements:
        data = await api.ok(CALENDAR, {"start": start.isoformat(),
                                       "end": (start + timedelta(days=30)).isoformat()})
    calendar = data["calendar"]
    assert len(calendar) == expected
    # The mix of messages really was loaded, so every loader had work to do.
    assert {x["kind"] for a in calendar for x in a["activities"]} == {
        "SMS_SENT", "SMS_FAILED", "REMINDER_SENT"}
    assert any(m["location"]["distanceFromJobMeters"] for a in calendar for m in a["smsMessages"]
               if m["location"])
    assert any(m["reminderEvent"] for a in calendar for m in a["smsMessages"])
    assert {(len(a["smsMessages"]), a["smsCount"]) for a in calendar} == {(0, 0), (1, 1), (2, 1)}
    return len(statements)


async def test_calendar_statements_do_not_grow_with_appointments(demo, services, tech):
    few, many = datetime(2041, 1, 1, tzinfo=UTC), datetime(2043, 1, 1, tzinfo=UTC)
    await book(demo, few, 10)
    await book(demo, many, 500)

    small = await calendar_statements(tech, services.engine, few, 10)
    large = await calendar_statements(tech, services.engine, many, 500)

    assert small == large
    assert small < 30
