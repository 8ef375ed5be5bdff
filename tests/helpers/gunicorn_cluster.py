"""Several gunicorn (gthread) workers behind one port on 127.0.0.1, each serving a
Redis-backed app of its own, and a client that tells the workers apart (each answer names
its worker's pid in ``X-Worker-Pid``) and asks until a worker other than a job's owner
answers."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.web_servers import STARTUP, Server, Stream

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
TRIES = 200  # connections tried, at most, to land on a worker other than one


class ClusterServer(Server):
    """The four workers behind one port; each answer names its worker (X-Worker-Pid)."""

    def answer(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, Any]:
        """``(status, worker pid, JSON body or None)`` of one request."""
        conn = self.connect()
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            pytest.fail(f"{method} {path} failed: {exc!r}\nserver log:\n{self.log()}")
        finally:
            conn.close()
        return (
            response.status,
            response.getheader("X-Worker-Pid", ""),
            (json.loads(body) if body else None),
        )

    def elsewhere(
        self, owner: str, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, Any]:
        """The answer of a worker other than ``owner`` to a request that changes nothing
        (asked again until one answers)."""
        for _ in range(TRIES):
            status, pid, body = self.answer(method, path, headers)
            if pid != owner:
                return status, pid, body
        pytest.fail(f"{TRIES} requests all landed on worker {owner}")

    def stream_elsewhere(
        self, owner: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[str, Stream]:
        """An SSE stream from a worker other than ``owner``, and that worker's pid."""
        for _ in range(TRIES):
            conn = self.connect()
            conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
            response = conn.getresponse()
            pid = response.getheader("X-Worker-Pid", "")
            assert response.status == 200, (response.status, response.read())
            stream = Stream(conn, response, self.log)
            if pid != owner:
                return pid, stream
            stream.close()
        pytest.fail(f"{TRIES} streams all came from worker {owner}")

    def delete_elsewhere(self, owner: str, path: str) -> tuple[int, str, Any]:
        """A DELETE that lands on a worker other than ``owner``: a GET on the same
        connection first tells which worker it reached (gthread keeps it on one worker)."""
        for _ in range(TRIES):
            conn = self.connect()
            try:
                conn.request("GET", path)
                first = conn.getresponse()
                first.read()
                if first.getheader("X-Worker-Pid", "") == owner:
                    continue
                conn.request("DELETE", path)
                response = conn.getresponse()
                body = response.read()
                pid = response.getheader("X-Worker-Pid", "")
                assert pid != owner
                return response.status, pid, json.loads(body) if body else None
            finally:
                conn.close()
        pytest.fail(f"{TRIES} connections all reached worker {owner}")


@contextlib.contextmanager
def gunicorn_cluster(
    app: str, env: dict[str, str], log_path: Path, workers: int = WORKERS
) -> Iterator[ClusterServer]:
    """``gunicorn -k gthread -w WORKERS`` serving ``app`` on 127.0.0.1 (a free port),
    its output in ``log_path``; terminated when the block ends."""
    command = [
        sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "16",
        "-w", str(workers), "--no-control-socket", "-b", "127.0.0.1:0",
        "--graceful-timeout", "2", app,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def read_log() -> str:
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + STARTUP
        # A bounded readiness poll: gunicorn tells its port only in its log, and each
        # worker when it has booted.
        while len(re.findall(r"Booting worker", read_log())) < workers or not re.search(
            r"Listening at: http://127\.0\.0\.1:(\d+)", read_log()
        ):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{read_log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start within {STARTUP} s:\n{read_log()}")
            time.sleep(0.05)
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", read_log())
        assert found is not None
        server = ClusterServer(int(found.group(1)), read_log)
        _until_every_worker_answers(server, workers, time.monotonic() + STARTUP)
        yield server
        assert process.poll() is None, f"gunicorn died:\n{read_log()}"
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


def _until_every_worker_answers(server: ClusterServer, workers: int, deadline: float) -> None:
    """Each worker loads the app after gunicorn logs its boot: ask until every one has
    answered once (bounded by ``deadline``), so that a test's first request is not the one
    that waits for a loaded machine to import the framework."""
    answered: set[str] = set()
    while len(answered) < workers:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"only workers {sorted(answered)} answered within {STARTUP} s")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=remaining)
        try:
            conn.request("GET", "/transfers/")
            response = conn.getresponse()
            response.read()
            answered.add(response.getheader("X-Worker-Pid", ""))
        except (OSError, http.client.HTTPException) as exc:
            pytest.fail(f"GET /transfers/ failed: {exc!r}\nserver log:\n{server.log()}")
        finally:
            conn.close()


def data_events(stream: Stream, until: Callable[[Any], bool]) -> list[Any]:
    """The jobs of a job stream's data events up to the first matching ``until``."""
    return [job for _, job in stream.events(lambda event: event[0] is None and until(event[1]))]
