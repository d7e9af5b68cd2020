"""A throwaway PostgreSQL cluster on 127.0.0.1 that a test may stop, start and restart.

`initdb` and `pg_ctl` as installed (on PATH or under /usr/lib/postgresql/*/bin); as root they
run as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    """One cluster in a temp folder: `start()`, then `stop()`, `restart()`, `close()`."""

    def __init__(self, database: str = "timetrak", fsync: bool = False):
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's initdb is not installed")
        self.binaries = binaries
        self.database = database
        self.fsync = fsync
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="timetrak-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def maintenance_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        command = [str(self.binaries / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr}{self.log_tail()}"
            )
        return done.stdout

    def log_tail(self) -> str:
        try:
            return "\n--- server log ---\n" + self.log.read_text()[-2000:]
        except OSError:
            return ""

    def initdb(self) -> None:
        self.run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections (initdb first, once)."""
        if not self.data.exists():
            self.initdb()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            f"-c fsync={'on' if self.fsync else 'off'}"
        )
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions and checkpoints; `immediate` is a crash, recovered at start."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        # The server's options are remembered, its log file is not (the server would keep
        # this process's pipes open).
        self.run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-m",
            mode,
            "-w",
            "-t",
            "60",
            "restart",
        )

    def running(self) -> bool:
        command = [str(self.binaries / "pg_ctl"), "-D", str(self.data), "status"]
        if self.owner is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def wait_stopped(self, seconds: float = 60) -> None:
        """After a shutdown asked for without waiting (`pg_ctl stop -W`)."""
        deadline = time.monotonic() + seconds
        while self.running():
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not stop" + self.log_tail())
            time.sleep(0.05)

    def create_database(self) -> None:
        self.run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database
        )

    def close(self) -> None:
        try:
            if self.data.exists() and self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        self.start()
        self.create_database()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
