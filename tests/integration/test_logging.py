"""Lifecycle logging on the ``transferqueue`` logger (issue 3, part 8), and nothing printed.

A job queued, completed or cancelled and a limit changed are INFO; a failed file (with its
exception as ``exc_info``) and a failed job are WARNING; a failed attempt that will be
retried is INFO with its exception. Job records come from the event thread: the tests
wait for the job (``wait()`` returns after its terminal event, which is logged before it
is sent) or shut the queue down (which joins the workers that log file failures) before
reading ``caplog``, whose handler on the root logger receives records from every thread.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor

LOGGER = "transferqueue"
REPO = Path(__file__).resolve().parents[2]


def records_for(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """The transferqueue records whose message contains ``text``."""
    return [r for r in caplog.records if r.name == LOGGER and text in r.getMessage()]


def only(records: list[logging.LogRecord]) -> logging.LogRecord:
    assert len(records) == 1, [r.getMessage() for r in records]
    return records[0]


class DiskFull(OSError):
    """The failure the executors below raise, one instance per call."""


def test_job_queued_and_completed_are_info_from_the_event_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S24: 'job queued' (INFO, with the id, the type and the file count) and 'job
    completed' (INFO) are logged, in that order, by the event thread; caplog gets them
    because records from any thread reach the root logger's handlers."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    with tq.TransferQueue(2) as q:
        job_id = q.queue_job("s3-download", make_files(3, size=7), noop_executor)
        q.wait(job_id, timeout=WAIT)
        job_records = records_for(caplog, job_id)
    queued, completed = job_records
    assert queued.levelno == logging.INFO
    assert re.search(r"\bqueued\b", queued.getMessage())
    assert "s3-download" in queued.getMessage()
    assert re.search(r"\b3 files\b", queued.getMessage())
    assert completed.levelno == logging.INFO
    assert "completed" in completed.getMessage()
    assert {queued.threadName, completed.threadName} == {"transferqueue-events"}
    assert threading.current_thread().name != "transferqueue-events"


def test_failed_file_and_failed_job_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """S24 with S16: a failed file is a WARNING naming the file, the job and the error,
    with the executor's very exception as exc_info (its traceback); the failed job is a
    WARNING with its summary."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    raised: list[BaseException] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path.endswith("-1"):
            error = DiskFull("disk full on dst")
            raised.append(error)
            raise error

    with tq.TransferQueue(1) as q:
        job_id = q.queue_job("s3-upload", make_files(2, prefix="part"), executor)
        assert q.wait(job_id, timeout=WAIT).status == "failed"
    # The queue is shut down: its workers, which log file failures, have ended.
    file_record = only(records_for(caplog, "src/part-1"))
    assert file_record.levelno == logging.WARNING
    assert job_id in file_record.getMessage()
    assert "disk full on dst" in file_record.getMessage()
    assert file_record.exc_info is not None
    assert file_record.exc_info[1] is raised[0]
    assert file_record.exc_info[2] is not None  # the traceback
    assert records_for(caplog, "src/part-0") == []  # the file that succeeded
    job_record = only(
        [
            r
            for r in records_for(caplog, job_id)
            if r.levelno == logging.WARNING and r is not file_record
        ]
    )
    assert "1 of 2 files failed" in job_record.getMessage()


def test_retried_attempt_is_info_and_the_last_failure_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S24 with part 3: an attempt that will be retried is logged at INFO with its
    exception; the attempt after which the file fails for good is the WARNING."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    raised: list[BaseException] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        error = DiskFull(f"attempt {file.attempts} failed")
        raised.append(error)
        raise error

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0, jitter=0)
    with tq.TransferQueue(1, retry=policy) as q:
        job_id = q.queue_job("s3-upload", make_files(1, prefix="flaky"), executor)
        assert q.wait(job_id, timeout=WAIT).status == "failed"
    first, last = records_for(caplog, "src/flaky-0")
    assert first.levelno == logging.INFO
    assert first.exc_info is not None
    assert first.exc_info[1] is raised[0]
    assert "attempt 1 failed" in first.getMessage()
    assert last.levelno == logging.WARNING
    assert last.exc_info is not None
    assert last.exc_info[1] is raised[1]
    assert "attempt 2 failed" in last.getMessage()


def test_cancelled_job_is_info_and_no_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """S24 with S9: a cancelled job is logged at INFO; its executor stopping with
    TransferCancelled is no failure, so nothing is logged at WARNING or above."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    started = threading.Event()

    def cooperative(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert on_progress.wait_cancelled(WAIT)
        on_progress(1)  # raises TransferCancelled

    with tq.TransferQueue(1) as q:
        job_id = q.queue_job("s3-upload", make_files(2), cooperative)
        assert started.wait(WAIT)
        assert q.cancel_job(job_id)
        assert q.wait(job_id, timeout=WAIT).status == "cancelled"
    cancelled = [r for r in records_for(caplog, job_id) if "cancelled" in r.getMessage()]
    assert cancelled
    assert all(r.levelno == logging.INFO for r in cancelled)
    assert any("Cancelled by user" in r.getMessage() for r in cancelled)
    assert [
        r.getMessage() for r in records_for(caplog, job_id) if r.levelno >= logging.WARNING
    ] == []


def test_gated_cancel_logs_nothing_above_info(caplog: pytest.LogCaptureFixture) -> None:
    """S24 with S9: an executor that just returns after its job was cancelled leaves
    no warning either."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    gate = GatedExecutor()
    with tq.TransferQueue(1) as q:
        try:
            job_id = q.queue_job("s3-upload", make_files(1), gate)
            gate.wait_running(1)
            assert q.cancel_job(job_id)
            gate.notify()
            q.wait(job_id, timeout=WAIT)
        finally:
            gate.release_all()
    assert records_for(caplog, job_id)
    assert [
        r.getMessage() for r in records_for(caplog, job_id) if r.levelno >= logging.WARNING
    ] == []


def test_limit_change_is_info_with_old_and_new_values(caplog: pytest.LogCaptureFixture) -> None:
    """S24 with S2: changing the limit logs the old and the new value at INFO; setting
    the same limit again logs nothing."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    with tq.TransferQueue(2) as q:
        q.update_concurrency_limit(5)
        record = only(records_for(caplog, "limit"))
        assert record.levelno == logging.INFO
        assert set(re.findall(r"\d+", record.getMessage())) == {"2", "5"}, record.getMessage()
        caplog.clear()
        q.update_concurrency_limit(5)
        assert records_for(caplog, "limit") == []
        q.update_concurrency_limit(1)
        record = only(records_for(caplog, "limit"))
        assert set(re.findall(r"\d+", record.getMessage())) == {"5", "1"}, record.getMessage()


def test_a_raising_receiver_is_an_error_with_its_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S24 with S8: a receiver that raises is logged at ERROR with its exception."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    raised: list[BaseException] = []

    def receiver(sender: Any, **extra: Any) -> None:
        error = RuntimeError("receiver broke")
        raised.append(error)
        raise error

    with tq.TransferQueue(1) as q, tq.job_created.connected_to(receiver, sender=q):
        job_id = q.queue_job("s3-upload", make_files(1), noop_executor)
        q.wait(job_id, timeout=WAIT)
    record = only([r for r in records_for(caplog, job_id) if r.levelno == logging.ERROR])
    assert job_id in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is raised[0]


SILENT_SCRIPT = textwrap.dedent(
    """
    import sys
    import threading

    import transferqueue as tq

    queue = tq.TransferQueue(1)

    def failing(file, on_progress):
        raise OSError("disk full")

    def broken_receiver(sender, **extra):
        raise RuntimeError("receiver broke")

    tq.job_updated.connect(broken_receiver, sender=queue)
    files = [{"source_path": "a", "destination_path": "b", "size": 1}] * 2
    failed = queue.wait(queue.queue_job("s3-upload", files, failing), timeout=10)
    retried = tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=2, initial_delay=0))
    also_failed = retried.wait(retried.queue_job("s3-upload", files, failing), timeout=10)
    retried.shutdown()
    queue.update_concurrency_limit(2)

    started = threading.Event()

    def cooperative(file, on_progress):
        started.set()
        on_progress.wait_cancelled(30)
        on_progress.raise_if_cancelled()

    # Left running: the queue cancels it at interpreter exit, and logs that it did.
    queue.queue_job("s3-upload", files, cooperative)
    started.wait(10)
    ok = failed.status == "failed" and also_failed.status == "failed"
    sys.exit(0 if ok else 3)
    """
)


def test_nothing_is_printed_without_logging_configuration() -> None:
    """S24: a script that configures no logging, and whose files fail, whose receiver
    raises and whose job is cancelled at exit, prints nothing to stdout or stderr (the
    library's logger has a NullHandler, so logging's last resort never fires)."""
    result = subprocess.run(
        [sys.executable, "-c", SILENT_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    handlers = logging.getLogger(LOGGER).handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)
