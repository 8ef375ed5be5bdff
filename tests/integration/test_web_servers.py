"""Issue 5 (real servers): the Flask blueprint and the Django views behind werkzeug's threaded
server and gunicorn (gthread), and (issue 13) the Django views under ASGI behind uvicorn,
read by a real HTTP client over 127.0.0.1.

Every test runs against each of the five ``server`` fixtures (werkzeug or gunicorn, Flask
or Django; uvicorn with Django's ASGI handler), which serve the apps of tests/helpers/web_apps.py.
A test drives the app's queue through the test-only routes there, the same way whether
the queue lives in this process or in a gunicorn worker.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

import transferqueue as tq
from tests.helpers.sse_pictures import Pictures
from tests.helpers.web_apps import (
    KEEPALIVE,
    SERVER_FOLDER,
    JobControl,
    WSGIApp,
    django_app,
    django_asgi_app,
    flask_app,
    uvicorn_server,
)
from transferqueue.web._endpoints import NOT_CONFIGURED

WAIT = 10.0  # bound of every read and wait
STARTUP = 20.0  # bound for gunicorn to listen and answer
# A server notices a dropped client only when it writes: werkzeug at the first keep-alive
# after the drop, gunicorn at the second. A few intervals bound how long that may take.
DROP_NOTICED_WITHIN = 10 * KEEPALIVE
ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 50

Event = tuple[str | None, Any]  # (event name, JSON data); ("comment", text) for comments


_NO_POSIX = pytest.mark.skipif(os.name != "posix", reason="gunicorn runs on POSIX systems only")


# -- the client ---------------------------------------------------------------------------


class Server:
    """One running server: JSON requests and SSE streams to it, and its log for failures."""

    def __init__(self, port: int, log: Callable[[], str]) -> None:
        self.port = port
        self.log = log

    def connect(self) -> http.client.HTTPConnection:
        """A connection whose every blocking socket call is bounded by WAIT."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)

    def request(self, method: str, path: str) -> tuple[int, Any]:
        """``(status, JSON body or None)`` of one request on a connection of its own."""
        conn = self.connect()
        try:
            conn.request(method, path)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            pytest.fail(f"{method} {path} failed: {exc!r}\nserver log:\n{self.log()}")
        finally:
            conn.close()
        return response.status, json.loads(body) if body else None

    def json(self, method: str, path: str, status: int = 200) -> Any:
        """The JSON body of a request that must answer ``status``."""
        got, body = self.request(method, path)
        assert got == status, f"{method} {path}: {got} {body}"
        return body

    def create_job(self, files: int = 1) -> str:
        """A job of gated files, all running (see tests/helpers/web_apps.py)."""
        return str(self.json("POST", f"/test/jobs?files={files}")["id"])

    def release(self, job_id: str, file: int | None = None) -> None:
        """Let one file (or every file) of a test job finish."""
        query = "" if file is None else f"?file={file}"
        self.json("POST", f"/test/jobs/{job_id}/release{query}")

    def counts(self) -> dict[str, int]:
        """The app's subscribed watches and signal receivers (see tests/helpers/web_apps.py)."""
        counts: dict[str, int] = self.json("GET", "/test/counts")
        return counts

    def stream(self, path: str) -> Stream:
        """An open SSE stream; the caller closes it."""
        conn = self.connect()
        try:
            conn.request("GET", path, headers={"Accept": "text/event-stream"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            pytest.fail(f"GET {path} failed: {exc!r}\nserver log:\n{self.log()}")
        stream = Stream(conn, response, self.log)
        if response.status != 200:
            stream.close()
            pytest.fail(f"GET {path}: {response.status}")
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        assert response.getheader("Cache-Control") == "no-cache"
        return stream

    def wait_counts(self, expected: dict[str, int]) -> None:
        """Poll /test/counts until it shows ``expected``, within DROP_NOTICED_WITHIN.

        The one polling wait here: whether a server noticed a dropped client shows only in
        its counts, possibly in another process, where no event can be waited on.
        """
        deadline = time.monotonic() + DROP_NOTICED_WITHIN
        while (counts := self.counts()) != expected:
            assert time.monotonic() < deadline, (
                f"still {counts} {DROP_NOTICED_WITHIN} s after the drop, expected {expected}"
            )
            time.sleep(KEEPALIVE / 10)


class Stream:
    """An SSE response read event by event with http.client."""

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        log: Callable[[], str],
    ) -> None:
        self._conn = conn
        self._response = response
        self._log = log
        self.last_id: str | None = None  # the id of the last event read that had one
        self.pictures = Pictures()  # job messages are given as the whole jobs they rebuild

    def _line(self) -> bytes:
        try:
            return self._response.readline()
        except (OSError, http.client.HTTPException) as exc:
            pytest.fail(f"reading the stream failed: {exc!r}\nserver log:\n{self._log()}")

    def next(self) -> Event | None:
        """The next event or comment; None at the end of the stream."""
        fields: dict[str, str] = {}
        while (line := self._line()) not in (b"\n", b""):
            text = line.decode().rstrip("\n")
            if text.startswith(":"):
                assert not fields, f"a comment inside an event: {fields} {text}"
                assert self._line() == b"\n"
                return "comment", text[1:].strip()
            field, _, value = text.partition(": ")
            assert field in ("id", "event", "data"), text
            assert field not in fields, text
            fields[field] = value
        if not fields:
            assert line == b"", "an empty event"
            return None
        event = fields.get("event")
        # A job's stream numbers its snapshots (then "end"); the all-jobs stream does not.
        assert ("id" in fields) == (event in (None, "end")), fields
        if "id" in fields:
            self.last_id = fields["id"]
        data = json.loads(fields["data"])
        if event == "jobs":
            self.pictures.take_list(data)
        elif event != "end":
            data = self.pictures.apply(data)
        return event, data

    def events(self, until: Callable[[Event], bool]) -> list[Event]:
        """The events (comments skipped) up to and including the first matching ``until``."""
        deadline = time.monotonic() + WAIT
        events: list[Event] = []
        while not events or not until(events[-1]):
            assert time.monotonic() < deadline, f"only {events} within {WAIT} s"
            event = self.next()
            assert event is not None, f"the stream ended after {events}"
            if event[0] != "comment":
                events.append(event)
        return events

    def first(self) -> Event:
        """The first event, which must come at once (before any keep-alive)."""
        event = self.next()
        assert event is not None
        assert event[0] != "comment", "the first event was a keep-alive"
        return event

    def to_end(self) -> list[Event]:
        """Every event up to ``end``; asserts that the server then ends the stream."""
        events = self.events(lambda event: event[0] == "end")
        assert self.next() is None, "the stream went on after end"
        assert self._response.isclosed()
        return events

    def close(self) -> None:
        """Close the connection: for an unfinished stream, the client drops mid-stream."""
        self._response.close()
        self._conn.close()


# -- the servers --------------------------------------------------------------------------


def _werkzeug(make_app: Callable[[JobControl], WSGIApp]) -> Iterator[Server]:
    control = JobControl(tq.TransferQueue(8))
    server = None
    try:
        server = make_server("127.0.0.1", 0, make_app(control), threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="werkzeug-test-server")
        thread.start()
        try:
            yield Server(server.port, lambda: "(werkzeug in this process: see captured log)")
        finally:
            server.shutdown()
            thread.join(WAIT)
            assert not thread.is_alive(), "the werkzeug server did not stop"
    finally:
        if server is not None:
            server.server_close()
        control.close()
        control.queue.shutdown(wait=True, cancel_jobs=True)


def _uvicorn() -> Iterator[Server]:
    control = JobControl(tq.TransferQueue(8))
    try:
        with uvicorn_server(django_asgi_app(control)) as port:
            yield Server(port, lambda: "(uvicorn in this process: see captured log)")
    finally:
        control.close()
        control.queue.shutdown(wait=True, cancel_jobs=True)


def _gunicorn(framework: str, log_path: Path) -> Iterator[Server]:
    command = [
        sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "64", "-w", "1",
        "--no-control-socket", "-b", "127.0.0.1:0", "--graceful-timeout", "2",
        f'tests.helpers.web_apps:serve("{framework}")',
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def read_log() -> str:
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + STARTUP
        # A bounded readiness poll: gunicorn tells its port only in its log.
        while not (found := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", read_log())):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n{read_log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not listen within {STARTUP} s:\n{read_log()}")
            time.sleep(0.05)
        server = Server(int(found.group(1)), read_log)
        server.counts()  # waits in the backlog until the worker has loaded the app
        yield server
        assert process.poll() is None, f"gunicorn died:\n{read_log()}"
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(("werkzeug", "flask"), id="werkzeug-flask"),
        pytest.param(("werkzeug", "django"), id="werkzeug-django"),
        pytest.param(("gunicorn", "flask"), id="gunicorn-flask", marks=_NO_POSIX),
        pytest.param(("gunicorn", "django"), id="gunicorn-django", marks=_NO_POSIX),
        pytest.param(("uvicorn", "django"), id="uvicorn-django-asgi"),
    ],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running server of one kind serving one framework's app, stopped after the module."""
    kind, framework = request.param
    if kind == "werkzeug":
        yield from _werkzeug(flask_app if framework == "flask" else django_app)
    elif kind == "uvicorn":
        yield from _uvicorn()
    else:
        yield from _gunicorn(framework, tmp_path_factory.mktemp("gunicorn") / "log")


@pytest.fixture
def jobs(server: Server) -> Iterator[list[str]]:
    """The ids of the jobs a test made; each is released after it, finished or not."""
    made: list[str] = []
    yield made
    for job_id in made:
        server.request("POST", f"/test/jobs/{job_id}/release")


# -- tests --------------------------------------------------------------------------------


def test_job_stream_to_the_end(server: Server, jobs: list[str]) -> None:
    """Issue 5: through a real server, a job's stream starts with the job as it stands, then
    brings each update, the terminal snapshot and ``end``, and the server ends it."""
    job_id = server.create_job(files=2)
    jobs.append(job_id)
    now = server.json("GET", f"/transfers/{job_id}")
    assert now["status"] == "active"
    stream = server.stream(f"/transfers/{job_id}/events")
    try:
        assert stream.first() == (None, now)
        server.release(job_id, file=0)
        update = stream.events(lambda e: e[1]["files"][0]["status"] == "completed")[-1]
        assert update[1]["status"] == "active"
        assert update[1]["progress"]["completedFiles"] == 1
        server.release(job_id, file=1)
        events = stream.to_end()
    finally:
        stream.close()
    *updates, last, end = events
    assert all(e[0] is None and e[1]["status"] == "active" for e in updates), updates
    assert last == (None, server.json("GET", f"/transfers/{job_id}"))
    assert last[1]["status"] == "completed"
    assert last[1]["progress"]["percentage"] == 100
    assert end == ("end", {"jobId": job_id, "status": "completed"})


def test_fifty_clients_see_the_end(server: Server, jobs: list[str]) -> None:
    """Issue 5: 50 SSE clients subscribed to one job at once all get its terminal snapshot
    and ``end``, each on a stream the server then closes."""
    job_id = server.create_job()
    jobs.append(job_id)
    watches = server.counts()["watches"]
    subscribed = threading.Barrier(CLIENTS + 1, timeout=WAIT)

    def client() -> list[Event]:
        try:
            stream = server.stream(f"/transfers/{job_id}/events")
        except BaseException:
            subscribed.abort()
            raise
        try:
            first = stream.first()
            subscribed.wait()  # the stream subscribed before its first event was sent
            return [first, *stream.to_end()]
        except BaseException:
            subscribed.abort()
            raise
        finally:
            stream.close()

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client) for _ in range(CLIENTS)]
        try:
            subscribed.wait()
            subscribed_watches = server.counts()["watches"]
        except BaseException:
            # Only on failure: an abort right after the barrier opened would break it for
            # the clients not yet woken from it.
            subscribed.abort()
            raise
        finally:
            server.release(job_id)  # no client is left waiting for an end
        results = [future.result(timeout=WAIT) for future in futures]
    assert subscribed_watches == watches + CLIENTS
    final = server.json("GET", f"/transfers/{job_id}")
    assert final["status"] == "completed"
    for events in results:
        assert events[0][1]["status"] == "active"
        assert events[-2:] == [(None, final), ("end", {"jobId": job_id, "status": "completed"})]
    server.wait_counts({**server.counts(), "watches": watches})


def test_dropped_job_streams_unsubscribe(server: Server, jobs: list[str]) -> None:
    """Issue 5: clients that close their connection mid-stream leave no watch behind, once
    the server has written to them (its next keep-alive), while the job runs on."""
    job_id = server.create_job()
    jobs.append(job_id)
    before = server.counts()
    streams = [server.stream(f"/transfers/{job_id}/events") for _ in range(5)]
    try:
        for stream in streams:
            assert stream.first()[1]["status"] == "active"
        assert server.counts() == {**before, "watches": before["watches"] + 5}
    finally:
        for stream in streams:
            stream.close()
    server.wait_counts(before)
    assert server.json("GET", f"/transfers/{job_id}")["status"] == "active"


def test_dropped_all_jobs_stream_disconnects(server: Server, jobs: list[str]) -> None:
    """Issue 5: the all-jobs stream, read through a real server, announces a new job; a
    client that drops it leaves no signal receiver behind."""
    before = server.counts()
    stream = server.stream("/transfers/events")
    try:
        first = stream.first()
        assert first[0] == "jobs"
        assert server.counts() == {
            **before,
            "created_receivers": before["created_receivers"] + 1,
            "updated_receivers": before["updated_receivers"] + 1,
        }
        job_id = server.create_job()
        jobs.append(job_id)
        created = stream.events(lambda e: e[0] == "created" and e[1]["id"] == job_id)[-1]
        assert created[1]["type"] == "local-upload"
    finally:
        stream.close()
    server.wait_counts(before)


def test_json_routes_and_cancel(server: Server, jobs: list[str]) -> None:
    """Issue 5: the JSON routes answer through a real server, and a DELETE ends an open
    stream of the job with its cancelled snapshot and ``end``."""
    job_id = server.create_job()
    jobs.append(job_id)
    stream = server.stream(f"/transfers/{job_id}/events")
    try:
        first = stream.first()
        assert first[1] in server.json("GET", "/transfers/")
        assert server.json("GET", f"/transfers/{job_id}") == first[1]
        missing = server.json("GET", "/transfers/no-such-job", status=404)
        assert missing["jobId"] == "no-such-job"
        cancelled = server.json("DELETE", f"/transfers/{job_id}")
        assert cancelled["status"] == "cancelled"
        events = stream.to_end()
    finally:
        stream.close()
    *_, last, end = events
    assert last[0] is None
    assert last[1]["status"] == "cancelled"
    assert end == ("end", {"jobId": job_id, "status": "cancelled"})
    assert server.json("DELETE", f"/transfers/{job_id}", status=409)["jobId"] == job_id


def test_closed_routes_refuse_everything(server: Server, jobs: list[str]) -> None:
    """Issue 10: routes given neither an access hook nor public=True answer every request
    403 through a real server, the streams too, and cancel nothing."""
    job_id = server.create_job()
    jobs.append(job_id)
    refused = (403, {"error": NOT_CONFIGURED})
    for path in ("/closed/", f"/closed/{job_id}", f"/closed/{job_id}/events", "/closed/events"):
        assert server.request("GET", path) == refused, path
    assert server.request("DELETE", f"/closed/{job_id}") == refused
    assert server.json("GET", f"/transfers/{job_id}")["status"] == "active"


def test_hidden_paths_through_a_real_server(server: Server, jobs: list[str]) -> None:
    """Issue 10: with hide_paths=True neither the JSON routes nor any stream message (a
    job's and the all-jobs stream's) carry a server path, while a stream of the same job
    without it, open at the same time and fed the same snapshots, carries the paths."""
    job_id = server.create_job(files=2)
    jobs.append(job_id)
    hidden_all = server.stream("/hidden/events")
    hidden_job = server.stream(f"/hidden/{job_id}/events")
    plain_job = server.stream(f"/transfers/{job_id}/events")
    try:
        listed, job_events, plain = [hidden_all.first()], [hidden_job.first()], [plain_job.first()]
        server.release(job_id, file=0)
        server.release(job_id, file=1)
        job_events += hidden_job.to_end()
        plain += plain_job.to_end()
        listed += hidden_all.events(
            lambda e: e[1]["id"] == job_id and e[1]["status"] == "completed"
        )
    finally:
        for stream in (hidden_all, hidden_job, plain_job):
            stream.close()
    answers = [server.json("GET", "/hidden/"), server.json("GET", f"/hidden/{job_id}")]
    assert SERVER_FOLDER not in json.dumps([listed, job_events, answers])
    assert SERVER_FOLDER in json.dumps(plain)
    shown = answers[1]
    assert shown["status"] == "completed"
    assert [(f["sourcePath"], f["destinationPath"]) for f in shown["files"]] == [
        ("0", "0"),
        ("1", "1"),
    ]
    assert listed[0][0] == "jobs"
    assert job_id in [job["id"] for job in listed[0][1]]
    # "created" if the job's created event reached the stream after its list (merged).
    assert listed[-1] in [("updated", shown), ("created", shown)]
    assert job_events[-2:] == [(None, shown), ("end", {"jobId": job_id, "status": "completed"})]
