"""The demo page in a real, headless Chromium driven by Playwright.

Each test runs twice: with the demo app (Flask) in werkzeug's threaded server, and with
the same page and routes in Django under ASGI (tests/helpers/django_demo.py) in uvicorn,
both on 127.0.0.1 (a free port). Chromium is
Debian's ``/usr/bin/chromium`` (or the executable named by ``TRANSFERQUEUE_CHROMIUM``),
which Playwright starts with a fresh temporary profile. Without it the module is
skipped, unless ``TRANSFERQUEUE_REQUIRE_BROWSER=1`` (as in CI), which fails every test.
With ``TRANSFERQUEUE_SCREENSHOT=<path>`` the page with a completed, a failed and an
active job is saved there as a PNG.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import flask
import pytest
from werkzeug.serving import make_server

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.django_demo import django_demo_app
from tests.helpers.web_apps import uvicorn_server
from transferqueue.web._demo import demo_app

CHROMIUM = os.environ.get("TRANSFERQUEUE_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("TRANSFERQUEUE_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = WAIT * 1000  # every expect() waits this long at most
NEVER = 3600.0  # the slow job's pause after each chunk: only a cancel ends it


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TRANSFERQUEUE_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


MISSING = _missing()
if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

if MISSING is None:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Locator,
        Page,
        Playwright,
        expect,
        sync_playwright,
    )
    from playwright.sync_api import Request as BrowserRequest


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    if MISSING is not None:  # TRANSFERQUEUE_REQUIRE_BROWSER=1: a missing browser is an error
        pytest.fail(f"TRANSFERQUEUE_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@attrs.frozen
class Demo:
    """The running demo server: its URL and its queue."""

    url: str
    queue: tq.TransferQueue


@pytest.fixture
def slow_pause() -> float:
    """The slow job's pause after each chunk (a test may parametrize it)."""
    return NEVER


@pytest.fixture(params=["werkzeug-flask", "uvicorn-django-asgi"])
def demo(request: pytest.FixtureRequest, slow_pause: float) -> Iterator[Demo]:
    """The demo app on a free port of 127.0.0.1, with its own queue of 3 slots and work
    folder (named as ``python -m transferqueue.web`` names it); samples copy at full
    speed, except the slow one, which by default stops after its first chunk until it is
    cancelled. Server, queue and folder are gone after the test."""
    queue = tq.TransferQueue(3)
    # A short keep-alive: a stream whose page has closed notices it at its next write.
    options: dict[str, Any] = {"pause": 0.002, "slow_pause": slow_pause, "keepalive": 0.5}
    with tempfile.TemporaryDirectory(prefix="transferqueue-web-demo-") as workdir:
        try:
            if request.param == "werkzeug-flask":
                yield from _werkzeug_demo(demo_app(queue, workdir, **options), queue)
            else:
                with uvicorn_server(django_demo_app(queue, workdir, **options)) as port:
                    yield Demo(f"http://127.0.0.1:{port}/", queue)
        finally:
            queue.shutdown(wait=True, cancel_jobs=True)


def _werkzeug_demo(app: flask.Flask, queue: tq.TransferQueue) -> Iterator[Demo]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="demo-server", daemon=True)
    thread.start()
    try:
        yield Demo(f"http://127.0.0.1:{server.server_port}/", queue)
    finally:
        server.shutdown()
        thread.join(WAIT)


class Problems:
    """Console errors, uncaught page errors and failed requests of a page."""

    def __init__(self, page: Page) -> None:
        self.found: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.found.append(f"console error: {message.text}")

    def _request_failed(self, request: BrowserRequest) -> None:
        self.found.append(f"request failed: {request.method} {request.url}: {request.failure}")


@attrs.frozen
class DemoPage:
    """The loaded page, what went wrong on it so far, and the demo behind it."""

    page: Page
    problems: Problems
    demo: Demo

    def job(self, title: str) -> Locator:
        """The card of the job titled ``title`` (e.g. "Sample files #1")."""
        return self.page.locator("[data-testid=job]").filter(
            has=self.page.get_by_role("heading", name=title, exact=True)
        )

    def start(self, kind: str, title: str) -> Locator:
        """Click the button of sample ``kind``; its job's card once it is shown."""
        self.page.get_by_test_id(f"start-{kind}").click()
        card = self.job(title)
        expect(card).to_have_count(1, timeout=TIMEOUT_MS)
        return card

    def check_clean(self) -> None:
        assert self.problems.found == []


@pytest.fixture
def demo_page(browser: Browser, demo: Demo) -> Iterator[DemoPage]:
    """The demo page loaded in a fresh browser context (1100 x 700), closed after the
    test and before the server stops (a stream cut by the server is an error)."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    try:
        page = context.new_page()
        problems = Problems(page)
        page.goto(demo.url)
        expect(page.get_by_test_id("connection")).to_have_attribute(
            "data-state", "live", timeout=TIMEOUT_MS
        )
        yield DemoPage(page, problems, demo)
    finally:
        context.close()


def expect_status(card: Locator, status: str) -> None:
    expect(card).to_have_attribute("data-status", status, timeout=TIMEOUT_MS)
    expect(card.get_by_test_id("job-status")).to_have_text(status)


def job_id(card: Locator) -> str:
    value = card.get_attribute("data-job-id")
    assert value is not None
    return value


# --- tests ---------------------------------------------------------------------------------


def test_page_loads_with_no_jobs(demo_page: DemoPage) -> None:
    """The page loads its own files only, connects its event stream ("Live"),
    and says there is no job yet; the three start buttons are there, with text."""
    page = demo_page.page
    expect(page).to_have_title("transferqueue demo")
    expect(page.get_by_test_id("empty")).to_be_visible()
    expect(page.locator("[data-testid=job]")).to_have_count(0)
    for name in ("Copy sample files", "Copy with a missing file", "Start a slow copy"):
        expect(page.get_by_role("button", name=name)).to_be_enabled()
    demo_page.check_clean()


def test_refused_stream_shows_disconnected(browser: Browser, demo: Demo) -> None:
    """When the server refuses the event stream (an HTTP error, after which
    EventSource gives up), the page says "Disconnected" rather than reconnecting for ever."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/transfers/events", lambda route: route.fulfill(status=403, body="no"))
        page.goto(demo.url)
        connection = page.get_by_test_id("connection")
        expect(connection).to_have_attribute("data-state", "closed", timeout=TIMEOUT_MS)
        expect(connection).to_have_text("Disconnected")
    finally:
        context.close()


def test_copy_job_bar_reaches_100(demo_page: DemoPage) -> None:
    """The "Copy sample files" button starts a job whose card, fed by the event
    stream, ends with its bar at 100%, status completed, every file completed, all
    bytes counted and no Cancel button."""
    card = demo_page.start("copy", "Sample files #1")
    expect_status(card, "completed")
    bar = card.get_by_role("progressbar", name="Progress of Sample files #1")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(card.get_by_test_id("job-bytes")).to_have_text("11.0 MiB of 11.0 MiB")
    expect(card.get_by_test_id("job-files")).to_have_text("4 of 4 files")
    expect(card.get_by_test_id("file-status")).to_have_text(["completed"] * 4)
    expect(card.get_by_test_id("file-bytes").first).to_have_text("3.0 MiB / 3.0 MiB")
    expect(card.get_by_test_id("cancel")).to_be_hidden()
    expect(demo_page.page.get_by_test_id("empty")).to_be_hidden()
    final = demo_page.demo.queue.wait(job_id(card), timeout=WAIT)
    assert final.status == tq.TransferStatus.COMPLETED
    demo_page.check_clean()


def test_slow_job_cancelled_with_its_button(demo_page: DemoPage) -> None:
    """The slow job shows live progress while active (its first chunks), its
    Cancel button cancels it in the queue, and the card turns cancelled with the
    reason, its bar stopped short of 100% and the button gone."""
    card = demo_page.start("slow", "Slow copy #1")
    expect_status(card, "active")
    expect(card.get_by_test_id("file-bytes")).to_have_text(["256 KiB / 12.0 MiB"] * 2)
    bar = card.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "2")
    card.get_by_role("button", name="Cancel Slow copy #1").click()
    expect_status(card, "cancelled")
    expect(card.get_by_test_id("job-error")).to_have_text("Cancelled by user")
    expect(card.get_by_test_id("file-status")).to_have_text(["error"] * 2)
    expect(card.get_by_test_id("cancel")).to_be_hidden()
    expect(bar).to_have_attribute("aria-valuenow", "2")
    job = demo_page.demo.queue.get_job(job_id(card))
    assert job is not None
    assert job.status == tq.TransferStatus.CANCELLED
    demo_page.check_clean()


def test_slow_job_paused_and_resumed_with_its_button(demo_page: DemoPage) -> None:
    """The slow job's Pause button pauses it in the queue: the card turns
    paused, its files queued with the bytes they had, the button says Resume. Resume
    makes it active again, and each file goes on from its kept copy (its next chunk,
    not its first again); Cancel still ends it."""
    card = demo_page.start("slow", "Slow copy #1")
    expect_status(card, "active")
    expect(card.get_by_test_id("file-bytes")).to_have_text(["256 KiB / 12.0 MiB"] * 2)
    expect(card.get_by_test_id("job-files")).to_have_text("0 of 2 files")
    card.get_by_role("button", name="Pause Slow copy #1").click()
    expect_status(card, "paused")
    expect(card.get_by_test_id("file-status")).to_have_text(["queued"] * 2, timeout=TIMEOUT_MS)
    expect(card.get_by_test_id("file-bytes")).to_have_text(["256 KiB / 12.0 MiB"] * 2)
    expect(card.get_by_test_id("pause")).to_have_text("Resume")
    expect(card.get_by_test_id("cancel")).to_be_visible()
    paused = demo_page.demo.queue.get_job(job_id(card))
    assert paused is not None
    assert paused.status == tq.TransferStatus.PAUSED
    card.get_by_role("button", name="Resume Slow copy #1").click()
    expect_status(card, "active")
    expect(card.get_by_test_id("pause")).to_have_text("Pause")
    expect(card.get_by_test_id("file-bytes")).to_have_text(
        ["512 KiB / 12.0 MiB"] * 2, timeout=TIMEOUT_MS
    )
    card.get_by_role("button", name="Cancel Slow copy #1").click()
    expect_status(card, "cancelled")
    expect(card.get_by_test_id("pause")).to_be_hidden()
    demo_page.check_clean()


def test_failing_job_shows_the_file_error(demo_page: DemoPage) -> None:
    """The job with a missing file ends failed, the missing file's row shows
    its status and the error text, and the other three files show completed."""
    card = demo_page.start("failing", "With a missing file #1")
    expect_status(card, "failed")
    expect(card.get_by_test_id("job-error")).to_have_text("1 of 4 files failed")
    expect(card.get_by_test_id("job-files")).to_have_text("3 of 4 files, 1 failed")
    expect(card.get_by_test_id("file-status")).to_have_text(
        ["completed", "completed", "error", "completed"]
    )
    missing = card.get_by_test_id("file").filter(has_text="missing.bin")
    expect(missing).to_have_attribute("data-status", "error")
    expect(missing.get_by_test_id("file-error")).to_be_visible()
    job = demo_page.demo.queue.get_job(job_id(card))
    assert job is not None
    source = next(f.source_path for f in job.files if f.source_path.endswith("missing.bin"))
    expect(missing.get_by_test_id("file-error")).to_have_text(
        f"cannot read source {source}: No such file or directory"
    )
    expect(card.get_by_test_id("file-error")).to_have_count(4)
    expect(card.locator("[data-testid=file-error]:visible")).to_have_count(1)
    demo_page.check_clean()


def test_data_is_shown_as_text_never_as_html(demo_page: DemoPage) -> None:
    """File names and errors with markup in them are shown literally: no
    element or script from the data reaches the page."""
    markup = '<img src=x onerror="window.injected=1">'

    def fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        raise OSError(f"<b>bold</b> {markup}")

    queue = demo_page.demo.queue
    job = queue.queue_job(
        "local-upload", [{"source_path": f"/x/{markup}", "destination_path": "/y", "size": 1}], fail
    )
    assert queue.wait(job, timeout=WAIT).status == tq.TransferStatus.FAILED
    card = demo_page.page.locator(f"[data-job-id='{job}']")
    expect_status(card, "failed")
    expect(card.get_by_role("heading")).to_have_text("local-upload")  # not a demo sample
    file = card.get_by_test_id("file")
    expect(file.locator(".name")).to_have_text(markup)
    expect(file.get_by_test_id("file-error")).to_have_text(f"<b>bold</b> {markup}")
    expect(card.locator("img, b")).to_have_count(0)
    assert demo_page.page.evaluate("window.injected") is None
    demo_page.check_clean()


def test_skipped_files_show_as_up_to_date(demo_page: DemoPage) -> None:
    """A file queued as skipped (its destination up to date) shows its status
    "skipped" and its size "up to date", and the job's count says how many were."""
    queue = demo_page.demo.queue
    files = [
        {"source_path": "/x/new.bin", "destination_path": "/y/new.bin", "size": 2048},
        {"source_path": "/x/same.bin", "destination_path": "/y/same.bin", "size": 3 << 20},
    ]
    files[1]["skip"] = True
    job = queue.queue_job("local-upload", files, lambda file, on_progress: None)
    assert queue.wait(job, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    card = demo_page.page.locator(f"[data-job-id='{job}']")
    expect_status(card, "completed")
    expect(card.get_by_test_id("file-status")).to_have_text(["completed", "skipped"])
    expect(card.get_by_test_id("file-bytes")).to_have_text(
        ["2.0 KiB / 2.0 KiB", "3.0 MiB up to date"]
    )
    expect(card.get_by_test_id("job-files")).to_have_text("1 of 2 files, 1 up to date")
    expect(card.get_by_test_id("job-bytes")).to_have_text("2.0 KiB of 2.0 KiB")
    demo_page.check_clean()


def test_a_paused_job_keeps_its_skipped_file_up_to_date(demo_page: DemoPage) -> None:
    """Paused with its Pause button, a job with a file queued as skipped shows that file
    "skipped" and "up to date" on the paused card, its other file queued again with its
    bytes; resumed with the same button, the job completes at 100%, the skipped file
    still skipped."""
    queue = demo_page.demo.queue

    def stops_on_its_first_attempt(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(1024)
        if file.attempts == 1:
            assert on_progress.wait_stopped(WAIT)
            on_progress.raise_if_stopped()
        on_progress(file.size)

    files = [
        {"source_path": "/x/new.bin", "destination_path": "/y/new.bin", "size": 2048},
        {"source_path": "/x/same.bin", "destination_path": "/y/same.bin", "size": 3 << 20},
    ]
    files[1]["skip"] = True
    job = queue.queue_job("local-upload", files, stops_on_its_first_attempt)
    card = demo_page.page.locator(f"[data-job-id='{job}']")
    expect_status(card, "active")
    expect(card.get_by_test_id("file-bytes")).to_have_text(
        ["1.0 KiB / 2.0 KiB", "3.0 MiB up to date"], timeout=TIMEOUT_MS
    )
    card.get_by_test_id("pause").click()
    expect_status(card, "paused")
    expect(card.get_by_test_id("file-status")).to_have_text(
        ["queued", "skipped"], timeout=TIMEOUT_MS
    )
    expect(card.get_by_test_id("file-bytes")).to_have_text(
        ["1.0 KiB / 2.0 KiB", "3.0 MiB up to date"]
    )
    expect(card.get_by_test_id("job-files")).to_have_text("0 of 2 files, 1 up to date")
    expect(card.get_by_test_id("job-percent")).to_have_text("50%")
    expect(card.get_by_test_id("pause")).to_have_text("Resume")
    card.get_by_test_id("pause").click()
    expect_status(card, "completed")
    expect(card.get_by_test_id("file-status")).to_have_text(["completed", "skipped"])
    expect(card.get_by_test_id("job-files")).to_have_text("1 of 2 files, 1 up to date")
    expect(card.get_by_test_id("job-percent")).to_have_text("100%")
    expect(card.get_by_test_id("pause")).to_be_hidden()
    demo_page.check_clean()


# One chunk a second per file: the slow job moves at a plausible speed for the
# screenshot, and needs 48 s to finish, far more than this test takes.
@pytest.mark.parametrize("slow_pause", [1.0])
def test_three_jobs_and_screenshot(demo_page: DemoPage) -> None:
    """A failing, a normal and a slow job side by side, newest first, each with
    its own status; a reload rebuilds the same list from the stream's first event.
    Saves the screenshot named by TRANSFERQUEUE_SCREENSHOT."""
    page = demo_page.page
    failing = demo_page.start("failing", "With a missing file #1")
    expect_status(failing, "failed")
    copy = demo_page.start("copy", "Sample files #2")
    expect_status(copy, "completed")
    slow = demo_page.start("slow", "Slow copy #3")
    expect_status(slow, "active")
    # Past the first chunk of each file (512 KiB): a speed and an ETA are known.
    expect(slow.get_by_test_id("job-bytes")).to_have_text(
        re.compile(r"^\d+\.\d MiB of 24\.0 MiB$"), timeout=TIMEOUT_MS
    )
    titles = ["Slow copy #3", "Sample files #2", "With a missing file #1"]
    statuses = ["active", "completed", "failed"]
    expect(page.locator(".job-title")).to_have_text(titles)
    expect(page.get_by_test_id("job-status")).to_have_text(statuses)
    demo_page.check_clean()

    page.reload()
    expect(page.get_by_test_id("connection")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT_MS
    )
    expect(page.locator(".job-title")).to_have_text(titles)
    expect(page.get_by_test_id("job-status")).to_have_text(statuses)
    expect(slow.get_by_test_id("job-eta")).to_have_text(re.compile(r"^(\d+ min )?\d+ s left$"))
    # The one thing a reload may fail: the old page's endless stream, cut by the browser.
    aborted = f"request failed: GET {demo_page.demo.url}transfers/events: net::ERR_ABORTED"
    assert demo_page.problems.found in ([], [aborted])
    target = os.environ.get("TRANSFERQUEUE_SCREENSHOT")
    if target:
        page.screenshot(path=target, full_page=True)
        assert Path(target).stat().st_size > 0
