"""Issue 13 (Django as Django developers expect it): the application in INSTALLED_APPS, its
TRANSFERQUEUE concurrency limit, the system checks, the trailing slash, and the event
streams under ASGI (Django's AsyncClient here; a real uvicorn in test_web_servers.py and
test_web_browser.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import django
import pytest
from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseBase, StreamingHttpResponse
from django.middleware.gzip import GZipMiddleware
from django.test import AsyncClient, Client, override_settings
from django.urls import include, path

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files
from tests.helpers.django_project import configure
from tests.helpers.web_clients import django_urlconf, parse, subscribed_watches
from tests.integration.test_readme import _code_block_after
from transferqueue._core import singleton as _singleton
from transferqueue.web._endpoints import EventStream
from transferqueue.web.django import transfer_urls
from transferqueue.web.django._async_stream import AsyncEventStream
from transferqueue.web.django._settings import read_settings
from transferqueue.web.django.apps import TransferQueueConfig

configure()
ROOT = Path(__file__).resolve().parents[2]
GZIP = "django.middleware.gzip.GZipMiddleware"


# --- the application -------------------------------------------------------------------------


def test_app_config_is_found_by_its_dotted_path() -> None:
    """Issue 13: "transferqueue.web.django" in INSTALLED_APPS is the package's AppConfig,
    labelled "transferqueue"."""
    config = apps.get_app_config("transferqueue")
    assert isinstance(config, TransferQueueConfig)
    assert config.name == "transferqueue.web.django"


def _django_process(setting: str, env_limit: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter that sets Django up with the app and ``TRANSFERQUEUE=setting``
    (Python source), with ``MAX_CONCURRENT_TRANSFERS=env_limit``, and prints the
    process-wide queue's limit."""
    script = f"""
        import django
        from django.conf import settings
        settings.configure(
            INSTALLED_APPS=["transferqueue.web.django"], TRANSFERQUEUE={setting}
        )
        django.setup()
        import transferqueue as tq
        print(tq.transfer_queue.concurrency_limit)
    """
    env = {**os.environ, "MAX_CONCURRENT_TRANSFERS": env_limit, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT * 3,
        check=False,
    )


def test_concurrency_limit_from_settings_when_django_starts() -> None:
    """Issue 13: TRANSFERQUEUE's CONCURRENCY_LIMIT is the process-wide queue's limit once
    Django has started, and a bad MAX_CONCURRENT_TRANSFERS is then never read."""
    done = _django_process('{"CONCURRENCY_LIMIT": 7}', "not a number")
    assert (done.returncode, done.stdout.strip()) == (0, "7"), done.stderr


def test_bad_setting_stops_django_from_starting() -> None:
    """Issue 13: a bad TRANSFERQUEUE stops django.setup() with ImproperlyConfigured naming
    the key, before any request."""
    done = _django_process('{"CONCURRENCY_LIMIT": 0}', "2")
    assert done.returncode != 0
    assert "ImproperlyConfigured: TRANSFERQUEUE['CONCURRENCY_LIMIT']" in done.stderr


def test_setting_changes_a_queue_made_before_django_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13: a process-wide queue made before Django's start gets the setting's limit
    when the app is ready."""
    queue = tq.TransferQueue(2)
    monkeypatch.setattr(_singleton, "_shared", queue)
    monkeypatch.setattr(_singleton, "_configured_limit", None)
    try:
        with override_settings(TRANSFERQUEUE={"CONCURRENCY_LIMIT": 5}):
            apps.get_app_config("transferqueue").ready()
        assert queue.concurrency_limit == 5
        with override_settings(TRANSFERQUEUE={"PUBLIC": True}):  # no limit: left as it is
            apps.get_app_config("transferqueue").ready()
        assert queue.concurrency_limit == 5
    finally:
        queue.shutdown(wait=True)


def test_set_shared_limit_refuses_a_bad_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: the limit given to the process-wide queue is checked as the queue's own."""
    monkeypatch.setattr(_singleton, "_configured_limit", None)
    with pytest.raises(ValueError, match="at least 1"):
        _singleton.set_shared_limit(0)
    assert _singleton._configured_limit is None


# --- system checks ----------------------------------------------------------------------------


def _ids() -> list[str]:
    return [message.id for message in checks.run_checks() if message.id is not None]


def test_gzip_middleware_is_warned_about() -> None:
    """Issue 13: transferqueue.W001 names GZipMiddleware (or a subclass) in MIDDLEWARE;
    other and unimportable middleware are no concern of it."""
    assert "transferqueue.W001" not in _ids()
    middleware = ["django.middleware.common.CommonMiddleware", "no_such_module.Middleware"]
    with override_settings(MIDDLEWARE=middleware):
        assert "transferqueue.W001" not in _ids()
    for gzip in (GZIP, "tests.integration.test_web_django_app.OwnGZip"):
        with override_settings(MIDDLEWARE=[*middleware, gzip]):
            [warning] = [m for m in checks.run_checks() if m.id == "transferqueue.W001"]
        assert warning.obj == gzip
        assert warning.level == checks.WARNING
        assert "arrive late" in warning.msg


class OwnGZip(GZipMiddleware):
    """A project's own GZip middleware, which compresses the streams as well."""


def test_django_before_5_under_asgi_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: transferqueue.W002 warns on Django before 5.0 (an ASGI client that left
    is never noticed there), and can be silenced by its id."""
    assert "transferqueue.W002" not in _ids()
    monkeypatch.setattr(django, "VERSION", (4, 2, 20, "final", 0))
    assert "transferqueue.W002" in _ids()
    with override_settings(SILENCED_SYSTEM_CHECKS=["transferqueue.W002"]):
        [warning] = [m for m in checks.run_checks() if m.id == "transferqueue.W002"]
        assert warning.is_silenced()
    assert "4.2.20" in warning.msg


# --- the trailing slash -----------------------------------------------------------------------


def test_list_without_trailing_slash(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 13: as the Flask blueprint's, the list is reached at the prefix without its
    trailing slash (Django's APPEND_SLASH redirects there, the default with
    CommonMiddleware), and no other route takes a trailing slash."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    patterns = django_urlconf(path("transfers/", include(transfer_urls(queue, public=True))))
    common = ["django.middleware.common.CommonMiddleware"]
    with override_settings(ROOT_URLCONF=patterns, MIDDLEWARE=common):
        client = Client()
        redirect = client.get("/transfers")
        assert (redirect.status_code, redirect["Location"]) == (301, "/transfers/")
        listed = client.get("/transfers", follow=True)
        assert [job["id"] for job in listed.json()] == [job_id]
        assert client.get(f"/transfers/{job_id}/").status_code == 404
        assert client.get(f"/transfers/{job_id}").status_code == 200


# --- streams under ASGI ------------------------------------------------------------------------


async def _read(chunks: AsyncIterator[bytes]) -> tuple[str | None, Any]:
    """The next event of an ASGI stream (keep-alive comments skipped)."""
    while (event := parse(await asyncio.wait_for(anext(chunks), WAIT)))[0] == "comment":
        pass
    return event


def test_asgi_job_stream_is_async_and_live(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 13: under ASGI a job's stream is an asynchronous iterator whose events come
    while the job runs (its first at once, an update when a file completes), not all at
    its end; closing the response ends the subscription."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    patterns = django_urlconf(path("transfers/", include(transfer_urls(queue, public=True))))

    async def follow() -> list[tuple[str | None, Any]]:
        response: HttpResponseBase = await AsyncClient().get(f"/transfers/{job_id}/events")
        assert isinstance(response, StreamingHttpResponse)
        assert response.is_async
        chunks = response.streaming_content
        assert isinstance(chunks, AsyncIterator), "an ASGI stream is an async iterator"
        seen = [await _read(chunks)]
        gate.release("src/file-0")
        while seen[-1][1]["job"]["progress"]["completedFiles"] < 1:
            seen.append(await _read(chunks))
        await asyncio.to_thread(response.close)
        return seen

    with override_settings(ROOT_URLCONF=patterns):
        seen = asyncio.run(follow())
    assert [data["job"]["status"] for _, data in seen] == ["active"] * len(seen)
    assert len(seen[0][1]["job"]["files"]) == 2  # the stream opens with the job whole
    changed = [change["file"]["status"] for change in seen[-1][1]["changedFiles"]]
    assert "completed" in changed
    _wait_unsubscribed(queue)
    gate.release_all()


def _wait_unsubscribed(queue: tq.TransferQueue) -> None:
    # The stream is closed in its own thread; ending that thread's work is what we wait on.
    for thread in threading.enumerate():
        if thread.name.startswith("transferqueue-sse"):
            thread.join(WAIT)
    assert subscribed_watches(queue) == 0


# --- AsyncEventStream --------------------------------------------------------------------------


class Blocking:
    """A stream body whose each chunk waits for ``release``; records its close."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.closed = threading.Event()
        self.threads: set[str] = set()

    def chunks(self) -> Generator[str, None, None]:
        self.threads.add(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(WAIT)
        yield "data: 1\n\n"
        yield "data: 2\n\n"

    def stream(self) -> EventStream:
        def released() -> None:
            self.threads.add(threading.current_thread().name)
            self.closed.set()

        return EventStream(self.chunks(), released)


def test_async_stream_does_not_block_the_loop() -> None:
    """Issue 13: while a chunk is awaited (the blocking next() in the stream's thread),
    the event loop runs other tasks; the chunks then come in order, and the end."""
    body = Blocking()

    async def main() -> list[str]:
        stream = AsyncEventStream(body.stream())
        first = asyncio.ensure_future(anext(stream))
        await asyncio.to_thread(body.started.wait, WAIT)
        assert not first.done()
        await asyncio.sleep(0)  # the loop is free: this task runs on
        body.release.set()
        chunks = [await first]
        chunks += [chunk async for chunk in stream]
        return chunks

    assert asyncio.run(main()) == ["data: 1\n\n", "data: 2\n\n"]
    assert body.closed.wait(WAIT)  # the end closed it
    assert all(name.startswith("transferqueue-sse") for name in body.threads)


def test_async_stream_closed_while_waiting() -> None:
    """Issue 13: close() during a blocked next() (the client gone) returns at once, and
    closes the stream in its own thread as soon as that next() returns."""
    body = Blocking()

    async def main() -> None:
        stream = AsyncEventStream(body.stream())
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.to_thread(body.started.wait, WAIT)
        waiting.cancel()  # what Django does when the client disconnects
        stream.close()
        assert not body.closed.is_set()  # its next() still runs
        body.release.set()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        stream.close()  # idempotent

    asyncio.run(main())
    assert body.closed.wait(WAIT)
    assert all(name.startswith("transferqueue-sse") for name in body.threads)


def test_async_stream_closed_before_its_first_chunk() -> None:
    """Issue 13: a stream closed before anything was asked of it (aclose, as
    contextlib.aclosing does) still releases what it holds."""
    body = Blocking()

    async def main() -> None:
        stream = AsyncEventStream(body.stream())
        assert aiter(stream) is stream
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)

    asyncio.run(main())
    assert body.closed.wait(WAIT)
    assert not body.started.is_set()


# --- the README --------------------------------------------------------------------------------


def test_readme_django_settings_as_written() -> None:
    """Issue 13: README's Django settings, run as written, are a setting the application
    accepts (its hook swapped for one that imports here), with the limit it shows; the
    error it quotes is the one raised; both check ids are documented."""
    names: dict[str, Any] = {}
    exec(_code_block_after("\nDjango\n------\n"), names)
    assert "transferqueue.web.django" in names["INSTALLED_APPS"]
    setting = {**names["TRANSFERQUEUE"], "CAN_ACCESS": "tests.helpers.web_clients.deny_header"}
    with override_settings(TRANSFERQUEUE=setting):
        configured = read_settings()
    assert configured.concurrency_limit == names["TRANSFERQUEUE"]["CONCURRENCY_LIMIT"]
    assert set(configured.view_options) == {
        "can_access",
        "hide_paths",
        "camel_case",
        "keepalive",
    }
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    with (
        override_settings(TRANSFERQUEUE={"CONCURRENCY_LIMIT": 0}),
        pytest.raises(ImproperlyConfigured) as raised,
    ):
        read_settings()
    assert f"``{raised.value}``" in " ".join(readme.split())
    assert "``transferqueue.W001``" in readme
    assert "``transferqueue.W002``" in readme
