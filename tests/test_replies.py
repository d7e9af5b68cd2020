"""Clients' replies: linked to the message they answer, keywords that confirm or reschedule the
appointment, who sees them, read for the whole office, and pushed live from any API process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from api.app import Services, create_app
from models import (
    Appointment,
    Client,
    Contact,
    InboundMessage,
    Job,
    OptOut,
    Profile,
    SmsMessage,
    SmsTemplate,
    User,
)
from models.columns import utcnow
from models.demo import (
    QUESTION_REPLY,
    TECH_EMAIL,
    TIME_ZONE,
    UNKNOWN_NUMBER,
    UNKNOWN_REPLY,
    seed_conversations,
)
from models.enums import ReplyEffect, SmsSource, SmsStatus, SmsTemplateKind
from models.metrics import REPLY_DUPLICATES
from models.replies import effect_of, record_reply, reply_word
from tests.fake_twilio import ACCOUNT_SID, FROM_NUMBER, signed_form
from tests.test_serve import serve
from tests.test_statement_count import counting_statements
from tests.test_subscriptions import connected, receive, server, subscribe  # noqa: F401

INBOUND = "/webhooks/twilio/inbound"
PUBLIC = "https://sms.example.com"
NUMBER, OTHER_NUMBER = "+64211234567", "+64213333333"
AHEAD = 20  # past the demo's fortnight of appointments

REPLIES = """
query Replies($filter: SmsReplyFilter, $first: Int, $after: String) {
  smsReplies(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id fromNumber body effect read
      inReplyTo { id source }
      appointment { id }
      job { id }
      recipient { kind id name }
    }
  }
}
"""
CONFIRMATION = """
query Confirmation($id: ID!) {
  appointment(id: $id) {
    confirmation { status at reply { id body } }
    replies { id body }
    activities { kind summary reply { id } message { id } }
  }
}
"""
MARK_READ = """
mutation Read($ids: [ID!]!) {
  markSmsRepliesRead(ids: $ids) { affectedCount errors { code field } }
}
"""
RUN = """
mutation Run($id: ID!) { runReminderEvent(id: $id) { affectedCount errors { code field } } }
"""
CREATE_EVENT = """
mutation Create($input: ReminderEventInput!) {
  createReminderEvent(input: $input) { event { id } errors { code field } }
}
"""
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { id } errors { code field } }
}
"""
RECEIVED = "subscription { smsReplyReceived { id body effect appointment { id } } }"


@pytest.fixture
async def conversations(demo):
    """The demo as `seed-demo` makes it, with its sample conversations: two messages from the
    office, a confirmation and a question in answer, and a reply from a stranger."""
    await seed_conversations(demo)
    return demo


@pytest.fixture
async def hooks(services, twilio_settings, sessions) -> AsyncIterator[httpx.AsyncClient]:
    """Twilio's side: the app as deployed with Twilio, its webhooks checking signatures."""
    app = create_app(services=Services(twilio_settings, services.engine, services.sessions,
                                       services.queue, services.feed))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


async def reply(http: httpx.AsyncClient, body: str, sid: str, sender: str = NUMBER,
                base: str = PUBLIC) -> None:
    form = {"From": sender, "To": FROM_NUMBER, "Body": body, "MessageSid": sid,
            "AccountSid": ACCOUNT_SID, "NumSegments": "1"}
    response = await http.post(INBOUND, content=urlencode(form),
                               headers=signed_form(base + INBOUND, form))
    assert response.status_code == 200, response.text


def sid(n: int) -> str:
    return f"SM{n:032d}"


async def job_ahead(sessions, visits: int = 1, sharing: tuple[str, ...] = ()) -> list[int]:
    """A client of its own with `visits` visits AHEAD days from today, their contact Hana at
    NUMBER (and, added before her, contacts `sharing` that number); the appointments' ids."""
    zone = ZoneInfo(TIME_ZONE)
    day = datetime.now(UTC).astimezone(zone).date() + timedelta(days=AHEAD)
    async with sessions.begin() as session:
        tech = (await session.exec(select(User).where(User.email == TECH_EMAIL))).one()
        client = Client(name="Oriental Bay Flats")
        session.add(client)
        await session.flush()
        for name in sharing:
            session.add(Contact(client_id=client.id, name=name, sms_number=NUMBER))
            await session.flush()
        contact = Contact(client_id=client.id, name="Hana", sms_number=NUMBER)
        job = Job(client_id=client.id, title="Roof leak")
        session.add_all([contact, job])
        await session.flush()
        rows = [Appointment(user_id=tech.id, job_id=job.id, contact_id=contact.id,
                            start=datetime.combine(day, time(9 + 3 * n), tzinfo=zone),
                            end=datetime.combine(day, time(10 + 3 * n), tzinfo=zone),
                            sms_reminder=True)
                for n in range(visits)]
        session.add_all(rows)
    return [row.id for row in rows]


async def remind(admin, sessions, drain, description: str = "Three weeks ahead") -> None:
    """A reminder event AHEAD days out, run now by an administrator and sent by the worker."""
    async with sessions() as session:
        template = (await session.exec(select(SmsTemplate.id).where(
            SmsTemplate.kind == SmsTemplateKind.REMINDER_EVENT))).first()
    created = await admin.ok(CREATE_EVENT, {"input": {
        "description": description, "intervalDays": AHEAD, "runAt": "09:00:00",
        "templateId": str(template)}})
    assert created["createReminderEvent"]["errors"] == []
    ran = await admin.ok(RUN, {"id": created["createReminderEvent"]["event"]["id"]})
    assert ran["runReminderEvent"] == {"affectedCount": 1, "errors": []}
    await drain()


async def reminded(admin, sessions, drain, **job) -> tuple[int, int]:
    """An appointment AHEAD days out whose reminder went to NUMBER: it and its message."""
    appointment, *_ = await job_ahead(sessions, **job)
    await remind(admin, sessions, drain)
    async with sessions() as session:
        message = (await session.exec(select(SmsMessage).where(
            SmsMessage.source == SmsSource.REMINDER, SmsMessage.to_number == NUMBER))).one()
    assert message.status is SmsStatus.SENT
    return appointment, message.id


async def replies(user, **filter) -> dict:
    return (await user.ok(REPLIES, {"filter": filter or None}))["smsReplies"]


async def confirmation(user, appointment: int) -> dict:
    return (await user.ok(CONFIRMATION, {"id": str(appointment)}))["appointment"]


# --- the keyword rule -----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "word"), [
    ("c", "C"), (" c ", "C"), ("ok!", "OK"), ("Confirmed.", "CONFIRMED"), ("Y", "Y"),
    ("r?", "R"), ("Reschedule!!", "RESCHEDULE"), ("\nconfirm \n", "CONFIRM"),
    ("c. .", "C"), ("ok_", "OK"),
    ("ok but can you come later", "OK BUT CAN YOU COME LATER"), ("(c)", "(C"), ("c c", "C C"),
])
def test_a_reply_is_matched_ignoring_case_spaces_and_trailing_punctuation_only(body, word):
    assert reply_word(body) == word


@pytest.mark.parametrize(("body", "effect"), [
    ("C", ReplyEffect.CONFIRMED), ("ok!", ReplyEffect.CONFIRMED), (" y ", ReplyEffect.CONFIRMED),
    ("CONFIRM", ReplyEffect.CONFIRMED), ("confirmed", ReplyEffect.CONFIRMED),
    ("R", ReplyEffect.RESCHEDULE_REQUESTED), ("reschedule.", ReplyEffect.RESCHEDULE_REQUESTED),
    ("ok but can you come later", ReplyEffect.NONE), ("(c)", ReplyEffect.NONE),
    ("Gate code is 4412", ReplyEffect.NONE), ("STOP", ReplyEffect.OPTED_OUT),
    ("cancel", ReplyEffect.OPTED_OUT), ("YES", ReplyEffect.OPTED_IN),
    ("start", ReplyEffect.OPTED_IN),
])
def test_what_a_reply_to_a_message_about_an_appointment_does(body, effect):
    about_an_appointment = SmsMessage(to_number=NUMBER, body="", source=SmsSource.REMINDER,
                                      appointment_id=1)
    assert effect_of(body, about_an_appointment) is effect


@pytest.mark.parametrize("answers", [None, SmsMessage(to_number=NUMBER, body="",
                                                      source=SmsSource.PROFESSIONAL)])
def test_without_an_appointment_c_is_a_plain_reply_and_stop_still_opts_out(answers):
    assert effect_of("C", answers) is ReplyEffect.NONE
    assert effect_of("STOP", answers) is ReplyEffect.OPTED_OUT


# --- linking --------------------------------------------------------------------------------


async def test_a_reply_to_a_reminder_links_to_its_appointment_and_job_and_c_confirms(
        admin, demo, hooks, drain):
    appointment, message = await reminded(admin, demo, drain)

    await reply(hooks, " c ", sid(1))

    listed = await replies(admin, appointmentId=str(appointment))
    async with demo() as session:
        visit = await session.get(Appointment, appointment)
        contact = (await session.exec(select(Contact).where(Contact.name == "Hana"))).one()
    assert listed["totalCount"] == 1
    (node,) = listed["nodes"]
    assert node | {"id": None} == {
        "id": None, "fromNumber": NUMBER, "body": " c ", "effect": "CONFIRMED", "read": False,
        "inReplyTo": {"id": str(message), "source": "REMINDER"},
        "appointment": {"id": str(appointment)}, "job": {"id": str(visit.job_id)},
        "recipient": {"kind": "CONTACT", "id": str(contact.id), "name": "Hana"}}
    shown = await confirmation(admin, appointment)
    assert shown["confirmation"]["status"] == "CONFIRMED"
    assert shown["confirmation"]["reply"] == {"id": node["id"], "body": " c "}
    assert datetime.fromisoformat(shown["confirmation"]["at"]) <= utcnow()
    assert shown["replies"] == [{"id": node["id"], "body": " c "}]
    assert shown["activities"][0] == {
        "kind": "REPLY_RECEIVED", "summary": f"Reply from {NUMBER}:  c ",
        "reply": {"id": node["id"]}, "message": {"id": str(message)}}
    assert [a["kind"] for a in shown["activities"]] == ["REPLY_RECEIVED", "REMINDER_SENT"]


async def test_ok_but_later_is_a_plain_reply_and_r_asks_to_reschedule(admin, demo, hooks, drain):
    appointment, _ = await reminded(admin, demo, drain)

    await reply(hooks, "ok but can you come later", sid(1))
    plain = await confirmation(admin, appointment)
    await reply(hooks, "R!", sid(2))
    rescheduling = await confirmation(admin, appointment)

    assert plain["confirmation"] == {"status": "UNCONFIRMED", "at": None, "reply": None}
    assert [r["body"] for r in plain["replies"]] == ["ok but can you come later"]
    assert rescheduling["confirmation"]["status"] == "RESCHEDULE_REQUESTED"
    assert rescheduling["confirmation"]["reply"]["body"] == "R!"
    assert [r["body"] for r in rescheduling["replies"]] == ["R!", "ok but can you come later"]


async def test_stop_still_opts_out_and_confirms_nothing(admin, demo, hooks, drain):
    appointment, _ = await reminded(admin, demo, drain)

    await reply(hooks, "STOP", sid(1))

    assert [n["effect"] for n in (await replies(admin))["nodes"] if n["fromNumber"] == NUMBER] \
        == ["OPTED_OUT"]
    assert (await confirmation(admin, appointment))["confirmation"]["status"] == "UNCONFIRMED"
    async with demo() as session:
        opt_out = (await session.exec(select(OptOut).where(OptOut.number == NUMBER))).one()
    assert opt_out.opted_out is True


async def test_a_replayed_webhook_stores_one_reply_and_opts_out_once(admin, demo, hooks, drain):
    appointment, _ = await reminded(admin, demo, drain)
    duplicates = REPLY_DUPLICATES._value.get()

    await reply(hooks, "C", sid(1))
    await asyncio.gather(*(reply(hooks, "C", sid(1)) for _ in range(3)))
    await asyncio.gather(*(reply(hooks, "STOP", sid(2)) for _ in range(3)))

    listed = await replies(admin, appointmentId=str(appointment))
    assert [n["effect"] for n in listed["nodes"]] == ["OPTED_OUT", "CONFIRMED"]
    assert REPLY_DUPLICATES._value.get() - duplicates == 5
    async with demo() as session:
        assert len((await session.exec(select(OptOut).where(OptOut.number == NUMBER))).all()) == 1


async def test_a_reply_from_an_unknown_number_is_listed_unlinked(admin, demo, hooks):
    await reply(hooks, "Who is this?", sid(1), sender="+61412555301")

    newest = (await replies(admin))["nodes"][0]
    assert newest == {
        "id": newest["id"], "fromNumber": "+61412555301", "body": "Who is this?",
        "effect": "NONE", "read": False, "inReplyTo": None, "appointment": None, "job": None,
        "recipient": None}


async def test_a_later_reminder_sets_the_confirmation_back(admin, demo, hooks, drain):
    appointment, _ = await reminded(admin, demo, drain)
    await reply(hooks, "Y", sid(1))
    confirmed = await confirmation(admin, appointment)

    await remind(admin, demo, drain, description="Another look three weeks ahead")

    assert confirmed["confirmation"]["status"] == "CONFIRMED"
    assert (await confirmation(admin, appointment))["confirmation"] == {
        "status": "UNCONFIRMED", "at": None, "reply": None}
    await reply(hooks, "OK", sid(2))
    assert (await confirmation(admin, appointment))["confirmation"]["status"] == "CONFIRMED"


async def test_a_manual_sms_about_the_appointment_sets_the_confirmation_back(
        admin, office, demo, hooks, drain):
    appointment, _ = await reminded(admin, demo, drain)
    await reply(hooks, "C", sid(1))

    sent = await office.ok(SEND, {"input": {"appointmentId": str(appointment),
                                            "body": "Running 10 minutes late."}})

    assert sent["sendSms"]["errors"] == []
    assert (await confirmation(office, appointment))["confirmation"]["status"] == "UNCONFIRMED"


async def test_a_reply_links_to_the_latest_message_that_left_within_fourteen_days(sessions):
    now = utcnow()

    def sent(body: str, ago: timedelta, status: SmsStatus = SmsStatus.DELIVERED,
             to: str = NUMBER) -> SmsMessage:
        return SmsMessage(to_number=to, body=body, source=SmsSource.APP, status=status,
                          created_at=now - ago, updated_at=now - ago)

    async with sessions.begin() as session:
        rows = [sent("earlier", timedelta(days=3)), sent("latest", timedelta(days=2)),
                sent("failed", timedelta(hours=2), SmsStatus.FAILED),
                sent("queued", timedelta(hours=1), SmsStatus.QUEUED),
                sent("after the reply", -timedelta(minutes=1)),
                sent("old", timedelta(days=15), to=OTHER_NUMBER)]
        session.add_all(rows)
    async with sessions.begin() as session:
        answering = await record_reply(session, NUMBER, FROM_NUMBER, "Thanks", sid(1), now)
        in_time = await record_reply(session, OTHER_NUMBER, FROM_NUMBER, "Hi", sid(2),
                                     now - timedelta(days=1, seconds=1))
        too_old = await record_reply(session, OTHER_NUMBER, FROM_NUMBER, "C", sid(3), now)

    by_id = {row.id: row.body for row in rows}
    assert by_id[answering.in_reply_to_id] == "latest"
    assert by_id[in_time.in_reply_to_id] == "old"
    assert too_old.in_reply_to_id is None and too_old.effect is ReplyEffect.NONE


async def test_a_number_two_contacts_share_links_to_the_one_the_message_went_to(
        admin, demo, hooks, drain):
    # Given Aroha and Hana sharing a number, Aroha added first, and the reminder sent to Hana
    appointment, _ = await reminded(admin, demo, drain, sharing=("Aroha",))
    async with demo() as session:
        hana = (await session.exec(select(Contact).where(Contact.name == "Hana"))).one()

    await reply(hooks, "Thanks", sid(1))

    (node,) = (await replies(admin, appointmentId=str(appointment)))["nodes"]
    assert node["recipient"] == {"kind": "CONTACT", "id": str(hana.id), "name": "Hana"}


async def test_c_to_a_reminder_for_two_visits_confirms_both(admin, demo, hooks, drain):
    # Given a job with two visits on one day: one reminder for both, about the first
    first, second = await job_ahead(demo, visits=2)
    await remind(admin, demo, drain)

    await reply(hooks, "c!", sid(1))

    shown = [await confirmation(admin, visit) for visit in (first, second)]
    assert [s["confirmation"]["status"] for s in shown] == ["CONFIRMED", "CONFIRMED"]
    assert [[r["body"] for r in s["replies"]] for s in shown] == [["c!"], ["c!"]]
    assert [s["activities"][0]["kind"] for s in shown] == ["REPLY_RECEIVED"] * 2
    (node,) = (await replies(admin, appointmentId=str(second)))["nodes"]
    assert node["appointment"] == {"id": str(first)}


# --- who sees replies -----------------------------------------------------------------------


async def test_a_user_without_send_sms_is_refused_replies_and_sees_only_the_status(
        tech, admin, conversations):
    async with conversations.begin() as session:
        user = (await session.exec(select(User).where(User.email == TECH_EMAIL))).one()
        profile = await session.get(Profile, user.profile_id)
        profile.send_sms_to_client = False
    confirmed = next(n for n in (await replies(admin))["nodes"] if n["effect"] == "CONFIRMED")
    appointment = int(confirmed["appointment"]["id"])

    listed = await tech.post(REPLIES)
    marked = await tech.ok(MARK_READ, {"ids": [confirmed["id"]]})
    seen = await confirmation(tech, appointment)

    assert listed["data"] is None
    assert listed["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert marked["markSmsRepliesRead"] == {
        "affectedCount": 0, "errors": [{"code": "PERMISSION_DENIED", "field": None}]}
    assert (await replies(admin, unreadOnly=True))["totalCount"] == 3
    assert seen["confirmation"]["status"] == "CONFIRMED" and seen["confirmation"]["at"]
    assert seen["confirmation"]["reply"] is None and seen["replies"] == []
    assert [a["kind"] for a in seen["activities"]] == ["SMS_SENT"]
    assert (await confirmation(admin, appointment))["confirmation"]["reply"]["body"] == "C"


async def test_read_is_shared_by_the_office_and_unknown_ids_mark_nothing(
        office, admin, conversations):
    everything = await replies(office)
    first, second = (n["id"] for n in everything["nodes"][:2])

    refused = await office.ok(MARK_READ, {"ids": [first, "999999"]})
    marked = await office.ok(MARK_READ, {"ids": [first, second, first]})
    again = await office.ok(MARK_READ, {"ids": [first]})

    assert refused["markSmsRepliesRead"] == {
        "affectedCount": 0, "errors": [{"code": "NOT_FOUND", "field": "ids"}]}
    assert marked["markSmsRepliesRead"] == {"affectedCount": 2, "errors": []}
    assert again["markSmsRepliesRead"] == {"affectedCount": 0, "errors": []}
    unread = await replies(admin, unreadOnly=True)
    assert unread["totalCount"] == everything["totalCount"] - 2
    assert {n["id"] for n in unread["nodes"]} == {n["id"] for n in everything["nodes"][2:]}
    assert {n["id"]: n["read"] for n in (await replies(admin))["nodes"]}[first] is True


async def test_the_demo_has_a_confirmation_a_question_and_a_stranger(admin, conversations):
    listed = await replies(admin)

    by_body = {n["body"]: n for n in listed["nodes"]}
    assert listed["totalCount"] == 3
    assert by_body["C"]["effect"] == "CONFIRMED" and by_body["C"]["appointment"] is not None
    assert by_body[QUESTION_REPLY]["effect"] == "NONE"
    assert by_body[QUESTION_REPLY]["inReplyTo"]["source"] == "PROFESSIONAL"
    assert by_body[UNKNOWN_REPLY]["fromNumber"] == UNKNOWN_NUMBER
    assert by_body[UNKNOWN_REPLY]["inReplyTo"] is None
    appointment = by_body["C"]["appointment"]["id"]
    assert (await confirmation(admin, int(appointment)))["confirmation"]["status"] == "CONFIRMED"
    clients = await replies(admin, clientId=str(await client_of(conversations, int(appointment))))
    assert [n["body"] for n in clients["nodes"]] == ["C"]


async def client_of(sessions, appointment: int) -> int:
    async with sessions() as session:
        visit = await session.get(Appointment, appointment)
        return (await session.get(Job, visit.job_id)).client_id


async def test_replies_page_newest_first_without_gaps_or_repeats(admin, conversations):
    async with conversations.begin() as session:
        for n in range(7):
            await record_reply(session, f"+6421555{n:04d}", FROM_NUMBER, f"reply {n}", sid(n),
                               utcnow() + timedelta(seconds=n))
    seen, after = [], None
    while True:
        page = (await admin.ok(REPLIES, {"first": 4, "after": after}))["smsReplies"]
        seen += [n["body"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen[:7] == [f"reply {n}" for n in reversed(range(7))]
    assert len(seen) == len(set(seen)) == 10


# --- live -----------------------------------------------------------------------------------


async def test_a_reply_to_another_api_process_is_pushed(
        office, services, twilio_settings, server, tmp_path):  # noqa: F811
    environment = {
        "DATABASE_URL": services.settings.database_url, "REDIS_URL": services.settings.redis_url,
        "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": twilio_settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": twilio_settings.twilio_auth_token,
        "TWILIO_FROM_NUMBER": twilio_settings.twilio_from_number,
        "TWILIO_API_BASE": twilio_settings.twilio_api_base, "PUBLIC_BASE_URL": PUBLIC}
    async with serve(tmp_path, **environment) as other, \
            connected(server, office.token) as ws, \
            httpx.AsyncClient(base_url=other.address) as http:
        await subscribe(ws, services.feed, RECEIVED)

        await reply(http, "Can you come after 2pm?", sid(1), sender="+61412555301")
        pushed = await receive(ws)

    assert pushed["payload"]["data"]["smsReplyReceived"] | {"id": None} == {
        "id": None, "body": "Can you come after 2pm?", "effect": "NONE", "appointment": None}


async def test_a_user_without_send_sms_cannot_subscribe_to_replies(tech, demo, services, server):  # noqa: F811
    async with demo.begin() as session:
        user = (await session.exec(select(User).where(User.email == TECH_EMAIL))).one()
        (await session.get(Profile, user.profile_id)).send_sms_to_client = False

    async with connected(server, tech.token) as ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": RECEIVED}}))
        answer = await receive(ws)

    assert answer["type"] == "next" and answer["payload"]["data"] is None
    assert answer["payload"]["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_replies_stored_at_once_from_one_number_are_each_kept(sessions, hooks):
    await asyncio.gather(*(reply(hooks, f"part {n}", sid(n)) for n in range(5)))

    async with sessions() as session:
        stored = (await session.exec(select(InboundMessage))).all()
    assert sorted(r.body for r in stored) == [f"part {n}" for n in range(5)]


async def test_a_reply_is_read_once_for_all_of_a_processs_subscribers(
        office, admin, services, server, hooks):  # noqa: F811
    # Given five subscriptions on one API process, from two users
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connected(server, user.token))
                   for user in (office, office, office, admin, admin)]
        for ws in sockets:
            await subscribe(ws, services.feed, RECEIVED)

        # When a reply comes in, its reads counted
        with counting_statements(services.engine) as seen:
            await reply(hooks, "Gate code is 4412", sid(1), sender="+61412555301")
            pushed = [await receive(ws) for ws in sockets]

    # Then every subscriber has it, and the reply was read once for them all
    bodies = [p["payload"]["data"]["smsReplyReceived"]["body"] for p in pushed]
    assert bodies == ["Gate code is 4412"] * 5
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")
             and "FROM inbound_message" in s and "WHERE inbound_message.id =" in s]
    assert len(reads) == 1, reads
