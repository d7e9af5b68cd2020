"""The send pipeline as deployed, in processes of its own: a fake Twilio and arq send workers."""

from __future__ import annotations

import logging.config
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class FakeProvider:
    """tests/fake_twilio.FakeTwilio in a process of its own, answering after `delay` seconds."""

    delay: float = 0.0
    # One To number in this many (by its digits) refused as invalid (21211); None: none.
    refuse_one_in: int | None = None
    port: int = 0
    process: BaseProcess | None = None
    _pipe: Connection | None = None

    def __enter__(self) -> FakeProvider:
        self._pipe, child = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=_serve_fake, args=(self.delay, self.refuse_one_in, child), daemon=True
        )
        self.process.start()
        self.port = self._pipe.recv()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> int:
        self._pipe.send("count")
        return self._pipe.recv()

    def __exit__(self, *_) -> None:
        self._pipe.send("stop")
        self.process.join(timeout=15)


def _serve_fake(delay: float, refuse_one_in: int | None, pipe: Connection) -> None:
    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio(delay=delay, refuse_one_in=refuse_one_in).start()
    pipe.send(fake.port)
    while pipe.recv() == "count":
        pipe.send(len(fake.received))
    fake.stop()


def provider_settings(database_url: str, redis_url: str, api_base: str) -> dict:
    from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

    return dict(
        database_url=database_url,
        redis_url=redis_url,
        sms_provider="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        twilio_api_base=api_base,
        environment="test",
    )


@dataclass
class SendWorkers:
    """`count` arq worker processes running the real send job (no crons) from one queue."""

    settings: dict
    queue: str
    count: int = 2
    max_jobs: int | None = None
    poll_delay: float | None = None
    # When set, each worker runs under cProfile (CPU time) and dumps its stats here.
    profile_to: str | None = None
    log_dir: str = "/tmp/timetrak-bench"
    processes: list[BaseProcess] = field(default_factory=list)

    def __enter__(self) -> SendWorkers:
        os.makedirs(self.log_dir, exist_ok=True)
        ready = [SPAWN.Event() for _ in range(self.count)]
        for i, event in enumerate(ready):
            log = os.path.join(self.log_dir, f"worker-{self.queue.replace(':', '-')}-{i}.log")
            process = SPAWN.Process(
                target=_run_worker,
                daemon=True,
                args=(
                    self.settings,
                    self.queue,
                    self.max_jobs,
                    self.poll_delay,
                    event,
                    log,
                    f"{self.profile_to}.{i}" if self.profile_to else None,
                ),
            )
            process.start()
            self.processes.append(process)
        for event in ready:
            if not event.wait(60):
                raise RuntimeError("an arq worker did not start")
        return self

    def __exit__(self, *_) -> None:
        for process in self.processes:
            process.terminate()  # SIGTERM: arq finishes shutdown (closes provider and engine)
        for process in self.processes:
            process.join(timeout=30)


def _run_worker(
    settings: dict,
    queue: str,
    max_jobs: int | None,
    poll_delay: float | None,
    ready,
    log: str,
    profile_to: str | None,
) -> None:
    from arq.connections import RedisSettings
    from arq.logs import default_log_config
    from arq.worker import Worker

    from jobs.worker import WorkerSettings, shutdown, startup
    from models.config import Settings

    # As `timetrak-sms worker` runs it: arq's INFO log of every job, here into a file.
    sys.stderr = open(log, "w", buffering=1)  # noqa: SIM115
    os.dup2(sys.stderr.fileno(), 2)
    logging.config.dictConfig(default_log_config(verbose=False))

    async def on_startup(ctx: dict) -> None:
        await startup(ctx)
        ready.set()

    worker = Worker(
        functions=WorkerSettings.functions,
        on_startup=on_startup,
        on_shutdown=shutdown,
        redis_settings=RedisSettings.from_dsn(settings["redis_url"]),
        queue_name=queue,
        job_timeout=WorkerSettings.job_timeout,
        max_jobs=max_jobs or WorkerSettings.max_jobs,
        poll_delay=poll_delay or WorkerSettings.poll_delay,
        ctx={"settings": Settings(**settings, _env_file=None)},
    )
    if not profile_to:
        worker.run()
        return
    import cProfile
    import time

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        worker.run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile_to)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (vanished ones count as 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
