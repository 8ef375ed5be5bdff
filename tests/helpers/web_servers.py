"""A real HTTP client of a web server running on 127.0.0.1 (in this process or in a
gunicorn or uvicorn of its own) that serves the apps of tests/helpers/web_apps.py: JSON
requests, the test-only routes that drive the app's queue, and SSE streams read event by
event with http.client."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.sse_pictures import Pictures
from tests.helpers.web_apps import KEEPALIVE

STARTUP = 20.0  # bound for gunicorn to listen and answer
# A server notices a dropped client only when it writes: werkzeug at the first keep-alive
# after the drop, gunicorn at the second. A few intervals bound how long that may take.
DROP_NOTICED_WITHIN = 10 * KEEPALIVE

Event = tuple[str | None, Any]  # (event name, JSON data); ("comment", text) for comments


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

    def stream(self, path: str, headers: dict[str, str] | None = None) -> Stream:
        """An open SSE stream (more request ``headers`` if given); the caller closes it."""
        conn = self.connect()
        try:
            conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
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
