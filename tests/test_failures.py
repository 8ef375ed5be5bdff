"""S16: an executor's exception fails only its file and harms nothing else."""

from __future__ import annotations

import threading

import pytest

import transferqueue as tq
from tests.conftest import WAIT, make_files, noop_executor


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
