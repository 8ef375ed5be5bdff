"""S16: an executor's exception fails only its file and harms nothing else."""

from __future__ import annotations

import logging
import threading

import pytest

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, make_files, noop_executor
from transferqueue._core.failure import Failure
from transferqueue._core.job import Job


class SilentError(Exception):
    """An exception whose str() is empty."""


def _fail_file(index: int, exc: BaseException) -> tq.Executor:
    """An executor that raises ``exc`` for file ``index`` and succeeds for the others."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        if file.source_path == f"src/file-{index}":
            raise exc
        on_progress(file.size)

    return executor


def test_exception_fails_only_its_file(queue: tq.TransferQueue) -> None:
    """S16, S4: ValueError("boom") fails file 1 with error "boom"; files 0 and 2 complete;
    the job fails with "1 of 3 files failed"."""
    job_id = queue.queue_job("s3-upload", make_files(3), _fail_file(1, ValueError("boom")))
    job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.error == "1 of 3 files failed"
    assert [f.status.value for f in job.files] == ["completed", "error", "completed"]
    assert [f.error for f in job.files] == [None, "boom", None]
    assert job.files[1].loaded == 50  # what it had reported before it failed
    assert job.progress.completed_files == 2
    assert job.progress.failed_files == 1
    assert job.progress.percentage < 100
    assert job.completed_at is not None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError(), "ValueError"),
        (RuntimeError(""), "RuntimeError"),
        (SilentError(), "SilentError"),
        (tq.TransferQueueError(), "TransferQueueError"),
    ],
)
def test_empty_message_uses_the_class_name(
    queue: tq.TransferQueue, exc: BaseException, expected: str
) -> None:
    """S16: an exception whose str() is empty fails its file with the class name."""
    job_id = queue.queue_job("s3-upload", make_files(1), _fail_file(0, exc))
    job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].error == expected
    assert job.error == "1 of 1 files failed"


def test_worker_keeps_working_after_a_failure(queue: tq.TransferQueue) -> None:
    """S16: limit 1, so the same worker slot runs both jobs: after every file of the first
    job raised, a second job on the same queue still completes."""
    queue.update_concurrency_limit(1)
    failed = queue.queue_job("s3-upload", make_files(3), _fail_file(0, ValueError("boom")))
    failing_all = queue.queue_job("s3-upload", make_files(2, prefix="x"), _raise_always)
    ok = queue.queue_job("s3-download", make_files(3, prefix="ok"), noop_executor)

    assert queue.wait(failed, timeout=WAIT).status == tq.TransferStatus.FAILED
    all_failed = queue.wait(failing_all, timeout=WAIT)
    assert all_failed.status == tq.TransferStatus.FAILED
    assert all_failed.error == "2 of 2 files failed"
    job = queue.wait(ok, timeout=WAIT)
    assert job.status == tq.TransferStatus.COMPLETED
    assert job.progress.percentage == 100


def _raise_always(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    raise OSError("disk full")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SystemExit(3), "3"),
        (SystemExit(), "SystemExit"),
        (KeyboardInterrupt(), "KeyboardInterrupt"),
        (GeneratorExit("closed"), "closed"),
    ],
)
def test_base_exception_fails_the_file_and_spares_the_queue(
    queue: tq.TransferQueue, exc: BaseException, expected: str
) -> None:
    """S16: a BaseException (SystemExit, KeyboardInterrupt, ...) from an executor fails its
    file; the worker, the queue and the job's other files carry on."""
    queue.update_concurrency_limit(1)
    job_id = queue.queue_job("s3-upload", make_files(3), _fail_file(1, exc))
    job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert [f.error for f in job.files] == [None, expected, None]
    later = queue.queue_job("local-upload", make_files(2, prefix="later"), noop_executor)
    assert queue.wait(later, timeout=WAIT).status == tq.TransferStatus.COMPLETED


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(tq.TransferCancelled("gave up"), "gave up"), (tq.TransferCancelled(), "TransferCancelled")],
)
def test_transfer_cancelled_raised_by_the_executor_itself_fails_its_file(
    queue: tq.TransferQueue, exc: BaseException, expected: str
) -> None:
    """S16, S9: TransferCancelled raised by an executor whose job was not cancelled is an
    ordinary failure: the file is error, the job failed (not cancelled)."""
    job_id = queue.queue_job("s3-upload", make_files(2), _fail_file(0, exc))
    job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.error == "1 of 2 files failed"
    assert [f.status.value for f in job.files] == ["error", "completed"]
    assert job.files[0].error == expected


def test_failure_does_not_harm_a_job_running_alongside(queue: tq.TransferQueue) -> None:
    """S16: while job B's executor runs, job A's executor fails; B is untouched, completes."""
    b_running = threading.Event()
    a_failed = threading.Event()

    def executor_a(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            assert b_running.wait(WAIT)
            raise ValueError("boom")
        finally:
            a_failed.set()

    def executor_b(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(1)
        b_running.set()
        assert a_failed.wait(WAIT)
        on_progress(file.size)

    job_b = queue.queue_job("s3-download", make_files(1, prefix="b"), executor_b)
    job_a = queue.queue_job("s3-upload", make_files(1, prefix="a"), executor_a)

    a = queue.wait(job_a, timeout=WAIT)
    b = queue.wait(job_b, timeout=WAIT)
    assert a.status == tq.TransferStatus.FAILED
    assert a.files[0].error == "boom"
    assert b.status == tq.TransferStatus.COMPLETED
    assert b.files[0].error is None
    assert b.progress.loaded_bytes == 100


class BrokenStrError(Exception):
    """An exception whose __str__ itself raises, as some third-party ones do."""

    def __str__(self) -> str:
        raise AttributeError("no message")


class ExitingStrError(Exception):
    """An exception whose __str__ raises SystemExit, which ``except Exception`` lets by."""

    def __str__(self) -> str:
        raise SystemExit("from __str__")


class InterruptWithExitingStr(KeyboardInterrupt):
    """A BaseException from the executor whose __str__ raises SystemExit too."""

    def __str__(self) -> str:
        raise SystemExit("from __str__")


class HostileClassError(OSError):
    """An error whose ``__class__`` raises: isinstance() against any class it is not an
    instance of by its type (a retry policy's checks, a cancellation check) raises too."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise SystemExit("from __class__")


def _run_limit_one(exc: BaseException, queue: tq.TransferQueue) -> tq.TransferJob:
    """On ``queue`` (limit 1), run a job whose first file raises ``exc``, and a job after
    it: return the first job's terminal snapshot once the second completed too."""
    broken = queue.queue_job("s3-upload", make_files(2), _fail_file(0, exc))
    after = queue.queue_job("s3-upload", make_files(1, prefix="after"), noop_executor)
    job = queue.wait(broken, timeout=WAIT)
    assert queue.wait(after, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert queue._running == 0  # every slot came back
    return job


@pytest.mark.parametrize("exc", [BrokenStrError(), ExitingStrError(), InterruptWithExitingStr()])
def test_exception_whose_str_raises_fails_its_file_and_frees_the_slot(
    exc: BaseException,
) -> None:
    """S16, S2: whatever str() of the error raises (SystemExit too), the file fails with
    its class name and a note, records its kind, and the slot of a limit-1 queue comes
    back: the job's next file and the next job run, wait() returns."""
    name = type(exc).__name__
    with tq.TransferQueue(1) as q:
        job = _run_limit_one(exc, q)
    assert job.status == tq.TransferStatus.FAILED
    assert [f.status.value for f in job.files] == ["error", "completed"]
    assert job.files[0].error == f"{name} (its message could not be read)"
    assert job.files[0].error_type == f"tests.functional.test_failures.{name}"


def test_an_error_that_breaks_isinstance_fails_its_file_and_frees_the_slot() -> None:
    """S16, S19: an error whose type checks raise (SystemExit from ``__class__``) cannot be
    judged by the retry policy: it fails its file without a retry, and the slot comes back."""
    policy = tq.RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)
    with tq.TransferQueue(1, retry=policy) as q:
        job = _run_limit_one(HostileClassError("flaky"), q)
    assert [f.status.value for f in job.files] == ["error", "completed"]
    assert job.files[0].error == "flaky"
    assert job.files[0].error_type == "tests.functional.test_failures.HostileClassError"
    assert job.files[0].attempts == 1


class RaisingFilter(logging.Filter):
    """A filter that raises ``raised`` for every record it sees, and keeps their messages."""

    def __init__(self, raised: type[BaseException]) -> None:
        super().__init__()
        self.raised = raised
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            self.seen.append(record.getMessage())
        raise self.raised("the filter broke")


@pytest.mark.parametrize("raised", [RuntimeError, SystemExit])
def test_logging_that_raises_costs_no_slot_and_no_event(
    caplog: pytest.LogCaptureFixture, raised: type[BaseException]
) -> None:
    """S16, S24: a filter on the library's logger that raises on every record, even
    SystemExit. On a limit-1 queue, file 0 fails once (logged, retried: the worker holds
    file 1's slot by then), then for good (logged), file 1 and the next job still run, the
    event thread (which logs each job's start and end) delivers, and wait() returns."""
    caplog.set_level(logging.INFO, logger="transferqueue")  # INFO records reach the filter
    breaking = RaisingFilter(raised)
    logging.getLogger("transferqueue").addFilter(breaking)

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path == "src/file-0":
            raise ConnectionResetError("dropped") if file.attempts == 1 else FileExistsError()

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0, jitter=0)
    try:
        with tq.TransferQueue(1, retry=policy) as q:
            failed = q.queue_job("s3-upload", make_files(2), executor)
            later = q.queue_job("s3-upload", make_files(1, prefix="later"), noop_executor)
            job = q.wait(failed, timeout=WAIT)
            assert q.wait(later, timeout=WAIT).status == tq.TransferStatus.COMPLETED
            assert q._running == 0
    finally:
        logging.getLogger("transferqueue").removeFilter(breaking)
    assert job.status == tq.TransferStatus.FAILED
    assert [f.status.value for f in job.files] == ["error", "completed"]
    assert (job.files[0].error, job.files[0].error_type) == ("FileExistsError", "FileExistsError")
    assert job.files[0].attempts == 2
    seen = "\n".join(breaking.seen)
    for logged in ("queued", "failed on attempt 1, retrying", "src/file-0 of job", "completed"):
        assert logged in seen


def test_logging_that_raises_in_the_callers_thread_reaches_the_caller_after_the_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S24: what a filter raises on a record logged in the caller's own thread is the
    caller's: update_concurrency_limit and shutdown raise it, but only once their work is
    done (the limit changed; the file waiting to retry failed with its last error and its
    job's terminal event was delivered)."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    retry_later = tq.RetryPolicy(max_attempts=2, initial_delay=3600, jitter=0)
    queue = tq.TransferQueue(1, retry=retry_later)
    recorder = EventRecorder(queue)
    breaking = RaisingFilter(RuntimeError)
    try:
        with tq.job_updated.connected_to(recorder.updated, sender=queue):
            waiting = queue.queue_job("s3-upload", make_files(1), _fail_file(0, OSError("down")))
            after = queue.queue_job("s3-upload", make_files(1, prefix="b"), noop_executor)
            # Limit 1: the second job ran once the first one's file went to wait.
            assert queue.wait(after, timeout=WAIT).status == tq.TransferStatus.COMPLETED
            logging.getLogger("transferqueue").addFilter(breaking)
            with pytest.raises(RuntimeError, match="the filter broke"):
                queue.update_concurrency_limit(2)
            assert queue.concurrency_limit == 2
            with pytest.raises(RuntimeError, match="the filter broke"):
                queue.shutdown(wait=True)
            [(_, job)] = [e for e in recorder.for_job(waiting) if e[1].status.is_terminal]
    finally:
        logging.getLogger("transferqueue").removeFilter(breaking)
        queue.shutdown(wait=True)
    assert (job.status, job.files[0].error) == (tq.TransferStatus.FAILED, "down")
    assert any("files waiting to be retried failed" in seen for seen in breaking.seen)


def test_a_worker_that_cannot_start_fails_its_file_and_never_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S2, S4, S16: when no thread can start for a worker (a process limit), its file fails
    with the reason. The pool has already queued the task, and a thread that starts later
    must skip it: the file never runs, counts add up, and the limit still holds."""
    real_start = threading.Thread.start
    refused: list[str] = []

    def start_refusing_the_first_worker(thread: threading.Thread) -> None:
        if thread.name.startswith("transferqueue-worker") and not refused:
            refused.append(thread.name)
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_refusing_the_first_worker)
    ran: list[str] = []
    lock = threading.Lock()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            ran.append(file.source_path)

    with tq.TransferQueue(2) as q:
        job = q.wait(q.queue_job("s3-upload", make_files(4), executor), timeout=WAIT)
        monkeypatch.undo()
        later = q.queue_job("s3-upload", make_files(3, prefix="next"), executor)
        assert q.wait(later, timeout=WAIT).status == tq.TransferStatus.COMPLETED

    assert refused
    assert job.status == tq.TransferStatus.FAILED
    assert job.error == "1 of 4 files failed"
    assert job.files[0].status == tq.TransferFileStatus.ERROR
    assert job.files[0].error == "no worker thread: can't start new thread"
    assert job.files[0].error_type == "RuntimeError"
    assert [f.status.value for f in job.files[1:]] == ["completed"] * 3
    assert "src/file-0" not in ran
    assert sorted(p for p in ran if p.startswith("src/file-")) == [
        f"src/file-{i}" for i in (1, 2, 3)
    ]
    assert q._running == 0  # no slot leaked or given back twice


def test_a_worker_crash_of_the_library_itself_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the queue's own bookkeeping must not vanish into a Future nobody reads:
    the dying worker is logged on the "transferqueue" logger (fault injected here)."""

    def broken_finish_file(self: Job, index: int, error: Failure | None) -> bool:
        raise RuntimeError("injected bookkeeping failure")

    monkeypatch.setattr(Job, "finish_file", broken_finish_file)
    crashed = threading.Event()

    class CrashHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            crashed.set()

    handler = CrashHandler(level=logging.CRITICAL)
    logging.getLogger("transferqueue").addHandler(handler)
    try:
        with caplog.at_level(logging.CRITICAL, logger="transferqueue"):
            q = tq.TransferQueue(1)
            q.queue_job("s3-upload", make_files(1), noop_executor)
            assert crashed.wait(WAIT)
            q.shutdown(wait=True, cancel_jobs=True)
    finally:
        logging.getLogger("transferqueue").removeHandler(handler)
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "worker thread crashed" in record.getMessage()
    assert record.exc_info is not None
    assert "injected bookkeeping failure" in str(record.exc_info[1])
