"""Benchmark: every grid's pages at a million rows.

    .venv/bin/python -m bench.grids --database-url postgresql://postgres@127.0.0.1:5432
    .venv/bin/python -m bench.grids                  # SQLite, the same sizes
    .venv/bin/python -m bench.grids --quick          # 20,000 contacts and messages, 4,000 clients

Builds (once per run, in SQL) a company with `--clients` clients, `--contacts` contacts and
`--messages` messages over a year, with the numbers a real company has: valid and fixable
mobiles, landlines, words where a number should be, SMS numbers of their own, opted-out numbers,
failures. Each contact's stored number facts are set by pattern and checked against the phone
rules on a sample before anything is measured.

Then asks the API (in-process, as a Global Administrator with every permission) for pages of
the Contact Bulk Updates grid (every category, with and without a search), the client grid
(search, reminders filter), the SMS history (each filter, search) and the failure search,
each with its totalCount: a first page and the pages after it by cursor, `--requests` per case,
one at a time. Reports p50 and p99 per case against the targets (100 ms and 250 ms), and exits
1 when a case misses them on PostgreSQL or a sample's facts disagree with the rules.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.app import Services, create_app
from bench.figures import save
from bench.load import percentile
from bench.setup import add_company, add_users, database
from models.config import Settings
from models.contact_numbers import number_facts
from models.db import create_engine, session_factory

P50_MS, P99_MS = 100.0, 250.0
NOW = datetime(2031, 3, 3, tzinfo=UTC)
FIRST = (
    "Aroha",
    "Liam",
    "Mere",
    "Sarah",
    "Tom",
    "Hemi",
    "Anjali",
    "Wiremu",
    "Grace",
    "Noah",
    "Olivia",
    "Jack",
    "Isla",
    "Leo",
    "Ruby",
    "Mason",
    "Ava",
    "Hunter",
    "Mia",
    "Nikau",
)
LAST = (
    "Ngata",
    "O'Brien",
    "Tane",
    "Chen",
    "Fletcher",
    "Walker",
    "Rao",
    "Smith",
    "Wilson",
    "Taylor",
    "Brown",
    "Williams",
    "Jones",
    "Patel",
    "Singh",
    "Kim",
    "Nguyen",
    "Parata",
    "Henare",
    "Murphy",
)
TRADE = (
    "Plumbing",
    "Cafe",
    "Dental",
    "Motors",
    "Electrical",
    "Bakery",
    "Surgery",
    "Builders",
    "Roofing",
    "Gardens",
    "Villas",
    "Apartments",
    "Holdings",
    "Trust",
    "School",
    "Church",
    "Pharmacy",
    "Vets",
    "Joinery",
    "Storage",
)
# Contact number patterns, by id % 10: (mobile, phone, sms number) as SQL over the row's number
# `d` (seven digits). Their facts are worked out by the phone rules from one example each.
PATTERNS = {
    0: ("'021 ' || {d}", None, "'+6421' || {d}"),
    1: ("'021 ' || {d}", "'09 ' || {d}", "'+6421' || {d}"),
    2: ("'022 ' || {d}", None, "'+6422' || {d}"),
    3: ("'0064 27 ' || {d}", None, "'+6427' || {d}"),
    4: ("'0412 ' || substr({d}, 2)", None, "'+61412' || substr({d}, 2)"),
    5: ("'021 ' || {d}", None, "'+6422' || {d}"),
    6: ("'09 ' || {d}", None, None),
    7: (None, "'04 ' || {d}", None),
    8: ("'ring the office'", None, None),
    9: (None, None, None),
}


@dataclass
class Case:
    grid: str
    name: str
    query: str
    variables: dict
    connection: str


CONTACTS = """
query Grid($filter: ContactFilter, $after: String) {
  contactsForBulkUpdate(filter: $filter, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id name phone mobile smsNumber copyMobileToSms optedOut client { id name } }
  }
}
"""
CLIENTS = """
query Clients($filter: ClientFilter, $after: String) {
  clients(filter: $filter, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id name active mobileNumber smsNumber smsReminders optedOut }
  }
}
"""
HISTORY = """
query History($filter: SmsMessageFilter, $after: String) {
  smsMessages(filter: $filter, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id status source toNumber body createdAt errorMessage }
  }
}
"""
FAILURES = """
query Failures($recentOnly: Boolean, $after: String) {
  smsFailures(recentOnly: $recentOnly, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id status toNumber body createdAt errorMessage }
  }
}
"""


def client_name(n: int) -> str:
    """The name build gives client n."""
    return f"{LAST[n % len(LAST)]} {TRADE[n // 20 % len(TRADE)]} {n}"


def cases(clients: int, contacts: int) -> list[Case]:
    searches = {"surname": "Fletcher", "number": "55501", "trade": "Dental"}
    # Ten contacts' SMS numbers hold it: +6421 then the contact id in seven digits.
    a_number = f"21{contacts // 2:07d}"[:-1]
    a_client = client_name(clients // 7).split(" ", 1)[1]
    found = [
        Case(
            "Contact Bulk Updates",
            f"{category.lower()}",
            CONTACTS,
            {"filter": {"category": category}},
            "contactsForBulkUpdate",
        )
        for category in (
            "ALL",
            "MISSING_SMS_NUMBER",
            "INVALID_NUMBER",
            "SMS_DIFFERS_FROM_MOBILE",
            "OPTED_OUT",
        )
    ]
    found += [
        Case(
            "Contact Bulk Updates",
            f"{category.lower()}, search {what}",
            CONTACTS,
            {"filter": {"category": category, "search": term}},
            "contactsForBulkUpdate",
        )
        for category in ("ALL", "INVALID_NUMBER")
        for what, term in (("surname", searches["surname"]), ("number", searches["number"]))
    ]
    found += [
        Case("clients", "all", CLIENTS, {}, "clients"),
        Case(
            "clients", "search trade", CLIENTS, {"filter": {"search": searches["trade"]}}, "clients"
        ),
        Case("clients", "reminders on", CLIENTS, {"filter": {"smsReminders": True}}, "clients"),
        Case(
            "clients",
            "reminders off, search",
            CLIENTS,
            {"filter": {"smsReminders": False, "search": "Walker"}},
            "clients",
        ),
    ]
    week = {"from": (NOW - timedelta(days=7)).isoformat(), "to": NOW.isoformat()}
    found += [
        Case("SMS history", "all", HISTORY, {}, "smsMessages"),
        Case(
            "SMS history",
            "status FAILED",
            HISTORY,
            {"filter": {"status": ["FAILED"]}},
            "smsMessages",
        ),
        Case(
            "SMS history",
            "source REMINDER",
            HISTORY,
            {"filter": {"source": ["REMINDER"]}},
            "smsMessages",
        ),
        Case("SMS history", "last 7 days", HISTORY, {"filter": week}, "smsMessages"),
        Case(
            "SMS history",
            "one client",
            HISTORY,
            {"filter": {"clientId": str(clients // 3)}},
            "smsMessages",
        ),
        Case(
            "SMS history",
            "one appointment",
            HISTORY,
            {"filter": {"appointmentId": "77"}},
            "smsMessages",
        ),
        Case(
            "SMS history",
            "search client name",
            HISTORY,
            {"filter": {"search": a_client}},
            "smsMessages",
        ),
        Case(
            "SMS history", "search number", HISTORY, {"filter": {"search": a_number}}, "smsMessages"
        ),
        Case("failure search", "recent (5 days)", FAILURES, {"recentOnly": True}, "smsFailures"),
        Case("failure search", "all", FAILURES, {"recentOnly": False}, "smsFailures"),
    ]
    return found


def digits(dialect: str, expression: str) -> str:
    if dialect == "postgresql":
        return f"lpad(({expression})::text, 7, '0')"
    return f"printf('%07d', {expression})"


def moment(dialect: str, seconds_before: str) -> str:
    """NOW minus an SQL number of seconds, as each database stores an aware datetime."""
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '{NOW.isoformat()}' - ({seconds_before}) * INTERVAL '1 second')"
    at = NOW.strftime("%Y-%m-%d %H:%M:%S")
    shift = f"(-({seconds_before})) || ' seconds'"
    return f"(strftime('%Y-%m-%d %H:%M:%S', '{at}', {shift}) || '.000000')"


def numbers(n: int) -> str:
    return (
        f"WITH RECURSIVE numbers(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL "
        f"SELECT i + 1 FROM numbers WHERE i < {n}) "
    )


def word(words: tuple[str, ...], expression: str) -> str:
    cases = " ".join(
        f"WHEN {k} THEN '{w.replace(chr(39), chr(39) * 2)}'" for k, w in enumerate(words)
    )
    return f"(CASE ({expression}) % {len(words)} {cases} END)"


def pattern_facts() -> dict[int, tuple[bool, bool]]:
    """The facts of each contact number pattern, from the rules, for an example of it."""
    example = "5550123"
    facts = {}
    for key, (mobile, _, sms) in PATTERNS.items():
        values = [
            None if part is None else eval_sql(part.format(d=f"'{example}'"))
            for part in (mobile, sms)
        ]
        facts[key] = number_facts(*values)
    return facts


def eval_sql(expression: str) -> str:
    """A pattern's text for one example: only '…' literals, || and substr(x, 2) appear."""
    result = ""
    for part in expression.split(" || "):
        part = part.strip()
        if part.startswith("substr("):
            result += part[len("substr(") : -len(", 2)")].strip("'")[1:]
        else:
            result += part.strip("'")
    return result


async def build(
    connection: AsyncConnection, clients: int, contacts: int, messages: int, user_id: int
) -> None:
    dialect = connection.dialect.name
    true = "true" if dialect == "postgresql" else "1"
    false = "false" if dialect == "postgresql" else "0"
    d = digits(dialect, "i % 10000000")
    await connection.execute(
        text(
            numbers(clients) + "INSERT INTO client (id, name, active, mobile_country_code, "
            "mobile_number, sms_number, sms_reminders) SELECT i, "
            f"{word(LAST, 'i')} || ' ' || {word(TRADE, 'i / 20')} || ' ' || i, "
            f"CASE WHEN i % 20 = 0 THEN {false} ELSE {true} END, "
            "CASE WHEN i % 4 = 0 THEN NULL ELSE '+64' END, "
            f"CASE WHEN i % 4 = 0 THEN NULL ELSE '21 ' || {d} END, "
            f"CASE WHEN i % 4 = 0 THEN NULL ELSE '+6421' || {d} END, "
            f"CASE WHEN i % 3 = 0 THEN {true} ELSE {false} END FROM numbers"
        )
    )
    facts = pattern_facts()

    def of_pattern(index: int) -> str:
        part = [PATTERNS[k][index] for k in range(10)]
        whens = " ".join(
            f"WHEN {k} THEN {'NULL' if p is None else p.format(d=d)}" for k, p in enumerate(part)
        )
        return f"(CASE i % 10 {whens} END)"

    def fact(index: int) -> str:
        ids = [k for k, f in facts.items() if f[index]]
        return f"CASE WHEN i % 10 IN ({', '.join(map(str, ids))}) THEN {true} ELSE {false} END"

    await connection.execute(
        text(
            numbers(contacts) + "INSERT INTO contact (id, client_id, name, active, mobile, phone, "
            "sms_number, invalid_number, sms_differs_from_mobile) SELECT i, "
            f"1 + (i * 7919) % {clients}, {word(FIRST, 'i')} || ' ' || {word(LAST, 'i / 20')}, "
            f"CASE WHEN i % 25 = 0 THEN {false} ELSE {true} END, "
            f"{of_pattern(0)}, {of_pattern(1)}, {of_pattern(2)}, {fact(0)}, {fact(1)} FROM numbers"
        )
    )
    await connection.execute(
        text(
            "INSERT INTO opt_out (number, opted_out, method, opted_out_at) "
            f"SELECT DISTINCT sms_number, {true}, 'KEYWORD', {moment(dialect, '86400')} "
            "FROM contact WHERE id % 97 = 0 AND sms_number IS NOT NULL"
        )
    )
    await connection.execute(
        text(
            f"UPDATE contact SET opted_out = {true} WHERE sms_number IN "
            f"(SELECT number FROM opt_out WHERE opted_out = {true})"
        )
    )
    jobs = max(1, messages // 20)
    await connection.execute(
        text(
            numbers(jobs) + "INSERT INTO job (id, client_id, title) "
            f"SELECT i, 1 + i % {clients}, 'Job ' || i FROM numbers"
        )
    )
    await connection.execute(
        text(
            numbers(jobs) + 'INSERT INTO appointment (id, user_id, job_id, start, "end", '
            f"sms_reminder) SELECT i, {user_id}, i, {moment(dialect, 'i * 600')}, "
            f"{moment(dialect, 'i * 600 - 3600')}, {true} FROM numbers"
        )
    )
    # One message every 31.5 s back over a year; each to a contact of its client.
    status = "CASE WHEN i % 40 = 0 THEN 'FAILED' WHEN i % 40 = 1 THEN 'SENT' ELSE 'DELIVERED' END"
    source = "CASE i % 3 WHEN 0 THEN 'APP' WHEN 1 THEN 'PROFESSIONAL' ELSE 'REMINDER' END"
    contact = f"(1 + (i * 104729) % {contacts})"
    client = f"(1 + ({contact} * 7919) % {clients})"
    to = f"'+6421' || {digits(dialect, f'{contact} % 10000000')}"
    body = (
        f"'Hi from ' || {word(LAST, client)} || ' ' || {word(TRADE, f'{client} / 20')} || "
        f"' ' || {client} || ': your visit is confirmed. Reply C to confirm, R to reschedule.'"
    )
    await connection.execute(
        text(
            numbers(messages) + "INSERT INTO sms_message (id, to_number, body, status, "
            "error_code, error_message, source, recipient_kind, recipient_id, client_id, "
            "appointment_id, job_id, segments, encoding, attempts, created_at, updated_at) "
            "SELECT i, "
            f"{to}, {body}, {status}, CASE WHEN i % 40 = 0 THEN '30003' END, "
            "CASE WHEN i % 40 = 0 THEN 'The handset is switched off or unreachable.' END, "
            f"{source}, 'CONTACT', {contact}, {client}, "
            f"CASE WHEN i % 20 = 0 THEN i / 20 END, CASE WHEN i % 20 = 0 THEN i / 20 END, "
            f"1, 'GSM-7', 1, {moment(dialect, 'i * 31.5')}, {moment(dialect, 'i * 31.5')} "
            "FROM numbers"
        )
    )
    await connection.execute(
        text(
            "INSERT INTO sms_message_appointment (message_id, appointment_id) "
            "SELECT id, appointment_id FROM sms_message WHERE appointment_id IS NOT NULL"
        )
    )
    if dialect == "postgresql":
        for table in ("client", "contact", "opt_out", "job", "appointment", "sms_message"):
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )


async def sample_agrees(connection: AsyncConnection, size: int = 2000) -> int:
    """How many of a random sample's stored facts disagree with the phone rules."""
    rows = (
        await connection.execute(
            text(
                "SELECT mobile, sms_number, invalid_number, sms_differs_from_mobile FROM contact "
                f"ORDER BY random() LIMIT {size}"
            )
        )
    ).all()
    return sum(number_facts(m, s) != (bool(i), bool(d)) for m, s, i, d in rows)


async def measure(http: httpx.AsyncClient, token: str, case: Case, requests: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    took: list[float] = []
    after, total = None, None
    for _ in range(requests + 1):
        variables = {**case.variables, "after": after}
        started = time.perf_counter()
        response = await http.post(
            "/graphql", json={"query": case.query, "variables": variables}, headers=headers
        )
        elapsed = time.perf_counter() - started
        body = response.json()
        if "errors" in body:
            raise SystemExit(f"{case.grid} {case.name}: {body['errors']}")
        page = body["data"][case.connection]
        if total is None:
            total = page["totalCount"]  # the first request also warms the caches: not counted
        else:
            took.append(elapsed * 1000)
        info = page["pageInfo"]
        after = info["endCursor"] if info["hasNextPage"] else None
    p50, p99 = percentile(took, 0.5), percentile(took, 0.99)
    return {
        "grid": case.grid,
        "case": case.name,
        "rows": total,
        "p50 ms": p50,
        "p99 ms": p99,
        "within": "yes" if p50 < P50_MS and p99 < P99_MS else "NO",
    }


async def run(url: str, args: argparse.Namespace) -> list[dict]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    profile = await add_company(sessions)
    [admin] = await add_users(sessions, profile, 1, prefix="admin")
    started = time.perf_counter()
    async with engine.begin() as connection:
        await build(connection, args.clients, args.contacts, args.messages, admin.user_id)
    built = time.perf_counter() - started
    # VACUUM as autovacuum would soon after a bulk load: statistics, and the visibility map that
    # lets a count read an index alone.
    maintenance = create_engine(url, isolation_level="AUTOCOMMIT")
    async with maintenance.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        await connection.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
        disagreeing = await sample_agrees(connection)
    await maintenance.dispose()
    print(
        f"built in {built:.0f} s, vacuumed in {time.perf_counter() - started - built:.0f} s; "
        f"{disagreeing} of 2,000 sampled contacts' facts disagree with the rules",
        file=sys.stderr,
    )
    if disagreeing:
        raise SystemExit(1)
    settings = Settings(database_url=url, environment="production", _env_file=None)
    app = create_app(services=Services(settings, engine, sessions, None, None))
    rows = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
    ) as http:
        for case in cases(args.clients, args.contacts):
            row = await measure(http, admin.token, case, args.requests)
            print(
                f"  {row['grid']}, {row['case']}: p50 {row['p50 ms']:.1f} ms, "
                f"p99 {row['p99 ms']:.1f} ms",
                file=sys.stderr,
            )
            rows.append(row)
    await engine.dispose()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a postgresql:// server (default: SQLite)")
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="measured pages per case")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database (to EXPLAIN its queries)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.contacts, args.messages, args.requests = 4_000, 20_000, 20_000, 5
    random.seed(1)
    with database(args.database_url, "timetrak_bench_grids", keep=args.keep) as url:
        rows = asyncio.run(run(url, args))
    kind = "postgresql" if args.database_url else "sqlite"
    save(
        f"grids-{kind}",
        rows,
        database=kind,
        clients=args.clients,
        contacts=args.contacts,
        messages=args.messages,
        requests=args.requests,
        targets={"p50 ms": P50_MS, "p99 ms": P99_MS},
    )
    missed = [r for r in rows if r["within"] != "yes"]
    return 1 if missed and kind == "postgresql" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
