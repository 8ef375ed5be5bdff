"""S19 retries (issue #3 part 3), functional: a real queue, its worker and timer threads.

No test waits out a backoff: a retry that should happen does so at once
(``initial_delay=0``), and a file that should wait waits an hour that nobody sees the end
of (it is cancelled or shut down). Exact delays are read from ``retry_at`` under a frozen
clock.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, GatedExecutor, make_files, noop_executor

HOUR = 3600.0
AT_ONCE = tq.RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)
AN_HOUR_LATER = tq.RetryPolicy(max_attempts=3, initial_delay=HOUR, max_delay=HOUR, jitter=0)
RETRY_THREAD = "transferqueue-retries"


class Flaky:
    """An executor that raises ``failures[k]`` on the k-th call for a file (counted per
    file from 0) and succeeds once they are used up; it records every call."""

    def __init__(self, *failures: BaseException, progress: int | None = None) -> None:
        self.failures = failures
        self.progress = progress  # reported before failing or succeeding, if set
        self.calls: list[tuple[str, int]] = []  # (source_path, file.attempts given)
        self._lock = threading.Lock()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._lock:
            call = sum(1 for path, _ in self.calls if path == file.source_path)
            self.calls.append((file.source_path, file.attempts))
        if self.progress is not None:
            on_progress(self.progress)
        if call < len(self.failures):
            raise self.failures[call]

    def attempts_given(self, source_path: str = "src/file-0") -> list[int]:
        with self._lock:
            return [attempts for path, attempts in self.calls if path == source_path]


@contextmanager
def retry_queue(limit: int = 2, **options: Any) -> Iterator[tq.TransferQueue]:
    """A queue made with ``options``; its jobs are cancelled and its threads joined after."""
    queue = tq.TransferQueue(limit, **options)
    try:
        yield queue
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)


@contextmanager
def recording(queue: tq.TransferQueue) -> Iterator[EventRecorder]:
    """An EventRecorder connected to both signals of ``queue`` while in the block."""
    recorder = EventRecorder(queue)
    with (
        tq.job_created.connected_to(recorder.created, sender=queue),
        tq.job_updated.connected_to(recorder.updated, sender=queue),
    ):
        yield recorder


@contextmanager
def released(gate: GatedExecutor) -> Iterator[GatedExecutor]:
    """A gate released when the block ends, so that a queue shutdown never waits on it."""
    try:
        yield gate
    finally:
        gate.release_all()


def wait_for_job(
    queue: tq.TransferQueue, job_id: str, predicate: Callable[[tq.TransferJob], bool]
) -> tq.TransferJob:
    """Block (at most WAIT) until the job, as it stands now or as an event reports it,
    satisfies ``predicate``; return that snapshot.

    A state reached later must be announced by a job-updated event (coalesced or not)
    to be seen here: so waiting on it also checks that the queue reports it (S8)."""
    cond = threading.Condition()
    seen: list[tq.TransferJob] = []

    def receiver(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.id == job_id:
            with cond:
                seen.append(job)
                cond.notify_all()

    def found() -> tq.TransferJob | None:
        return next((job for job in seen if predicate(job)), None)

    with tq.job_updated.connected_to(receiver, sender=queue):
        now = queue.get_job(job_id)
        assert now is not None
        with cond:
            seen.insert(0, now)
            assert cond.wait_for(lambda: found() is not None, WAIT), (
                f"no snapshot of the job got there; the last: {seen[-1]}"
            )
            result = found()
    assert result is not None
    return result


def waiting_to_retry(job: tq.TransferJob) -> bool:
    """The job's first file failed an attempt and waits for its retry delay."""
    return job.files[0].retry_at is not None


def shut_down_within(queue: tq.TransferQueue, seconds: float) -> bool:
    """Call queue.shutdown(wait=True) in a thread; True if it returned within ``seconds``
    (a hanging shutdown then fails the test instead of hanging it)."""
    done = threading.Event()

    def close() -> None:
        queue.shutdown(wait=True)
        done.set()

    threading.Thread(target=close, name="test-shutdown", daemon=True).start()
    return done.wait(seconds)


def retry_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == RETRY_THREAD and t.is_alive()}


def join_all(threads: set[threading.Thread]) -> None:
    for thread in threads:
        thread.join(WAIT)
    assert not [t for t in threads if t.is_alive()], "a retry thread did not end"


# -- retried until it succeeds or runs out of attempts ----------------------------------------


def test_transient_failure_is_retried_until_it_succeeds() -> None:
    """S19, S6: an OSError twice, then success: three calls, the job completed, the
    file completed at 100% with attempts 3 and no error."""
    executor = Flaky(OSError("flaky 1"), OSError("flaky 2"))
    with retry_queue(retry=AT_ONCE) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.COMPLETED
    assert job.error is None
    (file,) = job.files
    assert file.status == tq.TransferFileStatus.COMPLETED
    assert file.attempts == 3 == len(executor.calls)
    assert file.error is None
    assert file.retry_at is None
    assert file.loaded == file.size
    assert job.progress.percentage == 100
    assert job.progress.failed_files == 0
    assert job.progress.completed_files == 1


def test_executor_is_given_its_attempt_number() -> None:
    """S19: the ``file`` an executor receives carries ``attempts`` = the number of
    this attempt: 1, 2, 3; the other files, never failing, get 1."""
    executor = Flaky(ConnectionResetError("reset"), TimeoutError("slow"))
    with retry_queue(retry=AT_ONCE) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(3), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.COMPLETED
    # Flaky fails every file's first two calls: each file is retried on its own count.
    for index in range(3):
        assert executor.attempts_given(f"src/file-{index}") == [1, 2, 3]
    assert [file.attempts for file in job.files] == [3, 3, 3]


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("reset"), TimeoutError("slow"), BrokenPipeError("pipe")],
)
def test_subclasses_of_oserror_are_retried_by_default(error: BaseException) -> None:
    """S19: the default retry_on (OSError) covers its subclasses."""
    executor = Flaky(error)
    with retry_queue(retry=tq.RetryPolicy(initial_delay=0)) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.COMPLETED
    assert job.files[0].attempts == 2 == len(executor.calls)


def test_a_missing_source_is_not_retried_by_default() -> None:
    """S19: a FileNotFoundError is an OSError, but in DEFAULT_NEVER_RETRY_ON: one attempt."""
    executor = Flaky(FileNotFoundError("gone"))
    with retry_queue(retry=tq.RetryPolicy(initial_delay=0)) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].error == "gone"
    assert job.files[0].attempts == 1 == len(executor.calls)


def test_non_transient_error_is_not_retried() -> None:
    """S19, S16: a ValueError is no transient failure under the default retry_on: the
    file fails on its first attempt with its message."""
    executor = Flaky(ValueError("bad input"))
    with retry_queue(retry=AT_ONCE) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].error == "bad input"
    assert job.files[0].attempts == 1 == len(executor.calls)


def test_every_attempt_failing_fails_the_file_with_the_last_error() -> None:
    """S19, S4, S16: when all max_attempts fail the file fails with the last
    attempt's error, attempts == max_attempts, and the job fails."""
    executor = Flaky(*(OSError(f"attempt {n} failed") for n in (1, 2, 3, 4)))
    with retry_queue(retry=AT_ONCE) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.error == "1 of 1 files failed"
    (file,) = job.files
    assert file.status == tq.TransferFileStatus.ERROR
    assert file.error == "attempt 3 failed"
    assert file.attempts == 3 == len(executor.calls)
    assert file.retry_at is None
    assert job.progress.failed_files == 1


def test_only_the_failing_file_is_retried() -> None:
    """S19, S16: in a job of three, only the file that failed is tried again; the
    job completes once it succeeds."""
    calls: list[str] = []
    lock = threading.Lock()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            calls.append(file.source_path)
        if file.source_path == "src/file-1" and file.attempts == 1:
            raise OSError("flaky")

    with retry_queue(retry=AT_ONCE) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(3), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.COMPLETED
    assert sorted(calls) == ["src/file-0", "src/file-1", "src/file-1", "src/file-2"]
    assert [file.attempts for file in job.files] == [1, 2, 1]


# -- the policy: per queue, per job ------------------------------------------------------------


def test_a_queue_without_a_policy_does_not_retry() -> None:
    """S19: the default queue has no policy: an OSError fails the file at once."""
    executor = Flaky(OSError("down"))
    with retry_queue() as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].attempts == 1 == len(executor.calls)


def test_job_policy_no_retry_overrides_the_queues() -> None:
    """S19: queue_job(..., retry=NO_RETRY) turns retries off for that job only; a
    job without ``retry`` on the same queue uses the queue's policy."""
    no_retry, default = Flaky(OSError("down")), Flaky(OSError("down"))
    with retry_queue(retry=AT_ONCE) as queue:
        off = queue.queue_job("s3-upload", make_files(1), no_retry, retry=tq.NO_RETRY)
        on = queue.queue_job("s3-upload", make_files(1), default, retry=None)
        off_job = queue.wait(off, timeout=WAIT)
        on_job = queue.wait(on, timeout=WAIT)

    assert off_job.status == tq.TransferStatus.FAILED
    assert off_job.files[0].error == "down"
    assert len(no_retry.calls) == 1
    assert on_job.status == tq.TransferStatus.COMPLETED
    assert len(default.calls) == 2


def test_job_policy_on_a_queue_without_one_retries() -> None:
    """S19: a job's own policy applies on a queue that has none."""
    executor = Flaky(OSError("down"), OSError("still down"))
    with retry_queue() as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor, retry=AT_ONCE)
        job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.COMPLETED
    assert job.files[0].attempts == 3 == len(executor.calls)


def test_job_policy_replaces_the_queues_entirely() -> None:
    """S19: the job's policy is used instead of the queue's, not combined with it:
    its max_attempts and retry_on both count."""
    more = Flaky(*(OSError(f"down {n}") for n in range(1, 6)))
    other_class = Flaky(ValueError("bad"), ValueError("bad again"))
    five_attempts = tq.RetryPolicy(max_attempts=5, initial_delay=0)
    on_value_error = tq.RetryPolicy(max_attempts=3, initial_delay=0, retry_on=ValueError)
    with retry_queue(retry=tq.RetryPolicy(max_attempts=2, initial_delay=0)) as queue:
        first = queue.queue_job("s3-upload", make_files(1), more, retry=five_attempts)
        second = queue.queue_job("s3-upload", make_files(1), other_class, retry=on_value_error)
        first_job = queue.wait(first, timeout=WAIT)
        second_job = queue.wait(second, timeout=WAIT)

    assert first_job.status == tq.TransferStatus.FAILED
    assert first_job.files[0].error == "down 5"
    assert len(more.calls) == 5
    assert second_job.status == tq.TransferStatus.COMPLETED
    assert len(other_class.calls) == 3


@pytest.mark.parametrize("bad", ["3", 3, True, tq.RetryPolicy, {"max_attempts": 3}])
def test_bad_retry_argument_registers_nothing(bad: object) -> None:
    """S19, S12: ``retry`` that is not a RetryPolicy (or None) is a TypeError naming
    it; nothing is registered, no event is sent, no executor runs."""
    executor = Flaky()
    with retry_queue() as queue, recording(queue) as recorder:
        with pytest.raises(TypeError, match="retry"):
            queue.queue_job("s3-upload", make_files(1), executor, retry=bad)  # type: ignore[arg-type]

        assert queue.get_all_jobs() == []
        assert queue.get_active_job_ids() == []
        # The queue still works, and its events show that nothing was announced before.
        marker = queue.queue_job("s3-upload", make_files(1), noop_executor)
        queue.wait(marker, timeout=WAIT)
    assert {job.id for _, job in recorder.events} == {marker}
    assert executor.calls == []


@pytest.mark.parametrize("bad", ["3", 3, tq.RetryPolicy])
def test_bad_retry_option_of_the_queue(bad: object) -> None:
    """S19, S12: TransferQueue(retry=...) must be a RetryPolicy or None."""
    with pytest.raises(TypeError, match="retry"):
        tq.TransferQueue(1, retry=bad)  # type: ignore[arg-type]


# -- cancellation is never retried -------------------------------------------------------


def test_transfer_cancelled_raised_by_an_executor_is_not_retried() -> None:
    """S19: an executor raising TransferCancelled (its job not cancelled) is not
    retried even under retry_on=(Exception,): the file fails with its message."""
    executor = Flaky(tq.TransferCancelled("gave up"), tq.TransferCancelled("gave up again"))
    everything = tq.RetryPolicy(max_attempts=5, initial_delay=0, retry_on=(Exception,))
    with retry_queue(retry=everything) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), executor), timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].error == "gave up"
    assert job.files[0].attempts == 1 == len(executor.calls)


@pytest.mark.parametrize("late_error", ["TransferCancelled", "OSError"])
def test_files_of_a_cancelled_job_are_never_retried(
    late_error: str, caplog: pytest.LogCaptureFixture
) -> None:
    """S19, S9: an executor that ends with an error after its job was cancelled (the
    TransferCancelled from on_progress, or any transient error) is not retried, under a
    policy that would retry both; nothing is logged as an error or a crash."""
    caplog.set_level(logging.DEBUG, logger="transferqueue")
    calls: list[int] = []
    started = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        calls.append(file.attempts)
        started.set()
        assert on_progress.wait_cancelled(WAIT)
        if late_error == "OSError":
            raise OSError("connection lost while cancelling")
        on_progress(1)  # raises TransferCancelled
        raise AssertionError("on_progress did not raise")

    everything = tq.RetryPolicy(max_attempts=5, initial_delay=0, retry_on=(Exception,))
    with retry_queue(1, retry=everything) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        assert started.wait(WAIT)
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
        # At limit 1 the next job starts only once the cancelled file's end was handled
        # (while the queue still runs: a shutdown would refuse any retry by itself).
        marker = queue.queue_job("s3-upload", make_files(1, prefix="next"), noop_executor)
        assert queue.wait(marker, timeout=WAIT).status == tq.TransferStatus.COMPLETED
        after = queue.get_job(job_id)
        assert queue.get_active_job_ids() == []

    assert calls == [1]
    assert job.status == tq.TransferStatus.CANCELLED
    assert job.files[0].error == "Cancelled by user"
    assert after == job
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- waiting: no slot held; woken by cancel and shutdown -----------------------------------


def test_file_waiting_to_retry_holds_no_slot() -> None:
    """S19, S2: at limit 1, job A's only file fails transiently and waits an hour;
    job B starts and runs meanwhile. A stays active, its file queued with the error,
    attempts 1 and retry_at set, and 0 bytes loaded."""
    gate = GatedExecutor()
    executor = Flaky(OSError("network unreachable"), progress=30)
    with retry_queue(1, retry=AN_HOUR_LATER) as queue, released(gate):
        a = queue.queue_job("s3-upload", make_files(1, prefix="a"), executor)
        wait_for_job(queue, a, waiting_to_retry)
        b = queue.queue_job("s3-upload", make_files(1, prefix="b"), gate)
        gate.wait_running(1)

        a_job, b_job = queue.get_job(a), queue.get_job(b)
        assert a_job is not None
        assert b_job is not None
        assert b_job.status == tq.TransferStatus.ACTIVE
        assert b_job.files[0].status == tq.TransferFileStatus.TRANSFERRING
        assert a_job.status == tq.TransferStatus.ACTIVE
        (file,) = a_job.files
        assert file.status == tq.TransferFileStatus.QUEUED
        assert file.error == "network unreachable"
        assert file.attempts == 1
        assert file.retry_at is not None
        assert file.retry_at > datetime.now(timezone.utc) + timedelta(minutes=59)
        assert file.loaded == 0
        assert queue.get_active_job_ids() == [a, b]

        gate.release_all()
        assert queue.wait(b, timeout=WAIT).status == tq.TransferStatus.COMPLETED
        still = queue.get_job(a)
        assert still is not None
        assert still.status == tq.TransferStatus.ACTIVE
        assert len(executor.calls) == 1


def test_a_file_due_for_retry_waits_for_a_free_slot() -> None:
    """S19, S2: at limit 1, a file whose (zero) delay ended while another job holds
    the slot starts only when that slot is free; the limit is never exceeded."""
    gate = GatedExecutor()
    calls: list[int] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        calls.append(file.attempts)
        if file.attempts == 1:
            raise OSError("flaky")
        gate(file, on_progress)  # the retry runs through the gate: it counts as running

    def due_not_started(job: tq.TransferJob) -> bool:
        file = job.files[0]
        return file.attempts == 1 and file.retry_at is None and file.status == "queued"

    with retry_queue(1, retry=AT_ONCE) as queue, released(gate):
        queue.queue_job("s3-upload", make_files(1, prefix="b"), gate)
        gate.wait_running(1)
        a = queue.queue_job("s3-upload", make_files(1, prefix="a"), executor)
        c = queue.queue_job("s3-upload", make_files(1, prefix="c"), gate)
        gate.release("src/b-0")
        # a's first attempt fails, c takes the slot; a's retry is due at once but waits.
        gate.wait_started(2)
        a_job = wait_for_job(queue, a, due_not_started)
        assert a_job.files[0].error == "flaky"
        assert gate.running == 1
        assert calls == [1]

        gate.release("src/c-0")
        gate.wait_started(3)
        assert gate.started[-1] == "src/a-0"
        gate.release_all()
        assert queue.wait(a, timeout=WAIT).status == tq.TransferStatus.COMPLETED
        assert queue.wait(c, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert gate.max_running == 1
    assert calls == [1, 2]


def test_cancel_wakes_a_file_waiting_to_retry() -> None:
    """S19, S9: cancelling a job whose file waits an hour for its retry ends it at
    once: wait() returns cancelled, the file has "Cancelled by user" and no retry_at,
    it is never retried, and the retry thread ends."""
    before = retry_threads()
    executor = Flaky(OSError("down"))
    with retry_queue(retry=AN_HOUR_LATER) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        wait_for_job(queue, job_id, waiting_to_retry)
        started = retry_threads() - before
        assert len(started) == 1

        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)

        assert job.status == tq.TransferStatus.CANCELLED
        (file,) = job.files
        assert file.status == tq.TransferFileStatus.ERROR
        assert file.error == "Cancelled by user"
        assert file.error_type == "transferqueue.TransferCancelled"
        assert file.retry_at is None
        assert file.attempts == 1
        join_all(started)  # no file waits any more: the thread ends, before any shutdown
    assert len(executor.calls) == 1
    assert not (retry_threads() - before)


def test_cancel_of_one_job_leaves_the_others_waiting() -> None:
    """S19, S9: cancelling one job drops only its waits: another job's file still
    waits for its retry."""
    with retry_queue(retry=AN_HOUR_LATER) as queue:
        a = queue.queue_job("s3-upload", make_files(1, prefix="a"), Flaky(OSError("a down")))
        b = queue.queue_job("s3-upload", make_files(1, prefix="b"), Flaky(OSError("b down")))
        wait_for_job(queue, a, waiting_to_retry)
        wait_for_job(queue, b, waiting_to_retry)

        assert queue.cancel_job(a)
        assert queue.wait(a, timeout=WAIT).status == tq.TransferStatus.CANCELLED
        b_job = queue.get_job(b)
        assert b_job is not None
        assert b_job.status == tq.TransferStatus.ACTIVE
        assert b_job.files[0].retry_at is not None
        assert b_job.files[0].error == "b down"


def test_cancelling_many_waiting_jobs_keeps_the_retry_heap_small() -> None:
    """S19, S9, issue 10: 300 jobs whose file waits an hour, all but one cancelled one
    by one: the cancelled waits never run and what the timer keeps stays within twice
    the waiting files plus 64; the last job still waits, and shutdown(cancel_jobs=True)
    cancels it too and empties the timer."""
    executor = Flaky(OSError("down"))
    with retry_queue(retry=AN_HOUR_LATER) as queue:
        job_ids = [
            queue.queue_job("s3-upload", make_files(1, prefix=f"job{n}"), executor)
            for n in range(300)
        ]
        for job_id in job_ids:
            wait_for_job(queue, job_id, waiting_to_retry)
        for job_id in job_ids[:-1]:
            assert queue.cancel_job(job_id)
            with queue._lock:
                timer = queue._retry_timer
                assert timer.stored <= 2 * len(timer) + 64
        with queue._lock:
            assert len(queue._retry_timer) == 1
        last = queue.get_job(job_ids[-1])
        assert last is not None
        assert last.files[0].retry_at is not None
        queue.shutdown(wait=True, cancel_jobs=True)
        with queue._lock:
            assert queue._retry_timer.stored == 0
        assert queue.wait(job_ids[-1]).status == tq.TransferStatus.CANCELLED
    assert len(executor.calls) == 300  # one attempt each: no cancelled wait ran


def test_shutdown_wakes_a_file_waiting_to_retry() -> None:
    """S19, S15: shutdown(wait=True) while a file waits an hour returns at once; the
    file fails with its last error (not a cancel reason), the job fails, its terminal
    event is delivered once and last, and no retry thread is left."""
    before = retry_threads()
    executor = Flaky(OSError("first"), OSError("second"))
    policy = tq.RetryPolicy(
        max_attempts=5, initial_delay=0.001, multiplier=HOUR * 1000, max_delay=HOUR, jitter=0
    )
    queue = tq.TransferQueue(2, retry=policy)
    try:
        with recording(queue) as recorder:
            # Attempt 1 fails and retries at once; attempt 2 waits initial * HOUR.
            job_id = queue.queue_job("s3-upload", make_files(1), executor)
            wait_for_job(queue, job_id, lambda j: j.files[0].attempts == 2 and waiting_to_retry(j))
            assert shut_down_within(queue, WAIT), "shutdown(wait=True) waited for the delay"

            job = queue.wait(job_id, timeout=WAIT)
            events = recorder.for_job(job_id)
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)

    assert job.status == tq.TransferStatus.FAILED
    assert job.error == "1 of 1 files failed"
    (file,) = job.files
    assert file.status == tq.TransferFileStatus.ERROR
    assert file.error == "second"
    assert file.error_type == "OSError"
    assert file.attempts == 2 == len(executor.calls)
    assert file.retry_at is None
    terminal = [snapshot for _, snapshot in events if snapshot.status.is_terminal]
    assert terminal == [job]
    assert events[-1][1] == job
    assert not (retry_threads() - before)


def test_a_file_failing_after_shutdown_is_not_retried() -> None:
    """S19, S15: a file whose attempt fails after shutdown began is not retried (the
    queue would only have to wait for it): it fails with that error."""
    gate = GatedExecutor()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        gate(file, on_progress)
        raise OSError("failed during shutdown")

    queue = tq.TransferQueue(1, retry=AT_ONCE)
    try:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        gate.wait_running(1)
        queue.shutdown(wait=False)
        gate.release_all()
        job = queue.wait(job_id, timeout=WAIT)
    finally:
        gate.release_all()
        queue.shutdown(wait=True, cancel_jobs=True)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].error == "failed during shutdown"
    assert job.files[0].attempts == 1
    assert gate.started == ["src/file-0"]  # one call: no retry


def test_shutdown_with_cancel_jobs_cancels_a_waiting_file() -> None:
    """S19, S15: shutdown(cancel_jobs=True) cancels a job whose file waits for its
    retry: the file gets the cancel reason, not its last error."""
    with retry_queue(retry=AN_HOUR_LATER) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), Flaky(OSError("down")))
        wait_for_job(queue, job_id, waiting_to_retry)
        queue.shutdown(wait=True, cancel_jobs=True)
        job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.CANCELLED
    assert job.files[0].error == "Cancelled by queue shutdown"
    assert job.files[0].error_type == "transferqueue.TransferCancelled"
    assert job.files[0].retry_at is None


def test_a_waiting_file_keeps_its_errors_kind_and_its_next_attempt_clears_it() -> None:
    """S19: a file waiting for its retry shows its last attempt's error and kind; once the
    next attempt starts both are cleared, and a success leaves them unset."""
    attempt_two, finish = threading.Event(), threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.attempts == 1:
            raise ConnectionResetError("reset by peer")
        attempt_two.set()
        assert finish.wait(WAIT)

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0.001, jitter=0)
    with retry_queue(retry=policy, update_interval=0) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        with recording(queue) as recorder:
            try:
                waiting = wait_for_job(queue, job_id, waiting_to_retry)
                assert attempt_two.wait(WAIT)
                running = queue.get_job(job_id)
            finally:
                finish.set()
            job = queue.wait(job_id, timeout=WAIT)
            events = recorder.for_job(job_id)
    (file,) = waiting.files
    assert (file.status, file.error, file.error_type) == (
        tq.TransferFileStatus.QUEUED,
        "reset by peer",
        "ConnectionResetError",
    )
    assert running is not None
    (file,) = running.files
    assert (file.status, file.attempts, file.error, file.error_type) == (
        tq.TransferFileStatus.TRANSFERRING,
        2,
        None,
        None,
    )
    # Every snapshot carries the kind exactly when it carries the error.
    assert all((f.error is None) == (f.error_type is None) for _, j in events for f in j.files)
    assert job.status == tq.TransferStatus.COMPLETED
    assert (job.files[0].error, job.files[0].error_type) == (None, None)


def test_a_stale_on_progress_from_a_leaked_thread_leaves_the_next_attempt_alone() -> None:
    """S7, S19: attempt 1 leaves a thread behind that calls its ``on_progress`` while
    attempt 2 runs. The call belongs to an ended attempt: it changes nothing (attempt 2's
    bytes stay its own) and raises nothing, as the callback's docstring says."""
    attempt_two_running, stale_called, finish = (threading.Event() for _ in range(3))
    outcome: list[object] = []
    leaked: list[threading.Thread] = []

    def keep_reporting(on_progress: tq.ProgressCallback) -> None:
        assert attempt_two_running.wait(WAIT)
        try:
            on_progress(90)
            outcome.append("returned")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)
        finally:
            stale_called.set()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.attempts == 1:
            on_progress(30)
            thread = threading.Thread(target=keep_reporting, args=(on_progress,))
            leaked.append(thread)
            thread.start()
            raise ConnectionResetError("dropped")
        on_progress(10)
        attempt_two_running.set()
        assert finish.wait(WAIT)
        on_progress(file.size)

    with retry_queue(limit=1, retry=AT_ONCE) as queue:
        job_id = queue.queue_job("s3-download", make_files(1, size=100), executor)
        try:
            assert stale_called.wait(WAIT)
            during = queue.get_job(job_id)
        finally:
            finish.set()
        job = queue.wait(job_id, timeout=WAIT)
    for thread in leaked:
        thread.join(WAIT)
    assert outcome == ["returned"]
    assert during is not None
    assert (during.files[0].attempts, during.files[0].loaded) == (2, 10)
    assert during.progress.loaded_bytes == 10
    assert job.status == tq.TransferStatus.COMPLETED
    assert job.files[0].loaded == 100


# -- exact delays, under a frozen clock ------------------------------------------------------

FROZEN = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("policy", "expected_seconds"),
    [
        (tq.RetryPolicy(initial_delay=30, jitter=0), 30),
        (tq.RetryPolicy(initial_delay=1234.5, max_delay=5000, jitter=0), 1234.5),
        (tq.RetryPolicy(initial_delay=500, max_delay=45, jitter=0), 45),
    ],
)
def test_retry_at_is_now_plus_the_delay(policy: tq.RetryPolicy, expected_seconds: float) -> None:
    """S19: with jitter 0 a failed file's retry_at is exactly the failure time plus
    delay(1) (here capped by max_delay in the last case)."""
    with freeze_time(FROZEN), retry_queue(retry=policy) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), Flaky(OSError("down")))
        job = wait_for_job(queue, job_id, waiting_to_retry)

    assert job.files[0].retry_at == FROZEN + timedelta(seconds=expected_seconds)


def test_retry_at_with_jitter_lies_in_the_jitter_range() -> None:
    """S19: with jitter 0.5 the wait lies between half the backoff and all of it."""
    policy = tq.RetryPolicy(initial_delay=40, jitter=0.5)
    with freeze_time(FROZEN), retry_queue(retry=policy) as queue:
        ids = [
            queue.queue_job("s3-upload", make_files(1), Flaky(OSError("down"))) for _ in range(5)
        ]
        jobs = [wait_for_job(queue, job_id, waiting_to_retry) for job_id in ids]

    for job in jobs:
        retry_at = job.files[0].retry_at
        assert retry_at is not None
        assert FROZEN + timedelta(seconds=20) <= retry_at <= FROZEN + timedelta(seconds=40)


def test_each_attempt_waits_delay_of_its_number(monkeypatch: pytest.MonkeyPatch) -> None:
    """S19: after its n-th failed attempt a file waits delay(n, random.random()):
    with full jitter and fractions 0 then 1, attempt 1 is retried at once and attempt 2
    waits exactly initial * multiplier."""
    fractions = iter([0.0, 1.0])
    monkeypatch.setattr(random, "random", lambda: next(fractions))
    policy = tq.RetryPolicy(max_attempts=5, initial_delay=10, multiplier=3, jitter=1)
    executor = Flaky(OSError("one"), OSError("two"))
    with freeze_time(FROZEN), retry_queue(retry=policy) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        job = wait_for_job(
            queue, job_id, lambda j: j.files[0].attempts == 2 and waiting_to_retry(j)
        )

    assert job.files[0].retry_at == FROZEN + timedelta(seconds=30)
    assert job.files[0].error == "two"
    assert len(executor.calls) == 2


# -- events and progress --------------------------------------------------------------------


def test_events_show_the_file_going_back_to_waiting() -> None:
    """S19, S8: at update_interval 0 the job's events show the file transferring
    (attempt 1), then queued again with attempts 1 and its error, then transferring
    (attempt 2), then completed; the job stays active throughout until completed."""
    executor = Flaky(OSError("flaky"))
    with retry_queue(retry=AT_ONCE, update_interval=0) as queue, recording(queue) as recorder:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        final = queue.wait(job_id, timeout=WAIT)

    files = [(job.status.value, job.files[0]) for _, job in recorder.for_job(job_id)[1:]]
    states = [
        (status, f.status.value, f.attempts, f.error, f.retry_at is not None) for status, f in files
    ]
    expected = [
        ("active", "transferring", 1, None, False),
        ("active", "queued", 1, "flaky", True),  # waiting out its (zero) delay
        ("active", "transferring", 2, None, False),
        ("completed", "completed", 2, None, False),
    ]
    it = iter(states)
    assert all(state in it for state in expected), states  # in this order
    waiting = [f for _, f in files if f.status == tq.TransferFileStatus.QUEUED and f.attempts]
    assert waiting
    assert all(f.loaded == 0 for f in waiting)
    assert final.status == tq.TransferStatus.COMPLETED


def test_progress_resets_while_a_file_waits_to_retry() -> None:
    """S19, S6: a file that reported bytes and then failed counts 0 bytes again while
    it waits, and the job's loaded_bytes drops by as much; after the successful retry
    the job completes at 100%."""
    gate = GatedExecutor()
    seen_during_attempt: list[int] = []
    queue_ref: list[tq.TransferQueue] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(40)
        if file.source_path == "src/file-0" and file.attempts == 1:
            snapshot = queue_ref[0].get_job(job_id)
            assert snapshot is not None
            seen_during_attempt.append(snapshot.progress.loaded_bytes)
            raise OSError("dropped")

    with retry_queue(1, retry=AT_ONCE) as queue, released(gate):
        queue_ref.append(queue)
        other = queue.queue_job("s3-upload", make_files(1, prefix="gate"), gate)
        gate.wait_running(1)
        job_id = queue.queue_job("s3-upload", make_files(2, size=100), executor)
        blocker = queue.queue_job("s3-upload", make_files(1, prefix="block"), gate)
        gate.release("src/gate-0")
        # file-0 ran (40 bytes, failed), then the slot went round-robin to the blocker.
        gate.wait_started(2)
        waiting = queue.get_job(job_id)
        assert waiting is not None

        gate.release_all()
        done = queue.wait(job_id, timeout=WAIT)
        queue.wait(blocker, timeout=WAIT)
        queue.wait(other, timeout=WAIT)

    assert seen_during_attempt == [40]
    first = waiting.files[0]
    assert first.status == tq.TransferFileStatus.QUEUED
    assert first.attempts == 1
    assert first.loaded == 0
    assert waiting.progress.loaded_bytes == 0
    assert waiting.progress.percentage == 0
    assert done.status == tq.TransferStatus.COMPLETED
    assert done.progress.percentage == 100
    assert done.progress.loaded_bytes == done.progress.total_bytes == 200
    assert [f.attempts for f in done.files] == [2, 1]


# -- logging -----------------------------------------------------------------------------------


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "transferqueue" and r.levelno == level]


def test_a_retried_attempt_is_logged_at_info_and_the_last_failure_at_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S19, S24: an attempt that will be retried is logged at INFO with its
    traceback and "retrying"; the final failure at WARNING with its own traceback."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    first, last = OSError("first try"), OSError("last try")
    executor = Flaky(first, last)
    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0)
    with retry_queue(retry=policy) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        queue.wait(job_id, timeout=WAIT)
    # The queue is shut down: its workers, which log a failure, have ended.

    with_traceback = [r for r in caplog.records if r.exc_info]
    retried = [r for r in with_traceback if r.levelno == logging.INFO]
    final = [r for r in with_traceback if r.levelno == logging.WARNING]
    assert len(retried) == 1
    assert retried[0].exc_info is not None
    assert retried[0].exc_info[1] is first
    assert "retrying" in retried[0].getMessage()
    assert job_id in retried[0].getMessage()
    assert len(final) == 1
    assert final[0].exc_info is not None
    assert final[0].exc_info[1] is last
    assert "retrying" not in final[0].getMessage()
    assert job_id in final[0].getMessage()
    assert [r for r in with_traceback if r.levelno not in (logging.INFO, logging.WARNING)] == []


def test_a_cancelled_attempt_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    """S19, S24: an executor ending with TransferCancelled after its job was
    cancelled is no failure: nothing at WARNING or above, no traceback."""
    caplog.set_level(logging.DEBUG, logger="transferqueue")
    started = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        on_progress.wait_cancelled(WAIT)
        on_progress(1)

    everything = tq.RetryPolicy(initial_delay=0, retry_on=(Exception,))
    with retry_queue(retry=everything) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        assert started.wait(WAIT)
        queue.cancel_job(job_id)
        queue.wait(job_id, timeout=WAIT)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [r for r in caplog.records if r.exc_info] == []
    assert _records(caplog, logging.INFO)  # the job's lifecycle was logged


def test_a_file_failing_after_shutdown_is_logged_as_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S19, S24: a file that fails after shutdown began is not retried, so its failure is
    logged at WARNING with its traceback, and no record claims it is being retried."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    gate = GatedExecutor()
    error = OSError("failed during shutdown")

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        gate(file, on_progress)
        raise error

    queue = tq.TransferQueue(1, retry=AT_ONCE)
    try:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        gate.wait_running(1)
        queue.shutdown(wait=False)
        gate.release_all()
        queue.shutdown(wait=True)  # every worker, and so every log call, has ended
    finally:
        gate.release_all()
        queue.shutdown(wait=True, cancel_jobs=True)

    job = queue.get_job(job_id)
    assert job is not None
    assert job.files[0].error == "failed during shutdown"  # failed, not retried
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.exc_info]
    assert len(warnings) == 1
    assert warnings[0].exc_info is not None
    assert warnings[0].exc_info[1] is error


def test_a_cancelled_jobs_failing_file_is_not_logged_as_retrying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S19, S24: a transient failure of a file whose job was cancelled while it ran is no
    retry: no record says it is being retried."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    started = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert on_progress.wait_cancelled(WAIT)
        raise OSError("connection lost while cancelling")

    with retry_queue(1, retry=AT_ONCE) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        assert started.wait(WAIT)
        assert queue.cancel_job(job_id)
        queue.wait(job_id, timeout=WAIT)
    # The queue is shut down: its workers, which log a failure, have ended.

    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []
