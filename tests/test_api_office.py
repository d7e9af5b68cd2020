"""The office addition: profiles and users in the Admin Console, new clients, and the jobs, tasks
and time entries the SMS forms start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from models import Client, Job, Profile, TimeEntry, User
from tests.conftest import LOGIN, Api

PROFILE_FIELDS = """
id name editContact sendSmsToClient showSmsErrors globalAdministrator
layout { appointmentContact appointmentSmsReminder clientSmsReminders }
"""
PROFILES = f"{{ profiles {{ {PROFILE_FIELDS} }} }}"
CREATE_PROFILE = f"""
mutation Create($input: ProfileInput!) {{
  createProfile(input: $input) {{ profile {{ {PROFILE_FIELDS} }} errors {{ code field message }} }}
}}
"""
UPDATE_PROFILE = f"""
mutation Update($id: ID!, $input: ProfileInput!) {{
  updateProfile(id: $id, input: $input) {{
    profile {{ {PROFILE_FIELDS} }} errors {{ code field message }}
  }}
}}
"""
CREATE_USER = """
mutation Create($input: UserInput!) {
  createUser(input: $input) {
    user { id name email profile { name } } errors { code field message }
  }
}
"""
UPDATE_USER = """
mutation Update($id: ID!, $input: UserInput!) {
  updateUser(id: $id, input: $input) {
    user { id name email profile { name } } errors { code field message }
  }
}
"""
ME = "{ me { email profile { name sendSmsToClient } } }"
USERS = "{ users { id name email profile { name } } }"
SEND = """
mutation Send($input: SendSmsInput!) {
  sendSms(input: $input) { message { status body } errors { code field } }
}
"""
CLIENT_FIELDS = "id name active mobileCountryCode mobileNumber smsNumber smsReminders"
CREATE_CLIENT = f"""
mutation Create($input: ClientInput!) {{
  createClient(input: $input) {{ client {{ {CLIENT_FIELDS} }} errors {{ code field message }} }}
}}
"""
UPDATE_CLIENT = f"""
mutation Update($id: ID!, $input: ClientInput!) {{
  updateClient(id: $id, input: $input) {{
    client {{ {CLIENT_FIELDS} }} errors {{ code field message }}
  }}
}}
"""
CLIENT = f"query Client($id: ID!) {{ client(id: $id) {{ {CLIENT_FIELDS} }} }}"
CLIENTS = "query Clients($search: String) { clients(filter: {search: $search}) { nodes { id } } }"
JOB = """
query Job($id: ID!) {
  job(id: $id) { id title client { name } contact { name } tasks { name job { title } } }
}
"""
JOBS = """
query Jobs($filter: JobFilter, $first: Int, $after: String) {
  jobs(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id title client { name } }
  }
}
"""
TIME_ENTRIES = """
query Entries($start: DateTime!, $end: DateTime!, $userId: ID) {
  timeEntries(start: $start, end: $end, userId: $userId) {
    id start end user { email } job { title }
  }
}
"""

ALL_JOBS = [
    "Air conditioning isolator", "Common area lighting", "Electrical safety check",
    "Grease trap replacement", "Hot water cylinder replacement", "Kitchen hot water tap",
    "Leaking shower, Jervois Rd", "Stormwater drain clearing", "Surgery rewiring",
]
APPRENTICE = {
    "name": "Apprentice", "editContact": False, "sendSmsToClient": False,
    "layout": {"clientSmsReminders": "HIDDEN", "appointmentContact": "READ_ONLY"},
}
APPRENTICE_LOGIN = ("ana@example.com", "apprentice-password")


async def sign_in(anonymous: Api, email: str, password: str) -> Api:
    data = await anonymous.ok(LOGIN, {"email": email, "password": password})
    assert data["login"]["errors"] == [], data
    return Api(anonymous.http, data["login"]["token"])


async def count(sessions, model, *where) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model).where(*where))).one()


async def profile_id(admin: Api, name: str) -> str:
    profiles = (await admin.ok(PROFILES))["profiles"]
    return next(p["id"] for p in profiles if p["name"] == name)


async def user_id(api: Api, email: str) -> str:
    users = (await api.ok(USERS))["users"]
    return next(u["id"] for u in users if u["email"] == email)


async def client_id(api: Api, name: str) -> str:
    (node,) = (await api.ok(CLIENTS, {"search": name}))["clients"]["nodes"]
    return node["id"]


async def job_id(api: Api, title: str) -> str:
    (node,) = (await api.ok(JOBS, {"filter": {"search": title}}))["jobs"]["nodes"]
    return node["id"]


def errors(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def recent() -> dict[str, str]:
    """A window holding the demo's time entries, which are yesterday's."""
    now = datetime.now(UTC)
    return {"start": (now - timedelta(days=3)).isoformat(), "end": now.isoformat()}


async def apprentice(admin: Api, anonymous: Api) -> tuple[str, Api]:
    """A new profile and a user with it, signed in: (profile id, the user's API)."""
    created = (await admin.ok(CREATE_PROFILE, {"input": APPRENTICE}))["createProfile"]
    assert created["errors"] == []
    email, password = APPRENTICE_LOGIN
    user = (await admin.ok(CREATE_USER, {"input": {
        "name": "Ana Apprentice", "email": email, "password": password,
        "profileId": created["profile"]["id"]}}))["createUser"]
    assert user["errors"] == []
    return created["profile"]["id"], await sign_in(anonymous, email, password)


async def a_time_entry_of_tech(api: Api) -> str:
    tech = await user_id(api, "tech@example.com")
    entries = (await api.ok(TIME_ENTRIES, {**recent(), "userId": tech}))["timeEntries"]
    return entries[0]["id"]


# --- profiles -----------------------------------------------------------------------------------


async def test_admin_lists_the_demo_profiles_as_the_readme_describes_them(admin):
    profiles = {p.pop("name"): p for p in (await admin.ok(PROFILES))["profiles"]}

    flags = {name: (p["globalAdministrator"], p["editContact"], p["sendSmsToClient"],
                    p["showSmsErrors"]) for name, p in profiles.items()}
    assert flags == {"Administrator": (True, True, True, True),
                     "Office": (False, True, True, True),
                     "Technician": (False, False, True, False)}
    assert profiles["Technician"]["layout"] == {
        "appointmentContact": "READ_ONLY", "appointmentSmsReminder": "READ_ONLY",
        "clientSmsReminders": "HIDDEN"}


@pytest.mark.parametrize("who", ["office", "tech"])
async def test_only_a_global_administrator_reads_profiles(anonymous, who):
    api = await anonymous.login(who)

    body = await api.post(PROFILES)

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PERMISSION_DENIED"]


async def test_only_a_global_administrator_changes_profiles_and_users(office, demo):
    tech = next(u for u in (await office.ok(USERS))["users"] if u["email"] == "tech@example.com")
    profiles, users = await count(demo, Profile), await count(demo, User)

    refused = [
        (await office.ok(CREATE_PROFILE, {"input": APPRENTICE}))["createProfile"],
        (await office.ok(UPDATE_PROFILE, {"id": "1", "input": {"editContact": False}}))[
            "updateProfile"],
        (await office.ok(CREATE_USER, {"input": {
            "name": "X", "email": "x@example.com", "password": "long-enough", "profileId": "1"}}))[
            "createUser"],
        (await office.ok(UPDATE_USER, {"id": tech["id"], "input": {"name": "Renamed"}}))[
            "updateUser"],
    ]

    assert [errors(payload) for payload in refused] == [[("PERMISSION_DENIED", None)]] * 4
    assert (await count(demo, Profile), await count(demo, User)) == (profiles, users)
    assert tech in (await office.ok(USERS))["users"]


async def test_a_new_profile_has_the_flags_and_layout_given_and_the_rest_off(admin):
    data = await admin.ok(CREATE_PROFILE, {"input": {**APPRENTICE, "showSmsErrors": True}})

    created = data["createProfile"]
    assert created["errors"] == []
    assert created["profile"] | {"id": None} == {
        "id": None, "name": "Apprentice", "editContact": False, "sendSmsToClient": False,
        "showSmsErrors": True, "globalAdministrator": False,
        "layout": {"appointmentContact": "READ_ONLY", "appointmentSmsReminder": "VISIBLE",
                   "clientSmsReminders": "HIDDEN"}}
    assert created["profile"] in (await admin.ok(PROFILES))["profiles"]


async def test_a_new_user_signs_in_and_their_profile_rules_apply(admin, anonymous):
    _, ana = await apprentice(admin, anonymous)
    entry = await a_time_entry_of_tech(ana)

    me = (await ana.ok(ME))["me"]
    sent = (await ana.ok(SEND, {"input": {"timeEntryId": entry, "body": "On my way"}}))["sendSms"]
    client = (await ana.ok(CREATE_CLIENT, {"input": {"name": "Ana's client",
                                                     "smsReminders": True}}))["createClient"]

    assert me == {"email": "ana@example.com",
                  "profile": {"name": "Apprentice", "sendSmsToClient": False}}
    assert errors(sent) == [("PERMISSION_DENIED", None)]
    assert errors(client) == [("PERMISSION_DENIED", None)] and client["client"] is None


async def test_a_profile_change_applies_to_its_users_next_request_with_the_same_token(
        admin, anonymous):
    apprentice_profile, ana = await apprentice(admin, anonymous)
    entry = await a_time_entry_of_tech(ana)
    refused = (await ana.ok(SEND, {"input": {"timeEntryId": entry, "body": "On my way"}}))

    changed = (await admin.ok(UPDATE_PROFILE, {"id": apprentice_profile, "input": {
        "sendSmsToClient": True, "layout": {"clientSmsReminders": "VISIBLE"}}}))["updateProfile"]
    sent = (await ana.ok(SEND, {"input": {"timeEntryId": entry, "body": "On my way"}}))["sendSms"]
    client = (await ana.ok(CREATE_CLIENT, {"input": {"name": "Ana's client",
                                                     "smsReminders": True}}))["createClient"]

    assert errors(refused["sendSms"]) == [("PERMISSION_DENIED", None)]
    assert changed["errors"] == []
    assert changed["profile"]["layout"] == {
        "appointmentContact": "READ_ONLY", "appointmentSmsReminder": "VISIBLE",
        "clientSmsReminders": "VISIBLE"}
    assert sent["errors"] == [] and sent["message"] == {"status": "QUEUED", "body": "On my way"}
    assert client["errors"] == [] and client["client"]["smsReminders"] is True


async def test_the_demo_technician_profile_edited_through_update_profile(admin, tech, anonymous):
    kelburn = await client_id(tech, "Kelburn")
    before = (await tech.ok(UPDATE_CLIENT, {"id": kelburn, "input": {"smsReminders": True}}))

    changed = (await admin.ok(UPDATE_PROFILE, {
        "id": await profile_id(admin, "Technician"),
        "input": {"layout": {"clientSmsReminders": "VISIBLE"}}}))["updateProfile"]
    after = (await tech.ok(UPDATE_CLIENT, {"id": kelburn, "input": {"smsReminders": True}}))

    assert errors(before["updateClient"]) == [("PERMISSION_DENIED", None)]
    assert changed["errors"] == []
    assert changed["profile"]["name"] == "Technician"
    assert after["updateClient"]["errors"] == []
    assert after["updateClient"]["client"]["smsReminders"] is True
    # The README's logins table still holds: every demo login signs in with its profile.
    for who, profile in [("admin", "Administrator"), ("office", "Office"),
                         ("tech", "Technician")]:
        me = (await (await anonymous.login(who)).ok(ME))["me"]
        assert me["profile"]["name"] == profile


@pytest.mark.parametrize("name", [None, "", "   "])
async def test_a_new_profile_needs_a_name(admin, demo, name):
    before = await count(demo, Profile)

    data = await admin.ok(CREATE_PROFILE, {"input": {**APPRENTICE, "name": name}})

    assert errors(data["createProfile"]) == [("INVALID_INPUT", "name")]
    assert data["createProfile"]["profile"] is None
    assert await count(demo, Profile) == before


async def test_profile_names_are_unique(admin, demo):
    before = await count(demo, Profile)

    created = await admin.ok(CREATE_PROFILE, {"input": {"name": "Office"}})
    renamed = await admin.ok(UPDATE_PROFILE, {"id": await profile_id(admin, "Technician"),
                                              "input": {"name": "Office"}})

    assert errors(created["createProfile"]) == [("INVALID_INPUT", "name")]
    assert errors(renamed["updateProfile"]) == [("INVALID_INPUT", "name")]
    assert await count(demo, Profile) == before
    assert await count(demo, Profile, Profile.name == "Technician") == 1


async def test_updating_an_unknown_profile_is_not_found(admin):
    data = await admin.ok(UPDATE_PROFILE, {"id": "987654", "input": {"editContact": True}})

    assert errors(data["updateProfile"]) == [("NOT_FOUND", "id")]


async def test_the_last_global_administrator_stays_one(admin, demo):
    administrator = await profile_id(admin, "Administrator")
    me = await user_id(admin, "admin@example.com")

    demoted = await admin.ok(UPDATE_PROFILE, {"id": administrator,
                                              "input": {"globalAdministrator": False}})
    moved = await admin.ok(UPDATE_USER, {"id": me, "input": {
        "profileId": await profile_id(admin, "Office")}})

    assert errors(demoted["updateProfile"]) == [("INVALID_INPUT", "globalAdministrator")]
    assert errors(moved["updateUser"]) == [("INVALID_INPUT", "profileId")]
    assert (await admin.ok(ME))["me"]["profile"]["name"] == "Administrator"
    assert await count(demo, Profile, Profile.global_administrator) == 1


# --- users --------------------------------------------------------------------------------------


async def test_any_signed_in_user_lists_every_user(tech):
    users = (await tech.ok(USERS))["users"]

    assert [(u["name"], u["email"], u["profile"]["name"]) for u in users] == [
        ("Grace Thompson", "office@example.com", "Office"),
        ("Priya Patel", "admin@example.com", "Administrator"),
        ("Tama Ruatapu", "tech@example.com", "Technician"),
    ]


async def test_users_need_signing_in(anonymous):
    body = await anonymous.post(USERS)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_new_users_email_is_normalised_and_signs_in_as_typed(admin, anonymous):
    data = await admin.ok(CREATE_USER, {"input": {
        "name": "  Wiremu  ", "email": "  Wiremu.K@Example.CO.NZ ", "password": "kia-ora-koutou",
        "profileId": await profile_id(admin, "Technician")}})

    assert data["createUser"]["errors"] == []
    assert data["createUser"]["user"] | {"id": None} == {
        "id": None, "name": "Wiremu", "email": "wiremu.k@example.co.nz",
        "profile": {"name": "Technician"}}
    wiremu = await sign_in(anonymous, "WIREMU.K@example.co.nz", "kia-ora-koutou")
    assert (await wiremu.ok(ME))["me"]["email"] == "wiremu.k@example.co.nz"


async def test_a_duplicate_email_is_refused_and_nothing_written(admin, demo):
    users = await count(demo, User)
    tech = await user_id(admin, "tech@example.com")

    created = await admin.ok(CREATE_USER, {"input": {
        "name": "Second Grace", "email": " OFFICE@example.com", "password": "long-enough",
        "profileId": await profile_id(admin, "Office")}})
    updated = await admin.ok(UPDATE_USER, {"id": tech, "input": {
        "name": "Renamed", "email": "Office@Example.com"}})

    assert errors(created["createUser"]) == [("INVALID_INPUT", "email")]
    assert "office@example.com" in created["createUser"]["errors"][0]["message"]
    assert errors(updated["updateUser"]) == [("INVALID_INPUT", "email")]
    assert await count(demo, User) == users
    assert await count(demo, User, User.email == "office@example.com") == 1
    assert await count(demo, User, User.name == "Renamed") == 0


@pytest.mark.parametrize("change,error", [
    ({"password": "seven.."}, ("INVALID_INPUT", "password")),
    ({"password": "        "}, ("INVALID_INPUT", "password")),
    ({"password": None}, ("INVALID_INPUT", "password")),
    ({"email": "not-an-address"}, ("INVALID_INPUT", "email")),
    ({"email": "two words@example.com"}, ("INVALID_INPUT", "email")),
    ({"email": None}, ("INVALID_INPUT", "email")),
    ({"name": " "}, ("INVALID_INPUT", "name")),
    ({"profileId": None}, ("INVALID_INPUT", "profileId")),
    ({"profileId": "987654"}, ("NOT_FOUND", "profileId")),
    ({"profileId": "not-an-id"}, ("INVALID_INPUT", "profileId")),
])
async def test_a_bad_new_user_is_refused_and_nothing_written(admin, demo, change, error):
    users = await count(demo, User)
    input = {"name": "New Person", "email": "new@example.com", "password": "long-enough",
             "profileId": await profile_id(admin, "Office"), **change}

    data = await admin.ok(CREATE_USER, {"input": input})

    assert errors(data["createUser"]) == [error]
    assert data["createUser"]["user"] is None
    assert await count(demo, User) == users


async def test_a_new_password_replaces_the_old_and_signs_the_user_out(admin, tech, anonymous):
    tech_id = await user_id(admin, "tech@example.com")

    short = await admin.ok(UPDATE_USER, {"id": tech_id, "input": {"password": "short"}})
    changed = await admin.ok(UPDATE_USER, {"id": tech_id, "input": {
        "password": "a-new-tech-password"}})

    assert errors(short["updateUser"]) == [("INVALID_INPUT", "password")]
    assert changed["updateUser"]["errors"] == []
    assert (await tech.post(ME))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    old = await anonymous.ok(LOGIN, {"email": "tech@example.com",
                                     "password": "tech-demo-password"})
    assert [e["code"] for e in old["login"]["errors"]] == ["UNAUTHENTICATED"]
    again = await sign_in(anonymous, "tech@example.com", "a-new-tech-password")
    assert (await again.ok(ME))["me"]["email"] == "tech@example.com"


async def test_a_user_moved_to_another_profile_has_it_on_the_next_request(admin, tech):
    tech_id = await user_id(admin, "tech@example.com")

    moved = await admin.ok(UPDATE_USER, {"id": tech_id, "input": {
        "profileId": await profile_id(admin, "Office"), "name": "Tama R."}})

    assert moved["updateUser"]["errors"] == []
    assert moved["updateUser"]["user"]["profile"] == {"name": "Office"}
    assert (await tech.ok(ME))["me"]["profile"]["name"] == "Office"


async def test_updating_an_unknown_user_is_not_found(admin):
    data = await admin.ok(UPDATE_USER, {"id": "987654", "input": {"name": "Ghost"}})

    assert errors(data["updateUser"]) == [("NOT_FOUND", "id")]


# --- new clients --------------------------------------------------------------------------------


async def test_a_new_client_has_sms_reminders_off_unless_asked(tech):
    data = await tech.ok(CREATE_CLIENT, {"input": {
        "name": "  Lyall Bay Surf Club ", "mobileCountryCode": "+64",
        "mobileNumber": "021 555 0177"}})

    created = data["createClient"]
    assert created["errors"] == []
    assert created["client"] | {"id": None} == {
        "id": None, "name": "Lyall Bay Surf Club", "active": True, "mobileCountryCode": "+64",
        "mobileNumber": "021 555 0177", "smsNumber": "+64215550177", "smsReminders": False}
    assert (await tech.ok(CLIENT, {"id": created["client"]["id"]}))["client"] == created["client"]


async def test_a_new_client_gets_sms_reminders_from_a_user_who_may_set_them(office, tech, demo):
    clients = await count(demo, Client)

    allowed = await office.ok(CREATE_CLIENT, {"input": {"name": "Office's", "smsReminders": True}})
    refused = await tech.ok(CREATE_CLIENT, {"input": {"name": "Tech's", "smsReminders": True}})
    unchanged = await tech.ok(CREATE_CLIENT, {"input": {"name": "Tech's", "smsReminders": False}})

    assert allowed["createClient"]["client"]["smsReminders"] is True
    assert errors(refused["createClient"]) == [("PERMISSION_DENIED", None)]
    assert unchanged["createClient"]["errors"] == []
    assert await count(demo, Client) == clients + 2


@pytest.mark.parametrize("code,number", [
    ("+64", "12345"), ("+1", "021 555 0177"), ("+64", "09 555 0123"), ("+64", ""),
])
async def test_a_new_client_refuses_a_mobile_as_update_client_does(office, demo, code, number):
    clients = await count(demo, Client)
    mobile = {"mobileCountryCode": code, "mobileNumber": number}
    harbourside = await client_id(office, "Harbourside")

    created = await office.ok(CREATE_CLIENT, {"input": {"name": "New client", **mobile}})
    updated = await office.ok(UPDATE_CLIENT, {"id": harbourside, "input": mobile})

    assert created["createClient"]["client"] is None
    assert created["createClient"]["errors"] != []
    assert created["createClient"]["errors"] == updated["updateClient"]["errors"]
    assert await count(demo, Client) == clients


@pytest.mark.parametrize("name", [None, "", "  "])
async def test_a_new_client_needs_a_name(office, demo, name):
    clients = await count(demo, Client)

    data = await office.ok(CREATE_CLIENT, {"input": {"name": name, "smsReminders": True}})

    assert errors(data["createClient"]) == [("INVALID_INPUT", "name")]
    assert await count(demo, Client) == clients


# --- jobs and tasks -----------------------------------------------------------------------------


async def test_a_job_shows_its_client_contact_and_tasks_in_order(tech):
    data = await tech.ok(JOB, {"id": await job_id(tech, "Grease trap")})

    assert data["job"] | {"id": None} == {
        "id": None, "title": "Grease trap replacement", "client": {"name": "Harbourside Cafe"},
        "contact": {"name": "Mere Tane"},
        "tasks": [{"name": "Remove old trap", "job": {"title": "Grease trap replacement"}},
                  {"name": "Install and test", "job": {"title": "Grease trap replacement"}}]}


async def test_an_unknown_job_is_null_and_a_job_may_have_no_tasks(tech):
    kitchen = await tech.ok(JOB, {"id": await job_id(tech, "Kitchen hot water tap")})

    assert kitchen["job"]["tasks"] == []
    assert (await tech.ok(JOB, {"id": "987654"}))["job"] is None


async def test_jobs_of_one_client(office):
    ponsonby = await client_id(office, "Ponsonby")

    data = await office.ok(JOBS, {"filter": {"clientId": ponsonby}})

    assert data["jobs"]["totalCount"] == 2
    assert [n["title"] for n in data["jobs"]["nodes"]] == [
        "Hot water cylinder replacement", "Leaking shower, Jervois Rd"]
    leak = await office.ok(JOBS, {"filter": {"clientId": ponsonby, "search": "LEAK"}})
    assert [n["title"] for n in leak["jobs"]["nodes"]] == ["Leaking shower, Jervois Rd"]


@pytest.mark.parametrize("search,titles", [
    ("hot water", ["Hot water cylinder replacement", "Kitchen hot water tap"]),
    ("DENTAL", ["Surgery rewiring"]),
    ("ponsonby", ["Hot water cylinder replacement", "Leaking shower, Jervois Rd"]),
    ("100%", []),
])
async def test_jobs_search_the_title_and_the_clients_name(tech, search, titles):
    data = await tech.ok(JOBS, {"filter": {"search": search}})

    assert [n["title"] for n in data["jobs"]["nodes"]] == titles
    assert data["jobs"]["totalCount"] == len(titles)


async def test_jobs_page_through_every_job_in_title_order(tech):
    pages, after = [], None
    while True:
        data = (await tech.ok(JOBS, {"first": 4, "after": after}))["jobs"]
        pages.append(data)
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert [len(p["nodes"]) for p in pages] == [4, 4, 1]
    assert {p["totalCount"] for p in pages} == {9}
    assert [n["title"] for p in pages for n in p["nodes"]] == ALL_JOBS


async def test_jobs_refuse_a_page_too_large_or_a_made_up_cursor(tech):
    too_large = await tech.post(JOBS, {"first": 201})
    made_up = await tech.post(JOBS, {"after": "not-a-cursor"})

    assert too_large["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert made_up["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


# --- time entries -------------------------------------------------------------------------------


async def test_the_office_reads_a_technicians_time_entries_and_each_reads_their_own(office, tech):
    tech_id = await user_id(office, "tech@example.com")

    theirs = (await office.ok(TIME_ENTRIES, {**recent(), "userId": tech_id}))["timeEntries"]
    own = (await tech.ok(TIME_ENTRIES, recent()))["timeEntries"]
    office_own = (await office.ok(TIME_ENTRIES, recent()))["timeEntries"]

    assert [(e["user"]["email"], e["job"]["title"]) for e in theirs] == [
        ("tech@example.com", "Grease trap replacement"),
        ("tech@example.com", "Air conditioning isolator")]
    assert theirs[0]["start"] < theirs[1]["start"]
    assert own == theirs
    assert office_own == []


async def test_time_entries_overlap_a_half_open_window_and_come_in_start_order(tech, demo):
    day = datetime(2031, 5, 6, tzinfo=UTC)

    def at(hour: int, minute: int = 0) -> datetime:
        return day + timedelta(hours=hour, minutes=minute)

    async with demo.begin() as session:
        tech_user = (await session.exec(select(User).where(User.email == "tech@example.com"))).one()
        office_user = (await session.exec(
            select(User).where(User.email == "office@example.com"))).one()
        job = (await session.exec(select(Job).order_by(Job.id))).first()
        spans = {"late": (at(11), at(12)), "middle": (at(10), at(11)), "early": (at(9), at(10)),
                 "long": (at(8), at(12))}
        rows = {name: TimeEntry(user_id=tech_user.id, job_id=job.id, start=start, end=end)
                for name, (start, end) in spans.items()}
        session.add_all([*rows.values(), TimeEntry(user_id=office_user.id, job_id=job.id,
                                                   start=at(10), end=at(11))])
    ids = {name: str(row.id) for name, row in rows.items()}

    async def entries(start: datetime, end: datetime) -> list[str]:
        data = await tech.ok(TIME_ENTRIES, {"start": start.isoformat(), "end": end.isoformat()})
        return [e["id"] for e in data["timeEntries"]]

    assert await entries(at(10), at(11)) == [ids["long"], ids["middle"]]
    assert await entries(at(9, 59), at(10, 1)) == [ids["long"], ids["early"], ids["middle"]]
    assert await entries(at(12), at(13)) == []
    assert await entries(at(7), at(8)) == []
    assert await entries(at(0), at(23)) == [
        ids["long"], ids["early"], ids["middle"], ids["late"]]


@pytest.mark.parametrize("start,end", [
    ("2031-05-06T10:00:00+00:00", "2031-05-06T10:00:00+00:00"),
    ("2031-05-06T11:00:00+00:00", "2031-05-06T10:00:00+00:00"),
    ("2031-05-06T10:00:00", "2031-05-06T11:00:00"),
])
async def test_time_entries_need_a_window_with_offsets_that_ends_after_it_starts(
        tech, start, end):
    body = await tech.post(TIME_ENTRIES, {"start": start, "end": end})

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
