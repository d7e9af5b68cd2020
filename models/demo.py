"""Demo data: a small NZ/AU plumbing and electrical company to try the service with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import (
    Appointment,
    Client,
    Contact,
    GlobalSettings,
    Job,
    Profile,
    ReminderEvent,
    SmsTemplate,
    Task,
    TimeEntry,
    User,
)
from models.accounts import hash_password
from models.company import SETTINGS_ID
from models.db import Sessions
from models.enums import FieldVisibility, SmsSource, SmsStatus, SmsTemplateKind
from models.errors import DomainError
from models.phone import check_client_mobile, check_phone
from models.recipients import default_appointment_contact
from models.replies import record_reply
from models.sending import ManualSms, queue_manual_sms

COMPANY_NAME = "Kiwi Plumbing & Electrical"
TIME_ZONE = "Pacific/Auckland"
ADMIN_EMAIL = "admin@example.com"
OFFICE_EMAIL = "office@example.com"
TECH_EMAIL = "tech@example.com"
# E-mail and password of each demo login, as the README lists them.
DEMO_LOGINS = {
    ADMIN_EMAIL: "admin-demo-password",
    OFFICE_EMAIL: "office-demo-password",
    TECH_EMAIL: "tech-demo-password",
}

ALL_VISIBLE = {
    "layout_appointment_contact": FieldVisibility.VISIBLE,
    "layout_appointment_sms_reminder": FieldVisibility.VISIBLE,
    "layout_client_sms_reminders": FieldVisibility.VISIBLE,
}

# argon2 is slow on purpose; tests seed a fresh database many times in one process.
_password_hashes: dict[str, str] = {}


@dataclass(frozen=True)
class DemoContact:
    name: str
    mobile: str | None = None
    phone: str | None = None
    active: bool = True


@dataclass(frozen=True)
class DemoTask:
    name: str
    contact: str | None = None


@dataclass(frozen=True)
class DemoJob:
    title: str
    latitude: float
    longitude: float
    contact: str | None = None
    tasks: tuple[DemoTask, ...] = ()


@dataclass(frozen=True)
class DemoClient:
    name: str
    mobile: tuple[str, str] | None
    sms_reminders: bool
    contacts: tuple[DemoContact, ...] = ()
    jobs: tuple[DemoJob, ...] = ()


# Valid mobiles, numbers in a fixable form ("0064 ...", "(mob)"), a mobile typed into the phone
# field, landlines and missing numbers: the mix a real TimeTrak database holds.
CLIENTS = (
    DemoClient(
        "Harbourside Cafe",
        ("+64", "021 555 0110"),
        True,
        (
            DemoContact("Mere Tane", mobile="021 555 0111"),
            DemoContact("Accounts", phone="09 555 0123"),
        ),
        (
            DemoJob(
                "Grease trap replacement",
                -36.8406,
                174.7580,
                "Mere Tane",
                (
                    DemoTask("Remove old trap"),
                    DemoTask("Install and test", "Mere Tane"),
                ),
            ),
        ),
    ),
    DemoClient(
        "Te Aro Dental",
        None,
        True,
        (
            DemoContact("Dr Hemi Walker", mobile="0064 21 555 0101"),
            DemoContact("Reception", mobile="027 555 0142", phone="04 555 0199"),
        ),
        (
            DemoJob(
                "Surgery rewiring",
                -41.2950,
                174.7750,
                "Reception",
                (DemoTask("Switchboard upgrade"),),
            ),
        ),
    ),
    DemoClient(
        "Ponsonby Property Management",
        ("+64", "022 555 0120"),
        True,
        (
            DemoContact("Sarah Chen", mobile="022 555 0123"),
            DemoContact("Tom Fletcher", mobile="021 555 0102 (mob)"),
        ),
        (
            DemoJob(
                "Hot water cylinder replacement",
                -36.8570,
                174.7460,
                "Sarah Chen",
                (
                    DemoTask("Replace cylinder"),
                    DemoTask("Pressure valve check", "Tom Fletcher"),
                ),
            ),
            DemoJob(
                "Leaking shower, Jervois Rd", -36.8510, 174.7390, None, (DemoTask("Find the leak"),)
            ),
        ),
    ),
    DemoClient(
        "Bondi Beach Apartments",
        ("+61", "0412 555 018"),
        True,
        (
            DemoContact("Liam O'Brien", mobile="0412 555 301"),
            DemoContact("Strata Office", phone="02 9555 0100"),
        ),
        (
            DemoJob(
                "Common area lighting",
                -33.8915,
                151.2767,
                "Liam O'Brien",
                (DemoTask("LED fit-out", "Liam O'Brien"),),
            ),
        ),
    ),
    DemoClient(
        "Wellington Motor Lodge",
        None,
        False,
        (DemoContact("Aroha Ngata", mobile="027 555 0140"),),
        (
            DemoJob(
                "Electrical safety check",
                -41.2889,
                174.7772,
                "Aroha Ngata",
                (DemoTask("Test and tag"),),
            ),
        ),
    ),
    DemoClient(
        "Mt Eden Community Hall",
        None,
        True,
        (DemoContact("Bookings", phone="09 630 5555"),),
        (DemoJob("Kitchen hot water tap", -36.8773, 174.7547, "Bookings"),),
    ),
    DemoClient(
        "Kelburn Villas Body Corporate",
        ("+64", "029 555 0133"),
        False,
        (
            DemoContact("Caretaker"),
            DemoContact("Former Manager", mobile="021 555 0199", active=False),
        ),
        (
            DemoJob(
                "Stormwater drain clearing",
                -41.2866,
                174.7675,
                "Caretaker",
                (DemoTask("CCTV drain inspection"),),
            ),
        ),
    ),
    DemoClient(
        "Parramatta Medical Centre",
        None,
        True,
        (
            DemoContact("Dr Anjali Rao", phone="0412 555 777"),
            DemoContact("Practice Manager", mobile="0412 555 302", phone="02 9555 0177"),
        ),
        (
            DemoJob(
                "Air conditioning isolator",
                -33.8150,
                151.0011,
                "Practice Manager",
                (DemoTask("Install isolator switch", "Dr Anjali Rao"),),
            ),
        ),
    ),
)

TEMPLATES = (
    (
        "Appointment booked",
        SmsTemplateKind.APPOINTMENT,
        "Hi {contact_name}, {company_name} has booked {job_title} for {appointment_date} "
        "at {appointment_time}.",
    ),
    (
        "On the way",
        SmsTemplateKind.APPOINTMENT,
        "Hi {contact_name}, {user_name} from {company_name} is on the way now.",
    ),
    (
        "Please confirm",
        SmsTemplateKind.APPOINTMENT,
        "Hi {contact_name}, {company_name} visits {appointment_date} at {appointment_time}. "
        "{reply_hint}",
    ),
    (
        "Day-before reminder",
        SmsTemplateKind.REMINDER_EVENT,
        "Reminder: {user_name} from {company_name} visits on {appointment_date} at "
        "{appointment_time} for {job_title}.",
    ),
)

# Local start times and lengths of each weekday's visits, per user.
SCHEDULES = {
    OFFICE_EMAIL: ((time(9, 30), timedelta(minutes=90)), (time(14, 0), timedelta(minutes=120))),
    TECH_EMAIL: ((time(8, 0), timedelta(minutes=120)), (time(13, 0), timedelta(minutes=150))),
}


@dataclass(frozen=True)
class Visit:
    """One piece of work an appointment can be for, with the contact it defaults to."""

    job: Job
    task: Task | None
    contact_id: int | None
    sms_reminder: bool


async def seed_demo(
    sessions: Sessions, now: datetime | None = None, conversations: bool = True
) -> bool:
    """Add the demo company unless its administrator exists; True when anything was added.
    With `conversations`, also a few messages and the clients' replies to them."""
    now = now or datetime.now(UTC)
    async with sessions.begin() as session:
        existing = await session.exec(select(User.id).where(User.email == ADMIN_EMAIL))
        if existing.first() is not None:
            return False
        await _company(session)
        users = await _users(session)
        visits = await _clients(session)
        _appointments(session, users, visits, now)
        await _time_entries(session, users, visits, now)
        await _templates(session)
        if conversations:
            await _conversations(session, users[OFFICE_EMAIL], now)
    return True


async def seed_conversations(sessions: Sessions, now: datetime | None = None) -> None:
    """The demo's sample conversations, added to a demo company seeded without them."""
    async with sessions.begin() as session:
        office = (await session.exec(select(User).where(User.email == OFFICE_EMAIL))).one()
        await _conversations(session, office, now or datetime.now(UTC))


def demo_password_hash(password: str) -> str:
    if password not in _password_hashes:
        _password_hashes[password] = hash_password(password)
    return _password_hashes[password]


async def _company(session: AsyncSession) -> None:
    settings = await session.get(GlobalSettings, SETTINGS_ID) or GlobalSettings(id=SETTINGS_ID)
    settings.company_name = COMPANY_NAME
    settings.sms_enabled = True
    settings.sms_reminders_enabled = True
    settings.time_zone = TIME_ZONE
    session.add(settings)


async def _users(session: AsyncSession) -> dict[str, User]:
    admin = Profile(
        name="Administrator",
        edit_contact=True,
        send_sms_to_client=True,
        show_sms_errors=True,
        global_administrator=True,
        **ALL_VISIBLE,
    )
    office = Profile(
        name="Office",
        edit_contact=True,
        send_sms_to_client=True,
        show_sms_errors=True,
        **ALL_VISIBLE,
    )
    tech = Profile(
        name="Technician",
        send_sms_to_client=True,
        layout_appointment_contact=FieldVisibility.READ_ONLY,
        layout_appointment_sms_reminder=FieldVisibility.READ_ONLY,
        layout_client_sms_reminders=FieldVisibility.HIDDEN,
    )
    session.add_all([admin, office, tech])
    await session.flush()
    users = {
        ADMIN_EMAIL: User(
            email=ADMIN_EMAIL,
            name="Priya Patel",
            profile_id=admin.id,
            password_hash=demo_password_hash(DEMO_LOGINS[ADMIN_EMAIL]),
        ),
        OFFICE_EMAIL: User(
            email=OFFICE_EMAIL,
            name="Grace Thompson",
            profile_id=office.id,
            password_hash=demo_password_hash(DEMO_LOGINS[OFFICE_EMAIL]),
        ),
        TECH_EMAIL: User(
            email=TECH_EMAIL,
            name="Tama Ruatapu",
            profile_id=tech.id,
            password_hash=demo_password_hash(DEMO_LOGINS[TECH_EMAIL]),
        ),
    }
    session.add_all(users.values())
    await session.flush()
    return users


async def _clients(session: AsyncSession) -> list[Visit]:
    visits: list[Visit] = []
    for spec in CLIENTS:
        client = _client_row(spec)
        session.add(client)
        await session.flush()
        contacts = {c.name: _contact_row(client.id, c) for c in spec.contacts}
        session.add_all(contacts.values())
        await session.flush()
        for job_spec in spec.jobs:
            visits += await _job(session, client, contacts, job_spec)
    return visits


def _client_row(spec: DemoClient) -> Client:
    client = Client(name=spec.name, sms_reminders=spec.sms_reminders)
    if spec.mobile is not None:
        mobile = check_client_mobile(*spec.mobile)
        client.mobile_country_code = mobile.country_code
        client.mobile_number = mobile.number
        client.sms_number = mobile.e164
    return client


def _contact_row(client_id: int, spec: DemoContact) -> Contact:
    # Only numbers valid as typed get an SMS number here; fixable ones are left for
    # backfill-sms-numbers, as in a database where someone cleared them after the upgrade.
    check = check_phone(spec.mobile) if spec.mobile else None
    number = check.e164 if check and check.valid else None
    return Contact(
        client_id=client_id,
        name=spec.name,
        active=spec.active,
        phone=spec.phone,
        mobile=spec.mobile,
        sms_number=number,
    )


async def _job(
    session: AsyncSession, client: Client, contacts: dict[str, Contact], spec: DemoJob
) -> list[Visit]:
    def contact_id(name: str | None) -> int | None:
        return contacts[name].id if name else None

    job = Job(
        client_id=client.id,
        title=spec.title,
        contact_id=contact_id(spec.contact),
        latitude=spec.latitude,
        longitude=spec.longitude,
    )
    session.add(job)
    await session.flush()
    tasks = [Task(job_id=job.id, name=t.name, contact_id=contact_id(t.contact)) for t in spec.tasks]
    session.add_all(tasks)
    await session.flush()
    return [
        Visit(
            job,
            task,
            default_appointment_contact(task and task.contact_id, job.contact_id),
            client.sms_reminders,
        )
        for task in tasks or [None]
    ]


def _appointments(
    session: AsyncSession, users: dict[str, User], visits: list[Visit], now: datetime
) -> None:
    zone = ZoneInfo(TIME_ZONE)
    today = now.astimezone(zone).date()
    # The next fourteen days always hold exactly ten weekdays.
    days = [today + timedelta(days=n) for n in range(1, 15)]
    weekdays = [day for day in days if day.weekday() < 5]
    for offset, (email, slots) in enumerate(SCHEDULES.items()):
        user = users[email]
        for n, (day, (start, length)) in enumerate(
            (day, slot) for day in weekdays for slot in slots
        ):
            visit = visits[(n + offset * 3) % len(visits)]
            session.add(_appointment(user, visit, _at(day, start, zone), length))


def _appointment(user: User, visit: Visit, start: datetime, length: timedelta) -> Appointment:
    return Appointment(
        user_id=user.id,
        job_id=visit.job.id,
        task_id=visit.task.id if visit.task else None,
        start=start,
        end=start + length,
        contact_id=visit.contact_id,
        sms_reminder=visit.sms_reminder,
    )


async def _time_entries(
    session: AsyncSession, users: dict[str, User], visits: list[Visit], now: datetime
) -> None:
    zone = ZoneInfo(TIME_ZONE)
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    tech = users[TECH_EMAIL]
    visit = visits[0]
    done = _appointment(tech, visit, _at(yesterday, time(10, 0), zone), timedelta(hours=2))
    session.add(done)
    await session.flush()
    other = visits[-1]
    session.add_all(
        [
            TimeEntry(
                user_id=tech.id,
                job_id=visit.job.id,
                task_id=done.task_id,
                appointment_id=done.id,
                start=done.start + timedelta(minutes=5),
                end=done.end - timedelta(minutes=15),
            ),
            TimeEntry(
                user_id=tech.id,
                job_id=other.job.id,
                task_id=other.task.id if other.task else None,
                start=_at(yesterday, time(14, 0), zone),
                end=_at(yesterday, time(15, 30), zone),
            ),
        ]
    )


async def _templates(session: AsyncSession) -> None:
    rows = [SmsTemplate(name=name, kind=kind, body=body) for name, kind, body in TEMPLATES]
    session.add_all(rows)
    await session.flush()
    reminder = next(row for row in rows if row.kind is SmsTemplateKind.REMINDER_EVENT)
    session.add(
        ReminderEvent(
            description="Reminder for tomorrow's appointments",
            interval_days=1,
            template_id=reminder.id,
            run_at=time(17, 0),
            enabled=True,
        )
    )


# Replies the demo's clients sent this morning: to the office's "Please confirm" SMS about two
# appointments, and from a number we never wrote to.
CONFIRMING_REPLY = "C"
QUESTION_REPLY = "Can you come after 2pm? Gate code is 4412"
UNKNOWN_NUMBER, UNKNOWN_REPLY = "+64215550199", "Hi, is this the plumber? Our hot water is off"


async def _conversations(session: AsyncSession, office: User, now: datetime) -> None:
    """Two delivered "Please confirm" messages, a confirmation and a question in answer, and a
    reply from an unknown number; made by the rules a real send and reply follow. The two
    appointments are after tomorrow, so tonight's reminder run leaves them as they are."""
    company = await session.get(GlobalSettings, SETTINGS_ID)
    template = (
        await session.exec(select(SmsTemplate).where(SmsTemplate.name == "Please confirm"))
    ).one()
    zone = ZoneInfo(TIME_ZONE)
    after_tomorrow = _at(now.astimezone(zone).date() + timedelta(days=2), time(0, 0), zone)
    upcoming = (
        await session.exec(
            select(Appointment)
            .where(Appointment.user_id == office.id, Appointment.start >= after_tomorrow)
            .order_by(Appointment.start, Appointment.id)
        )
    ).all()
    profile = await session.get(Profile, office.profile_id)
    replies = [CONFIRMING_REPLY, QUESTION_REPLY]
    for appointment in upcoming:
        if not replies:
            break
        request = ManualSms(
            appointment_id=appointment.id,
            time_entry_id=None,
            recipient=None,
            template_id=template.id,
            body=None,
            location=None,
            idempotency_key=None,
            source=SmsSource.PROFESSIONAL,
        )
        try:
            message, _ = await queue_manual_sms(session, request, office, profile, company)
        except DomainError:
            continue  # this visit's contact cannot receive SMS: the next one
        # Sent and delivered a while ago, as if the worker and Twilio's callback had been.
        sent_at = now - timedelta(hours=3 - len(replies))
        message.status, message.attempts = SmsStatus.DELIVERED, 1
        message.created_at = message.updated_at = message.sent_at = sent_at
        message.delivered_at = sent_at
        await session.flush()
        await record_reply(
            session, message.to_number, "", replies.pop(0), None, sent_at + timedelta(minutes=20)
        )
    await record_reply(session, UNKNOWN_NUMBER, "", UNKNOWN_REPLY, None, now - timedelta(hours=1))


def _at(day: date, local: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, local, tzinfo=zone).astimezone(UTC)
