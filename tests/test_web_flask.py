"""Issue 5 (Flask): the blueprint of transferqueue.web, through Flask's test client.

SSE responses are read chunk by chunk from ``response.response`` (one chunk per event)
and closed with ``response.close()``; an endless stream's ``data`` is never read.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

import flask
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from transferqueue.web import transfer_blueprint

KEEPALIVE = 0.02  # short, so that readers get a chance to check their deadline


def make_client(queue: tq.TransferQueue | None, **options: Any) -> FlaskClient:
    app = flask.Flask(__name__)
    app.register_blueprint(transfer_blueprint(queue, **options), url_prefix="/transfers")
    return app.test_client()


def deny_header(request: flask.Request, job: tq.TransferJob | None, action: str) -> bool:
    """Access hook: ``X-Deny: view`` hides every job, ``X-Deny: cancel`` forbids cancels,
    ``X-Deny: list`` forbids the collection routes, ``X-Deny: <job id>`` hides that job."""
    deny = request.headers.get("X-Deny", "")
    if job is None:
        return deny != "list"
    return deny != action and deny != job.id


def parse(chunk: bytes) -> tuple[str | None, Any]:
    """One SSE chunk as ``(event, data)``; a comment gives ``("comment", text)``."""
    text = chunk.decode()
    assert text.endswith("\n\n"), text
    if text.startswith(":"):
        return "comment", text[1:].strip()
    fields: dict[str, str] = {}
    for line in text.strip("\n").split("\n"):
        field, _, value = line.partition(": ")
        assert field in ("id", "event", "data"), text
        assert field not in fields, text
        fields[field] = value
    event = fields.get("event")
    # Only the end of a job's stream carries an id, the one a reconnecting browser sends.
    assert ("id" in fields) == (event == "end"), text
    if event == "end":
        assert fields["id"] == "end", text
    return event, json.loads(fields["data"])


def read_events(
    chunks: Iterator[bytes], count: int, *, comments: bool = False
) -> list[tuple[str | None, Any]]:
    """The next ``count`` events (keep-alive comments skipped unless ``comments``)."""
    deadline = time.monotonic() + WAIT
    events: list[tuple[str | None, Any]] = []
    while len(events) < count:
        assert time.monotonic() < deadline, f"only {events} within {WAIT} s"
        event = parse(next(chunks))
        if comments or event[0] != "comment":
            events.append(event)
    return events


def read_until_comment(chunks: Iterator[bytes]) -> list[tuple[str | None, Any]]:
    """The events before the next keep-alive comment (which is consumed)."""
    deadline = time.monotonic() + WAIT
    events: list[tuple[str | None, Any]] = []
    while (event := parse(next(chunks)))[0] != "comment":
        assert time.monotonic() < deadline, f"no keep-alive within {WAIT} s: {events}"
        events.append(event)
    assert event == ("comment", "keep-alive")
    return events


def read_until_end(chunks: Iterator[bytes]) -> list[tuple[str | None, Any]]:
    """Every event up to ``end``; asserts that the stream then ends."""
    deadline = time.monotonic() + WAIT
    events: list[tuple[str | None, Any]] = []
    while not events or events[-1][0] != "end":
        assert time.monotonic() < deadline, f"no end within {WAIT} s: {events}"
        event = parse(next(chunks))
        if event[0] != "comment":
            events.append(event)
    with pytest.raises(StopIteration):
        next(chunks)
    return events


def open_stream(
    client: FlaskClient, url: str, **kwargs: Any
) -> tuple[TestResponse, Iterator[bytes]]:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    return response, iter(cast("Iterable[bytes]", response.response))


# --- JSON routes ---------------------------------------------------------------------------


def test_list_jobs_camel_case(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: GET /transfers lists every job as its camelCase to_dict, oldest first."""
    first = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    second = queue.queue_job("s3-upload", make_files(2, prefix="b"), gate)
    client = make_client(queue)
    response = client.get("/transfers")
    assert response.status_code == 200
    body = response.get_json()
    assert [job["id"] for job in body] == [first, second]
    expected = [queue.get_job(first), queue.get_job(second)]
    assert [set(job) for job in body] == [
        set(job.to_dict(camel_case=True)) for job in expected if job is not None
    ]
    assert body[1]["progress"]["totalFiles"] == 2
    assert "sourcePath" in body[1]["files"][0]
    assert client.get("/transfers/").get_json() == body


def test_list_jobs_snake_case(queue: tq.TransferQueue) -> None:
    """Issue 5: camel_case=False switches every route to the snake_case to_dict."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    client = make_client(queue, camel_case=False)
    assert client.get("/transfers").get_json() == [done.to_dict()]
    assert client.get(f"/transfers/{job_id}").get_json() == done.to_dict()
    missing = client.get("/transfers/nope")
    assert missing.status_code == 404
    assert missing.get_json()["job_id"] == "nope"


def test_list_jobs_empty(queue: tq.TransferQueue) -> None:
    """Issue 5: an empty queue lists as []."""
    response = make_client(queue).get("/transfers")
    assert response.status_code == 200
    assert response.get_json() == []


def test_get_job(queue: tq.TransferQueue) -> None:
    """Issue 5: GET /transfers/<id> gives the job's camelCase JSON."""
    job_id = queue.queue_job("local-upload", make_files(2), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    response = make_client(queue).get(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.get_json() == done.to_dict(camel_case=True)
    assert response.get_json()["status"] == "completed"


def test_get_unknown_job(queue: tq.TransferQueue) -> None:
    """Issue 5: an unknown id is a 404 with a JSON error naming it."""
    response = make_client(queue).get("/transfers/nope")
    assert response.status_code == 404
    body = response.get_json()
    assert body["jobId"] == "nope"
    assert "nope" in body["error"]


def test_cancel_job(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5 / S9: DELETE cancels a running job and answers its cancelled snapshot."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = make_client(queue)
    response = client.delete(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.get_json()["id"] == job_id
    assert response.get_json()["status"] == "cancelled"
    gate.notify()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    again = client.delete(f"/transfers/{job_id}")
    assert again.status_code == 409
    assert again.get_json()["jobId"] == job_id


def test_cancel_finished_job(queue: tq.TransferQueue) -> None:
    """Issue 5: DELETE of a completed job is a 409 and leaves it completed."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    response = make_client(queue).delete(f"/transfers/{job_id}")
    assert response.status_code == 409
    assert response.get_json()["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.COMPLETED


def test_cancel_unknown_job(queue: tq.TransferQueue) -> None:
    """Issue 5: DELETE of an unknown id is a 404 with a JSON error."""
    response = make_client(queue).delete("/transfers/nope")
    assert response.status_code == 404
    assert response.get_json()["jobId"] == "nope"


# --- access hook -----------------------------------------------------------------------------


def test_denied_view_hides_jobs(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: a user the hook denies "view" sees no job, and gets 404 (not 403) for one,
    for its cancel and for its events, so ids do not leak; the job is not cancelled."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = make_client(queue, can_access=deny_header)
    denied = {"X-Deny": "view"}
    assert client.get("/transfers", headers=denied).get_json() == []
    for response in (
        client.get(f"/transfers/{job_id}", headers=denied),
        client.delete(f"/transfers/{job_id}", headers=denied),
        client.get(f"/transfers/{job_id}/events", headers=denied),
    ):
        assert response.status_code == 404
        assert response.get_json()["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert [j["id"] for j in client.get("/transfers").get_json()] == [job_id]


def test_denied_one_job_filters_list(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: the hook is asked per job: a hidden job is left out of the list only."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    shown = queue.queue_job("local-upload", make_files(1, prefix="b"), gate)
    client = make_client(queue, can_access=deny_header)
    body = client.get("/transfers", headers={"X-Deny": hidden}).get_json()
    assert [job["id"] for job in body] == [shown]


def test_denied_cancel(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: a user who may view but not cancel gets 403, and the job keeps running."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = make_client(queue, can_access=deny_header)
    response = client.delete(f"/transfers/{job_id}", headers={"X-Deny": "cancel"})
    assert response.status_code == 403
    assert response.get_json()["jobId"] == job_id
    assert client.get(f"/transfers/{job_id}").get_json()["status"] == "active"
    gate.release_all()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_denied_collection(queue: tq.TransferQueue) -> None:
    """Issue 5: the hook asked with job=None can forbid the collection routes (403)."""
    client = make_client(queue, can_access=deny_header)
    for url in ("/transfers", "/transfers/events"):
        response = client.get(url, headers={"X-Deny": "list"})
        assert response.status_code == 403
        assert "error" in response.get_json()


def test_keepalive_must_be_positive() -> None:
    """Issue 5: keepalive is checked when the blueprint is made."""
    with pytest.raises(ValueError, match="keepalive"):
        transfer_blueprint(keepalive=0)


# --- one job's events ------------------------------------------------------------------------


def test_job_events_to_the_end(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: a job's stream sends its snapshot at once, its updates, the terminal
    snapshot and ``end``, then closes; the watch is unsubscribed."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    client = make_client(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    [(event, first)] = read_events(chunks, 1)
    assert event is None
    assert first["id"] == job_id
    assert first["status"] == "active"
    assert queue._delivery.watch_count() == 1
    gate.release_all()
    events = read_until_end(chunks)
    response.close()
    assert events[-1] == ("end", {"jobId": job_id, "status": "completed"})
    assert all(event is None for event, _ in events[:-1])
    assert events[-2][1] == queue.wait(job_id, timeout=WAIT).to_dict(camel_case=True)
    assert queue._delivery.watch_count() == 0


def test_job_events_keepalive_and_close(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: a quiet job's stream sends keep-alive comments; closing the response
    (the client gone) frees the subscription."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = make_client(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    assert read_events(chunks, 1)[0][1]["status"] == "active"
    # Two keep-alives in a row at most after updates already on their way (same state).
    assert all(data["status"] == "active" for _, data in read_until_comment(chunks))
    assert read_until_comment(chunks) == []
    assert queue._delivery.watch_count() == 1
    response.close()
    assert queue._delivery.watch_count() == 0


def test_job_events_cancelled_while_streaming(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: a job cancelled through DELETE ends its stream with the cancelled snapshot."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = make_client(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    read_events(chunks, 1)
    assert client.delete(f"/transfers/{job_id}").status_code == 200
    gate.notify()
    events = read_until_end(chunks)
    response.close()
    assert events[-2][1]["status"] == "cancelled"
    assert events[-1] == ("end", {"jobId": job_id, "status": "cancelled"})
    assert queue._delivery.watch_count() == 0


def test_job_events_finished_job(queue: tq.TransferQueue) -> None:
    """Issue 5: a finished job's stream is its terminal snapshot and ``end`` at once."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    client = make_client(queue, camel_case=False)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    events = read_until_end(chunks)
    response.close()
    assert events == [(None, done.to_dict()), ("end", {"job_id": job_id, "status": "completed"})]
    assert queue._delivery.watch_count() == 0


def test_job_events_unknown(queue: tq.TransferQueue) -> None:
    """Issue 5: an unknown job's events route is a 404 JSON error, not a stream."""
    response = make_client(queue).get("/transfers/nope/events")
    assert response.status_code == 404
    assert response.get_json()["jobId"] == "nope"
    assert queue._delivery.watch_count() == 0


# --- every job's events ----------------------------------------------------------------------


def test_all_events(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: /events sends the current jobs, then created and updated events of new and
    old jobs, and keep-alives; closing it disconnects its receivers."""
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    created = threading.Event()

    def on_created(sender: tq.TransferQueue, **extra: Any) -> None:
        created.set()

    # The old job's job-created goes out before the stream subscribes, or it would be news.
    with tq.job_created.connected_to(on_created, sender=queue):
        old = queue.queue_job("local-upload", make_files(1, prefix="old"), gate)
        assert created.wait(WAIT)
    gate.wait_running(1)
    client = make_client(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, "/transfers/events")
    [(event, jobs)] = read_events(chunks, 1)
    assert event == "jobs"
    assert [(job["id"], job["status"]) for job in jobs] == [(old, "active")]
    assert len(tq.job_created.receivers) == created_before + 1
    assert len(tq.job_updated.receivers) == updated_before + 1
    assert all((e, d["id"]) == ("updated", old) for e, d in read_until_comment(chunks))

    new = queue.queue_job("s3-upload", make_files(1, prefix="new"), noop_executor)
    queue.wait(new, timeout=WAIT)
    gate.release_all()
    queue.wait(old, timeout=WAIT)
    seen: list[tuple[str | None, Any]] = []
    deadline = time.monotonic() + WAIT
    while not any(
        e == "updated" and d["id"] == old and d["status"] == "completed" for e, d in seen
    ):
        assert time.monotonic() < deadline, seen
        seen += read_events(chunks, 1)
    response.close()
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before

    assert {e for e, _ in seen} == {"created", "updated"}
    new_events = [(e, d["status"]) for e, d in seen if d["id"] == new]
    assert new_events[0][0] == "created"  # its updates may have merged into it
    assert new_events[-1][1] == "completed"
    assert all(e == "updated" for e, d in seen if d["id"] == old)


def test_all_events_filters_denied_jobs(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: /events leaves out the jobs the hook hides from the caller."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    client = make_client(queue, can_access=deny_header, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, "/transfers/events", headers={"X-Deny": hidden})
    assert read_events(chunks, 1) == [("jobs", [])]
    shown = queue.queue_job("local-upload", make_files(1, prefix="b"), noop_executor)
    queue.wait(shown, timeout=WAIT)
    gate.release_all()
    queue.wait(hidden, timeout=WAIT)
    # The hidden job's completion was delivered before the shown job's (waited first) ...
    seen: list[tuple[str | None, Any]] = []
    while not any(d["id"] == shown and d["status"] == "completed" for _, d in seen):
        seen += read_events(chunks, 1)
    # ... and its own events, all delivered already, are filtered too.
    seen += read_until_comment(chunks)
    response.close()
    assert {d["id"] for _, d in seen} == {shown}


# --- the process-wide queue --------------------------------------------------------------------


def test_default_queue_is_the_process_wide_one() -> None:
    """Issue 5 / S14: without a queue the blueprint serves tq.transfer_queue."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    done = tq.transfer_queue.wait(job_id, timeout=WAIT)
    client = make_client(None)
    assert client.get(f"/transfers/{job_id}").get_json() == done.to_dict(camel_case=True)
    assert job_id in [job["id"] for job in client.get("/transfers").get_json()]
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    assert read_until_end(chunks)[-1] == ("end", {"jobId": job_id, "status": "completed"})
    response.close()
    assert tq.transfer_queue._delivery.watch_count() == 0


def test_reconnect_after_end_is_204(queue: tq.TransferQueue) -> None:
    """Issue 5: a browser reconnecting after a job stream's end (Last-Event-ID: end) gets
    204 No Content with no body, which stops EventSource."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    client = make_client(queue)
    response = client.get(f"/transfers/{job_id}/events", headers={"Last-Event-ID": "end"})
    assert response.status_code == 204
    assert response.data == b""
    assert queue._delivery.watch_count() == 0


def test_unknown_attribute_of_the_web_package() -> None:
    """Issue 5: transferqueue.web's lazy import of Flask answers only for the blueprint."""
    import transferqueue.web

    with pytest.raises(AttributeError, match="no_such_thing"):
        transferqueue.web.no_such_thing  # noqa: B018


def test_blueprint_without_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5: without Flask, asking for the blueprint names the extra to install."""
    import transferqueue.web

    monkeypatch.setitem(sys.modules, "flask", None)
    monkeypatch.delitem(sys.modules, "transferqueue.web._flask")
    with pytest.raises(ImportError, match=re.escape("pip install 'transferqueue[flask]'")):
        transferqueue.web.transfer_blueprint  # noqa: B018


def test_hook_may_read_the_request_context_in_streams(queue: tq.TransferQueue) -> None:
    """Issue 5: the all-jobs stream checks each event in the request's context, so a hook
    may use flask.request (or g, or a login manager's current user) as in a view."""

    def header_hook(request: flask.Request, job: tq.TransferJob | None, action: str) -> bool:
        return flask.request.headers.get("X-User") == "alice"

    client = make_client(queue, can_access=header_hook, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, "/transfers/events", headers={"X-User": "alice"})
    assert read_events(chunks, 1) == [("jobs", [])]
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    seen = read_until_comment(chunks)
    response.close()
    assert seen
    assert {data["id"] for _, data in seen} == {job_id}


def test_head_of_a_job_stream_leaves_no_watch(
    queue: tq.TransferQueue, gate: GatedExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5: a response closed before its stream's first chunk (a HEAD request, whose body
    is never sent) unsubscribes when it is closed, not when its watch is collected."""
    watches: list[object] = []  # keeps every watch alive: only close() can unsubscribe it
    watch = queue.watch

    def keeping_watch(job_id: str, **options: Any) -> Any:
        watches.append(watch(job_id, **options))
        return watches[-1]

    monkeypatch.setattr(queue, "watch", keeping_watch)
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    response = make_client(queue).head(f"/transfers/{job_id}/events")
    assert response.status_code == 200
    assert response.data == b""
    assert len(watches) == 1
    response.close()  # what a server does once it has sent the (empty) body
    with queue._lock:
        assert queue._delivery.watch_count() == 0
    gate.release_all()
