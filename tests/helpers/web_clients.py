"""The transfer routes through Flask's and Django's test clients behind one interface, and
the SSE readers of the web tests (tests/integration/test_web_routes.py, test_web_flask.py,
test_web_django.py).

``serve_routes(framework, stack, queue, **options)`` mounts the routes under ``/transfers/`` with
``transfer_blueprint`` (Flask) or ``transfer_urls`` (Django, in a URLconf of the test's own
that ``stack`` keeps active) and answers a :class:`WebClient`. Both clients check what every
answer of its kind must be: a JSON answer is not a stream and is ``application/json``; a
stream is a 200 ``text/event-stream`` with the SSE headers. Both also check that the access
hook is given the framework's own request object.

The two test clients differ in when a stream starts: Flask's runs its generator to its first
chunk inside ``get()``, Django's only when the first chunk is taken. Either way a
:class:`Stream` yields one chunk per SSE message and ``close()`` does what a server does
when it stops sending the response.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import flask
import pytest
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from werkzeug.test import TestResponse

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers.django_project import configure
from tests.helpers.sse_pictures import Pictures
from transferqueue.web import transfer_blueprint
from transferqueue.web.django import transfer_urls

configure()  # before any Django client or URLconf is used

FRAMEWORKS = ("flask", "django")
"""The frameworks every shared route test runs under (they name the test ids)."""

KEEPALIVE = 0.02
"""A short keepalive, so that readers waiting for a comment check their deadline often."""

Event = tuple[str | None, Any]
"""One SSE message as ``(event, data)``; a comment is ``("comment", text)``. The readers
below give a :class:`Stream`'s job messages as the whole jobs they rebuild."""

_Hook = Callable[[Any, tq.TransferJob | None, str], bool]


def subscribed_watches(queue: tq.TransferQueue) -> int:
    """How many watches the queue has subscribed, counted under its lock."""
    with queue._lock:
        return queue._delivery.watch_count()


def keep_watches(queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make ``queue.watch`` keep every watch it returns alive in the list returned, so
    that a test sees a stream unsubscribe by closing its watch, not by its collection."""
    watches: list[object] = []
    watch = queue.watch

    def keeping_watch(job_id: str, **options: Any) -> Any:
        watches.append(watch(job_id, **options))
        return watches[-1]

    monkeypatch.setattr(queue, "watch", keeping_watch)
    return watches


def deny_header(request: Any, job: tq.TransferJob | None, action: str) -> bool:
    """Access hook for either framework (both requests have ``headers.get``):
    ``X-Deny: view`` hides every job, ``X-Deny: cancel`` forbids cancels,
    ``X-Deny: list`` forbids the collection routes, ``X-Deny: <job id>`` hides that job."""
    deny: str = request.headers.get("X-Deny", "")
    if job is None:
        return deny != "list"
    return deny != action and deny != job.id


# --- SSE ---------------------------------------------------------------------------------


def parse(chunk: bytes, pictures: Pictures | None = None) -> Event:
    """One SSE chunk as ``(event, data)``; a comment gives ``("comment", text)``.

    With ``pictures`` (a :class:`Stream`'s), a job message's data is the job it rebuilds,
    whole (see tests/helpers/sse_pictures.py); without, the message as sent."""
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
    # A job's stream carries ids (its snapshots' event numbers, then "end"), the ones a
    # reconnecting browser sends back; the all-jobs stream's named events carry none.
    assert ("id" in fields) == (event in (None, "end")), text
    if event == "end":
        assert fields["id"] == "end", text
    elif event is None:
        assert fields["id"].isdigit(), text
    data = json.loads(fields["data"])
    if pictures is not None and event == "jobs":
        pictures.take_list(data)
    elif pictures is not None and event != "end":
        data = pictures.apply(data)
    return event, data


def _pictures(chunks: Iterator[bytes]) -> Pictures | None:
    return chunks.pictures if isinstance(chunks, Stream) else None


def read_events(chunks: Iterator[bytes], count: int, *, comments: bool = False) -> list[Event]:
    """The next ``count`` events (keep-alive comments skipped unless ``comments``)."""
    deadline = time.monotonic() + WAIT
    events: list[Event] = []
    while len(events) < count:
        assert time.monotonic() < deadline, f"only {events} within {WAIT} s"
        event = parse(next(chunks), _pictures(chunks))
        if comments or event[0] != "comment":
            events.append(event)
    return events


def read_until_comment(chunks: Iterator[bytes]) -> list[Event]:
    """The events before the next keep-alive comment (which is consumed)."""
    deadline = time.monotonic() + WAIT
    events: list[Event] = []
    while (event := parse(next(chunks), _pictures(chunks)))[0] != "comment":
        assert time.monotonic() < deadline, f"no keep-alive within {WAIT} s: {events}"
        events.append(event)
    assert event == ("comment", "keep-alive")
    return events


def read_until(chunks: Iterator[bytes], done: Callable[[list[Event]], bool]) -> list[Event]:
    """The events (keep-alive comments skipped) up to the first point where ``done`` of
    all read so far is true."""
    deadline = time.monotonic() + WAIT
    events: list[Event] = []
    while not done(events):
        assert time.monotonic() < deadline, f"not done within {WAIT} s: {events}"
        event = parse(next(chunks), _pictures(chunks))
        if event[0] != "comment":
            events.append(event)
    return events


def read_until_end(chunks: Iterator[bytes]) -> list[Event]:
    """Every event up to ``end``; asserts that the stream then ends."""
    events = read_until(chunks, lambda events: bool(events) and events[-1][0] == "end")
    with pytest.raises(StopIteration):
        next(chunks)
    return events


# --- clients -----------------------------------------------------------------------------


class Stream(Iterator[bytes]):
    """An open SSE response: its chunks (one per message), and ``close()`` as a server does."""

    def __init__(self, chunks: Iterable[bytes], close: Callable[[], None]) -> None:
        self._chunks = iter(chunks)
        self._close = close
        self.pictures = Pictures()  # the jobs as this client's messages rebuild them

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        """Close the response (the client is gone, or the body is sent)."""
        self._close()


def _check_stream_headers(status: int, content_type: str | None, headers: Any) -> None:
    assert status == 200
    assert content_type == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Accel-Buffering"] == "no"


class WebClient(abc.ABC):
    """The routes of one framework's test client; URLs start with ``/transfers/``."""

    framework: str

    @abc.abstractmethod
    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET a JSON answer: ``(status, body)``, the body None when it is empty (204)."""

    @abc.abstractmethod
    def delete(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """DELETE: ``(status, body)`` as for :meth:`get`."""

    @abc.abstractmethod
    def stream(self, url: str, headers: dict[str, str] | None = None) -> Stream:
        """GET an SSE route, which must answer a stream."""


class FlaskWebClient(WebClient):
    """``transfer_blueprint(queue, **options)`` under ``/transfers`` in an app of its own."""

    framework = "flask"

    def __init__(self, queue: tq.TransferQueue | None, **options: Any) -> None:
        app = flask.Flask(__name__)
        options = _checking_request_type(options, flask.Request)
        app.register_blueprint(transfer_blueprint(queue, **options), url_prefix="/transfers")
        self.client = app.test_client()
        """Flask's own test client, for what the interface does not cover."""

    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET a JSON answer (see :meth:`WebClient.get`)."""
        return self._json(self.client.get(url, headers=headers))

    def delete(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """DELETE (see :meth:`WebClient.delete`)."""
        return self._json(self.client.delete(url, headers=headers))

    def stream(self, url: str, headers: dict[str, str] | None = None) -> Stream:
        """GET an SSE route (see :meth:`WebClient.stream`)."""
        response = self.client.get(url, headers=headers)
        _check_stream_headers(response.status_code, response.mimetype, response.headers)
        return Stream(cast("Iterable[bytes]", response.response), response.close)

    @staticmethod
    def _json(response: TestResponse) -> tuple[int, Any]:
        # Flask's test client marks every response streamed: tell a stream by its type.
        assert response.mimetype != "text/event-stream"
        if not response.data:
            return response.status_code, None
        assert response.mimetype == "application/json"
        return response.status_code, response.get_json()


class DjangoWebClient(WebClient):
    """Django's test client, serving whatever URLconf is active when it is used."""

    framework = "django"

    def __init__(self, client: Client | None = None) -> None:
        self.client = Client() if client is None else client
        """Django's own test client, for what the interface does not cover."""

    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """GET a JSON answer (see :meth:`WebClient.get`)."""
        return self._json(self.client.get(url, headers=headers or {}))

    def delete(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """DELETE (see :meth:`WebClient.delete`)."""
        return self._json(self.client.delete(url, headers=headers or {}))

    def stream(self, url: str, headers: dict[str, str] | None = None) -> Stream:
        """GET an SSE route (see :meth:`WebClient.stream`)."""
        response: HttpResponseBase = self.client.get(url, headers=headers or {})
        assert isinstance(response, StreamingHttpResponse)
        _check_stream_headers(response.status_code, response["Content-Type"], response)
        chunks = response.streaming_content
        assert isinstance(chunks, Iterator), "a WSGI stream is a plain iterator"
        return Stream(chunks, response.close)

    @staticmethod
    def _json(response: Any) -> tuple[int, Any]:
        assert not response.streaming
        if not response.content:
            return response.status_code, None
        assert response["Content-Type"] == "application/json"
        return response.status_code, response.json()


def django_urlconf(*patterns: Any) -> types.ModuleType:
    """A URLconf module with ``patterns``, for ``override_settings(ROOT_URLCONF=...)``."""
    module = types.ModuleType("transferqueue_test_urls")
    vars(module)["urlpatterns"] = list(patterns)
    return module


def serve_routes(
    framework: str, stack: contextlib.ExitStack, queue: tq.TransferQueue | None, **options: Any
) -> WebClient:
    """A client of the routes serving ``queue`` with ``options`` under ``/transfers/``;
    Django's URLconf stays active until ``stack`` closes."""
    if framework == "flask":
        return FlaskWebClient(queue, **options)
    assert framework == "django", framework
    options = _checking_request_type(options, HttpRequest)
    patterns = django_urlconf(path("transfers/", include(transfer_urls(queue, **options))))
    stack.enter_context(override_settings(ROOT_URLCONF=patterns))
    return DjangoWebClient()


def _checking_request_type(options: dict[str, Any], request_type: type) -> dict[str, Any]:
    # The adapters document which request the hook gets; the shared hooks do not care.
    hook: _Hook | None = options.get("can_access")
    if not callable(hook):  # None, or a wrong value the routes must refuse as it is
        return options

    def checked(request: Any, job: tq.TransferJob | None, action: str) -> bool:
        assert isinstance(request, request_type), type(request)
        return hook(request, job, action)

    return {**options, "can_access": checked}
