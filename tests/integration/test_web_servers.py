"""The Flask blueprint and the Django views behind werkzeug's threaded
server and gunicorn (gthread), and the Django views under ASGI behind uvicorn,
read by a real HTTP client over 127.0.0.1.

Every test runs against each of the five ``server`` fixtures (werkzeug or gunicorn, Flask
or Django; uvicorn with Django's ASGI handler), which serve the apps of tests/helpers/web_apps.py.
A test drives the app's queue through the test-only routes there, the same way whether
the queue lives in this process or in a gunicorn worker.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.web_apps import (
    SERVER_FOLDER,
    JobControl,
    WSGIApp,
    django_app,
    django_asgi_app,
    flask_app,
    uvicorn_server,
)
from tests.helpers.web_servers import STARTUP, Event, Server
from transferqueue.web._endpoints import NOT_CONFIGURED

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 50


_NO_POSIX = pytest.mark.skipif(os.name != "posix", reason="gunicorn runs on POSIX systems only")


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
    """Through a real server, a job's stream starts with the job as it stands, then
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
    """50 SSE clients subscribed to one job at once all get its terminal snapshot
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
    """Clients that close their connection mid-stream leave no watch behind, once
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
    """The all-jobs stream, read through a real server, announces a new job; a
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
    """The JSON routes answer through a real server, and a DELETE ends an open
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
    """Routes given neither an access hook nor public=True answer every request
    403 through a real server, the streams too, and cancel nothing."""
    job_id = server.create_job()
    jobs.append(job_id)
    refused = (403, {"error": NOT_CONFIGURED})
    for path in ("/closed/", f"/closed/{job_id}", f"/closed/{job_id}/events", "/closed/events"):
        assert server.request("GET", path) == refused, path
    assert server.request("DELETE", f"/closed/{job_id}") == refused
    assert server.json("GET", f"/transfers/{job_id}")["status"] == "active"


def test_hidden_paths_through_a_real_server(server: Server, jobs: list[str]) -> None:
    """With hide_paths=True neither the JSON routes nor any stream message (a
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
