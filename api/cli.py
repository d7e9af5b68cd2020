"""The timetrak-sms command: serve the API, run the worker, and look after the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import uvicorn
from sqlalchemy.engine import make_url
from sqlmodel import select

import migrations
from api import logs
from api.embedded_redis import EmbeddedRedis, resolve_redis_url
from models import Profile, User
from models.accounts import hash_password
from models.backfill import BackfillCounts, backfill_sms_numbers
from models.config import Settings, get_settings, local_address
from models.db import Sessions, create_engine, session_factory
from models.demo import DEMO_LOGINS, seed_demo
from models.errors import DomainError
from models.names import required_name
from models.outages import is_outage
from models.people import check_email, check_password, free_email

if TYPE_CHECKING:
    from jobs.steady_worker import Outage

T = TypeVar("T")


class CommandError(Exception):
    """A command refused to go on; the message is printed and the exit status is 1."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    try:
        return args.run(args) or 0
    except CommandError as error:
        print(f"timetrak-sms {args.command}: {error}", file=sys.stderr)
        return 1


def serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    if settings.environment == "development" and not args.no_seed:
        _seed(settings)
    try:
        redis_url, embedded = resolve_redis_url(settings)
    except RuntimeError as error:
        raise CommandError(str(error)) from None
    try:
        # The app reads its settings through get_settings(), so hand it the embedded server and
        # the address Twilio signs its webhooks for there.
        os.environ["REDIS_URL"] = redis_url
        os.environ["PUBLIC_BASE_URL"] = settings.listening_on(args.host, args.port).public_base_url
        if embedded is not None:
            os.environ["EMBEDDED_WORKER"] = "true"
        processes = args.workers or default_processes(settings)
        shared = share_between_processes() if processes > 1 else None
        get_settings.cache_clear()
        lines = startup_lines(get_settings(), local_address(args.host, args.port), embedded)
        for line in [*lines, f"API processes: {processes}"]:
            print(line, file=sys.stderr)
        uvicorn.run(
            "api.app:served",
            factory=True,
            host=args.host,
            port=args.port,
            log_config=None,
            workers=processes,
        )
    finally:
        if embedded is not None:
            embedded.stop()
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def default_processes(settings: Settings) -> int:
    """One API process per core in production; one in development, where a single process is
    easier to follow and reloads faster."""
    return cores() if settings.production else 1


def cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: those it may run on, no more than a container's CPU
    quota (cgroup v2's cpu.max) allows."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    count = len(usable) if usable else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return count


def share_between_processes() -> str:
    """A folder for what the API processes share: their Prometheus counts, and the lock that
    chooses the one with the embedded worker. Removed when `serve` stops."""
    folder = tempfile.mkdtemp(prefix="timetrak-sms-serve-")
    metrics = os.path.join(folder, "metrics")
    os.mkdir(metrics)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
    os.environ["EMBEDDED_WORKER_LOCK"] = os.path.join(folder, "embedded-worker.lock")
    return folder


def startup_lines(settings: Settings, address: str, embedded: EmbeddedRedis | None) -> list[str]:
    """What `serve` says before it starts: where to go, and what it is running with."""
    page = "GraphiQL" if settings.environment == "development" else "GraphQL"
    redis = (
        f"embedded, {settings.redis_url} ({embedded.binary}), with a worker in this process"
        if embedded is not None
        else _without_password(settings.redis_url or "")
    )
    lines = [
        f"{page}: {address}/graphql",
        f"Database: {_without_password(settings.database_url)}",
        f"Redis: {redis}",
    ]
    if settings.sms_provider != "twilio":
        return [*lines, "SMS provider: log (messages are written to the log, not sent)"]
    base = settings.public_base_url.rstrip("/")
    lines += [
        f"SMS provider: twilio, from {settings.twilio_from_number or '(TWILIO_FROM_NUMBER unset)'}",
        "Twilio webhooks (PUBLIC_BASE_URL; Twilio signs its requests for these addresses):",
        f"  A message comes in: {base}/webhooks/twilio/inbound",
        f"  Status callback:    {base}/webhooks/twilio/status",
    ]
    if urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1"):
        lines.append("  Twilio cannot reach this machine's own address: set PUBLIC_BASE_URL.")
    return lines


# Query parameters a database or Redis URL may carry a credential in.
_SECRET_PARAMETERS = frozenset({"password", "passwd", "pass", "secret", "token", "sslpassword"})


def _without_password(url: str) -> str:
    """The URL to print: no password, whether in the address or in its query string."""
    parsed = make_url(url)
    hidden = {k: "***" for k in parsed.query if k.lower() in _SECRET_PARAMETERS}
    shown = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", "***")


def worker(args: argparse.Namespace) -> int:
    """Runs until a signal: an outage of Redis or the database, even at start, is waited out."""
    settings = get_settings()
    if not settings.redis_url:
        # An embedded Redis here would be a different server from the API's: no job would arrive.
        raise CommandError("set REDIS_URL to the Redis the API uses; a separate worker needs it.")
    # Imported here so other commands work without jobs/.
    from api import telemetry
    from api.metrics import WorkerMetrics
    from jobs.steady_worker import Outage
    from jobs.worker import build_worker

    telemetry.start(settings, service="timetrak-sms-worker")
    metrics = None
    if args.metrics_port is not None:
        try:
            metrics = WorkerMetrics(settings, args.metrics_host, args.metrics_port).start()
        except OSError as error:
            raise CommandError(f"no metrics on port {args.metrics_port}: {error}") from None
    try:
        _migrate_when_reachable(settings.database_url, Outage("database"))
        # Migrating ran an event loop of its own and closed it, leaving none current; arq's
        # Worker asks for the current one when it is built.
        asyncio.set_event_loop(asyncio.new_event_loop())
        build_worker(settings).run()
    finally:
        if metrics is not None:
            metrics.stop()
    return 0


def _migrate_when_reachable(database_url: str, outage: Outage) -> None:
    while True:
        try:
            migrations.upgrade(database_url)
        except Exception as error:
            if not is_outage(error):
                raise
            time.sleep(outage.failed(error))
        else:
            outage.over()
            return


def migrate(args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    print(f"Migrated {_without_password(settings.database_url)}.")
    return 0


def seed(args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    _seed(settings)
    return 0


def create_user(args: argparse.Namespace) -> int:
    password = args.password if args.password is not None else getpass.getpass("Password: ")
    profile_name = args.profile or ("Administrator" if args.admin else "Staff")
    try:
        email, name = check_email(args.email), required_name(args.name)
        check_password(password)
        profile = _with_sessions(
            get_settings(),
            lambda sessions: _add_user(sessions, email, name, password, profile_name, args.admin),
        )
    except DomainError as error:
        raise CommandError(error.message) from None
    print(f"Created user {email} with profile {profile}.")
    return 0


def backfill(args: argparse.Namespace) -> int:
    def progress(counts: BackfillCounts) -> None:
        print(f"checked {counts.seen} contacts: {_counts(counts)}", file=sys.stderr, flush=True)

    counts = _with_sessions(
        get_settings(),
        lambda sessions: backfill_sms_numbers(sessions, args.batch_size, progress),
    )
    print(_counts(counts))
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from schema import schema  # imported here so other commands work without schema/

    print(schema.as_str())
    return 0


def _seed(settings: Settings) -> None:
    if not _with_sessions(settings, seed_demo):
        print("Demo data already present.", file=sys.stderr)
        return
    logins = ", ".join(f"{email} / {password}" for email, password in DEMO_LOGINS.items())
    print(f"Demo data added. Sign in as {logins}.", file=sys.stderr)


async def _add_user(
    sessions: Sessions, email: str, name: str, password: str, profile_name: str, admin: bool
) -> str:
    """The new user's profile name; the profile is made when no profile has that name."""
    async with sessions.begin() as session:
        await free_email(session, email)
        profile = (await session.exec(select(Profile).where(Profile.name == profile_name))).first()
        if profile is None:
            profile = Profile(
                name=profile_name,
                global_administrator=admin,
                edit_contact=admin,
                send_sms_to_client=admin,
                show_sms_errors=admin,
            )
            session.add(profile)
            await session.flush()
        elif admin and not profile.global_administrator:
            raise CommandError(f"profile {profile_name!r} is not a Global Administrator profile.")
        session.add(
            User(
                email=email, name=name, password_hash=hash_password(password), profile_id=profile.id
            )
        )
    return profile.name


def _with_sessions(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _counts(counts: BackfillCounts) -> str:
    return (
        f"set {counts.set}, already set {counts.already_set}, "
        f"no usable number {counts.no_usable_number}"
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="timetrak-sms", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run, command=name)
        return sub

    sub = command("serve", serve, "Migrate, seed demo data in development, and serve the API.")
    sub.add_argument("--host", default="127.0.0.1")
    sub.add_argument("--port", type=int, default=8000)
    sub.add_argument("--no-seed", action="store_true", help="Do not add the demo data.")
    sub.add_argument(
        "--workers",
        type=positive,
        help="API processes (default: one per core in production, one otherwise); with the "
        "embedded Redis, only one of them runs the worker.",
    )
    sub = command("worker", worker, "Migrate, then run the arq worker (needs REDIS_URL).")
    sub.add_argument(
        "--metrics-port",
        type=int,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (METRICS_TOKEN applies).",
    )
    sub.add_argument(
        "--metrics-host", default="127.0.0.1", help="Address for --metrics-port (127.0.0.1)."
    )
    command("migrate", migrate, "Bring the database schema up to date.")
    command("seed-demo", seed, "Migrate and add the demo company, unless already present.")
    sub = command("create-user", create_user, "Add a user who can sign in.")
    sub.add_argument("--email", required=True)
    sub.add_argument("--name", required=True)
    sub.add_argument("--password", help="Asked for when left out.")
    sub.add_argument("--profile", help="Profile name; made when no profile has that name.")
    sub.add_argument(
        "--admin", action="store_true", help="Give the user a Global Administrator profile."
    )
    sub = command(
        "backfill-sms-numbers",
        backfill,
        "Give contacts without an SMS number one from their mobile or phone.",
    )
    sub.add_argument("--batch-size", type=_positive, default=2000)
    command("export-schema", export_schema, "Print the GraphQL schema (SDL).")
    return parser


if __name__ == "__main__":
    sys.exit(main())
