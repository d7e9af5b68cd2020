"""Reminder runs as the cron and runReminderEvent make them: once a day, on local time, sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from jobs.reminders import check_reminder_events
from models import Appointment, Client, Contact, GlobalSettings, Job, SmsTemplate, User
from models.company import SETTINGS_ID
from models.db import create_engine, session_factory
from models.demo import TECH_EMAIL, TIME_ZONE
from models.enums import SmsStatus, SmsTemplateKind
from models.reminders import run_event
from tests.reminder_fixtures import GOOD_NUMBER, open_shop

DAY = date(2026, 3, 10)


def worker(services, sessions, clock) -> dict:
    """The context one worker's cron job gets, with its clock fixed by the test."""
    return {"clock": clock, "sessions": sessions, "redis": services.queue}


def at(now: datetime):
    return lambda: now


@pytest.fixture
async def other_worker_sessions(services):
    """A second worker's own engine on the same database."""
    engine = create_engine(services.settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


# --- DST -------------------------------------------------------------------------------------

DST_DAYS = [
    ("Pacific/Auckland", date(2026, 4, 5), 25),
    ("Pacific/Auckland", date(2026, 9, 27), 23),
    ("Australia/Sydney", date(2026, 4, 5), 25),
    ("Australia/Sydney", date(2026, 10, 4), 23),
]


@pytest.mark.parametrize("zone, day, hours", DST_DAYS)
async def test_a_dst_target_day_takes_its_whole_local_day(sessions, services, zone, day, hours):
    # given visits at 00:30 and 23:30 local of a day whose clocks change, and at 23:30 the
    # day before and 00:30 the day after
    shop = await open_shop(sessions, zone)
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    inside = {await shop.visit(shop.at(day, 0, 30), "Early"),
              await shop.visit(shop.at(day, 23, 30), "Late")}
    if hours == 25:
        # 02:30 comes twice; the second one, in standard time, is the same day too
        inside.add(await shop.visit(shop.at(day, 2, 30, fold=1), "Twice"))
    outside = {await shop.visit(shop.at(before, 23, 30), "Before"),
               await shop.visit(shop.at(after, 0, 30), "After")}
    await shop.event(interval_days=1, run_at=time(17, 0))

    # when the cron runs the day before, at 17:00 local
    queued = await check_reminder_events(worker(services, sessions, at(shop.at(before, 17))))

    # then exactly the day's visits are reminded
    assert queued == len(inside)
    assert await shop.reminded() == inside
    assert not outside & await shop.reminded()
    start, end = shop.at(day, 0), shop.at(after, 0)
    assert end - start == timedelta(hours=hours)


def night_clock(shop, day: date) -> list[datetime]:
    """Hour by hour from the evening before to the evening after, minute by minute through
    the small hours of the change and around run time on both days."""
    start, end = shop.at(day - timedelta(days=1), 20), shop.at(day + timedelta(days=1), 20)
    hours = [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)))]
    minutes = []
    after = day + timedelta(days=1)
    for first, last in ((shop.at(day, 1), shop.at(day, 4)),
                        (shop.at(day, 6, 50), shop.at(day, 7, 10)),
                        (shop.at(after, 6, 50), shop.at(after, 7, 10))):
        minutes += [first + timedelta(minutes=n)
                    for n in range(int((last - first) / timedelta(minutes=1)))]
    return sorted(set(hours + minutes))


@pytest.mark.parametrize("zone, day, hours", DST_DAYS)
async def test_the_event_runs_once_on_the_dst_day_and_once_the_next(sessions, services, zone,
                                                                    day, hours):
    # given an event at 07:00 that ran the day before, and a visit on each of the next two days
    shop = await open_shop(sessions, zone)
    after = day + timedelta(days=1)
    first = await shop.visit(shop.at(after, 10), "First")
    second = await shop.visit(shop.at(after + timedelta(days=1), 10), "Second", "+64212222222")
    event = await shop.event(interval_days=1, run_at=time(7, 0),
                             last_run_on=day - timedelta(days=1))

    # when the cron's clock steps through the night of the change and the next day
    runs = []
    for now in night_clock(shop, day):
        if await check_reminder_events(worker(services, sessions, at(now))):
            runs.append(now.astimezone(ZoneInfo(zone)).replace(tzinfo=None))

    # then it ran at 07:00 local on the day and on the next day, each visit reminded once
    assert runs == [datetime.combine(day, time(7)), datetime.combine(after, time(7))]
    assert [m.run_date for m in await shop.messages_about(first)] == [day]
    assert [m.run_date for m in await shop.messages_about(second)] == [after]
    assert len(await shop.messages()) == 2
    assert await shop.last_run_on(event) == after


# --- once a day ------------------------------------------------------------------------------

async def test_two_workers_racing_run_the_event_once(sessions, services, other_worker_sessions):
    # given two jobs due a reminder, and two workers whose cron fires at the same instant
    shop = await open_shop(sessions)
    job = await shop.job()
    tomorrow = DAY + timedelta(days=1)
    await shop.appointment(job, shop.at(tomorrow, 9), await shop.contact())
    await shop.appointment(job, shop.at(tomorrow, 14), await shop.contact("Sam", "+64213333333"))
    await shop.visit(shop.at(tomorrow, 11), "Other", "+64214444444")
    event = await shop.event(interval_days=1, run_at=time(17, 0))
    clock = at(shop.at(DAY, 17))

    # when both check the events together
    queued = await asyncio.gather(
        check_reminder_events(worker(services, sessions, clock)),
        check_reminder_events(worker(services, other_worker_sessions, clock)))

    # then one of them ran it: two messages, one batch of two sends waiting for the worker
    assert sorted(queued) == [0, 2]
    assert len(await shop.messages()) == 2
    jobs = await services.queue.queued_jobs()
    assert [len(job.args[0]) for job in jobs] == [2]
    assert await shop.last_run_on(event) == DAY


async def test_run_event_racing_itself_claims_the_day_once(sessions, other_worker_sessions):
    # given a due visit
    shop = await open_shop(sessions)
    visit = await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event()
    now = shop.at(DAY, 17)

    async def run(factory, claim=True):
        async with factory.begin() as session:
            return await run_event(session, event, now, claim=claim)

    # when two runs claim the day at once
    results = await asyncio.gather(run(sessions), run(other_worker_sessions))

    # then one ran and the other found the day taken
    assert sorted(r.ran for r in results) == [False, True]
    assert sum(len(r.queued) for r in results) == 1

    # and when two unclaimed runs (retried jobs) race, the unique key still holds
    again = await asyncio.gather(run(sessions, claim=False),
                                 run(other_worker_sessions, claim=False))
    assert [r.queued for r in again] == [[], []]
    [message] = await shop.messages()
    assert await shop.covered(message.id) == {visit}


async def test_a_second_check_the_same_day_adds_nothing(sessions, services):
    # given the cron ran today's event
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    await shop.event(run_at=time(17, 0))
    assert await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 17)))) == 1

    # when it checks again a minute later and in the evening
    later = [await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 17, m))))
             for m in (1, 59)]

    # then nothing more is queued or written
    assert later == [0, 0]
    assert len(await shop.messages()) == 1


# --- downtime --------------------------------------------------------------------------------

async def test_a_worker_back_after_run_time_catches_up_the_same_day(sessions, services):
    # given an event at 08:00 that last ran yesterday, and a worker down until 15:00
    shop = await open_shop(sessions)
    visit = await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event(run_at=time(8, 0), last_run_on=DAY - timedelta(days=1))

    # when it comes back
    queued = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 15))))

    # then today's run happens
    assert queued == 1
    assert await shop.reminded() == {visit}
    assert await shop.last_run_on(event) == DAY


async def test_before_run_time_the_event_is_not_due(sessions, services):
    # given an event at 08:00 that last ran yesterday
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event(run_at=time(8, 0), last_run_on=DAY - timedelta(days=1))

    # when the cron checks at 07:59 local, then at 08:00
    early = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 7, 59))))
    nothing_yet = (await shop.messages(), await shop.last_run_on(event))
    on_time = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 8))))

    # then it waits for 08:00
    assert early == 0 and nothing_yet == ([], DAY - timedelta(days=1))
    assert on_time == 1


async def test_missed_days_are_not_replayed(sessions, services):
    # given an event that last ran five days ago, a visit today (the target of yesterday's
    # missed run) and one tomorrow
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY, 15), "Today")
    tomorrow = await shop.visit(shop.at(DAY + timedelta(days=1), 9), "Tomorrow", "+64215555555")
    await shop.event(run_at=time(8, 0), last_run_on=DAY - timedelta(days=5))

    # when the worker comes back today
    queued = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 12))))

    # then only today's run happens
    assert queued == 1
    [message] = await shop.messages()
    assert message.run_date == DAY and await shop.reminded() == {tomorrow}


@pytest.mark.parametrize("flag", ["sms_enabled", "sms_reminders_enabled"])
async def test_the_cron_does_nothing_while_either_switch_is_off(sessions, services, flag):
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event()
    await shop.settings(**{flag: False})

    queued = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 18))))

    assert queued == 0 and await shop.messages() == []
    assert await shop.last_run_on(event) is None
    assert await services.queue.queued_jobs() == []


# --- the send pipeline -----------------------------------------------------------------------

async def test_reminders_reach_twilio_and_ineligible_ones_never_do(sessions, services, twilio,
                                                                  drain):
    # given a due visit for a good contact and one each for a landline, no number and an opt-out
    shop = await open_shop(sessions)
    day = DAY + timedelta(days=1)
    good = await shop.visit(shop.at(day, 9), "Good", GOOD_NUMBER)
    await shop.visit(shop.at(day, 9), "Landline", "+6491234567")
    await shop.visit(shop.at(day, 9), "Nobody", None)
    stopped = await shop.contact("Stopped", "+64218888888", opted_out=True)
    await shop.appointment(await shop.job(), shop.at(day, 9), stopped)
    await shop.event()

    # when the cron runs and a real worker drains the queue
    queued = await check_reminder_events(worker(services, sessions, at(shop.at(DAY, 17))))
    await drain()

    # then only the good contact's reminder went to Twilio, and it is SENT
    assert queued == 1
    assert [(r["To"], r["Body"]) for r in twilio.received] == [
        (GOOD_NUMBER, "Hi Good, Aroha visits on Wed 11 Mar at 9:00am.")]
    statuses = {(m.to_number, m.status, m.error_code) for m in await shop.messages()}
    assert statuses == {
        (GOOD_NUMBER, SmsStatus.SENT, None),
        ("+6491234567", SmsStatus.FAILED, "INVALID_SMS_NUMBER"),
        ("", SmsStatus.FAILED, "NO_SMS_NUMBER"),
        ("+64218888888", SmsStatus.FAILED, "OPTED_OUT"),
    }
    assert [m.status for m in await shop.messages_about(good)] == [SmsStatus.SENT]


# --- runReminderEvent and the admin mutations ------------------------------------------------

RUN = """
mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code field } } }
"""
APPOINTMENT = """
query Appointment($id: ID!) { appointment(id: $id) { smsCount smsMessages { source status } } }
"""
CREATE = """
mutation Create($input: ReminderEventInput!) {
  createReminderEvent(input: $input) { event { id runAt } errors { code field } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: ReminderEventInput!) {
  updateReminderEvent(id: $id, input: $input) { event { id runAt } errors { code field } }
}
"""
EVENTS = "query { reminderEvents { id runAt } }"

AHEAD = 20  # past the demo's fortnight of appointments


async def reminder_template(sessions) -> int:
    async with sessions() as session:
        return (await session.exec(select(SmsTemplate.id).where(
            SmsTemplate.kind == SmsTemplateKind.REMINDER_EVENT))).first()


async def demo_job_ahead(sessions) -> list[int]:
    """A job of the demo company with a morning and an afternoon visit AHEAD days from today."""
    zone = ZoneInfo(TIME_ZONE)
    day = datetime.now(UTC).astimezone(zone).date() + timedelta(days=AHEAD)
    async with sessions.begin() as session:
        users = (await session.exec(select(User).order_by(User.id))).all()
        tech = next(u for u in users if u.email == TECH_EMAIL)
        client = Client(name="Oriental Bay Flats")
        session.add(client)
        await session.flush()
        first = Contact(client_id=client.id, name="Hana", sms_number=GOOD_NUMBER)
        second = Contact(client_id=client.id, name="Rua", sms_number="+64213333333")
        job = Job(client_id=client.id, title="Roof leak")
        session.add_all([first, second, job])
        await session.flush()
        visits = [
            Appointment(user_id=users[0].id, job_id=job.id, contact_id=second.id,
                        start=datetime.combine(day, time(14), tzinfo=zone),
                        end=datetime.combine(day, time(15), tzinfo=zone), sms_reminder=True),
            Appointment(user_id=tech.id, job_id=job.id, contact_id=first.id,
                        start=datetime.combine(day, time(9), tzinfo=zone),
                        end=datetime.combine(day, time(10), tzinfo=zone), sms_reminder=True),
        ]
        session.add_all(visits)
    return [v.id for v in visits]


async def create_event(admin, sessions, **input) -> str:
    data = await admin.ok(CREATE, {"input": {
        "description": "Three weeks ahead", "intervalDays": AHEAD, "runAt": "09:00:00",
        "templateId": str(await reminder_template(sessions)), **input}})
    assert data["createReminderEvent"]["errors"] == []
    return data["createReminderEvent"]["event"]["id"]


async def test_run_reminder_event_queues_once_a_day_and_counts_on_every_appointment(
        admin, demo, twilio, drain):
    # given a job with two visits on the event's target day
    visits = await demo_job_ahead(demo)
    event = await create_event(admin, demo)

    # when an administrator runs it now, twice
    first = await admin.ok(RUN, {"id": event})
    second = await admin.ok(RUN, {"id": event})

    # then the first run queued one message, the second none
    assert first["runReminderEvent"] == {"affectedCount": 1, "errors": []}
    assert second["runReminderEvent"] == {"affectedCount": 0, "errors": []}
    for visit in visits:
        shown = (await admin.ok(APPOINTMENT, {"id": str(visit)}))["appointment"]
        assert shown == {"smsCount": 1,
                         "smsMessages": [{"source": "REMINDER", "status": "QUEUED"}]}

    # and the worker sends it to the earliest visit's contact
    await drain()
    assert [r["To"] for r in twilio.received] == [GOOD_NUMBER]
    shown = (await admin.ok(APPOINTMENT, {"id": str(visits[0])}))["appointment"]
    assert shown == {"smsCount": 1, "smsMessages": [{"source": "REMINDER", "status": "SENT"}]}


async def test_a_technician_cannot_run_a_reminder_event(admin, tech, demo):
    await demo_job_ahead(demo)
    event = await create_event(admin, demo)

    data = await tech.ok(RUN, {"id": event})

    assert data["runReminderEvent"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert data["runReminderEvent"]["affectedCount"] == 0
    again = await admin.ok(RUN, {"id": event})
    assert again["runReminderEvent"]["affectedCount"] == 1


async def test_run_reminder_event_is_refused_while_reminders_are_off(admin, demo):
    # given reminders switched off after the event was made
    visits = await demo_job_ahead(demo)
    event = await create_event(admin, demo)
    async with demo.begin() as session:
        (await session.get(GlobalSettings, SETTINGS_ID)).sms_reminders_enabled = False

    # when an administrator runs it
    data = await admin.ok(RUN, {"id": event})

    # then it is refused and nothing was written
    assert data["runReminderEvent"]["errors"] == [{"code": "REMINDERS_DISABLED", "field": None}]
    shown = (await admin.ok(APPOINTMENT, {"id": str(visits[0])}))["appointment"]
    assert shown == {"smsCount": 0, "smsMessages": []}


@pytest.mark.parametrize("run_at, accepted", [
    ("06:59:00", False), ("07:00:00", True), ("21:00:00", True), ("21:01:00", False),
    ("03:00:00", False),
])
async def test_run_at_must_be_between_seven_and_nine_local(admin, demo, run_at, accepted):
    # given an event at 09:00
    event = await create_event(admin, demo)

    # when an administrator creates one at run_at and moves the first to run_at
    created = (await admin.ok(CREATE, {"input": {
        "description": "Early", "intervalDays": 1, "runAt": run_at,
        "templateId": str(await reminder_template(demo))}}))["createReminderEvent"]
    updated = (await admin.ok(UPDATE, {"id": event, "input": {"runAt": run_at}}))[
        "updateReminderEvent"]

    # then both are accepted, or both refused with INVALID_INPUT on runAt and nothing changed
    runs = {e["id"]: e["runAt"] for e in (await admin.ok(EVENTS))["reminderEvents"]}
    if accepted:
        assert created["errors"] == [] and updated["errors"] == []
        assert runs[event] == run_at and runs[created["event"]["id"]] == run_at
    else:
        refused = [{"code": "INVALID_INPUT", "field": "runAt"}]
        assert created == {"event": None, "errors": refused}
        assert updated == {"event": None, "errors": refused}
        assert runs[event] == "09:00:00" and run_at not in runs.values()


async def test_an_interval_past_four_weeks_is_refused(admin, demo):
    data = await admin.ok(CREATE, {"input": {
        "description": "Too far", "intervalDays": 29, "runAt": "09:00:00",
        "templateId": str(await reminder_template(demo))}})
    assert data["createReminderEvent"]["errors"] == [
        {"code": "INVALID_INTERVAL", "field": "intervalDays"}]
