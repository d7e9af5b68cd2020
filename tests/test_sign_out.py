"""Signing out revokes the one token, and the daily job deletes expired tokens."""

from __future__ import annotations

from datetime import timedelta

from arq.connections import RedisSettings
from arq.worker import Worker
from sqlmodel import select

import jobs.tokens
from jobs.worker import WorkerSettings
from models import AuthToken, User
from models.accounts import token_digest
from models.channels import DELETE_EXPIRED_TOKENS_JOB
from models.columns import utcnow

LOGOUT = "mutation { logout { errors { code message } } }"
ME = "{ me { email } }"


async def test_logout_revokes_only_the_token_it_was_called_with(anonymous):
    # Given the same user signed in twice
    phone = await anonymous.login("office")
    laptop = await anonymous.login("office")

    # When one signs out
    answer = await phone.ok(LOGOUT)

    # Then that token is refused, and the other still works
    assert answer["logout"]["errors"] == []
    refused = await phone.post(ME)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await laptop.ok(ME))["me"]["email"] == "office@example.com"
    again = await phone.post(LOGOUT)
    assert again["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_logout_needs_a_token(anonymous):
    body = await anonymous.post(LOGOUT)

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def drain_token_job(settings) -> None:
    """A real worker, in burst mode, running the daily job as the deployed worker has it."""
    worker = Worker(
        functions=[],
        cron_jobs=[c for c in WorkerSettings.cron_jobs if c.name == DELETE_EXPIRED_TOKENS_JOB],
        burst=True, redis_settings=RedisSettings.from_dsn(settings.redis_url),
        on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown,
        handle_signals=False, poll_delay=0.05, ctx={"settings": settings},
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_the_daily_job_deletes_expired_tokens_only_in_batches(
        services, demo, monkeypatch):
    # Given tokens that have expired and tokens that have not, more expired than one batch
    monkeypatch.setattr(jobs.tokens, "BATCH", 2)
    now = utcnow()
    async with demo.begin() as session:
        user = (await session.exec(select(User))).first()
        for n, expires in enumerate([-30, -1, -(1 / 60), 1 / 60, 30 * 24 * 60]):
            session.add(AuthToken(user_id=user.id, token_hash=token_digest(f"token-{n}"),
                                  expires_at=now + timedelta(minutes=expires)))

    # When the job runs, twice (arq may run a job more than once)
    left = []
    for _ in range(2):
        assert await services.queue.enqueue_job(DELETE_EXPIRED_TOKENS_JOB)
        await drain_token_job(services.settings)
        async with demo() as session:
            left.append(set((await session.exec(select(AuthToken.token_hash))).all()))

    # Then the first run deletes every expired one, over two batches, and only those
    assert left == [{token_digest("token-3"), token_digest("token-4")}] * 2


def test_the_job_is_scheduled_once_a_day_and_unique():
    (job,) = [c for c in WorkerSettings.cron_jobs if c.name == DELETE_EXPIRED_TOKENS_JOB]

    assert job.unique
    assert isinstance(job.hour, int) and isinstance(job.minute, int)
