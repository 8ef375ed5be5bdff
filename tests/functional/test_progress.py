"""The ``on_progress`` callable, transferqueue.ProgressCallback, through a real queue
(contract S7, S9)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest

import transferqueue as tq
from tests.conftest import WAIT, make_files


class ByteCount(int):
    """An int subclass, as some libraries report."""


def run_paused(
    queue: tq.TransferQueue, step: Callable[[tq.ProgressCallback], None]
) -> tuple[tq.TransferJob, tq.TransferJob]:
    """Run one 100-byte file whose executor does ``step(on_progress)`` and then pauses.

    Return the job as it stood during the pause and its terminal snapshot.
    """
    paused, resume = threading.Event(), threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        step(on_progress)
        paused.set()
        assert resume.wait(WAIT)

    job_id = queue.queue_job("s3-upload", make_files(1, size=100), executor)
    try:
        assert paused.wait(WAIT), "the executor never reached its pause"
        during = queue.get_job(job_id)
        assert during is not None
    finally:
        resume.set()
    return during, queue.wait(job_id, timeout=WAIT)


@pytest.mark.parametrize(
    ("value", "loaded"),
    [(42, 42), (42.9, 42), (0.99, 0), (-3.5, 0), (1e30, 100), (ByteCount(7), 7)],
)
def test_on_progress_accepts_numbers(queue: tq.TransferQueue, value: float, loaded: int) -> None:
    """S7: on_progress takes an int, or a float truncated to an int (then clamped)."""
    during, final = run_paused(queue, lambda on_progress: on_progress(value))  # type: ignore[arg-type]
    assert during.files[0].loaded == loaded
    assert type(during.files[0].loaded) is int
    assert during.progress.loaded_bytes == loaded
    assert final.status == tq.TransferStatus.COMPLETED


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        ("10", TypeError),
        (None, TypeError),
        (b"10", TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
    ],
)
def test_on_progress_rejects_bad_values(
    queue: tq.TransferQueue, value: object, error: type[Exception]
) -> None:
    """S7/S16: a bad value raises inside the executor and, uncaught, fails the file with
    that message; the bad value is not recorded."""
    raised: list[BaseException] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(10)
        try:
            on_progress(value)  # type: ignore[arg-type]
        except BaseException as exc:
            raised.append(exc)
            raise

    job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)
    assert len(raised) == 1
    assert type(raised[0]) is error
    assert "on_progress" in str(raised[0])
    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].status == tq.TransferFileStatus.ERROR
    assert job.files[0].error == str(raised[0])
    assert job.files[0].loaded == 10


def test_cancellation_is_visible_to_the_running_executor(queue: tq.TransferQueue) -> None:
    """S9: ``cancelled`` is False while running and True after cancel_job; then
    ``raise_if_cancelled()`` and ``on_progress()`` raise TransferCancelled."""
    inside, cancelled, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[object] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            seen.append(on_progress.cancelled)
            on_progress.raise_if_cancelled()  # not cancelled: returns
            inside.set()
            assert cancelled.wait(WAIT)
            seen.append(on_progress.cancelled)
            for check in (on_progress.raise_if_cancelled, lambda: on_progress(50)):
                try:
                    check()
                except tq.TransferCancelled as exc:
                    seen.append(exc)
        finally:
            done.set()

    job_id = queue.queue_job("s3-upload", make_files(1), executor)
    try:
        assert inside.wait(WAIT)
        assert queue.cancel_job(job_id) is True
    finally:
        cancelled.set()
    assert done.wait(WAIT)
    assert seen[:2] == [False, True]
    assert len(seen) == 4
    assert all(isinstance(exc, tq.TransferCancelled) for exc in seen[2:])
    job = queue.wait(job_id, timeout=WAIT)
    assert job.status == tq.TransferStatus.CANCELLED
    assert job.files[0].loaded == 0  # the progress reported after cancel changed nothing


def test_wait_cancelled_returns_true_when_cancelled(queue: tq.TransferQueue) -> None:
    """S9: wait_cancelled, an interruptible sleep, returns True once the job is cancelled."""
    inside, done = threading.Event(), threading.Event()
    results: list[bool] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        inside.set()
        results.append(on_progress.wait_cancelled(WAIT))
        done.set()

    job_id = queue.queue_job("s3-upload", make_files(1), executor)
    assert inside.wait(WAIT)
    assert queue.cancel_job(job_id) is True
    assert done.wait(WAIT)
    assert results == [True]
    assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.CANCELLED


def test_wait_cancelled_times_out_with_false(queue: tq.TransferQueue) -> None:
    """S9: wait_cancelled returns False after its timeout when the job is not cancelled."""
    results: list[bool] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        results.append(on_progress.wait_cancelled(0.01))
        results.append(on_progress.cancelled)

    job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)
    assert results == [False, False]
    assert job.status == tq.TransferStatus.COMPLETED
