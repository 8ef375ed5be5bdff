"""Functional tests of the blinker events (contract S8), with real worker threads."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import blinker
import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, GatedExecutor, make_files, noop_executor
from transferqueue._core.job import Job
from transferqueue._events import delivery as _delivery

TERMINAL = frozenset({"completed", "failed", "cancelled"})
_RANK = {"queued": 0, "active": 1, "completed": 2, "failed": 2, "cancelled": 2}

# How long a coalesced update may take to arrive: 20 times the 0.1 s interval used.
FLUSH_WAIT = 2.0


@contextlib.contextmanager
def recording(q: tq.TransferQueue) -> Iterator[EventRecorder]:
    """Record both signals of ``q``; enter it before the queue so that the receivers stay
    connected until the queue's shutdown has delivered every event."""
    rec = EventRecorder(q)
    with (
        tq.job_created.connected_to(rec.created, sender=q),
        tq.job_updated.connected_to(rec.updated, sender=q),
    ):
        yield rec


def assert_ordered(events: list[tuple[str, tq.TransferJob]]) -> None:
    """One job's events: created once and first, snapshots never older than the one
    before, the terminal one exactly once and last."""
    assert events, "no events"
    names = [name for name, _ in events]
    assert names[0] == "job-created"
    assert names.count("job-created") == 1
    updates = [job for _, job in events[1:]]
    assert updates, "no job-updated event"
    terminal = [i for i, job in enumerate(updates) if job.status in TERMINAL]
    assert terminal == [len(updates) - 1], [job.status for job in updates]
    previous = events[0][1]
    for job in updates:
        assert _RANK[job.status] >= _RANK[previous.status], (previous.status, job.status)
        done = job.progress.completed_files + job.progress.failed_files
        done_before = previous.progress.completed_files + previous.progress.failed_files
        assert done >= done_before
        assert job.progress.loaded_bytes >= previous.progress.loaded_bytes
        previous = job


def test_job_created_once_first_with_queue_as_sender(queue: tq.TransferQueue) -> None:
    """S8: job_created is sent once per job, before any job_updated for it, with sender =
    the queue and job = a TransferJob snapshot of the new job."""
    events: list[tuple[str, Any, tq.TransferJob]] = []
    lock = threading.Lock()

    def on_created(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        with lock:
            events.append(("job-created", sender, job))

    def on_updated(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        with lock:
            events.append(("job-updated", sender, job))

    # Connected for any sender, so that the sender the queue passes is what is checked.
    with tq.job_created.connected_to(on_created), tq.job_updated.connected_to(on_updated):
        ids = [
            queue.queue_job("s3-upload", make_files(2, prefix=f"job{n}"), noop_executor)
            for n in range(3)
        ]
        for job_id in ids:
            assert queue.wait(job_id, timeout=WAIT).status == "completed"

    for n, job_id in enumerate(ids):
        mine = [event for event in events if event[2].id == job_id]
        assert [name for name, _, _ in mine].count("job-created") == 1
        name, sender, job = mine[0]
        assert name == "job-created"
        assert sender is queue
        assert isinstance(job, tq.TransferJob)
        assert job.status == "queued"
        assert [f.source_path for f in job.files] == [f"src/job{n}-0", f"src/job{n}-1"]
        assert all(sender is queue for _, sender, _ in mine)
        assert all(isinstance(job, tq.TransferJob) for _, _, job in mine)
        assert mine[-1][2].status == "completed"


@pytest.mark.parametrize("outcome", ["completed", "failed", "cancelled"])
def test_every_status_change_is_sent_in_order(outcome: str) -> None:
    """S8/S4: job_updated follows every status change: an "active" snapshot, then the
    terminal one; status never goes back and the terminal event comes once and last, even
    after the cancelled job's executor returns."""
    gate = GatedExecutor()

    def failing(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        raise OSError("disk full")

    executors: dict[str, tq.Executor] = {
        "completed": noop_executor,
        "failed": failing,
        "cancelled": gate,
    }
    executor = executors[outcome]
    q = tq.TransferQueue(2)
    with recording(q) as rec:
        with q:
            try:
                job_id = q.queue_job("s3-upload", make_files(1), executor)
                if outcome == "cancelled":
                    gate.wait_running(1)
                    assert q.cancel_job(job_id)
                    gate.notify()
                final = q.wait(job_id, timeout=WAIT)
            finally:
                gate.release_all()
        # The queue is shut down: every event it will ever send was delivered.
        events = rec.for_job(job_id)

    assert final.status == outcome
    assert_ordered(events)
    statuses = [job.status for name, job in events if name == "job-updated"]
    assert statuses[-1] == outcome
    assert statuses[0] == "active"
    assert events[-1][1] == final


def test_interval_zero_sends_one_event_per_progress_change() -> None:
    """S8: with update_interval=0 every change is sent: an executor reporting 10, 20, 30
    yields exactly one event for each, in order, between "active" and "completed"."""

    def stepping(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for loaded in (10, 20, 30):
            on_progress(loaded)

    q = tq.TransferQueue(1, update_interval=0)
    with recording(q) as rec:
        with q:
            job_id = q.queue_job("s3-upload", make_files(1, size=100), stepping)
            q.wait(job_id, timeout=WAIT)
        events = rec.for_job(job_id)

    assert_ordered(events)
    updates = [job for name, job in events if name == "job-updated"]
    assert [job.progress.loaded_bytes for job in updates] == [0, 10, 20, 30, 100]
    assert [job.status for job in updates] == ["active"] * 4 + ["completed"]
    assert [job.files[0].loaded for job in updates] == [0, 10, 20, 30, 100]


@pytest.mark.parametrize("interval", [0, 0.01])
def test_two_workers_finishing_together_keep_every_job_in_order(interval: float) -> None:
    """S8: with two workers that finish at the same moment, across many jobs, each job's
    snapshots still arrive in order and its terminal one comes once, last, with every
    file's final state."""
    barrier = threading.Barrier(2, timeout=WAIT)

    def paired(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        barrier.wait()  # the two running executors return together
        on_progress(file.size)

    q = tq.TransferQueue(2, update_interval=interval)
    with recording(q) as rec, q:
        # 20 jobs x 4 files: an even number of files, so every file has a partner.
        ids = [
            q.queue_job("s3-upload", make_files(4, size=100, prefix=f"j{n}"), paired)
            for n in range(20)
        ]
        finals = [q.wait(job_id, timeout=WAIT) for job_id in ids]

    for job_id, final in zip(ids, finals, strict=True):
        assert final.status == "completed", final
        events = rec.for_job(job_id)
        assert_ordered(events)
        terminal = events[-1][1]
        assert terminal == final
        assert [f.status for f in terminal.files] == ["completed"] * 4
        assert [f.loaded for f in terminal.files] == [100] * 4
        assert terminal.progress.loaded_bytes == 400


def test_terminal_snapshot_carries_every_files_final_state(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8: the terminal snapshot arrives once and last and carries each file's final
    state, failed files included."""

    def half_fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(40)
        if file.source_path.endswith("-1"):
            raise ValueError("checksum mismatch")

    job_id = queue.queue_job("cross-storage", make_files(3, size=100), half_fail)
    final = queue.wait(job_id, timeout=WAIT)

    events = recorder.for_job(job_id)
    assert_ordered(events)
    terminal = events[-1][1]
    assert terminal == final
    assert terminal.status == "failed"
    assert [(f.status, f.loaded, f.error) for f in terminal.files] == [
        ("completed", 100, None),
        ("error", 40, "checksum mismatch"),
        ("completed", 100, None),
    ]
    assert terminal.progress.completed_files == 2
    assert terminal.progress.failed_files == 1


def test_raising_receiver_is_logged_and_stops_nothing(
    queue: tq.TransferQueue, caplog: pytest.LogCaptureFixture
) -> None:
    """S8: a receiver that raises is logged on the "transferqueue" logger (with the job
    id) and stops neither the transfers nor the other receivers."""
    good: list[tuple[str, tq.TransferJob]] = []

    def bad(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        raise RuntimeError("receiver boom")

    def good_created(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        good.append(("job-created", job))

    def good_updated(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        good.append(("job-updated", job))

    with (
        caplog.at_level(logging.ERROR, logger="transferqueue"),
        tq.job_created.connected_to(bad, sender=queue),
        tq.job_updated.connected_to(bad, sender=queue),
        tq.job_created.connected_to(good_created, sender=queue),
        tq.job_updated.connected_to(good_updated, sender=queue),
    ):
        job_id = queue.queue_job("s3-upload", make_files(3), noop_executor)
        final = queue.wait(job_id, timeout=WAIT)

    assert final.status == "completed"
    assert_ordered(good)
    assert good[-1][1] == final
    logged = [
        record
        for record in caplog.records
        if record.name == "transferqueue"
        and record.levelno == logging.ERROR
        and job_id in record.getMessage()
    ]
    # bad raised on every event the good receiver saw, and each was logged.
    assert len(logged) == len(good)
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], RuntimeError)
    assert str(logged[0].exc_info[1]) == "receiver boom"


def test_coroutine_receiver_is_refused_as_blinker_refuses_it(
    queue: tq.TransferQueue, caplog: pytest.LogCaptureFixture
) -> None:
    """An ``async def`` receiver is not called (it would only make a coroutine that never
    runs): each event logs the RuntimeError blinker's Signal.send raises for it, and the
    other receivers get every event."""

    async def refused(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        raise AssertionError("an async receiver must not run")

    # What blinker itself raises when its send() meets a coroutine function.
    plain_signal = blinker.Signal()
    plain_signal.connect(refused)
    with pytest.raises(RuntimeError) as blinker_refusal:
        plain_signal.send(None, job=None)

    good: list[tuple[str, tq.TransferJob]] = []

    def good_created(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        good.append(("job-created", job))

    def good_updated(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        good.append(("job-updated", job))

    with (
        caplog.at_level(logging.ERROR, logger="transferqueue"),
        tq.job_created.connected_to(refused, sender=queue),
        tq.job_updated.connected_to(refused, sender=queue),
        tq.job_created.connected_to(good_created, sender=queue),
        tq.job_updated.connected_to(good_updated, sender=queue),
    ):
        job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
        final = queue.wait(job_id, timeout=WAIT)

    assert final.status == "completed"
    assert_ordered(good)
    logged = [
        record
        for record in caplog.records
        if record.name == "transferqueue" and record.levelno == logging.ERROR
    ]
    # One refusal per event, on both signals, each naming the receiver and the job.
    assert len(logged) == len(good)
    assert {record.getMessage().split()[0] for record in logged} == {"job-created", "job-updated"}
    for record in logged:
        assert "refused" in record.getMessage()
        assert job_id in record.getMessage()
        assert record.exc_info is not None
        refusal = record.exc_info[1]
        assert isinstance(refusal, RuntimeError)
        assert str(refusal).startswith(str(blinker_refusal.value).rstrip("."))
        assert "call_soon_threadsafe" in str(refusal)


def test_receiver_can_cancel_the_job_on_its_active_event(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8/S9: a receiver that calls cancel_job on the "active" event does not deadlock:
    the job ends cancelled and wait returns."""
    results: list[bool | BaseException] = []

    def canceller(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.status == "active" and not results:
            try:
                results.append(queue.cancel_job(job.id))
            except Exception as exc:  # noqa: BLE001 - recorded for the test to assert
                results.append(exc)

    def until_cancelled(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if not on_progress.wait_cancelled(WAIT):
            raise AssertionError("never cancelled")
        on_progress.raise_if_cancelled()

    with tq.job_updated.connected_to(canceller, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(3), until_cancelled)
        final = queue.wait(job_id, timeout=WAIT)

    assert results == [True]
    assert final.status == "cancelled"
    assert [f.status for f in final.files] == ["error"] * 3
    assert {f.error for f in final.files} == {"Cancelled by user"}
    events = recorder.for_job(job_id)
    assert_ordered(events)
    assert events[-1][1] == final


def test_receiver_can_queue_a_job(queue: tq.TransferQueue, recorder: EventRecorder) -> None:
    """S8: a receiver may call queue_job; the new job runs to completion and its events
    are delivered, in the delivery thread."""
    queued: list[str | BaseException] = []
    done = threading.Event()

    def chain(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if queued:
            return
        try:
            queued.append(
                queue.queue_job("s3-download", make_files(2, prefix="second"), noop_executor)
            )
        except Exception as exc:  # noqa: BLE001 - recorded for the test to assert
            queued.append(exc)
        finally:
            done.set()

    with tq.job_created.connected_to(chain, sender=queue):
        first = queue.queue_job("s3-upload", make_files(1, prefix="first"), noop_executor)
        assert done.wait(WAIT)
        second = queued[0]
        assert isinstance(second, str), second
        assert queue.wait(first, timeout=WAIT).status == "completed"
        final = queue.wait(second, timeout=WAIT)

    assert final.status == "completed"
    events = recorder.for_job(second)
    assert_ordered(events)
    assert events[-1][1] == final
    assert recorder.threads == {"transferqueue-events"}


def test_receiver_can_read_the_queue(queue: tq.TransferQueue) -> None:
    """S8: a receiver may call get_job, get_all_jobs and get_active_job_ids."""
    seen: list[tuple[tq.TransferJob, tq.TransferJob | None, list[str], list[str]]] = []

    def reader(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        seen.append(
            (
                job,
                queue.get_job(job.id),
                [j.id for j in queue.get_all_jobs()],
                queue.get_active_job_ids(),
            )
        )

    with (
        tq.job_created.connected_to(reader, sender=queue),
        tq.job_updated.connected_to(reader, sender=queue),
    ):
        job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
        final = queue.wait(job_id, timeout=WAIT)

    assert seen
    for job, current, all_ids, _active in seen:
        assert current is not None
        assert current.id == job.id == job_id
        assert job_id in all_ids
    terminal, current, _, active = seen[-1]
    assert terminal == final
    assert current == final
    assert job_id not in active


def test_wait_returns_only_after_the_terminal_event_was_delivered(
    queue: tq.TransferQueue,
) -> None:
    """S8: wait() does not return while a receiver is still handling the terminal event."""
    entered = threading.Event()
    release = threading.Event()
    handled = threading.Event()
    returned = threading.Event()
    outcome: list[tuple[str, bool] | BaseException] = []

    def slow(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.status in TERMINAL:
            entered.set()
            release.wait(WAIT)
            handled.set()

    with tq.job_updated.connected_to(slow, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)

        def waiter() -> None:
            try:
                result = queue.wait(job_id, timeout=WAIT)
                outcome.append((result.status, handled.is_set()))
            except Exception as exc:  # noqa: BLE001 - recorded for the test to assert
                outcome.append(exc)
            finally:
                returned.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        try:
            assert entered.wait(WAIT)
        finally:
            # The waiter records whether the receiver had finished when wait() returned.
            release.set()
        assert returned.wait(WAIT)
        thread.join(WAIT)

    assert outcome == [("completed", True)]


def test_wait_inside_a_receiver_for_the_same_job_returns(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """S8: wait() called from a receiver for that receiver's job returns once the job is
    terminal, on a non-terminal and on the terminal event, instead of deadlocking."""
    entered = threading.Event()
    results: list[tuple[str, str] | BaseException] = []

    def waiting(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.status == "active" and not entered.is_set():
            entered.set()
        elif job.status not in TERMINAL:
            return
        try:
            results.append((job.status, queue.wait(job.id, timeout=WAIT).status))
        except Exception as exc:  # noqa: BLE001 - recorded for the test to assert
            results.append(exc)

    with tq.job_updated.connected_to(waiting, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(1), gate)
        assert entered.wait(WAIT)  # the receiver now waits for an unfinished job
        gate.release_all()
        final = queue.wait(job_id, timeout=WAIT)

    assert final.status == "completed"
    assert results == [("active", "completed"), ("completed", "completed")]


def test_receivers_run_in_the_event_thread(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8: receivers run in the thread named "transferqueue-events", never in the thread
    that queued the job, for an empty job (finished inside queue_job) too."""
    idents: set[int] = set()

    def where(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        idents.add(threading.get_ident())

    with (
        tq.job_created.connected_to(where, sender=queue),
        tq.job_updated.connected_to(where, sender=queue),
    ):
        ids = [
            queue.queue_job("s3-upload", make_files(2), noop_executor),
            queue.queue_job("s3-upload", [], noop_executor),
        ]
        for job_id in ids:
            queue.wait(job_id, timeout=WAIT)

    assert recorder.threads == {"transferqueue-events"}
    assert idents
    assert threading.get_ident() not in idents
    for job_id in ids:
        assert recorder.for_job(job_id)


def test_progress_updates_are_coalesced() -> None:
    """S8: with update_interval=0.1, an executor reporting progress 1000 times in a tight
    loop yields far fewer events, and the terminal one carries the final state."""

    def chatty(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for loaded in range(1, 1001):
            on_progress(loaded)

    q = tq.TransferQueue(1, update_interval=0.1)
    with recording(q) as rec:
        with q:
            job_id = q.queue_job("s3-upload", make_files(1, size=1000), chatty)
            final = q.wait(job_id, timeout=WAIT)
        events = rec.for_job(job_id)

    assert_ordered(events)
    assert len(events) < 100
    terminal = events[-1][1]
    assert terminal == final
    assert terminal.status == "completed"
    assert terminal.progress.loaded_bytes == 1000
    assert terminal.progress.percentage == 100
    assert (terminal.files[0].status, terminal.files[0].loaded) == ("completed", 1000)


def _coalesced_update_arrives() -> bool:
    """Report 500 of 1000 bytes, then block; True if an update with 500 arrives."""
    seen = threading.Event()
    release = threading.Event()

    def half_then_block(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(500)
        if not release.wait(WAIT):
            raise AssertionError("never released")

    def watcher(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.status == "active" and job.progress.loaded_bytes == 500:
            seen.set()

    with (
        tq.TransferQueue(1, update_interval=0.1) as q,
        tq.job_updated.connected_to(watcher, sender=q),
    ):
        job_id = q.queue_job("s3-upload", make_files(1, size=1000), half_then_block)
        try:
            flushed = seen.wait(FLUSH_WAIT)
        finally:
            release.set()
        assert q.wait(job_id, timeout=WAIT).status == "completed"
    return flushed


def test_coalesced_update_is_delivered_while_the_executor_still_runs() -> None:
    """S8: a coalesced progress change is sent within the interval, not only with the
    terminal snapshot."""
    assert _coalesced_update_arrives()


def test_coalesced_update_is_delivered_under_a_frozen_clock() -> None:
    """S8/S11: with the clock frozen, a coalesced progress change is still delivered."""
    with freeze_time("2026-01-01"):
        flushed = _coalesced_update_arrives()
    assert flushed


def test_coalesced_update_is_delivered_while_the_coalescing_clock_stands_still(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S8/S11: the coalescing treats a wait that timed out as the due time reached, so
    updates go out even if time.monotonic() stands still. (freezegun alone does not
    show it: it hands the event thread the real clock, a threading frame being near.)"""
    monkeypatch.setattr(_delivery, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    assert _coalesced_update_arrives()


def test_muted_signal_delivers_no_update_and_wait_still_returns(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8: while job_updated is muted no update reaches receivers, job_created still does,
    and wait() returns."""
    with tq.job_updated.muted():
        job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
        final = queue.wait(job_id, timeout=WAIT)

    assert final.status == "completed"
    assert [name for name, _ in recorder.for_job(job_id)] == ["job-created"]


def test_receiver_for_another_sender_gets_nothing(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8: events are sent with sender = the queue: a receiver connected for another
    sender gets none of them."""
    stray: list[tq.TransferJob] = []

    def other_receiver(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        stray.append(job)

    other = tq.TransferQueue(1)
    try:
        with (
            tq.job_created.connected_to(other_receiver, sender=other),
            tq.job_updated.connected_to(other_receiver, sender=other),
        ):
            job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
            queue.wait(job_id, timeout=WAIT)
    finally:
        other.shutdown()

    assert stray == []
    assert len(recorder.for_job(job_id)) >= 2  # the events were sent, to this queue's receivers


def test_empty_job_sends_created_then_one_completed_update(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8/S5: a job without files sends job_created, then exactly one job_updated:
    completed with percentage 100."""
    job_id = queue.queue_job("local-upload", [], noop_executor)
    final = queue.wait(job_id, timeout=WAIT)

    events = recorder.for_job(job_id)
    assert [name for name, _ in events] == ["job-created", "job-updated"]
    updated = events[1][1]
    assert updated == final
    assert updated.status == "completed"
    assert updated.progress.percentage == 100
    assert updated.files == ()


def test_each_job_keeps_its_own_coalescing_interval() -> None:
    """S8: a coalesced update of one job comes at least ``update_interval`` after that
    job's previous event, even when another job's update falls due first.

    X's update falls due first; Y became active later, so its update is due later. The
    wait that ends at X's due time must flush X alone, not every pending job.
    """
    interval = 0.4
    times: dict[str, list[tuple[float, str, int]]] = {}
    updated: dict[str, threading.Event] = {}
    release = threading.Event()

    def record(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        seen = times.setdefault(job.id, [])
        seen.append((time.monotonic(), str(job.status), job.progress.loaded_bytes))
        if len(seen) == 2:
            updated.setdefault(job.id, threading.Event()).set()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(1)  # a file-level change, coalesced
        assert release.wait(WAIT)

    with (
        tq.TransferQueue(2, update_interval=interval) as q,
        tq.job_updated.connected_to(record, sender=q),
    ):
        x = q.queue_job("s3-upload", make_files(1), executor)
        # A deliberate offset, not a wait for something to happen: Y's events must run
        # half an interval behind X's for X's due time to come while Y's is still ahead.
        threading.Event().wait(interval / 2)
        y = q.queue_job("s3-upload", make_files(1), executor)
        try:
            for job_id in (x, y):
                assert updated.setdefault(job_id, threading.Event()).wait(WAIT)
        finally:
            release.set()
        q.wait(x, timeout=WAIT)
        q.wait(y, timeout=WAIT)

    for job_id in (x, y):
        (active_at, active, _), (update_at, status, loaded) = times[job_id][:2]
        assert (active, status, loaded) == ("active", "active", 1)
        assert update_at - active_at >= interval * 0.95, (job_id, update_at - active_at)


def test_interval_zero_builds_no_snapshot_per_change_when_nobody_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S8 at update_interval=0: a snapshot costs O(files), so one per change is built only
    for listeners; with none connected, only created, active and terminal are built."""
    built: list[str] = []
    real_build = Job._build_snapshot

    def counting_build(self: Job) -> tq.TransferJob:
        built.append(self.id)
        return real_build(self)

    monkeypatch.setattr(Job, "_build_snapshot", counting_build)

    def reporting(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for step in range(1, 11):
            on_progress(file.size * step // 10)

    with tq.TransferQueue(2, update_interval=0) as q:
        job_id = q.queue_job("s3-upload", make_files(20), reporting)
        assert q.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert len(built) <= 3, len(built)
