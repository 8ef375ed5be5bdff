"""S15: shutdown refuses new jobs, drains or cancels the rest, and joins every thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import (
    WAIT,
    EventRecorder,
    GatedExecutor,
    make_files,
    noop_executor,
    queue_threads,
)
from transferqueue._events import delivery as _delivery


class ThreadLog:
    """Wraps an executor and records the thread each call ran in."""

    def __init__(self, inner: tq.Executor) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.threads: set[threading.Thread] = set()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._lock:
            self.threads.add(threading.current_thread())
        self._inner(file, on_progress)


def _assert_shutdown_waits_until_released(
    queue: tq.TransferQueue, gate: GatedExecutor, running: str
) -> None:
    """shutdown(wait=True), in a thread, still blocks while ``gate`` holds its files (a
    bounded check of absence), then returns once they are released."""
    closer = threading.Thread(target=queue.shutdown, kwargs={"wait": True})
    closer.start()
    try:
        closer.join(timeout=0.1)
        assert closer.is_alive(), f"shutdown returned while {running}"
    finally:
        gate.release_all()
    closer.join(WAIT)
    assert not closer.is_alive()


@pytest.fixture
def own_gate() -> Iterator[GatedExecutor]:
    """A GatedExecutor for queues the test makes itself; released at the end."""
    gate = GatedExecutor()
    yield gate
    gate.release_all()


def test_shutdown_waits_for_queued_and_running_files(own_gate: GatedExecutor) -> None:
    """S15: shutdown(wait=True), called while one file runs and two wait, returns only once
    all three completed and every thread the queue started has ended."""
    before = queue_threads()
    executor = ThreadLog(own_gate)
    delivery_threads: set[threading.Thread] = set()

    def receiver(sender: object, **extra: object) -> None:
        delivery_threads.add(threading.current_thread())

    queue = tq.TransferQueue(1)
    with tq.job_updated.connected_to(receiver, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(3), executor)
        own_gate.wait_running(1)
        _assert_shutdown_waits_until_released(queue, own_gate, "a file was still running")

    job = queue.get_job(job_id)
    assert job is not None
    assert job.status == tq.TransferStatus.COMPLETED
    assert [f.status.value for f in job.files] == ["completed"] * 3
    assert own_gate.started == ["src/file-0", "src/file-1", "src/file-2"]
    started_by_queue = executor.threads | delivery_threads
    assert started_by_queue, "the queue ran nothing in threads of its own"
    assert all(t.name.startswith("transferqueue-") for t in started_by_queue)
    assert not any(t.is_alive() for t in started_by_queue)
    assert queue_threads() - before == set()


def test_files_queued_before_shutdown_still_run(own_gate: GatedExecutor) -> None:
    """S15: after shutdown(wait=False) new jobs are refused (QueueShutdownError, nothing
    registered) while the files already queued still run to completion."""
    before = queue_threads()
    queue = tq.TransferQueue(1)
    try:
        job_id = queue.queue_job("s3-upload", make_files(3), own_gate)
        own_gate.wait_running(1)

        queue.shutdown(wait=False)

        with pytest.raises(tq.QueueShutdownError):
            queue.queue_job("s3-upload", make_files(1, prefix="late"), noop_executor)
        assert [j.id for j in queue.get_all_jobs()] == [job_id]
        own_gate.release_all()
        assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
        assert own_gate.started == ["src/file-0", "src/file-1", "src/file-2"]
    finally:
        own_gate.release_all()
        queue.shutdown(wait=True)
    assert queue_threads() - before == set()


def test_queue_job_after_shutdown_raises_and_registers_nothing(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S15, S12: queue_job after shutdown raises QueueShutdownError (a TransferQueueError and
    a RuntimeError), registers no job and sends no event."""
    done = queue.queue_job("s3-upload", make_files(1), noop_executor)
    queue.wait(done, timeout=WAIT)
    queue.shutdown(wait=True)
    events_before = list(recorder.events)

    with pytest.raises(tq.QueueShutdownError) as info:
        queue.queue_job("s3-upload", make_files(2), noop_executor)

    assert isinstance(info.value, tq.TransferQueueError)
    assert isinstance(info.value, RuntimeError)
    assert [j.id for j in queue.get_all_jobs()] == [done]
    assert queue.get_active_job_ids() == []
    queue.shutdown(wait=True)  # joins the delivery of anything that might have been posted
    assert recorder.events == events_before


def test_shutdown_with_cancel_jobs_cancels_every_unfinished_job() -> None:
    """S15, S9: shutdown(cancel_jobs=True) cancels the running and the queued job, then
    joins; the queued job's file never starts."""
    before = queue_threads()
    running = threading.Event()
    calls: list[str] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        calls.append(file.source_path)
        if file.source_path != "src/a-0":
            return  # should never run: it only shows up in ``calls``
        running.set()
        if not on_progress.wait_cancelled(WAIT):
            raise AssertionError("shutdown(cancel_jobs=True) did not cancel the running job")
        on_progress(1)  # raises TransferCancelled

    queue = tq.TransferQueue(1)
    try:
        done = queue.queue_job("s3-upload", make_files(1, prefix="done"), noop_executor)
        queue.wait(done, timeout=WAIT)
        job_a = queue.queue_job("s3-upload", make_files(2, prefix="a"), executor)
        job_b = queue.queue_job("s3-upload", make_files(2, prefix="b"), executor)
        assert running.wait(WAIT)
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)

    assert queue_threads() - before == set()
    assert calls == ["src/a-0"]
    for job_id in (job_a, job_b):
        job = queue.wait(job_id, timeout=WAIT)  # wait() still answers after shutdown
        assert job.status == tq.TransferStatus.CANCELLED
        assert job.completed_at is not None
        assert all(f.status == tq.TransferFileStatus.ERROR for f in job.files)
        assert all(f.error for f in job.files)
        assert queue.get_job(job_id) == job
    finished = queue.wait(done, timeout=WAIT)
    assert finished.status == tq.TransferStatus.COMPLETED  # a finished job is left alone
    assert queue.get_active_job_ids() == []


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("second", [True, False])
def test_shutdown_is_idempotent(first: bool, second: bool) -> None:
    """S15: a second shutdown, with or without wait, is harmless; the queue stays closed
    and, after a final shutdown(wait=True), no thread of it is alive."""
    before = queue_threads()
    queue = tq.TransferQueue(2)
    job_id = queue.queue_job("s3-upload", make_files(4), noop_executor)
    completed = queue.wait(job_id, timeout=WAIT)

    queue.shutdown(wait=first)
    queue.shutdown(wait=second)
    queue.shutdown(wait=second, cancel_jobs=True)

    with pytest.raises(tq.QueueShutdownError):
        queue.queue_job("s3-upload", make_files(1), noop_executor)
    queue.shutdown(wait=True)
    assert queue_threads() - before == set()
    assert queue.get_job(job_id) == completed
    assert completed.status == tq.TransferStatus.COMPLETED


def test_context_manager_shuts_down_and_joins_on_exit() -> None:
    """S15: leaving ``with TransferQueue(n) as q`` waits for the running files, delivers the
    terminal events, joins the threads and closes the queue."""
    before = queue_threads()
    release = threading.Event()
    terminal: list[tq.TransferJob] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        assert release.wait(WAIT)
        on_progress(file.size)

    def receiver(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if job.status.is_terminal:
            terminal.append(job)

    made = tq.TransferQueue(2)
    # The receiver stays connected until after __exit__ has returned.
    with tq.job_updated.connected_to(receiver, sender=made):
        with made as queue:
            assert queue is made
            job_ids = [
                queue.queue_job("s3-upload", make_files(3, prefix=p), executor) for p in "ab"
            ]
            job = queue.get_job(job_ids[0])
            assert job is not None
            assert job.status == tq.TransferStatus.ACTIVE
            release.set()  # __exit__ must wait for all six files
        # Checked before the receiver is disconnected: __exit__ delivered everything.
        assert sorted(j.id for j in terminal) == sorted(job_ids)

    assert queue_threads() - before == set()
    for job_id in job_ids:
        job = queue.get_job(job_id)
        assert job is not None
        assert job.status == tq.TransferStatus.COMPLETED
    assert sorted(j.id for j in terminal) == sorted(job_ids)
    with pytest.raises(tq.QueueShutdownError):
        queue.queue_job("s3-upload", make_files(1), noop_executor)


def test_shutdown_wait_from_inside_an_executor_raises() -> None:
    """S15: shutdown(wait=True) from an executor of the queue would wait for itself: it
    raises RuntimeError; shutdown(wait=False) there closes the queue, and the file succeeds."""
    before = queue_threads()
    outcome: dict[str, object] = {}
    queue = tq.TransferQueue(1)

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            queue.shutdown(wait=True)
        except RuntimeError as exc:
            outcome["wait=True"] = exc
        queue.shutdown(wait=False)
        outcome["wait=False"] = "returned"

    try:
        job_id = queue.queue_job("s3-upload", make_files(2), executor)
        job = queue.wait(job_id, timeout=WAIT)
    finally:
        queue.shutdown(wait=True)

    assert isinstance(outcome["wait=True"], RuntimeError)
    assert not isinstance(outcome["wait=True"], tq.QueueShutdownError)
    assert outcome["wait=False"] == "returned"
    assert job.status == tq.TransferStatus.COMPLETED  # queued file 1 still ran after close
    with pytest.raises(tq.QueueShutdownError):
        queue.queue_job("s3-upload", make_files(1), noop_executor)
    assert queue_threads() - before == set()


def test_shutdown_wait_from_inside_a_receiver_raises() -> None:
    """S15, S8: shutdown(wait=True) from a job_updated receiver raises RuntimeError instead
    of deadlocking; shutdown(wait=False) there works; delivery and the job carry on."""
    before = queue_threads()
    outcome: dict[str, object] = {}
    queue = tq.TransferQueue(1, update_interval=0)

    def receiver(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if "wait=False" in outcome:
            return
        try:
            queue.shutdown(wait=True)
        except RuntimeError as exc:
            outcome["wait=True"] = exc
        queue.shutdown(wait=False)
        outcome["wait=False"] = "returned"

    terminal: list[tq.TransferJob] = []

    def terminal_receiver(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if job.status.is_terminal:
            terminal.append(job)

    release = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        assert release.wait(WAIT)

    try:
        with (
            tq.job_updated.connected_to(receiver, sender=queue),
            tq.job_updated.connected_to(terminal_receiver, sender=queue),
        ):
            job_id = queue.queue_job("s3-upload", make_files(2), executor)
            release.set()
            job = queue.wait(job_id, timeout=WAIT)
    finally:
        release.set()
        queue.shutdown(wait=True)

    assert isinstance(outcome["wait=True"], RuntimeError)
    assert outcome["wait=False"] == "returned"
    assert job.status == tq.TransferStatus.COMPLETED
    assert terminal == [job]
    with pytest.raises(tq.QueueShutdownError):
        queue.queue_job("s3-upload", make_files(1), noop_executor)
    assert queue_threads() - before == set()


def test_limit_raise_after_shutdown_starts_no_thread_but_work_drains(
    own_gate: GatedExecutor,
) -> None:
    """S15, S2: after shutdown(wait=False), raising the limit starts neither a file nor a
    thread; the remaining files still run, one at a time, to completion."""
    before = queue_threads()
    queue = tq.TransferQueue(1)
    try:
        job_id = queue.queue_job("s3-upload", make_files(3), own_gate)
        own_gate.wait_running(1)
        queue.shutdown(wait=False)
        threads_at_close = queue_threads()

        queue.update_concurrency_limit(3)

        assert queue.concurrency_limit == 3
        assert queue_threads() == threads_at_close
        assert own_gate.running == 1
        assert own_gate.started == ["src/file-0"]
        job = queue.get_job(job_id)
        assert job is not None
        assert [f.status.value for f in job.files] == ["transferring", "queued", "queued"]

        own_gate.release_all()
        assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
        assert own_gate.max_running == 1
        assert own_gate.started == ["src/file-0", "src/file-1", "src/file-2"]
    finally:
        own_gate.release_all()
        queue.shutdown(wait=True)
    assert queue_threads() - before == set()


def test_shutdown_joins_the_workers_of_a_pool_outgrown_by_the_limit(
    own_gate: GatedExecutor,
) -> None:
    """S15, S2: raising the limit above the pool's size hands new files to a larger pool
    while the old one still runs its file; shutdown waits for that file too and joins
    both pools."""
    before = queue_threads()
    queue = tq.TransferQueue(1)
    job_id = queue.queue_job("s3-upload", make_files(3), own_gate)
    own_gate.wait_running(1)  # file-0, in the first pool
    queue.update_concurrency_limit(3)  # outgrows that pool while its worker is busy
    own_gate.wait_running(3)
    own_gate.release("src/file-1")
    own_gate.release("src/file-2")
    own_gate.wait_running(1)  # only the old pool's file-0 is left

    _assert_shutdown_waits_until_released(queue, own_gate, "the old pool ran a file")

    job = queue.get_job(job_id)
    assert job is not None
    assert job.status == tq.TransferStatus.COMPLETED
    assert queue_threads() - before == set()


def test_event_thread_ends_when_idle_and_restarts_for_the_next_job(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event thread lives while jobs are open, ends once idle (so an unused queue holds
    no thread), and the next job starts a new one."""
    monkeypatch.setattr(_delivery, "_IDLE_SECONDS", 0.05)
    threads: list[threading.Thread] = []

    def note_thread(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        threads.append(threading.current_thread())

    with tq.job_updated.connected_to(note_thread, sender=queue):
        queue.wait(queue.queue_job("s3-upload", make_files(1), noop_executor), timeout=WAIT)
        first = threads[-1]
        first.join(WAIT)  # ends by itself: no shutdown called
        assert not first.is_alive()
        queue.wait(queue.queue_job("s3-upload", make_files(1), noop_executor), timeout=WAIT)
        assert threads[-1] is not first
        assert threads[-1].name == "transferqueue-events"


def test_event_thread_stays_while_a_job_is_open(
    queue: tq.TransferQueue, gate: GatedExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a job still running the event thread does not end when idle, so the job's
    later events never wait for a thread to start."""
    monkeypatch.setattr(_delivery, "_IDLE_SECONDS", 0.01)
    threads: list[threading.Thread] = []

    def note_thread(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        threads.append(threading.current_thread())

    with tq.job_updated.connected_to(note_thread, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(1), gate)
        gate.wait_running(1)
        queue.wait(queue.queue_job("s3-upload", [], noop_executor), timeout=WAIT)
        event_thread = threads[-1]
        # Many idle periods pass while the first job is still open.
        event_thread.join(0.2)
        assert event_thread.is_alive()
        gate.release_all()
        queue.wait(job_id, timeout=WAIT)
    assert threads[-1] is event_thread
