"""Issue 5: the routes of transferqueue.web, the same under Flask and under Django.

Each test runs once per framework (``[flask]`` and ``[django]`` in its id) through
tests/helpers/web_clients.py, which also checks every answer's content type and stream headers and
that the access hook gets the framework's request. What only one framework has (405s, CSRF,
URL names and settings; HEAD, the request context in hooks) is in test_web_flask.py and
test_web_django.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from tests.helpers.web_clients import (
    FRAMEWORKS,
    KEEPALIVE,
    WebClient,
    deny_header,
    keep_watches,
    read_events,
    read_until,
    read_until_comment,
    read_until_end,
    serve_routes,
    subscribed_watches,
)
from transferqueue.executors import LocalCopy
from transferqueue.web._endpoints import NOT_CONFIGURED

Serve = Callable[..., WebClient]  # serve(queue, **options) -> WebClient


@pytest.fixture(params=FRAMEWORKS)
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """``serve(queue, **options)``: a client of the routes under ``/transfers/``, in the
    framework the test is parametrised with."""
    framework: str = request.param
    with contextlib.ExitStack() as stack:

        def serve(queue: tq.TransferQueue | None, **options: Any) -> WebClient:
            return serve_routes(framework, stack, queue, **options)

        yield serve


# --- JSON routes ---------------------------------------------------------------------------


def test_list_jobs_camel_case(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: GET /transfers/ lists every job as its camelCase to_dict, oldest first."""
    first = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    second = queue.queue_job("s3-upload", make_files(2, prefix="b"), gate)
    status, body = serve(queue, public=True).get("/transfers/")
    assert status == 200
    assert [job["id"] for job in body] == [first, second]
    expected = [queue.get_job(first), queue.get_job(second)]
    assert [set(job) for job in body] == [
        set(job.to_dict(camel_case=True)) for job in expected if job is not None
    ]
    assert body[1]["progress"]["totalFiles"] == 2
    assert "sourcePath" in body[1]["files"][0]


def test_list_jobs_snake_case(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: camel_case=False switches every route to the snake_case to_dict."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    client = serve(queue, public=True, camel_case=False)
    assert client.get("/transfers/") == (200, [done.to_dict()])
    assert client.get(f"/transfers/{job_id}") == (200, done.to_dict())
    status, missing = client.get("/transfers/nope")
    assert status == 404
    assert missing["job_id"] == "nope"


def test_list_jobs_empty(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an empty queue lists as [] (a JSON list, which Django's JsonResponse
    refuses unless told safe=False)."""
    assert serve(queue, public=True).get("/transfers/") == (200, [])


def test_get_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: GET /transfers/<id> gives the job's camelCase JSON."""
    job_id = queue.queue_job("local-upload", make_files(2), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    status, body = serve(queue, public=True).get(f"/transfers/{job_id}")
    assert status == 200
    assert body == done.to_dict(camel_case=True)
    assert body["status"] == "completed"


def test_get_unknown_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an unknown id is a 404 with a JSON error naming it."""
    status, body = serve(queue, public=True).get("/transfers/nope")
    assert status == 404
    assert body["jobId"] == "nope"
    assert "nope" in body["error"]


def test_cancel_job(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5 / S9: DELETE cancels a running job and answers its cancelled snapshot;
    a second DELETE is a 409."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, public=True)
    status, body = client.delete(f"/transfers/{job_id}")
    assert status == 200
    assert body["id"] == job_id
    assert body["status"] == "cancelled"
    gate.notify()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    status, again = client.delete(f"/transfers/{job_id}")
    assert status == 409
    assert again["jobId"] == job_id


def test_cancel_finished_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: DELETE of a completed job is a 409 and leaves it completed."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    status, body = serve(queue, public=True).delete(f"/transfers/{job_id}")
    assert status == 409
    assert body["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.COMPLETED


def test_cancel_unknown_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: DELETE of an unknown id is a 404 with a JSON error."""
    status, body = serve(queue, public=True).delete("/transfers/nope")
    assert status == 404
    assert body["jobId"] == "nope"


def test_keepalive_must_be_positive(serve: Serve) -> None:
    """Issue 5: keepalive is checked when the blueprint or the patterns are made."""
    with pytest.raises(ValueError, match="keepalive"):
        serve(None, public=True, keepalive=0)


# --- closed until the application decides --------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"public": False, "can_access": None}])
def test_every_route_refused_without_hook_or_public(
    queue: tq.TransferQueue,
    gate: GatedExecutor,
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
) -> None:
    """Issue 10: routes given neither an access hook nor public=True answer every request
    403 with the same body (which tells the developer what to pass and nothing about the
    jobs: a running job and an unknown id look alike), cancel nothing, subscribe nothing;
    one warning says why, when the routes are made."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        client = serve(queue, **options)
        refused = (403, {"error": NOT_CONFIGURED})
        for url in (
            "/transfers/",
            f"/transfers/{job_id}",
            "/transfers/nope",
            f"/transfers/{job_id}/events",
            "/transfers/nope/events",
            "/transfers/events",
        ):
            assert client.get(url) == refused, url
        assert client.get(f"/transfers/{job_id}/events", headers={"Last-Event-ID": "end"}) == (
            refused
        )
        assert client.delete(f"/transfers/{job_id}") == refused
        assert client.delete("/transfers/nope") == refused
    assert "can_access" in NOT_CONFIGURED
    assert "public=True" in NOT_CONFIGURED
    ours = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "transferqueue"]
    assert ours == [(logging.WARNING, f"transferqueue.web: {NOT_CONFIGURED}")]
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.ACTIVE
    assert subscribed_watches(queue) == 0
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before
    gate.release_all()


def test_public_routes_log_no_warning(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10: routes given public=True or a hook were configured: no warning."""
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        serve(None, public=True)
        serve(None, can_access=deny_header)
    assert [r for r in caplog.records if r.name == "transferqueue"] == []


def test_hook_and_public_together_refused(serve: Serve) -> None:
    """Issue 10: a hook and public=True contradict each other: refused when the routes
    are made, not at the first request."""
    with pytest.raises(ValueError, match=r"either can_access .* or public=True .*not both"):
        serve(None, can_access=deny_header, public=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"public": "yes"}, "public must be True or False, not 'yes'"),
        ({"public": 1}, "public must be True or False, not 1"),
        ({"public": True, "hide_paths": "no"}, "hide_paths must be True or False, not 'no'"),
        (
            {"can_access": "tests.helpers.web_clients.deny_header"},
            "can_access must be callable, not str",
        ),
    ],
)
def test_access_options_checked(serve: Serve, options: dict[str, Any], message: str) -> None:
    """Issue 10: public and hide_paths must be bools (a truthy string does not open the
    routes), and a hook must be callable."""
    with pytest.raises(TypeError, match=message):
        serve(None, **options)


# --- hidden paths ----------------------------------------------------------------------------


def _copy_jobs_with_errors(
    queue: tq.TransferQueue, gate: GatedExecutor, folder: Path
) -> tuple[tq.TransferJob, str]:
    """In ``folder``: a finished job copying a file, failing on a missing source and on a
    destination below a file; and a running job of one gated file. Both, as (job, id)."""
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "a.bin").write_bytes(b"x" * 10)
    (folder / "out").mkdir()
    (folder / "out" / "blocker").write_bytes(b"")
    files = [
        ("in/a.bin", "out/a.bin"),
        ("in/missing.bin", "out/missing.bin"),
        ("in/a.bin", "out/blocker/sub/b.bin"),
    ]
    mappings = [
        {"source_path": str(folder / s), "destination_path": str(folder / d), "size": 10}
        for s, d in files
    ]
    copied = queue.wait(queue.queue_job("local-upload", mappings, LocalCopy()), timeout=WAIT)
    running = [{"source_path": str(folder / "in/c.bin"), "destination_path": "/x/c", "size": 1}]
    running_id = queue.queue_job("local-upload", running, gate)
    gate.wait_running(1)
    return copied, running_id


@pytest.mark.parametrize("camel_case", [True, False], ids=["camel", "snake"])
def test_hide_paths(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, tmp_path: Path, camel_case: bool
) -> None:
    """Issue 10: with hide_paths=True no answer carries a server path: the list, a job, a
    cancelled job, every message of the all-jobs stream (its list, created and updated) and
    of a job's stream name each file by its name, and its error says which file failed by
    that name (the folder above it as "…")."""
    folder = tmp_path / "server-folder"
    copied, running_id = _copy_jobs_with_errors(queue, gate, folder)
    client = serve(queue, public=True, hide_paths=True, camel_case=camel_case, keepalive=KEEPALIVE)
    everything = client.stream("/transfers/events")
    seen = read_events(everything, 1)
    assert seen[0][0] == "jobs"
    status, cancelled = client.delete(f"/transfers/{running_id}")
    assert status == 200
    gate.notify()
    queue.wait(running_id, timeout=WAIT)
    seen += read_until(
        everything,
        lambda seen: any(d["id"] == running_id and d["status"] == "cancelled" for _, d in seen),
    )
    everything.close()
    for job_id in (copied.id, running_id):
        stream = client.stream(f"/transfers/{job_id}/events")
        seen += read_until_end(stream)
        stream.close()
    status, listed = client.get("/transfers/")
    assert status == 200
    status, shown = client.get(f"/transfers/{copied.id}")
    assert status == 200

    sent = json.dumps([seen, listed, shown, cancelled])
    assert str(tmp_path) not in sent
    # Both jobs' news came, as snapshots, not only as ends.
    assert {d["id"] for e, d in seen[1:] if e != "end"} == {copied.id, running_id}
    source, destination = (
        ("sourcePath", "destinationPath")
        if camel_case
        else (
            "source_path",
            "destination_path",
        )
    )
    assert [(f[source], f[destination]) for f in shown["files"]] == [
        ("a.bin", "a.bin"),
        ("missing.bin", "missing.bin"),
        ("a.bin", "b.bin"),
    ]
    missing, blocked = copied.files[1], copied.files[2]
    assert missing.error is not None
    assert blocked.error is not None
    assert str(folder) in missing.error
    assert f"at {folder}/out/blocker" in blocked.error  # the executor names the folder
    assert [f.get("error") for f in shown["files"]] == [
        None,
        missing.error.replace(missing.source_path, "missing.bin"),
        blocked.error.replace(blocked.destination_path, "b.bin").replace(
            f"{folder}/out/blocker", "…"
        ),
    ]
    assert listed[0] == shown
    assert cancelled["files"][0][source] == "c.bin"
    assert cancelled["files"][0][destination] == "c"


# --- access hook -----------------------------------------------------------------------------


def test_denied_view_hides_jobs(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a user the hook denies "view" sees no job, and gets 404 (not 403) for one,
    for its cancel and for its events, so ids do not leak; the job is not cancelled and
    nothing is subscribed."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, can_access=deny_header)
    denied = {"X-Deny": "view"}
    assert client.get("/transfers/", headers=denied) == (200, [])
    for status, body in (
        client.get(f"/transfers/{job_id}", headers=denied),
        client.delete(f"/transfers/{job_id}", headers=denied),
        client.get(f"/transfers/{job_id}/events", headers=denied),
    ):
        assert status == 404
        assert body["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert subscribed_watches(queue) == 0
    status, body = client.get("/transfers/")
    assert status == 200
    assert [j["id"] for j in body] == [job_id]


def test_denied_one_job_filters_list(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: the hook is asked per job: a hidden job is left out of the list and is a
    404, while the others stay visible."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    shown = queue.queue_job("local-upload", make_files(1, prefix="b"), gate)
    client = serve(queue, can_access=deny_header)
    deny = {"X-Deny": hidden}
    status, body = client.get("/transfers/", headers=deny)
    assert status == 200
    assert [job["id"] for job in body] == [shown]
    assert client.get(f"/transfers/{hidden}", headers=deny)[0] == 404
    assert client.get(f"/transfers/{shown}", headers=deny)[0] == 200


def test_denied_cancel(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a user who may view but not cancel gets 403, and the job keeps running."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, can_access=deny_header)
    status, body = client.delete(f"/transfers/{job_id}", headers={"X-Deny": "cancel"})
    assert status == 403
    assert body["jobId"] == job_id
    assert client.get(f"/transfers/{job_id}")[1]["status"] == "active"
    gate.release_all()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_denied_collection(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: the hook asked with job=None can forbid the collection routes (403, a
    JSON error and not a stream), and a refused stream connects no receiver."""
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    client = serve(queue, can_access=deny_header)
    for url in ("/transfers/", "/transfers/events"):
        status, body = client.get(url, headers={"X-Deny": "list"})
        assert status == 403
        assert "error" in body
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before


# --- one job's events ------------------------------------------------------------------------


def test_job_events_to_the_end(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a job's stream subscribes before its response starts, sends its snapshot at
    once, its updates, the terminal snapshot and ``end``, then closes; the watch is
    unsubscribed."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    stream = serve(queue, public=True, keepalive=KEEPALIVE).stream(f"/transfers/{job_id}/events")
    assert subscribed_watches(queue) == 1
    [(event, first)] = read_events(stream, 1)
    assert event is None
    assert first["id"] == job_id
    assert first["status"] == "active"
    gate.release_all()
    events = read_until_end(stream)
    stream.close()
    assert events[-1] == ("end", {"jobId": job_id, "status": "completed"})
    assert all(event is None for event, _ in events[:-1])
    assert events[-2][1] == queue.wait(job_id, timeout=WAIT).to_dict(camel_case=True)
    assert subscribed_watches(queue) == 0


def test_job_events_keepalive_and_close(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: a quiet job's stream sends keep-alive comments; closing the response
    (the client gone) mid-way frees the subscription and cancels nothing."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    stream = serve(queue, public=True, keepalive=KEEPALIVE).stream(f"/transfers/{job_id}/events")
    assert read_events(stream, 1)[0][1]["status"] == "active"
    # Two keep-alives in a row at most after updates already on their way (same state).
    assert all(data["status"] == "active" for _, data in read_until_comment(stream))
    assert read_until_comment(stream) == []
    assert subscribed_watches(queue) == 1
    stream.close()
    assert subscribed_watches(queue) == 0
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.ACTIVE


def test_job_events_close_releases_a_referenced_watch(
    queue: tq.TransferQueue,
    gate: GatedExecutor,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 5: closing a job stream's response unsubscribes at once, by closing its watch,
    not when the watch happens to be collected (a server or middleware may keep it)."""
    watches = keep_watches(queue, monkeypatch)  # only close() can unsubscribe them
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    stream = serve(queue, public=True, keepalive=KEEPALIVE).stream(f"/transfers/{job_id}/events")
    assert read_events(stream, 1)[0][1]["id"] == job_id
    stream.close()
    assert len(watches) == 1
    assert subscribed_watches(queue) == 0


def test_job_events_cancelled_while_streaming(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: a job cancelled through DELETE ends its stream with the cancelled snapshot."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, public=True, keepalive=KEEPALIVE)
    stream = client.stream(f"/transfers/{job_id}/events")
    read_events(stream, 1)
    assert client.delete(f"/transfers/{job_id}")[0] == 200
    gate.notify()
    events = read_until_end(stream)
    stream.close()
    assert events[-2][1]["status"] == "cancelled"
    assert events[-1] == ("end", {"jobId": job_id, "status": "cancelled"})
    assert subscribed_watches(queue) == 0


def test_job_events_finished_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: a finished job's stream is its terminal snapshot and ``end`` at once."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    stream = serve(queue, public=True, camel_case=False).stream(f"/transfers/{job_id}/events")
    events = read_until_end(stream)
    stream.close()
    assert events == [(None, done.to_dict()), ("end", {"job_id": job_id, "status": "completed"})]
    assert subscribed_watches(queue) == 0


def test_job_events_after_end(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a browser reconnecting with ``Last-Event-ID: end`` gets 204 No Content with
    no body (which stops EventSource), and subscribes nothing; another Last-Event-ID gets
    the stream."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, public=True, keepalive=KEEPALIVE)
    url = f"/transfers/{job_id}/events"
    assert client.get(url, headers={"Last-Event-ID": "end"}) == (204, None)
    assert subscribed_watches(queue) == 0
    stream = client.stream(url, headers={"Last-Event-ID": "other"})
    assert read_events(stream, 1)[0][1]["id"] == job_id
    stream.close()
    assert subscribed_watches(queue) == 0


def test_job_events_unknown(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an unknown job's events route is a 404 JSON error, not a stream."""
    status, body = serve(queue, public=True).get("/transfers/nope/events")
    assert status == 404
    assert body["jobId"] == "nope"
    assert subscribed_watches(queue) == 0


# --- every job's events ----------------------------------------------------------------------


def test_all_events(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: /events sends the current jobs, then created and updated events of new and
    old jobs, and keep-alives; closing it disconnects its receivers."""
    created = threading.Event()

    def on_created(sender: Any, **extra: Any) -> None:
        created.set()

    # The old job's job-created delivered before the stream subscribes: one arriving
    # after would (rightly) be sent as a "created" event of a job already in the list.
    with tq.job_created.connected_to(on_created, sender=queue):
        old = queue.queue_job("local-upload", make_files(1, prefix="old"), gate)
        assert created.wait(WAIT)
    gate.wait_running(1)
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    stream = serve(queue, public=True, keepalive=KEEPALIVE).stream("/transfers/events")
    [(event, jobs)] = read_events(stream, 1)
    assert event == "jobs"
    assert [(job["id"], job["status"]) for job in jobs] == [(old, "active")]
    assert len(tq.job_created.receivers) == created_before + 1
    assert len(tq.job_updated.receivers) == updated_before + 1
    assert all((e, d["id"]) == ("updated", old) for e, d in read_until_comment(stream))

    new = queue.queue_job("s3-upload", make_files(1, prefix="new"), noop_executor)
    queue.wait(new, timeout=WAIT)
    gate.release_all()
    queue.wait(old, timeout=WAIT)
    seen = read_until(
        stream,
        lambda seen: any(
            e == "updated" and d["id"] == old and d["status"] == "completed" for e, d in seen
        ),
    )
    stream.close()
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before

    assert {e for e, _ in seen} == {"created", "updated"}
    new_events = [(e, d["status"]) for e, d in seen if d["id"] == new]
    assert new_events[0][0] == "created"  # its updates may have merged into it
    assert new_events[-1][1] == "completed"
    assert all(e == "updated" for e, d in seen if d["id"] == old)


def test_all_events_filters_denied_jobs(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: /events leaves out the jobs the hook hides from the caller."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    client = serve(queue, can_access=deny_header, keepalive=KEEPALIVE)
    stream = client.stream("/transfers/events", headers={"X-Deny": hidden})
    assert read_events(stream, 1) == [("jobs", [])]
    shown = queue.queue_job("local-upload", make_files(1, prefix="b"), noop_executor)
    queue.wait(shown, timeout=WAIT)
    gate.release_all()
    queue.wait(hidden, timeout=WAIT)
    # The shown job's completion was delivered first (it was waited for before the hidden
    # job was released) ...
    seen = read_until(
        stream, lambda seen: any(d["id"] == shown and d["status"] == "completed" for _, d in seen)
    )
    # ... and the hidden job's events came after it, all delivered by now (wait() returns
    # after the terminal one), so before the next keep-alive: they are filtered out.
    seen += read_until_comment(stream)
    stream.close()
    assert {d["id"] for _, d in seen} == {shown}


# --- the process-wide queue --------------------------------------------------------------------


def test_default_queue_is_the_process_wide_one(serve: Serve) -> None:
    """Issue 5 / S14: without a queue the routes serve tq.transfer_queue."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    done = tq.transfer_queue.wait(job_id, timeout=WAIT)
    client = serve(None, public=True)
    assert client.get(f"/transfers/{job_id}") == (200, done.to_dict(camel_case=True))
    assert job_id in [job["id"] for job in client.get("/transfers/")[1]]
    stream = client.stream(f"/transfers/{job_id}/events")
    assert read_until_end(stream)[-1] == ("end", {"jobId": job_id, "status": "completed"})
    stream.close()
    assert subscribed_watches(tq.transfer_queue) == 0
