"""Issue 11, parts 3 and 4 through the web front: four gunicorn (gthread) workers serve the
transfer routes of a Redis-backed queue each (tests/helpers/web_cluster_app.py). A job queued
through one worker is listed, streamed, resumed after a reconnect (``Last-Event-ID``) and
cancelled through requests that land on the other workers; the all-jobs stream of one
worker shows the jobs of the others."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.helpers.redis_server import (  # noqa: F401
    MISSING,
    REQUIRED,
    RedisServer,
    redis_server,
    wait_until,
)
from tests.integration.test_web_servers import STARTUP, WAIT, Server, Stream

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

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


@pytest.fixture(scope="module", params=["flask", "django"])
def cluster(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClusterServer]:
    """``gunicorn -k gthread -w 4`` serving the cluster app of one framework."""
    log_path = tmp_path_factory.mktemp("gunicorn-cluster") / "log"
    env = {**os.environ, "TRANSFERQUEUE_TEST_REDIS_URL": redis_server.url}
    with gunicorn_cluster(
        f'tests.helpers.web_cluster_app:serve("{request.param}")', env, log_path
    ) as one:
        yield one


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:  # noqa: F811
    with redis.Redis.from_url(redis_server.url) as plain:
        yield plain


def data_events(stream: Stream, until: Callable[[Any], bool]) -> list[Any]:
    """The jobs of a job stream's data events up to the first matching ``until``."""
    return [job for _, job in stream.events(lambda event: event[0] is None and until(event[1]))]


def test_a_job_is_listed_streamed_resumed_and_cancelled_through_other_workers(
    cluster: ClusterServer, client: redis.Redis
) -> None:
    status, owner, made = cluster.answer("POST", "/test/jobs?files=2")
    assert status == 200, made
    job_id, token = made["id"], made["token"]

    def listed_elsewhere_as(status: str) -> bool:
        # The owner writes the job's events to Redis from its event thread, after the
        # POST's answer: another worker sees them soon, not at once.
        answer, _, listed = cluster.elsewhere(owner, "GET", "/transfers/")
        assert answer == 200
        return [job["status"] for job in listed if job["id"] == job_id] == [status]

    wait_until(lambda: listed_elsewhere_as("active"), "the job listed active by another worker")
    status, _, one = cluster.elsewhere(owner, "GET", f"/transfers/{job_id}")
    assert (status, one["id"]) == (200, job_id)

    # A stream from another worker follows the job; it is dropped, then resumed.
    _, first = cluster.stream_elsewhere(owner, f"/transfers/{job_id}/events")
    data_events(first, lambda job: job["progress"]["loadedBytes"] == 10)
    seen_before = first.last_id
    had_before = first.pictures.copy()  # what a browser resuming from seen_before has
    client.set(f"web:test:go:{token}:0", 1)
    [*_, moved] = data_events(first, lambda job: job["files"][0]["status"] == "completed")
    assert moved["progress"]["completedFiles"] == 1
    seen = first.last_id
    assert seen is not None
    assert seen_before is not None
    assert int(seen) > int(seen_before)
    first.close()

    _, resumed = cluster.stream_elsewhere(
        owner, f"/transfers/{job_id}/events", {"Last-Event-ID": seen}
    )
    resumed.pictures = first.pictures  # the browser keeps its job across the reconnect
    assert resumed.next() == ("comment", "keep-alive")  # nothing new: nothing sent again

    status, _, cancelled = cluster.delete_elsewhere(owner, f"/transfers/{job_id}")
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"
    [*_, ended] = data_events(resumed, lambda job: job["status"] == "cancelled")
    assert int(resumed.last_id or 0) > int(seen)
    assert resumed.next() == ("end", {"jobId": job_id, "status": "cancelled"})
    assert resumed.next() is None
    resumed.close()
    assert ended["files"][0]["status"] == "completed"
    assert ended["files"][1]["errorType"] == "transferqueue.TransferCancelled"
    noted = [row.decode() for row in cast(list[bytes], client.lrange("web:test:cancelled", 0, -1))]
    assert [row for row in noted if row.startswith(token)] == [f"{token}:1"]

    # Reconnecting from before all that gets the job as it stands (whole, or the changes
    # since seen_before where that worker saw them all), then the end.
    _, behind = cluster.stream_elsewhere(
        owner, f"/transfers/{job_id}/events", {"Last-Event-ID": seen_before}
    )
    behind.pictures = had_before
    assert behind.next() == (None, ended)
    assert behind.next() == ("end", {"jobId": job_id, "status": "cancelled"})
    behind.close()
    status, _, _ = cluster.elsewhere(
        owner, "GET", f"/transfers/{job_id}/events", {"Last-Event-ID": "end"}
    )
    assert status == 204
    status, _, again = cluster.delete_elsewhere(owner, f"/transfers/{job_id}")
    assert status == 409, again


def test_the_all_jobs_stream_of_one_worker_shows_the_jobs_of_the_others(
    cluster: ClusterServer, client: redis.Redis
) -> None:
    """A job of another worker is in the stream's first list and its updates follow; a
    job queued on another worker afterwards comes as ``created``, then ``updated``."""
    status, owner, made = cluster.answer("POST", "/test/jobs?files=1")
    assert status == 200
    listed_id, listed_token = made["id"], made["token"]
    feed_pid, feed = cluster.stream_elsewhere(owner, "/transfers/events")
    event, jobs = feed.next() or ("", [])
    assert event == "jobs"
    assert listed_id in [job["id"] for job in jobs]
    client.set(f"web:test:go:{listed_token}:0", 1)
    feed.events(lambda e: e[0] == "updated" and e[1]["id"] == listed_id and done(e[1]))

    for _ in range(TRIES):  # a new job, on a worker other than the stream's
        status, owner, made = cluster.answer("POST", "/test/jobs?files=1")
        assert status == 200
        client.set(f"web:test:go:{made['token']}:0", 1)
        if owner != feed_pid:
            break
    job_id = made["id"]
    events = feed.events(lambda e: e[1]["id"] == job_id and done(e[1]))
    kinds = [kind for kind, job in events if job["id"] == job_id]
    assert kinds[0] == "created"
    assert kinds[-1] in ("created", "updated")  # it may have ended before it was read
    feed.close()


def done(job: Any) -> bool:
    return bool(job["status"] == "completed")
