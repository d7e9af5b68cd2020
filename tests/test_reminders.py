"""Which appointments a reminder run takes, and the one message per job it writes for them."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from models.enums import RecipientKind, SmsSource, SmsStatus
from models.reminders import day_window, run_event
from tests.reminder_fixtures import GOOD_NUMBER, open_shop

DAY = date(2026, 3, 10)


async def run(shop, event_id, now, claim=True):
    async with shop.sessions.begin() as session:
        return await run_event(session, event_id, now, claim=claim)


@pytest.mark.parametrize("zone, day, hours", [
    ("Pacific/Auckland", date(2026, 4, 5), 25),
    ("Pacific/Auckland", date(2026, 9, 27), 23),
    ("Australia/Sydney", date(2026, 4, 5), 25),
    ("Australia/Sydney", date(2026, 10, 4), 23),
    ("Pacific/Auckland", date(2026, 4, 6), 24),
])
def test_a_local_day_is_as_long_as_its_clocks_say(zone, day, hours):
    start, end = day_window(day, zone)
    assert end - start == timedelta(hours=hours)


@pytest.mark.parametrize("interval", [0, 1, 28])
async def test_a_run_takes_the_appointments_of_today_plus_the_interval(sessions, interval):
    # given appointments at 10:00 on the target day and on the days either side of it
    shop = await open_shop(sessions)
    target = DAY + timedelta(days=interval)
    taken = await shop.visit(shop.at(target, 10), "Target")
    await shop.visit(shop.at(target - timedelta(days=1), 10), "Day before")
    await shop.visit(shop.at(target + timedelta(days=1), 10), "Day after")
    event = await shop.event(interval_days=interval, run_at=time(8, 0))

    # when the event runs at 09:00 local
    result = await run(shop, event, shop.at(DAY, 9))

    # then only the target day's appointment has a reminder
    assert result.ran and len(result.queued) == 1 and result.failed == []
    assert await shop.reminded() == {taken}
    [message] = await shop.messages()
    assert message.run_date == DAY and message.reminder_event_id == event
    assert message.source is SmsSource.REMINDER and message.status is SmsStatus.QUEUED


async def test_on_the_same_day_only_appointments_still_to_come_are_taken(sessions):
    # given one job with a visit at 11:00 and one at 13:00, and a job with a visit at 12:30
    shop = await open_shop(sessions)
    job = await shop.job()
    early = await shop.appointment(job, shop.at(DAY, 11),
                                   await shop.contact("Early", "+64211111111"))
    late = await shop.appointment(job, shop.at(DAY, 13),
                                  await shop.contact("Late", "+64212222222"))
    gone = await shop.visit(shop.at(DAY, 12, 30), "Gone")
    event = await shop.event(interval_days=0, run_at=time(8, 0))

    # when the same-day event runs at 12:45 local
    result = await run(shop, event, shop.at(DAY, 12, 45))

    # then only the 13:00 visit is reminded, and its contact gets the message
    assert len(result.queued) == 1
    assert await shop.reminded() == {late}
    [message] = await shop.messages()
    assert message.to_number == "+64212222222" and message.appointment_id == late
    assert early not in await shop.reminded() and gone not in await shop.reminded()


async def test_one_job_gets_one_message_to_its_earliest_appointments_contact(sessions):
    # given one job with three visits on the target day by two users with a break between them,
    # added out of time order
    shop = await open_shop(sessions)
    job = await shop.job("Rewire kitchen")
    day = DAY + timedelta(days=1)
    sam, mere = await shop.contact("Sam", "+64213333333"), await shop.contact("Mere")
    afternoon = await shop.appointment(job, shop.at(day, 13), sam, user=1)
    morning = await shop.appointment(job, shop.at(day, 9, 30), mere)
    evening = await shop.appointment(job, shop.at(day, 15), None, user=0)
    event = await shop.event(interval_days=1)

    # when the event runs
    result = await run(shop, event, shop.at(DAY, 17))

    # then one message goes to the morning visit's contact, rendered for that visit,
    # and it covers all three appointments
    assert len(result.queued) == 1
    [message] = await shop.messages()
    assert message.to_number == GOOD_NUMBER
    assert message.recipient_kind is RecipientKind.CONTACT
    assert message.appointment_id == morning and message.job_id == job
    assert message.body == "Hi Mere, Aroha visits on Wed 11 Mar at 9:30am."
    assert await shop.covered(message.id) == {morning, afternoon, evening}


async def test_an_appointment_without_a_contact_reminds_the_client(sessions):
    # given a visit whose contact is the client itself
    shop = await open_shop(sessions)
    visit = await shop.appointment(await shop.job(), shop.at(DAY + timedelta(days=1), 8), None)
    event = await shop.event()

    # when the event runs
    await run(shop, event, shop.at(DAY, 17))

    # then the client's mobile gets it
    [message] = await shop.messages()
    assert message.to_number == "+64217654321" and message.recipient_kind is RecipientKind.CLIENT
    assert message.body == "Hi Harbour Flats, Aroha visits on Wed 11 Mar at 8:00am."
    assert await shop.covered(message.id) == {visit}


async def test_appointments_without_sms_reminder_are_left_out(sessions):
    # given a job with one visit that wants a reminder and one that does not, the latter earlier
    shop = await open_shop(sessions)
    job = await shop.job()
    day = DAY + timedelta(days=1)
    quiet_contact = await shop.contact("Quiet", "+64214444444")
    quiet = await shop.appointment(job, shop.at(day, 8), quiet_contact, sms_reminder=False)
    wanted = await shop.appointment(job, shop.at(day, 10), await shop.contact())
    event = await shop.event()

    # when the event runs
    await run(shop, event, shop.at(DAY, 17))

    # then the message is about the visit that wants it only
    [message] = await shop.messages()
    assert message.to_number == GOOD_NUMBER
    assert await shop.covered(message.id) == {wanted}
    assert quiet not in await shop.reminded()


async def test_two_events_on_the_same_job_send_two_messages(sessions):
    # given a visit two days ahead and two events that both reach it
    shop = await open_shop(sessions)
    visit = await shop.visit(shop.at(DAY + timedelta(days=2), 10))
    first = await shop.event(interval_days=2, run_at=time(9, 0))
    second = await shop.event(interval_days=2, run_at=time(18, 0),
                              template_id=await shop.template("Still on for {appointment_time}?"))

    # when both run on the same day
    await run(shop, first, shop.at(DAY, 9))
    await run(shop, second, shop.at(DAY, 18))

    # then the visit has one message from each
    messages = await shop.messages_about(visit)
    assert sorted(m.reminder_event_id for m in messages) == [first, second]
    assert {m.body for m in messages} == {"Hi Mere, Aroha visits on Thu 12 Mar at 10:00am.",
                                          "Still on for 10:00am?"}


async def test_a_repeated_run_adds_nothing(sessions):
    # given a run that has written its messages
    shop = await open_shop(sessions)
    job = await shop.job()
    day = DAY + timedelta(days=1)
    visits = {await shop.appointment(job, shop.at(day, h), await shop.contact()) for h in (9, 14)}
    other = await shop.visit(shop.at(day, 11), "Other", "+64215555555")
    event = await shop.event()
    first = await run(shop, event, shop.at(DAY, 17), claim=False)
    assert len(first.queued) == 2

    # when it runs again without a claim (a retried job), and again with one (twice)
    again = await run(shop, event, shop.at(DAY, 17, 5), claim=False)
    claimed = await run(shop, event, shop.at(DAY, 17, 10))
    claimed_again = await run(shop, event, shop.at(DAY, 18))

    # then nothing more is written: the (job, event, run date) key holds
    assert again.queued == [] and again.failed == []
    assert claimed.ran and claimed.queued == []
    assert not claimed_again.ran
    messages = await shop.messages()
    assert len(messages) == 2
    assert await shop.reminded() == visits | {other}
    assert await shop.last_run_on(event) == DAY


async def test_the_next_day_runs_again(sessions):
    # given a visit on each of the next two days and an event that ran today
    shop = await open_shop(sessions)
    tomorrow = await shop.visit(shop.at(DAY + timedelta(days=1), 9), "Tomorrow")
    after = await shop.visit(shop.at(DAY + timedelta(days=2), 9), "After", "+64216666666")
    event = await shop.event()
    await run(shop, event, shop.at(DAY, 17))

    # when it runs tomorrow
    result = await run(shop, event, shop.at(DAY + timedelta(days=1), 17))

    # then the day after tomorrow's visit is reminded under tomorrow's date
    assert result.ran and len(result.queued) == 1
    assert [m.run_date for m in await shop.messages_about(after)] == [DAY + timedelta(days=1)]
    assert [m.run_date for m in await shop.messages_about(tomorrow)] == [DAY]


@pytest.mark.parametrize("flag", ["sms_enabled", "sms_reminders_enabled"])
async def test_nothing_runs_while_sms_or_reminders_are_off(sessions, flag):
    # given a due visit and one of the two switches off
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event()
    await shop.settings(**{flag: False})

    # when the event runs
    result = await run(shop, event, shop.at(DAY, 17))

    # then nothing is written and the day stays unclaimed
    assert not result.ran
    assert await shop.messages() == []
    assert await shop.last_run_on(event) is None


async def test_a_disabled_event_does_not_run(sessions):
    shop = await open_shop(sessions)
    await shop.visit(shop.at(DAY + timedelta(days=1), 9))
    event = await shop.event(enabled=False)

    result = await run(shop, event, shop.at(DAY, 17))

    assert not result.ran and await shop.messages() == []


async def test_contacts_that_cannot_receive_get_failed_rows_with_the_reason(sessions):
    # given visits whose contacts have no number, a landline, an opt-out, a text too long,
    # one with a problem number and a text too long, and one fine contact
    shop = await open_shop(sessions)
    day = DAY + timedelta(days=1)
    no_number = await shop.visit(shop.at(day, 9), "Nobody", None)
    landline = await shop.visit(shop.at(day, 9), "Landline", "+6491234567")
    opted_out_contact = await shop.contact("Stopped", "+64218888888", opted_out=True)
    opted_out = await shop.appointment(await shop.job(), shop.at(day, 9), opted_out_contact)
    long_name = "Wiremu " + "Te Rangi " * 20
    too_long = await shop.visit(shop.at(day, 9), long_name.strip(), "+64219999999")
    both = await shop.visit(shop.at(day, 9), long_name.strip() + " Jr", None)
    fine = await shop.visit(shop.at(day, 9), "Fine", GOOD_NUMBER)
    event = await shop.event()

    # when the event runs
    result = await run(shop, event, shop.at(DAY, 17))

    # then each has a row: the fine one QUEUED, the others FAILED with why
    assert len(result.queued) == 1 and len(result.failed) == 5
    reasons = {}
    for appointment in (no_number, landline, opted_out, too_long, both, fine):
        [message] = await shop.messages_about(appointment)
        assert message.source is SmsSource.REMINDER
        reasons[appointment] = (message.status, message.error_code)
    assert reasons == {
        no_number: (SmsStatus.FAILED, "NO_SMS_NUMBER"),
        landline: (SmsStatus.FAILED, "INVALID_SMS_NUMBER"),
        opted_out: (SmsStatus.FAILED, "OPTED_OUT"),
        too_long: (SmsStatus.FAILED, "MESSAGE_TOO_LONG"),
        # who cannot receive comes first, as for a manual send
        both: (SmsStatus.FAILED, "NO_SMS_NUMBER"),
        fine: (SmsStatus.QUEUED, None),
    }
    [both_row] = await shop.messages_about(both)
    assert both_row.error_message.endswith("has no SMS number.")
    [long_row] = await shop.messages_about(too_long)
    assert long_row.error_message.startswith("Message is ")
    [opted_row] = await shop.messages_about(opted_out)
    assert "opted out" in opted_row.error_message
