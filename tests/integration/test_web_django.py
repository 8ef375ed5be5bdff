"""Issue 5 (Django): what only the views of transferqueue.web.django have, through Django's
test client: 405s, CSRF, URL names and inclusion, urls.py and its TRANSFERQUEUE setting;
issue 13: the app config, the setting's concurrency limit, the system checks, the trailing
slash, and streams under ASGI (through Django's AsyncClient).

The routes themselves are tested under both frameworks in test_web_routes.py. Each test
serves its own URLconf module (``override_settings(ROOT_URLCONF=module)``). Django's test
client does not start a streaming response's generator: a response can be closed here
before its stream's first chunk is taken.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import NoReverseMatch, include, path, resolve, reverse

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from tests.helpers.django_project import configure
from tests.helpers.web_clients import (
    KEEPALIVE,
    DjangoWebClient,
    deny_header,
    django_urlconf,
    keep_watches,
    read_events,
    read_until_comment,
    read_until_end,
    serve_routes,
    subscribed_watches,
)
from transferqueue.web._endpoints import NOT_CONFIGURED
from transferqueue.web.django import transfer_urls
from transferqueue.web.django._settings import read_settings

configure()
# Imported here, after configure() and under the default settings: its import reads
# TRANSFERQUEUE once, so a test importing it first under an override would leak that.
urls_module = importlib.import_module("transferqueue.web.django.urls")


def _options_from_settings() -> Any:
    """The view options urls.py reads from the setting."""
    return read_settings().view_options


Serve = Callable[..., DjangoWebClient]  # serve(queue, **options) -> DjangoWebClient


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(queue, **options)``: a client of ``transfer_urls`` under ``transfers/``
    (the URLconf stays active until the test ends)."""
    with contextlib.ExitStack() as stack:

        def serve(queue: tq.TransferQueue | None, **options: Any) -> DjangoWebClient:
            client = serve_routes("django", stack, queue, **options)
            assert isinstance(client, DjangoWebClient)
            return client

        yield serve


not_a_hook = 42  # imported by dotted path in the settings tests


# --- methods and CSRF --------------------------------------------------------------------------


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
    response = getattr(serve(queue, public=True).client, method)(url.format(job_id=job_id))
    assert response.status_code == 405
    assert response["Allow"] == allow
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert subscribed_watches(queue) == 0


def test_delete_needs_no_csrf_token(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: with CsrfViewMiddleware enforcing, DELETE cancels without a CSRF token
    (the views are csrf_exempt), while an ordinary view in the same project is refused."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)

    def ordinary(request: HttpRequest) -> HttpResponse:
        return HttpResponse("changed")

    patterns = django_urlconf(
        path("transfers/", include(transfer_urls(queue, public=True))), path("ordinary", ordinary)
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


# --- URLs and settings ------------------------------------------------------------------------


def test_url_names(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: the documented URL names reverse to the routes, "events" is the all-jobs
    stream (not a job called "events"); issue 13: the names are in the application
    namespace "transferqueue", and a second inclusion with an instance namespace works."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    other = tq.TransferQueue(1)
    try:
        other_id = other.queue_job("local-upload", make_files(1), noop_executor)
        patterns = django_urlconf(
            path("transfers/", include(transfer_urls(queue, public=True))),
            path("other/", include(transfer_urls(other, public=True), namespace="other")),
        )
        with override_settings(ROOT_URLCONF=patterns):
            assert reverse("transferqueue:list") == "/transfers/"
            assert reverse("transferqueue:all-events") == "/transfers/events"
            assert reverse("transferqueue:detail", args=[job_id]) == f"/transfers/{job_id}"
            assert reverse("transferqueue:events", kwargs={"job_id": job_id}) == (
                f"/transfers/{job_id}/events"
            )
            assert reverse("other:detail", args=[other_id]) == f"/other/{other_id}"
            with pytest.raises(NoReverseMatch):
                reverse("list")  # only in the application namespace
            client = Client()
            assert client.get(reverse("transferqueue:detail", args=[job_id])).json()["id"] == job_id
            assert client.get(reverse("other:list")).json()[0]["id"] == other_id
            stream = DjangoWebClient(client).stream(reverse("transferqueue:all-events"))
            assert read_events(stream, 1)[0][0] == "jobs"
            stream.close()
    finally:
        other.shutdown(wait=True, cancel_jobs=True)


@contextlib.contextmanager
def urls_built_with(setting: object) -> Iterator[None]:
    """urls.py's patterns built under ``TRANSFERQUEUE=setting`` for the block, then
    again under the default settings (which have no TRANSFERQUEUE)."""
    try:
        with override_settings(TRANSFERQUEUE=setting):
            importlib.reload(urls_module)
        yield
    finally:
        importlib.reload(urls_module)


def test_include_urls_module() -> None:
    """Issue 5: include("transferqueue.web.django.urls") serves the process-wide queue
    under the project's prefix, with the documented names; issue 10: without
    TRANSFERQUEUE it refuses every request, with "PUBLIC": True it serves them."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    done = tq.transfer_queue.wait(job_id, timeout=WAIT)
    patterns = django_urlconf(path("api/transfers/", include("transferqueue.web.django.urls")))
    with override_settings(ROOT_URLCONF=patterns):
        closed = Client().get(f"/api/transfers/{job_id}")
        assert (closed.status_code, closed.json()) == (403, {"error": NOT_CONFIGURED})
    patterns = django_urlconf(path("api/transfers/", include("transferqueue.web.django.urls")))
    with urls_built_with({"PUBLIC": True}), override_settings(ROOT_URLCONF=patterns):
        client = Client()
        url = reverse("transferqueue:detail", args=[job_id])
        assert url == f"/api/transfers/{job_id}"
        assert client.get(url).json() == done.to_dict(camel_case=True)
        assert job_id in [job["id"] for job in client.get("/api/transfers/").json()]
        assert client.get(f"/transfers/{job_id}").status_code == 404  # only under the prefix
        stream = DjangoWebClient(client).stream(reverse("transferqueue:events", args=[job_id]))
        assert read_until_end(stream)[-1] == ("end", {"jobId": job_id, "status": "completed"})
        stream.close()
    assert subscribed_watches(tq.transfer_queue) == 0


def test_urls_module_reads_setting_at_import() -> None:
    """Issue 5: urls.py builds its patterns from TRANSFERQUEUE when it is imported,
    and keeps them when the setting changes later."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    tq.transfer_queue.wait(job_id, timeout=WAIT)

    def answer() -> Any:
        # A new URLconf each time: Django caches the patterns it resolved per URLconf.
        patterns = django_urlconf(path("transfers/", include("transferqueue.web.django.urls")))
        with override_settings(ROOT_URLCONF=patterns, TRANSFERQUEUE={"PUBLIC": True}):
            return Client().get(f"/transfers/{job_id}").json()

    with urls_built_with({"CAMEL_CASE": False, "PUBLIC": True}):
        assert "total_files" in answer()["progress"]
    # Built again without the setting: closed, whatever the setting says now.
    assert answer() == {"error": NOT_CONFIGURED}


def test_settings_absent() -> None:
    """Issue 5: without TRANSFERQUEUE, urls.py uses transfer_urls' defaults, and the
    process-wide queue's limit is left to the environment."""
    assert read_settings().view_options == {}
    assert read_settings().concurrency_limit is None


def test_settings_dotted_path(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """Issue 5: TRANSFERQUEUE's dotted CAN_ACCESS is imported, and the options it
    gives urls.py take effect (snake_case keys, the hook, the keepalive)."""
    setting = {
        "CAMEL_CASE": False,
        "CAN_ACCESS": "tests.helpers.web_clients.deny_header",
        "KEEPALIVE": KEEPALIVE,
    }
    with override_settings(TRANSFERQUEUE=setting):
        options = _options_from_settings()
    assert options == {"camel_case": False, "can_access": deny_header, "keepalive": KEEPALIVE}
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue, **options)
    assert client.get(f"/transfers/{job_id}", headers={"X-Deny": "view"})[0] == 404
    status, missing = client.get("/transfers/nope")
    assert status == 404
    assert missing["job_id"] == "nope"
    stream = client.stream(f"/transfers/{job_id}/events")
    [(_, first)] = read_events(stream, 1)
    assert first["id"] == job_id
    assert "total_files" in first["progress"]
    read_until_comment(stream)  # the keepalive of the setting
    stream.close()


def test_settings_public_and_hide_paths(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 10: TRANSFERQUEUE's "PUBLIC" and "HIDE_PATHS" reach the routes: the job
    is served to anyone, its files named without their folders."""
    with override_settings(TRANSFERQUEUE={"PUBLIC": True, "HIDE_PATHS": True}):
        options = _options_from_settings()
    assert options == {"public": True, "hide_paths": True}
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    status, job = serve(queue, **options).get(f"/transfers/{job_id}")
    assert status == 200
    assert (job["files"][0]["sourcePath"], job["files"][0]["destinationPath"]) == (
        "file-0",
        "file-0",
    )
    with override_settings(TRANSFERQUEUE={"PUBLIC": True, "CAN_ACCESS": None}):
        assert _options_from_settings() == {"public": True, "can_access": None}
    with override_settings(TRANSFERQUEUE={"PUBLIC": False, "CAN_ACCESS": deny_header}):
        assert _options_from_settings() == {"public": False, "can_access": deny_header}


def test_settings_callable() -> None:
    """Issue 5: TRANSFERQUEUE's CAN_ACCESS may be the callable itself, or None."""
    with override_settings(TRANSFERQUEUE={"CAN_ACCESS": deny_header}):
        assert _options_from_settings() == {"can_access": deny_header}
    with override_settings(TRANSFERQUEUE={"CAN_ACCESS": None, "KEEPALIVE": 2}):
        assert _options_from_settings() == {"can_access": None, "keepalive": 2.0}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (["CAMEL_CASE"], "TRANSFERQUEUE must be a dict, not list"),
        ({"camel_case": True, "QUEUE": 1}, r"unknown keys 'QUEUE', 'camel_case' \(known: "),
        ({"CAN_ACCESS": "tests.integration.test_web_django.no_such_hook"}, "no_such_hook"),
        ({"CAN_ACCESS": "no_such_module_here.hook"}, "cannot import 'no_such_module_here.hook'"),
        (
            {"CAN_ACCESS": "tests.integration.test_web_django.not_a_hook"},
            "must be callable, not int",
        ),
        ({"CAN_ACCESS": 42}, r"\['CAN_ACCESS'\] must be callable, not int"),
        ({"CAMEL_CASE": "yes"}, r"\['CAMEL_CASE'\] must be True or False"),
        ({"KEEPALIVE": 0}, r"\['KEEPALIVE'\]: keepalive must be longer than 0"),
        ({"KEEPALIVE": "15"}, r"\['KEEPALIVE'\]: keepalive must be a number"),
        ({"PUBLIC": "yes"}, r"\['PUBLIC'\] must be True or False, not 'yes'"),
        ({"PUBLIC": 1}, r"\['PUBLIC'\] must be True or False, not 1"),
        ({"HIDE_PATHS": None}, r"\['HIDE_PATHS'\] must be True or False, not None"),
        (
            {"PUBLIC": True, "CAN_ACCESS": "tests.helpers.web_clients.deny_header"},
            "both 'CAN_ACCESS' and 'PUBLIC': True",
        ),
        ({"PUBLIC": True, "CAN_ACCESS": deny_header}, "both 'CAN_ACCESS' and 'PUBLIC': True"),
        (
            {"CONCURRENCY_LIMIT": 0},
            r"\['CONCURRENCY_LIMIT'\]: concurrency limit must be at least 1",
        ),
        ({"CONCURRENCY_LIMIT": "4"}, r"\['CONCURRENCY_LIMIT'\]: concurrency limit must be an int"),
        ({"CONCURRENCY_LIMIT": True}, r"\['CONCURRENCY_LIMIT'\]: concurrency limit must be an int"),
    ],
)
def test_settings_invalid(setting: object, message: str) -> None:
    """Issue 5, 13: a bad TRANSFERQUEUE raises ImproperlyConfigured naming the key and
    the problem."""
    with (
        override_settings(TRANSFERQUEUE=setting),
        pytest.raises(ImproperlyConfigured, match=message) as raised,
    ):
        read_settings()
    assert "TRANSFERQUEUE" in str(raised.value)


def test_former_setting_is_refused() -> None:
    """Issue 13: the former TRANSFERQUEUE_WEB setting is not silently ignored (its routes
    would answer 403, its hook unused): it raises, naming the new setting and its keys."""
    with (
        override_settings(TRANSFERQUEUE_WEB={"public": True}),
        pytest.raises(
            ImproperlyConfigured, match="TRANSFERQUEUE_WEB is now TRANSFERQUEUE"
        ) as raised,
    ):
        read_settings()
    assert "CAN_ACCESS" in str(raised.value)


# --- streams closed early, and the 204 ---------------------------------------------------------


def test_job_events_close_before_reading(
    queue: tq.TransferQueue,
    gate: GatedExecutor,
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 5: a job stream's response closed before its first chunk (its generator never
    started) unsubscribes at once, by closing its watch (not when the watch is collected),
    and leaves the job running."""
    watches = keep_watches(queue, monkeypatch)  # only close() can unsubscribe them
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    stream = serve(queue, public=True, keepalive=KEEPALIVE).stream(f"/transfers/{job_id}/events")
    assert subscribed_watches(queue) == 1
    stream.close()
    assert len(watches) == 1
    assert subscribed_watches(queue) == 0
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.ACTIVE


def test_all_events_close_before_reading(queue: tq.TransferQueue, serve: Serve) -> None:
    """Issue 5: the all-jobs stream subscribes when it starts, so a response closed
    before its first chunk leaves no receiver either."""
    created_before = len(tq.job_created.receivers)
    updated_before = len(tq.job_updated.receivers)
    serve(queue, public=True, keepalive=KEEPALIVE).stream("/transfers/events").close()
    assert len(tq.job_created.receivers) == created_before
    assert len(tq.job_updated.receivers) == updated_before


def test_job_events_after_end_sends_no_body(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve
) -> None:
    """Issue 5: the view answering a reconnect after the end (``Last-Event-ID: end``) sends
    a 204 without a body itself (the test client strips a 204's body, as servers should)."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    serve(queue, public=True)
    url = f"/transfers/{job_id}/events"
    match = resolve(url)
    request = RequestFactory().get(url, headers={"Last-Event-ID": "end"})
    direct = match.func(request, *match.args, **match.kwargs)
    assert (direct.status_code, direct.content) == (204, b"")
    assert subscribed_watches(queue) == 0


# --- without Django ----------------------------------------------------------------------------


def test_views_without_django(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5: without Django, importing the views names the extra to install."""
    monkeypatch.setitem(sys.modules, "django", None)
    for name in ("transferqueue.web.django", "transferqueue.web.django._views"):
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=re.escape("pip install 'transferqueue[django]'")):
        importlib.import_module("transferqueue.web.django")
