"""Benchmark: how long a signed-in user's query waits while a burst of wrong passwords is checked.

    .venv/bin/python -m bench.login_burst [--quick] [--burst 16] [--rounds 10]
                                          [--database-url postgresql://...]

The API runs under uvicorn in a process of its own (one worker, ENVIRONMENT=production), with a
Redis of its own for the sign-in limits. Each round sends `--burst` wrong-password logins at
once (each for another address, none limited) while one other user sends `{ me { id } }` back
to back; the figures are that query's delays during the bursts, against the same query with
nothing else going on. `inline` serves the same app with argon2 on the event loop, as before
sign-in moved it to threads of its own: the comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import httpx
from starlette.applications import Starlette

from api.app import create_app
from api.embedded_redis import EmbeddedRedis
from bench import load
from bench.load import percentile, servers, table, write_results
from bench.setup import add_company, add_users, database
from models.db import create_engine, session_factory

LOGIN = 'mutation($e: String!) { login(input: {email: $e, password: "wrong"}) { errors { code } } }'
ME = "{ me { id } }"
APPS = {"threads": "api.app:create_app", "inline": "bench.login_burst:inline_hashing_app"}


def inline_hashing_app() -> Starlette:
    """The app with argon2 run on the event loop, as sign-in did before."""
    import models.accounts

    async def inline(function, *args):
        return function(*args)

    models.accounts._off_loop = inline
    return create_app()


async def make_user(url: str) -> str:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        (user,) = await add_users(sessions, await add_company(sessions), 1)
        return user.token
    finally:
        await engine.dispose()


async def me(http: httpx.AsyncClient, token: str) -> float:
    asked = time.perf_counter()
    response = await http.post(
        "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.json()["data"]["me"]["id"], response.text
    return time.perf_counter() - asked


async def guess(http: httpx.AsyncClient, n: int) -> None:
    response = await http.post(
        "/graphql", json={"query": LOGIN, "variables": {"e": f"guess{n}@bench.example"}}
    )
    code = response.json()["data"]["login"]["errors"][0]["code"]
    assert code == "UNAUTHENTICATED", response.text


async def run(base: str, token: str, burst: int, rounds: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=burst + 4)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        quiet = [await me(http, token) for _ in range(100)]
        during: list[float] = []
        bursts: list[float] = []
        sequence = 0
        for _ in range(rounds):
            started = time.perf_counter()
            guesses = asyncio.gather(*(guess(http, sequence + n) for n in range(burst)))
            sequence += burst
            pending = asyncio.ensure_future(guesses)
            while not pending.done():
                during.append(await me(http, token))
            await pending
            bursts.append(time.perf_counter() - started)
    return {
        "quiet_p50_ms": ms(statistics.median(quiet)),
        "quiet_p99_ms": ms(percentile(quiet, 0.99)),
        "during_p50_ms": ms(statistics.median(during)),
        "during_p99_ms": ms(percentile(during, 0.99)),
        "during_max_ms": ms(max(during)),
        "queries_during": len(during),
        "burst_seconds": round(statistics.median(bursts), 2),
        "logins_per_second": round(burst * rounds / sum(bursts), 1),
    }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    name = (
        "login_burst"
        + ("-postgresql" if args.database_url else "")
        + ("-quick" if args.quick else "")
    )
    figures: dict[str, Any] = {"burst": args.burst, "rounds": rounds}
    with EmbeddedRedis() as redis, database(args.database_url, "bench_login_burst") as url:
        token = asyncio.run(make_user(url))
        # Its own Redis rather than the shared one bench.load names; every burst from one
        # address, so that address's limit is lifted (the e-mail addresses differ anyway).
        load.SERVER_ENV.update({"REDIS_URL": redis.url, "SIGN_IN_FAILURES_PER_CLIENT": str(10**9)})
        with servers(APPS, url, log_prefix="login_burst") as running:
            for app, server in running.items():
                figures[app] = asyncio.run(run(server.base, token, args.burst, rounds))
    headers = [
        "hashing",
        "quiet p50 ms",
        "quiet p99 ms",
        "burst p50 ms",
        "burst p99 ms",
        "burst max ms",
        "queries",
        "burst s",
        "logins/s",
    ]
    print(table(headers, [[app, *figures[app].values()] for app in APPS]))
    print(f"\nwritten to {write_results(name, figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
