"""A real Redis for the tests: Debian's ``redis-server`` on 127.0.0.1, never a mock.

``redis_server`` (session scope) starts ``redis-server`` on a free port without
persistence and stops it at the end; ``redis_url`` (per test) gives its URL after
``FLUSHALL``. :class:`RedisServer` also serves tests that need a server of their own (to
stop it mid-run). Without ``redis-server`` (or ``TRANSFERQUEUE_REDIS_SERVER``) or without
redis-py the tests that use them are skipped with the reason, unless
``TRANSFERQUEUE_REQUIRE_REDIS=1`` (as in CI), which fails them instead. Import the
fixtures into a test module::

    from tests.helpers.redis_server import redis_server, redis_url  # noqa: F401
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import WAIT
from tests.helpers.s3_server import free_port

REQUIRED = os.environ.get("TRANSFERQUEUE_REQUIRE_REDIS") == "1"
REDIS_SERVER = os.environ.get("TRANSFERQUEUE_REDIS_SERVER") or shutil.which("redis-server")

_READY_TRIES = 400  # x up to 0.025 s: redis-server is usually ready in a few ms


def _missing() -> str | None:
    """Why the Redis tests cannot run here, or None."""
    if REDIS_SERVER is None or not os.access(REDIS_SERVER, os.X_OK):
        return (
            "no redis-server on PATH (apt-get install redis-server, "
            "or set TRANSFERQUEUE_REDIS_SERVER)"
        )
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install 'transferqueue[redis]')"
    return None


MISSING = _missing()


def skip_without_redis() -> None:
    """Skip the calling test (fail it under TRANSFERQUEUE_REQUIRE_REDIS=1) when Redis
    cannot be tested here."""
    if MISSING is not None:
        if REQUIRED:
            pytest.fail(f"TRANSFERQUEUE_REQUIRE_REDIS=1 but {MISSING}", pytrace=False)
        pytest.skip(MISSING)


def _ping(port: int) -> bool:
    """True if something on ``port`` answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` every 10 ms for up to WAIT seconds; fail naming ``what``.

    For state that other processes change in Redis, where no event reaches the test."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


class RedisServer:
    """One ``redis-server`` subprocess on 127.0.0.1 (a free port unless ``port`` is
    given), without persistence, its output going to a log file."""

    def __init__(
        self, log_path: Path, port: int | None = None, options: tuple[str, ...] = ()
    ) -> None:
        assert REDIS_SERVER is not None
        self.port = free_port() if port is None else port
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(log_path.parent),
                *options,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        """Poll with PING until it answers (``-NOAUTH`` counts); raise if the process
        died or never did."""
        for _ in range(_READY_TRIES):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            if _ping(self.port):
                return
            # Not listening yet: a short pause between polls of a starting subprocess
            # (there is no event to wait on across processes).
            time.sleep(0.025)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in time")

    def terminate(self) -> None:
        """Terminate the server and wait for it (killing it if it will not go); its
        folder stays, with what it saved there."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """Terminate the server, then remove its folder and log."""
        self.terminate()
        shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def flush(self) -> None:
        """Forget every key."""
        import redis

        with redis.Redis(port=self.port) as client:
            client.flushall()


def start_redis_server(
    port: int | None = None, *options: str, folder: Path | None = None
) -> RedisServer:
    """A ready server with its own log folder (on ``port``, with more ``options`` for
    redis-server, in ``folder`` if given: where a server with persistence finds its
    data again); the caller stops it."""
    log_dir = Path(tempfile.mkdtemp(prefix="transferqueue-redis-")) if folder is None else folder
    server = RedisServer(log_dir / "redis.log", port, options)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server for the whole test session, stopped at its end."""
    skip_without_redis()
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, every key forgotten for this test."""
    redis_server.flush()
    return redis_server.url
