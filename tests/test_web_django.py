"""Issue 5 (Django): the views of transferqueue.web.django, through Django's test client.

Each test serves its own URLconf module (``override_settings(ROOT_URLCONF=module)``).
Django's test client does not start a streaming response's generator: SSE responses are
read chunk by chunk from ``response.streaming_content`` (one chunk per event) and closed
with ``response.close()``; an endless stream is never read to its end.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path, resolve, reverse

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from tests.django_project import configure
from transferqueue.web.django import transfer_urls

configure()
# Imported here, after configure() and under the default settings: its import reads
# TRANSFERQUEUE_WEB once, so a test importing it first under an override would leak that.
urls_module = importlib.import_module("transferqueue.web.django.urls")


def _options_from_settings() -> Any:
    """urls.py's settings reader."""
    return urls_module._options_from_settings()


KEEPALIVE = 0.02  # short, so that readers get a chance to check their deadline

Serve = Callable[..., Any]  # serve(queue, **options) -> django.test.Client


def urlconf(*patterns: Any) -> types.ModuleType:
    """A URLconf module with ``patterns``, for ``override_settings(ROOT_URLCONF=...)``."""
    module = types.ModuleType("transferqueue_test_urls")
    vars(module)["urlpatterns"] = list(patterns)
    return module


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(queue, **options)``: a test client for ``transfer_urls`` under ``transfers/``
    (the URLconf stays active until the test ends)."""
    with contextlib.ExitStack() as stack:

        def serve(queue: tq.TransferQueue | None, **options: Any) -> Any:
            patterns = urlconf(path("transfers/", include(transfer_urls(queue, **options))))
            stack.enter_context(override_settings(ROOT_URLCONF=patterns))
            return Client()

        yield serve


def deny_header(request: HttpRequest, job: tq.TransferJob | None, action: str) -> bool:
    """Access hook: ``X-Deny: view`` hides every job, ``X-Deny: cancel`` forbids cancels,
    ``X-Deny: list`` forbids the collection routes, ``X-Deny: <job id>`` hides that job.
    It checks that it is given Django's request."""
    assert isinstance(request, HttpRequest), type(request)
    deny: str = request.headers.get("X-Deny", "")
    if job is None:
        return deny != "list"
    return deny != action and deny != job.id


not_a_hook = 42  # imported by dotted path in the settings tests


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


def open_stream(client: Any, url: str, **kwargs: Any) -> tuple[Any, Iterator[bytes]]:
    """GET an SSE route; its response (to close) and an iterator over its chunks."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    return response, iter(response.streaming_content)


# --- JSON routes ---------------------------------------------------------------------------


def test_list_jobs_camel_case(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: GET transfers/ lists every job as its camelCase to_dict, oldest first."""
    first = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    second = queue.queue_job("s3-upload", make_files(2, prefix="b"), gate)
    response = serve(queue).get("/transfers/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
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
    client = serve(queue, camel_case=False)
    assert client.get("/transfers/").json() == [done.to_dict()]
    assert client.get(f"/transfers/{job_id}").json() == done.to_dict()
    missing = client.get("/transfers/nope")
    assert missing.status_code == 404
    assert missing.json()["job_id"] == "nope"


def test_list_jobs_empty(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an empty queue lists as [] (a JSON list, which JsonResponse refuses
    unless told safe=False)."""
    response = serve(queue).get("/transfers/")
    assert response.status_code == 200
    assert response.json() == []


def test_get_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: GET transfers/<id> gives the job's camelCase JSON."""
    job_id = queue.queue_job("local-upload", make_files(2), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    response = serve(queue).get(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.json() == done.to_dict(camel_case=True)
    assert response.json()["status"] == "completed"


def test_get_unknown_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an unknown id is a 404 with a JSON error naming it."""
    response = serve(queue).get("/transfers/nope")
    assert response.status_code == 404
    body = response.json()
    assert body["jobId"] == "nope"
    assert "nope" in body["error"]


def test_cancel_job(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5 / S9: DELETE cancels a running job and answers its cancelled snapshot;
    a second DELETE is a 409."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue)
    response = client.delete(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.json()["id"] == job_id
    assert response.json()["status"] == "cancelled"
    gate.notify()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    again = client.delete(f"/transfers/{job_id}")
    assert again.status_code == 409
    assert again.json()["jobId"] == job_id


def test_cancel_finished_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: DELETE of a completed job is a 409 and leaves it completed."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    response = serve(queue).delete(f"/transfers/{job_id}")
    assert response.status_code == 409
    assert response.json()["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.COMPLETED


def test_cancel_unknown_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: DELETE of an unknown id is a 404 with a JSON error."""
    response = serve(queue).delete("/transfers/nope")
    assert response.status_code == 404
    assert response.json()["jobId"] == "nope"


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("post", "/transfers/", "GET"),
        ("put", "/transfers/{job_id}", "GET, DELETE"),
        ("post", "/transfers/{job_id}", "GET, DELETE"),
        ("delete", "/transfers/{job_id}/events", "GET"),
        ("delete", "/transfers/events", "GET"),
    ],
)
def test_wrong_method(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, method: str, url: str, allow: str
) -> None:
    """Issue 5: a method a route does not serve is a 405 naming the allowed ones, and
    changes nothing (a DELETE of the job's events does not cancel it)."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    response = getattr(serve(queue), method)(url.format(job_id=job_id))
    assert response.status_code == 405
    assert response["Allow"] == allow
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert queue._delivery.watch_count() == 0


# --- access hook -----------------------------------------------------------------------------


def test_denied_view_hides_jobs(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a user the hook denies "view" sees no job, and gets 404 (not 403) for one,
    for its cancel and for its events, so ids do not leak; the job is not cancelled."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, can_access=deny_header)
    denied = {"X-Deny": "view"}
    assert client.get("/transfers/", headers=denied).json() == []
    for response in (
        client.get(f"/transfers/{job_id}", headers=denied),
        client.delete(f"/transfers/{job_id}", headers=denied),
        client.get(f"/transfers/{job_id}/events", headers=denied),
    ):
        assert response.status_code == 404
        assert response.json()["jobId"] == job_id
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert queue._delivery.watch_count() == 0
    assert [j["id"] for j in client.get("/transfers/").json()] == [job_id]


def test_denied_one_job_filters_list(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: the hook is asked per job: a hidden job is left out of the list only."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    shown = queue.queue_job("local-upload", make_files(1, prefix="b"), gate)
    client = serve(queue, can_access=deny_header)
    body = client.get("/transfers/", headers={"X-Deny": hidden}).json()
    assert [job["id"] for job in body] == [shown]
    assert client.get(f"/transfers/{hidden}", headers={"X-Deny": hidden}).status_code == 404
    assert client.get(f"/transfers/{shown}", headers={"X-Deny": hidden}).status_code == 200


def test_denied_cancel(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a user who may view but not cancel gets 403, and the job keeps running."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, can_access=deny_header)
    response = client.delete(f"/transfers/{job_id}", headers={"X-Deny": "cancel"})
    assert response.status_code == 403
    assert response.json()["jobId"] == job_id
    assert client.get(f"/transfers/{job_id}").json()["status"] == "active"
    gate.release_all()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_denied_collection(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: the hook asked with job=None can forbid the collection routes (403)."""
    created_before = len(tq.job_created.receivers)
    client = serve(queue, can_access=deny_header)
    for url in ("/transfers/", "/transfers/events"):
        response = client.get(url, headers={"X-Deny": "list"})
        assert response.status_code == 403
        assert not response.streaming
        assert "error" in response.json()
    assert len(tq.job_created.receivers) == created_before


def test_keepalive_must_be_positive() -> None:
    """Issue 5: keepalive is checked when the patterns are made."""
    with pytest.raises(ValueError, match="keepalive"):
        transfer_urls(keepalive=0)


def test_delete_needs_no_csrf_token(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: with CsrfViewMiddleware enforcing, DELETE cancels without a CSRF token
    (the views are csrf_exempt), while an ordinary view in the same project is refused."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)

    def ordinary(request: HttpRequest) -> HttpResponse:
        return HttpResponse("changed")

    patterns = urlconf(
        path("transfers/", include(transfer_urls(queue))), path("ordinary", ordinary)
    )
    csrf = ["django.middleware.csrf.CsrfViewMiddleware"]
    with override_settings(ROOT_URLCONF=patterns, MIDDLEWARE=csrf):
        client = Client(enforce_csrf_checks=True)
        assert client.delete("/ordinary").status_code == 403  # CSRF is checked
        assert client.post("/transfers/").status_code == 405  # not 403: exempt
        response = client.delete(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    gate.notify()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED


# --- URLs ------------------------------------------------------------------------------------


def test_url_names(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: the documented URL names reverse to the routes, "events" is the all-jobs
    stream (not a job called "events"), and a namespaced second inclusion works."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    other = tq.TransferQueue(1)
    try:
        other_id = other.queue_job("local-upload", make_files(1), noop_executor)
        patterns = urlconf(
            path("transfers/", include(transfer_urls(queue))),
            path("other/", include((transfer_urls(other), "other"))),
        )
        with override_settings(ROOT_URLCONF=patterns):
            assert reverse("transfers-list") == "/transfers/"
            assert reverse("transfers-all-events") == "/transfers/events"
            assert reverse("transfers-detail", args=[job_id]) == f"/transfers/{job_id}"
            assert reverse("transfers-events", kwargs={"job_id": job_id}) == (
                f"/transfers/{job_id}/events"
            )
            assert reverse("other:transfers-detail", args=[other_id]) == f"/other/{other_id}"
            client = Client()
            assert client.get(reverse("transfers-detail", args=[job_id])).json()["id"] == job_id
            assert client.get(reverse("other:transfers-list")).json()[0]["id"] == other_id
            response, chunks = open_stream(client, reverse("transfers-all-events"))
            assert read_events(chunks, 1)[0][0] == "jobs"
            response.close()
    finally:
        other.shutdown(wait=True, cancel_jobs=True)


def test_include_urls_module(serve: Serve) -> None:
    """Issue 5: include("transferqueue.web.django.urls") serves the process-wide queue
    under the project's prefix, with the documented names."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    done = tq.transfer_queue.wait(job_id, timeout=WAIT)
    patterns = urlconf(path("api/transfers/", include("transferqueue.web.django.urls")))
    with override_settings(ROOT_URLCONF=patterns):
        client = Client()
        url = reverse("transfers-detail", args=[job_id])
        assert url == f"/api/transfers/{job_id}"
        assert client.get(url).json() == done.to_dict(camel_case=True)
        assert job_id in [job["id"] for job in client.get("/api/transfers/").json()]
        assert client.get(f"/transfers/{job_id}").status_code == 404  # only under the prefix
        response, chunks = open_stream(client, reverse("transfers-events", args=[job_id]))
        assert read_until_end(chunks)[-1] == ("end", {"jobId": job_id, "status": "completed"})
        response.close()
    assert tq.transfer_queue._delivery.watch_count() == 0


def test_urls_module_reads_setting_at_import() -> None:
    """Issue 5: urls.py builds its patterns from TRANSFERQUEUE_WEB when it is imported,
    and keeps them when the setting changes later."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    tq.transfer_queue.wait(job_id, timeout=WAIT)

    def progress_keys() -> set[str]:
        # A new URLconf each time: Django caches the patterns it resolved per URLconf.
        patterns = urlconf(path("transfers/", include("transferqueue.web.django.urls")))
        with override_settings(ROOT_URLCONF=patterns, TRANSFERQUEUE_WEB={"camel_case": True}):
            return set(Client().get(f"/transfers/{job_id}").json()["progress"])

    try:
        with override_settings(TRANSFERQUEUE_WEB={"camel_case": False}):
            importlib.reload(urls_module)
        assert "total_files" in progress_keys()
    finally:
        importlib.reload(urls_module)  # back to the default settings' patterns
    assert "totalFiles" in progress_keys()


def test_settings_absent() -> None:
    """Issue 5: without TRANSFERQUEUE_WEB, urls.py uses transfer_urls' defaults."""
    assert _options_from_settings() == {}


def test_settings_dotted_path(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: TRANSFERQUEUE_WEB's dotted can_access is imported, and the options it
    gives urls.py take effect (snake_case keys, the hook, the keepalive)."""
    setting = {
        "camel_case": False,
        "can_access": "tests.test_web_django.deny_header",
        "keepalive": KEEPALIVE,
    }
    with override_settings(TRANSFERQUEUE_WEB=setting):
        options = _options_from_settings()
    assert options == {"camel_case": False, "can_access": deny_header, "keepalive": KEEPALIVE}
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, **options)
    assert client.get(f"/transfers/{job_id}", headers={"X-Deny": "view"}).status_code == 404
    missing = client.get("/transfers/nope")
    assert missing.json()["job_id"] == "nope"
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    [(_, first)] = read_events(chunks, 1)
    assert first["id"] == job_id
    assert "total_files" in first["progress"]
    response.close()


def test_settings_callable() -> None:
    """Issue 5: TRANSFERQUEUE_WEB's can_access may be the callable itself, or None."""
    with override_settings(TRANSFERQUEUE_WEB={"can_access": deny_header}):
        assert _options_from_settings() == {"can_access": deny_header}
    with override_settings(TRANSFERQUEUE_WEB={"can_access": None, "keepalive": 2}):
        assert _options_from_settings() == {"can_access": None, "keepalive": 2.0}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["camel_case"], "TRANSFERQUEUE_WEB must be a dict, not list"),
        ({"camelCase": True, "queue": 1}, r"unknown keys \['camelCase', 'queue'\]"),
        ({"can_access": "tests.test_web_django.no_such_hook"}, "no_such_hook"),
        ({"can_access": "no_such_module_here.hook"}, "cannot import 'no_such_module_here.hook'"),
        ({"can_access": "tests.test_web_django.not_a_hook"}, "must be callable, not int"),
        ({"can_access": 42}, "must be callable, not int"),
        ({"camel_case": "yes"}, r"\['camel_case'\] must be True or False"),
        ({"keepalive": 0}, r"\['keepalive'\]: keepalive must be longer than 0"),
        ({"keepalive": "15"}, r"\['keepalive'\]: keepalive must be a number"),
    ],
)
def test_settings_invalid(setting: object, message: str) -> None:
    """Issue 5: a bad TRANSFERQUEUE_WEB raises ImproperlyConfigured naming the problem."""
    with (
        override_settings(TRANSFERQUEUE_WEB=setting),
        pytest.raises(ImproperlyConfigured, match=message) as raised,
    ):
        _options_from_settings()
    assert "TRANSFERQUEUE_WEB" in str(raised.value)


# --- one job's events ------------------------------------------------------------------------


def test_job_events_to_the_end(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a job's stream sends its snapshot at once, its updates, the terminal
    snapshot and ``end``, then closes; the watch is unsubscribed."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    client = serve(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    assert queue._delivery.watch_count() == 1  # subscribed before the response starts
    [(event, first)] = read_events(chunks, 1)
    assert event is None
    assert first["id"] == job_id
    assert first["status"] == "active"
    gate.release_all()
    events = read_until_end(chunks)
    response.close()
    assert events[-1] == ("end", {"jobId": job_id, "status": "completed"})
    assert all(event is None for event, _ in events[:-1])
    assert events[-2][1] == queue.wait(job_id, timeout=WAIT).to_dict(camel_case=True)
    assert queue._delivery.watch_count() == 0


def test_job_events_keepalive_and_close(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: a quiet job's stream sends keep-alive comments; closing the response
    (the client gone) mid-way frees the subscription."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    assert read_events(chunks, 1)[0][1]["status"] == "active"
    # Two keep-alives in a row at most after updates already on their way (same state).
    assert all(data["status"] == "active" for _, data in read_until_comment(chunks))
    assert read_until_comment(chunks) == []
    assert queue._delivery.watch_count() == 1
    response.close()
    assert queue._delivery.watch_count() == 0
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.ACTIVE  # closing a stream cancels nothing


def test_job_events_close_before_reading(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: a job stream's response closed before its first chunk (its generator never
    started) unsubscribes at once, and leaves the job running."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    response, _ = open_stream(serve(queue, keepalive=KEEPALIVE), f"/transfers/{job_id}/events")
    assert queue._delivery.watch_count() == 1
    response.close()
    assert queue._delivery.watch_count() == 0
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.ACTIVE


def test_job_events_cancelled_while_streaming(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: a job cancelled through DELETE ends its stream with the cancelled snapshot."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, keepalive=KEEPALIVE)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    read_events(chunks, 1)
    assert client.delete(f"/transfers/{job_id}").status_code == 200
    gate.notify()
    events = read_until_end(chunks)
    response.close()
    assert events[-2][1]["status"] == "cancelled"
    assert events[-1] == ("end", {"jobId": job_id, "status": "cancelled"})
    assert queue._delivery.watch_count() == 0


def test_job_events_finished_job(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: a finished job's stream is its terminal snapshot and ``end`` at once."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    done = queue.wait(job_id, timeout=WAIT)
    client = serve(queue, camel_case=False)
    response, chunks = open_stream(client, f"/transfers/{job_id}/events")
    events = read_until_end(chunks)
    response.close()
    assert events == [(None, done.to_dict()), ("end", {"job_id": job_id, "status": "completed"})]
    assert queue._delivery.watch_count() == 0


def test_job_events_after_end(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: a browser reconnecting with ``Last-Event-ID: end`` gets an empty 204 (which
    stops EventSource), and subscribes nothing; another Last-Event-ID gets the stream."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, keepalive=KEEPALIVE)
    url = f"/transfers/{job_id}/events"
    response = client.get(url, headers={"Last-Event-ID": "end"})
    assert response.status_code == 204
    assert not response.streaming
    # The test client strips a 204's body as servers should; the view must send none.
    match = resolve(url)
    request = RequestFactory().get(url, headers={"Last-Event-ID": "end"})
    direct = match.func(request, *match.args, **match.kwargs)
    assert (direct.status_code, direct.content) == (204, b"")
    assert queue._delivery.watch_count() == 0
    response, chunks = open_stream(
        client, f"/transfers/{job_id}/events", headers={"Last-Event-ID": "other"}
    )
    assert read_events(chunks, 1)[0][1]["id"] == job_id
    response.close()
    assert queue._delivery.watch_count() == 0


def test_job_events_unknown(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: an unknown job's events route is a 404 JSON error, not a stream."""
    response = serve(queue).get("/transfers/nope/events")
    assert response.status_code == 404
    assert not response.streaming
    assert response.json()["jobId"] == "nope"
    assert queue._delivery.watch_count() == 0


# --- every job's events ----------------------------------------------------------------------


def test_all_events(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: events sends the current jobs, then created and updated events of new and
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
    client = serve(queue, keepalive=KEEPALIVE)
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


def test_all_events_close_before_reading(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: the all-jobs stream subscribes when it starts, so a response closed
    before its first chunk leaves no receiver either."""
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    response, _ = open_stream(serve(queue, keepalive=KEEPALIVE), "/transfers/events")
    response.close()
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before


def test_all_events_filters_denied_jobs(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: events leaves out the jobs the hook hides from the caller."""
    hidden = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
    client = serve(queue, can_access=deny_header, keepalive=KEEPALIVE)
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


def test_views_without_django(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5: without Django, importing the views names the extra to install."""
    monkeypatch.setitem(sys.modules, "django", None)
    for name in ("transferqueue.web.django", "transferqueue.web.django._views"):
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=re.escape("pip install 'transferqueue[django]'")):
        importlib.import_module("transferqueue.web.django")
