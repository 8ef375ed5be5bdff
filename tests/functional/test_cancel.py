"""S9 (cancel_job) and S4 (terminal is final), with the real worker threads."""

from __future__ import annotations

import threading

import pytest

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, GatedExecutor, make_files, noop_executor

CANCELLED_BY_USER = "Cancelled by user"


def _raise_boom(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    raise ValueError("boom")


def _terminal_job(queue: tq.TransferQueue, status: str) -> str:
    """Queue a job and bring it to the terminal ``status``; return its id."""
    if status == "completed":
        job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
    elif status == "failed":
        job_id = queue.queue_job("s3-upload", make_files(2), _raise_boom)
    else:

        def blocked(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            on_progress.wait_cancelled(WAIT)

        job_id = queue.queue_job("s3-upload", make_files(2), blocked)
        assert queue.cancel_job(job_id) is True
    assert queue.wait(job_id, timeout=WAIT).status == status
    return job_id


def test_cancel_unknown_job_returns_false(queue: tq.TransferQueue) -> None:
    """S9: cancel_job returns False for an id that was never queued, and raises nothing."""
    assert queue.cancel_job("transfer-0-0") is False
    assert queue.cancel_job("no such job") is False
    assert queue.get_all_jobs() == []


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_terminal_job_returns_false_and_changes_nothing(
    queue: tq.TransferQueue, recorder: EventRecorder, status: str
) -> None:
    """S9, S4: cancelling a terminal job returns False; its snapshot and events stay."""
    job_id = _terminal_job(queue, status)
    before = queue.get_job(job_id)
    events_before = recorder.for_job(job_id)

    assert queue.cancel_job(job_id) is False

    assert queue.get_job(job_id) == before
    # Events leave in order through one delivery path: once a later job's terminal event
    # was delivered, any event the refused cancel had posted would have been too.
    marker = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(marker, timeout=WAIT)
    assert recorder.for_job(job_id) == events_before
    assert queue.get_job(job_id) == before


def test_cancel_is_immediate_and_keeps_completed_files(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """S9, S4: the job is cancelled at once with completed_at set; files not completed
    become error "Cancelled by user", a completed file stays completed."""
    job_id = queue.queue_job("s3-upload", make_files(4), gate)
    gate.wait_running(2)
    gate.release("src/file-0")
    gate.wait_started(3)  # file-0 finished (its slot went to file-2)
    gate.wait_running(2)
    job = queue.get_job(job_id)
    assert job is not None
    assert [f.status.value for f in job.files] == [
        "completed",
        "transferring",
        "transferring",
        "queued",
    ]

    assert queue.cancel_job(job_id) is True

    cancelled = queue.get_job(job_id)
    assert cancelled is not None
    assert cancelled.status == tq.TransferStatus.CANCELLED
    assert cancelled.completed_at is not None
    assert cancelled.started_at is not None
    assert cancelled.completed_at >= cancelled.started_at
    assert cancelled.files[0].status == tq.TransferFileStatus.COMPLETED
    assert cancelled.files[0].error is None
    assert cancelled.files[0].loaded == 100
    for f in cancelled.files[1:]:
        assert f.status == tq.TransferFileStatus.ERROR
        assert f.error == CANCELLED_BY_USER
    assert cancelled.progress.completed_files == 1
    assert cancelled.progress.failed_files == 3
    assert cancelled.progress.percentage < 100
    assert queue.get_active_job_ids() == []

    gate.notify()  # the gated executors see the cancellation and return
    assert queue.wait(job_id, timeout=WAIT) == cancelled
    gate.wait_running(0)
    # Two workers run at once, so the executors may enter in either order.
    assert sorted(gate.started) == ["src/file-0", "src/file-1", "src/file-2"]


def test_queued_files_of_a_cancelled_job_never_start(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """S9: limit 1, five gated files; cancelled while file 0 runs, the executor is called
    exactly once for that job, even after the slot frees and the queue drains."""
    queue.update_concurrency_limit(1)
    job_id = queue.queue_job("s3-upload", make_files(5), gate)
    gate.wait_running(1)

    assert queue.cancel_job(job_id) is True
    gate.notify()
    job = queue.wait(job_id, timeout=WAIT)
    gate.release_all()
    other = queue.queue_job("s3-upload", make_files(2, prefix="other"), gate)
    assert queue.wait(other, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    queue.shutdown(wait=True)  # drain everything: a wrongly started file would have run

    assert [p for p in gate.started if p.startswith("src/file-")] == ["src/file-0"]
    assert [f.error for f in job.files] == [CANCELLED_BY_USER] * 5
    assert queue.get_job(job_id) == job


def test_running_executor_gets_transfer_cancelled_from_next_on_progress(
    queue: tq.TransferQueue,
) -> None:
    """S9: after cancel, the running executor's next on_progress raises TransferCancelled;
    `cancelled` and `raise_if_cancelled` show it without reporting."""
    reported = threading.Event()
    cancelled_by_test = threading.Event()
    returned = threading.Event()
    seen: dict[str, object] = {}

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            on_progress(10)
            seen["cancelled before"] = on_progress.cancelled
            reported.set()
            assert cancelled_by_test.wait(WAIT)
            seen["cancelled after"] = on_progress.cancelled
            try:
                on_progress.raise_if_cancelled()
            except BaseException as exc:  # noqa: BLE001 - recorded for the test
                seen["raise_if_cancelled"] = type(exc)
            try:
                on_progress(20)
            except BaseException as exc:
                seen["on_progress"] = type(exc)
                raise
        finally:
            returned.set()

    job_id = queue.queue_job("s3-download", make_files(1), executor)
    assert reported.wait(WAIT)
    assert queue.cancel_job(job_id) is True
    cancelled_by_test.set()
    assert returned.wait(WAIT)

    assert seen == {
        "cancelled before": False,
        "cancelled after": True,
        "raise_if_cancelled": tq.TransferCancelled,
        "on_progress": tq.TransferCancelled,
    }
    job = queue.wait(job_id, timeout=WAIT)
    assert job.status == tq.TransferStatus.CANCELLED
    assert job.files[0].error == CANCELLED_BY_USER
    assert job.files[0].loaded == 10  # the refused report changed nothing


@pytest.mark.parametrize("outcome", ["success", "raise"])
def test_executor_finishing_after_cancel_changes_nothing(
    queue: tq.TransferQueue, outcome: str
) -> None:
    """S4, S9: an executor that ignores the cancellation and then returns (or raises) leaves
    the terminal job as it was: cancelled, its file error, its progress unchanged."""
    queue.update_concurrency_limit(1)
    reported = threading.Event()
    cancelled_by_test = threading.Event()
    returned = threading.Event()
    late: list[str] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            on_progress(50)
            reported.set()
            assert cancelled_by_test.wait(WAIT)
            try:
                on_progress(file.size)  # it keeps reporting and swallows the refusal
            except tq.TransferCancelled:
                late.append("refused")
            if outcome == "raise":
                raise ValueError("late failure")
        finally:
            returned.set()

    job_id = queue.queue_job("s3-upload", make_files(1), executor)
    assert reported.wait(WAIT)
    assert queue.cancel_job(job_id) is True
    terminal = queue.wait(job_id, timeout=WAIT)
    cancelled_by_test.set()
    assert returned.wait(WAIT)
    # Limit 1: the next job's file starts only once the queue has processed the return.
    marker = queue.queue_job("local-upload", make_files(1, prefix="marker"), noop_executor)
    queue.wait(marker, timeout=WAIT)

    assert late == ["refused"]
    assert terminal.status == tq.TransferStatus.CANCELLED
    assert terminal.files[0].status == tq.TransferFileStatus.ERROR
    assert terminal.files[0].error == CANCELLED_BY_USER
    assert terminal.progress.loaded_bytes == 50
    assert terminal.progress.completed_files == 0
    assert queue.get_job(job_id) == terminal


def test_running_executor_keeps_its_slot_until_it_returns(queue: tq.TransferQueue) -> None:
    """S9, S2: limit 1; job A is cancelled while its executor is blocked; job B queued then
    does not start until A's executor has returned."""
    queue.update_concurrency_limit(1)
    a_started = threading.Event()
    release_a = threading.Event()
    a_returned = threading.Event()
    b_saw_a_returned: list[bool] = []

    def executor_a(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            a_started.set()
            assert release_a.wait(WAIT)  # ignores the cancellation
        finally:
            a_returned.set()

    def executor_b(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        b_saw_a_returned.append(a_returned.is_set())

    try:
        job_a = queue.queue_job("s3-upload", make_files(1, prefix="a"), executor_a)
        assert a_started.wait(WAIT)
        assert queue.cancel_job(job_a) is True
        assert queue.wait(job_a, timeout=WAIT).status == tq.TransferStatus.CANCELLED

        job_b = queue.queue_job("s3-upload", make_files(1, prefix="b"), executor_b)

        b = queue.get_job(job_b)
        assert b is not None
        assert b.status == tq.TransferStatus.QUEUED
        assert b.files[0].status == tq.TransferFileStatus.QUEUED
        assert b_saw_a_returned == []
    finally:
        release_a.set()
    assert queue.wait(job_b, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert b_saw_a_returned == [True]


def test_wait_after_cancel_returns_the_cancelled_snapshot(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S9, S8: wait() returns the cancelled snapshot, which is also the last event."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress.wait_cancelled(WAIT)

    job_id = queue.queue_job("huggingface", make_files(3), executor)
    assert queue.cancel_job(job_id) is True
    snapshot = queue.get_job(job_id)

    job = queue.wait(job_id, timeout=WAIT)

    assert job == snapshot
    assert job.status == tq.TransferStatus.CANCELLED
    assert job.completed_at is not None
    assert all(f.status == tq.TransferFileStatus.ERROR for f in job.files)
    events = recorder.for_job(job_id)
    assert events[-1] == ("job-updated", job)
    assert [j.status for _, j in events].count(tq.TransferStatus.CANCELLED) == 1


def test_cancelling_one_job_does_not_disturb_another(queue: tq.TransferQueue) -> None:
    """S9: with two jobs running side by side, cancelling A leaves B's executor unaware of
    it (its on_progress keeps working) and B completes."""
    a_running = threading.Event()
    b_reported = threading.Event()
    go_on = threading.Event()
    b_seen: list[bool] = []

    def executor_a(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        a_running.set()
        on_progress.wait_cancelled(WAIT)
        on_progress(1)  # raises TransferCancelled

    def executor_b(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        b_reported.set()
        assert go_on.wait(WAIT)
        b_seen.append(on_progress.cancelled)
        on_progress(file.size)

    try:
        job_a = queue.queue_job("s3-upload", make_files(1, prefix="a"), executor_a)
        job_b = queue.queue_job("s3-upload", make_files(3, prefix="b"), executor_b)
        assert a_running.wait(WAIT)
        assert b_reported.wait(WAIT)

        assert queue.cancel_job(job_a) is True
        b = queue.get_job(job_b)
        assert b is not None
        assert b.status == tq.TransferStatus.ACTIVE
        assert all(f.error is None for f in b.files)
    finally:
        go_on.set()

    assert queue.wait(job_a, timeout=WAIT).status == tq.TransferStatus.CANCELLED
    b_final = queue.wait(job_b, timeout=WAIT)
    assert b_final.status == tq.TransferStatus.COMPLETED
    assert b_final.progress.percentage == 100
    assert b_seen == [False, False, False]
