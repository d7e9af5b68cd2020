"""The SMS history grid, the failure search and the once-a-day failure alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from models import (
    AlertAcknowledgement,
    Appointment,
    Client,
    Contact,
    SmsMessage,
    SmsMessageAppointment,
    User,
)
from models.columns import utcnow
from models.demo import ADMIN_EMAIL, OFFICE_EMAIL, TIME_ZONE
from models.enums import RecipientKind, SmsSource, SmsStatus

SMS_MESSAGES = """
query History($filter: SmsMessageFilter, $first: Int, $after: String) {
  smsMessages(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id body status source toNumber createdAt }
  }
}
"""
SMS_FAILURES = """
query Failures($recentOnly: Boolean, $first: Int, $after: String) {
  smsFailures(recentOnly: $recentOnly, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { body status errorMessage }
  }
}
"""
SMS_FAILURES_DEFAULT = "{ smsFailures { totalCount nodes { body } } }"
ALERT = "{ smsFailureAlert { failedLast24Hours shouldAlert lastAcknowledgedAt } }"
ACKNOWLEDGE = """
mutation { acknowledgeSmsFailureAlert { failedLast24Hours shouldAlert lastAcknowledgedAt } }
"""
UPDATE_SETTINGS = """
mutation($on: Boolean) { updateSettings(input: {smsEnabled: $on}) { errors { code } } }
"""

BASE = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)


@dataclass
class Demo:
    clients: dict[str, Client]
    contacts: dict[str, Contact]
    appointments: list[Appointment]
    users: dict[str, User]


@pytest.fixture
async def rows(demo) -> Demo:
    async with demo() as session:
        return Demo(
            clients={c.name: c for c in (await session.exec(select(Client))).all()},
            contacts={c.name: c for c in (await session.exec(select(Contact))).all()},
            appointments=list((await session.exec(
                select(Appointment).order_by(Appointment.id))).all()),
            users={u.email: u for u in (await session.exec(select(User))).all()},
        )


def message(body: str, created_at: datetime, **fields) -> SmsMessage:
    values = {"to_number": "+64215550111", "status": SmsStatus.SENT, "source": SmsSource.APP,
              "updated_at": created_at, **fields}
    return SmsMessage(body=body, created_at=created_at, **values)


async def add(sessions, *messages: SmsMessage) -> list[int]:
    async with sessions.begin() as session:
        session.add_all(messages)
        await session.flush()
        return [m.id for m in messages]


async def link(sessions, message_id: int, appointment_id: int) -> None:
    async with sessions.begin() as session:
        session.add(SmsMessageAppointment(message_id=message_id, appointment_id=appointment_id))


async def history(api, filter: dict | None = None, **page) -> dict:
    return (await api.ok(SMS_MESSAGES, {"filter": filter, **page}))["smsMessages"]


def bodies(connection: dict) -> list[str]:
    return [node["body"] for node in connection["nodes"]]


# smsMessages


async def test_history_lists_every_message_newest_first(admin, demo):
    await add(demo, message("second", BASE), message("first", BASE - timedelta(days=3)),
              message("third", BASE + timedelta(minutes=1)))

    page = await history(admin)

    assert bodies(page) == ["third", "second", "first"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["nodes"][0]["createdAt"] == "2026-03-01T20:01:00+00:00"


async def test_history_pages_through_with_cursors_without_gaps_or_repeats(admin, demo):
    # Two messages share a creation time: the id breaks the tie.
    await add(demo, *[message(f"m{n}", BASE + timedelta(minutes=n // 2 * 2)) for n in range(7)])
    everything = bodies(await history(admin, first=50))

    seen, after, pages = [], None, 0
    while True:
        page = await history(admin, first=3, after=after)
        assert page["totalCount"] == 7
        seen += bodies(page)
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert pages == 3
    assert seen == everything
    assert sorted(seen) == [f"m{n}" for n in range(7)]


async def test_an_empty_history_has_no_cursor(admin):
    page = await history(admin)

    assert page == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None},
                    "nodes": []}


@pytest.mark.parametrize("page", [{"after": "bm90IGEgY3Vyc29y"}, {"first": 201}, {"first": -1}])
async def test_a_bad_page_request_is_invalid_input(admin, page):
    body = await admin.post(SMS_MESSAGES, page)

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_history_filters_by_status_and_source(admin, demo):
    await add(demo,
              message("sent app", BASE, status=SmsStatus.SENT, source=SmsSource.APP),
              message("failed app", BASE, status=SmsStatus.FAILED, source=SmsSource.APP),
              message("delivered reminder", BASE, status=SmsStatus.DELIVERED,
                      source=SmsSource.REMINDER),
              message("failed mobile", BASE, status=SmsStatus.FAILED, source=SmsSource.MOBILE))

    failed_or_delivered = await history(admin, {"status": ["FAILED", "DELIVERED"]})
    from_app = await history(admin, {"source": ["APP"]})
    failed_from_app = await history(admin, {"status": ["FAILED"], "source": ["APP", "REMINDER"]})

    assert sorted(bodies(failed_or_delivered)) == ["delivered reminder", "failed app",
                                                   "failed mobile"]
    assert failed_or_delivered["totalCount"] == 3
    assert sorted(bodies(from_app)) == ["failed app", "sent app"]
    assert bodies(failed_from_app) == ["failed app"]


async def test_history_filters_by_date_range_from_inclusive_to_exclusive(admin, demo):
    await add(demo, *[message(f"day {n}", BASE + timedelta(days=n)) for n in range(5)])

    # 2026-03-02 09:00 in Auckland (+13:00) is 2026-03-01 20:00 UTC: "day 0" exactly.
    page = await history(admin, {"from": "2026-03-02T09:00:00+13:00",
                                 "to": "2026-03-04T20:00:00+00:00"})
    only_from = await history(admin, {"from": "2026-03-04T19:59:59+00:00"})
    only_to = await history(admin, {"to": "2026-03-02T20:00:00Z"})

    assert bodies(page) == ["day 2", "day 1", "day 0"]
    assert bodies(only_from) == ["day 4", "day 3"]
    assert bodies(only_to) == ["day 0"]


async def test_history_searches_number_body_client_and_contact_names(admin, demo, rows):
    harbourside = rows.clients["Harbourside Cafe"]
    mere = rows.contacts["Mere Tane"]
    sarah = rows.contacts["Sarah Chen"]
    await add(
        demo,
        message("Your plumber is on the way", BASE, to_number="+61412555018"),
        message("About the grease trap", BASE, client_id=harbourside.id,
                recipient_kind=RecipientKind.CLIENT, recipient_id=harbourside.id),
        message("Hi there", BASE, to_number="+64215550111", client_id=mere.client_id,
                recipient_kind=RecipientKind.CONTACT, recipient_id=mere.id),
        # A client recipient whose id is also Sarah's contact id must not match her name.
        message("Unrelated", BASE, to_number="+64225550120",
                recipient_kind=RecipientKind.CLIENT, recipient_id=sarah.id),
    )

    async def search(text: str) -> list[str]:
        return sorted(bodies(await history(admin, {"search": text})))

    assert await search("412555") == ["Your plumber is on the way"]
    assert await search("PLUMBER") == ["Your plumber is on the way"]
    assert await search("harbourside") == ["About the grease trap", "Hi there"]
    assert await search("mere tane") == ["Hi there"]
    assert await search("Sarah") == []
    assert await search("%") == []
    assert await search("   ") == sorted(["Your plumber is on the way", "About the grease trap",
                                          "Hi there", "Unrelated"])


async def test_history_filters_by_client(admin, demo, rows):
    harbourside = rows.clients["Harbourside Cafe"].id
    dental = rows.clients["Te Aro Dental"].id
    await add(demo, message("cafe 1", BASE, client_id=harbourside),
              message("dental", BASE, client_id=dental),
              message("cafe 2", BASE + timedelta(hours=1), client_id=harbourside),
              message("nobody", BASE))

    page = await history(admin, {"clientId": str(harbourside)})

    assert bodies(page) == ["cafe 2", "cafe 1"]
    assert page["totalCount"] == 2


async def test_history_filters_by_appointment_directly_or_through_the_link(admin, demo, rows):
    wanted, other = rows.appointments[0].id, rows.appointments[1].id
    direct, linked, elsewhere, both = await add(
        demo,
        message("manual send", BASE, appointment_id=wanted),
        message("reminder for the job", BASE + timedelta(hours=1), source=SmsSource.REMINDER),
        message("other appointment", BASE + timedelta(hours=2), appointment_id=other),
        message("linked and direct", BASE + timedelta(hours=3), appointment_id=wanted),
    )
    await link(demo, linked, wanted)
    await link(demo, linked, other)
    await link(demo, both, wanted)

    page = await history(admin, {"appointmentId": str(wanted)})
    with_status = await history(admin, {"appointmentId": str(wanted), "source": ["REMINDER"]})

    assert bodies(page) == ["linked and direct", "reminder for the job", "manual send"]
    assert page["totalCount"] == 3
    assert bodies(with_status) == ["reminder for the job"]


async def test_history_stays_readable_while_sms_is_off(admin, demo):
    await add(demo, message("still here", BASE))
    assert (await admin.ok(UPDATE_SETTINGS, {"on": False}))["updateSettings"]["errors"] == []

    data = await admin.ok(SMS_MESSAGES)

    assert "still here" in [n["body"] for n in data["smsMessages"]["nodes"]]


# smsFailures


@pytest.fixture
async def failures(demo) -> None:
    now = utcnow()
    await add(demo,
              message("failed today", now - timedelta(hours=1), status=SmsStatus.FAILED,
                      error_message="Unreachable"),
              message("failed 4 days ago", now - timedelta(days=4, hours=23),
                      status=SmsStatus.FAILED),
              message("failed 6 days ago", now - timedelta(days=6), status=SmsStatus.FAILED),
              message("sent fine", now - timedelta(minutes=5), status=SmsStatus.SENT),
              message("delivered", now - timedelta(days=1), status=SmsStatus.DELIVERED))


@pytest.mark.parametrize("who", ["admin", "office"])
async def test_failure_search_shows_the_last_five_days_by_default(anonymous, failures, who):
    api = await anonymous.login(who)

    data = await api.ok(SMS_FAILURES_DEFAULT)

    assert data["smsFailures"] == {"totalCount": 2, "nodes": [
        {"body": "failed today"}, {"body": "failed 4 days ago"}]}


async def test_failure_search_shows_every_failure_when_not_recent_only(office, failures):
    data = await office.ok(SMS_FAILURES, {"recentOnly": False})

    assert bodies(data["smsFailures"]) == ["failed today", "failed 4 days ago",
                                           "failed 6 days ago"]
    assert {n["status"] for n in data["smsFailures"]["nodes"]} == {"FAILED"}
    assert data["smsFailures"]["nodes"][0]["errorMessage"] == "Unreachable"


async def test_failure_search_pages(office, failures):
    first = (await office.ok(SMS_FAILURES, {"recentOnly": False, "first": 2}))["smsFailures"]
    rest = (await office.ok(SMS_FAILURES, {"recentOnly": False, "first": 2,
                                           "after": first["pageInfo"]["endCursor"]}))["smsFailures"]

    assert bodies(first) == ["failed today", "failed 4 days ago"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert bodies(rest) == ["failed 6 days ago"]
    assert rest["pageInfo"]["hasNextPage"] is False


# smsFailureAlert


async def failed(sessions, body: str, updated_ago: timedelta) -> None:
    """A message created days ago whose failure (its last update) was `updated_ago`."""
    now = utcnow()
    await add(sessions, message(body, now - timedelta(days=3), status=SmsStatus.FAILED,
                                updated_at=now - updated_ago))


async def test_no_recent_failures_means_no_alert(office, demo):
    await failed(demo, "long ago", timedelta(hours=25))
    await add(demo, message("sent", utcnow(), status=SmsStatus.SENT))

    data = await office.ok(ALERT)

    assert data["smsFailureAlert"] == {"failedLast24Hours": 0, "shouldAlert": False,
                                       "lastAcknowledgedAt": None}


async def test_failures_in_the_last_day_raise_the_alert(office, demo):
    await failed(demo, "an hour ago", timedelta(hours=1))
    await failed(demo, "almost a day ago", timedelta(hours=23, minutes=50))
    await failed(demo, "over a day ago", timedelta(hours=24, minutes=10))

    data = await office.ok(ALERT)

    assert data["smsFailureAlert"] == {"failedLast24Hours": 2, "shouldAlert": True,
                                       "lastAcknowledgedAt": None}


async def test_acknowledging_silences_the_alert_for_that_user_only(office, admin, demo):
    await failed(demo, "an hour ago", timedelta(hours=1))
    before = utcnow()

    acknowledged = (await office.ok(ACKNOWLEDGE))["acknowledgeSmsFailureAlert"]
    office_after = (await office.ok(ALERT))["smsFailureAlert"]
    admin_after = (await admin.ok(ALERT))["smsFailureAlert"]

    assert acknowledged["shouldAlert"] is False
    assert acknowledged["failedLast24Hours"] == 1
    assert datetime.fromisoformat(acknowledged["lastAcknowledgedAt"]) >= before
    assert office_after == acknowledged
    assert admin_after == {"failedLast24Hours": 1, "shouldAlert": True,
                           "lastAcknowledgedAt": None}


async def acknowledged_at(sessions, email: str, rows: Demo, when: datetime) -> None:
    async with sessions.begin() as session:
        session.add(AlertAcknowledgement(user_id=rows.users[email].id, acknowledged_at=when))


def local_midnight_today() -> datetime:
    zone = ZoneInfo(TIME_ZONE)
    today = utcnow().astimezone(zone).date()
    return datetime.combine(today, time(0), tzinfo=zone)


async def test_an_acknowledgement_from_yesterday_in_the_company_zone_does_not_count(
        office, demo, rows):
    await failed(demo, "an hour ago", timedelta(hours=1))
    # One minute before local midnight: less than a day ago, but yesterday in Auckland.
    yesterday = local_midnight_today() - timedelta(minutes=1)
    await acknowledged_at(demo, OFFICE_EMAIL, rows, yesterday)

    data = (await office.ok(ALERT))["smsFailureAlert"]

    assert data["shouldAlert"] is True
    assert datetime.fromisoformat(data["lastAcknowledgedAt"]) == yesterday


async def failed_before_local_midnight(sessions) -> None:
    """A failure a second before today began in Auckland: within the last 24 hours, and
    before any acknowledgement made today."""
    when = local_midnight_today() - timedelta(seconds=1)
    await add(sessions, message("before midnight", when - timedelta(days=3),
                                status=SmsStatus.FAILED, updated_at=when))


async def test_an_acknowledgement_earlier_today_in_the_company_zone_counts(office, demo, rows):
    await failed_before_local_midnight(demo)
    await acknowledged_at(demo, OFFICE_EMAIL, rows, local_midnight_today())

    data = (await office.ok(ALERT))["smsFailureAlert"]

    assert (data["failedLast24Hours"], data["shouldAlert"]) == (1, False)


async def test_the_latest_acknowledgement_is_the_one_that_counts(admin, demo, rows):
    await failed_before_local_midnight(demo)
    await acknowledged_at(demo, ADMIN_EMAIL, rows, local_midnight_today())
    await acknowledged_at(demo, ADMIN_EMAIL, rows, local_midnight_today() - timedelta(days=2))

    data = (await admin.ok(ALERT))["smsFailureAlert"]

    assert data["shouldAlert"] is False
    assert datetime.fromisoformat(data["lastAcknowledgedAt"]) == local_midnight_today()


async def test_acknowledging_no_failures_does_not_silence_a_later_one(office, demo):
    # Given: the office dismisses the alert while nothing has failed
    quiet = (await office.ok(ACKNOWLEDGE))["acknowledgeSmsFailureAlert"]

    # When: a message fails later the same day
    await failed(demo, "just now", timedelta(0))
    data = (await office.ok(ALERT))["smsFailureAlert"]

    # Then
    assert (quiet["failedLast24Hours"], quiet["shouldAlert"]) == (0, False)
    assert (data["failedLast24Hours"], data["shouldAlert"]) == (1, True)


async def test_a_failure_after_the_acknowledgement_pops_the_alert_again(office, demo):
    # Given: one failure, seen and dismissed
    await failed(demo, "an hour ago", timedelta(hours=1))
    dismissed = (await office.ok(ACKNOWLEDGE))["acknowledgeSmsFailureAlert"]

    # When: another fails after that
    await failed(demo, "just now", timedelta(0))
    popped = (await office.ok(ALERT))["smsFailureAlert"]
    dismissed_again = (await office.ok(ACKNOWLEDGE))["acknowledgeSmsFailureAlert"]

    # Then: the alert pops for the new one, and dismissing it covers both
    assert (dismissed["failedLast24Hours"], dismissed["shouldAlert"]) == (1, False)
    assert (popped["failedLast24Hours"], popped["shouldAlert"]) == (2, True)
    assert (dismissed_again["failedLast24Hours"], dismissed_again["shouldAlert"]) == (2, False)


async def test_failures_dismissed_yesterday_pop_once_more_today(office, demo, rows):
    # Given: a failure a second before local midnight, dismissed half a second later
    await failed_before_local_midnight(demo)
    await acknowledged_at(demo, OFFICE_EMAIL, rows,
                          local_midnight_today() - timedelta(milliseconds=500))

    data = (await office.ok(ALERT))["smsFailureAlert"]

    # Then: still within 24 hours, and today has not seen it yet
    assert (data["failedLast24Hours"], data["shouldAlert"]) == (1, True)


async def test_the_alert_answers_sms_disabled_when_sms_is_off(admin, office, demo):
    await failed(demo, "an hour ago", timedelta(hours=1))
    assert (await admin.ok(UPDATE_SETTINGS, {"on": False}))["updateSettings"]["errors"] == []

    alert = await office.post(ALERT)
    acknowledge = await office.post(ACKNOWLEDGE)
    search = await office.post(SMS_FAILURES_DEFAULT)

    for body in (alert, acknowledge, search):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "SMS_DISABLED"
