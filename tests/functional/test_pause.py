"""Pausing and resuming a job: the queue's side.

A paused job starts no file, its running executors stop at their next ``on_progress``
and give their slot back, events announce both transitions, and it is no finished job.
The executors' side (keeping and resuming a partial) is in test_pause_executors.py.
"""

from __future__ import annotations

import functools
import json
import pickle
import threading
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.event_recorder import EventRecorder
from tests.helpers.executors import GatedExecutor, SlowToStop, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.job_waits import wait_for_job
from transferqueue.redis import _wire

CHUNK = 10


class SteppedExecutor:
    """Writes each file ``CHUNK`` bytes a step into ``written`` (a file's kept bytes, as
    a resuming executor keeps them), one step per permit from :meth:`allow`, reporting
    after each. Told to pause, it keeps what it wrote and lets ``TransferPaused`` go."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._permits = 0
        self._unlimited = False
        self.written: dict[str, bytearray] = {}
        self.moved = 0  # every byte written, twice-written ones twice
        self.paused_at: list[int] = []
        self.calls = 0

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._cond:
            self.calls += 1
            kept = self.written.setdefault(file.source_path, bytearray())
        try:
            on_progress(len(kept))
            while len(kept) < file.size:
                with self._cond:
                    assert self._cond.wait_for(lambda: self._unlimited or self._permits, WAIT)
                    if not self._unlimited:
                        self._permits -= 1
                step = min(CHUNK, file.size - len(kept))
                with self._cond:
                    kept.extend(bytes([len(kept) % 251]) * step)
                    self.moved += step
                    self._cond.notify_all()
                on_progress(len(kept))
        except tq.TransferPaused:
            with self._cond:
                self.paused_at.append(len(kept))
            raise

    def allow(self, steps: int) -> None:
        with self._cond:
            self._permits += steps
            self._cond.notify_all()

    def allow_all(self) -> None:
        with self._cond:
            self._unlimited = True
            self._cond.notify_all()

    def wait_written(self, source: str, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.written.get(source, b"")) >= count, WAIT), (
                f"{source} never reached {count} bytes"
            )


@pytest.fixture
def stepped() -> Any:
    executor = SteppedExecutor()
    yield executor
    executor.allow_all()


def _stopped(job: tq.TransferJob) -> bool:
    """Paused, with no file of it transferring any more."""
    return job.status is tq.TransferStatus.PAUSED and all(
        file.status is not tq.TransferFileStatus.TRANSFERRING for file in job.files
    )


def test_pause_mid_file_then_resume(queue: tq.TransferQueue, stepped: SteppedExecutor) -> None:
    """The executor stops at its next on_progress, keeps its bytes (the file is queued
    again with them), and the resumed attempt goes on from there: nothing moves twice."""
    job_id = queue.queue_job("local-upload", make_files(1, size=100), stepped)
    stepped.allow(3)
    stepped.wait_written("src/file-0", 30)
    queue.pause_job(job_id)
    stepped.allow(1)  # the step under way ends, then its report says: pause
    paused = wait_for_job(queue, job_id, _stopped)
    assert stepped.paused_at == [40]
    (file,) = paused.files
    assert file.status is tq.TransferFileStatus.QUEUED
    assert file.loaded == 40
    assert file.error is None
    assert paused.progress.loaded_bytes == 40
    assert paused.progress.bytes_per_second is None
    assert paused.completed_at is None

    stepped.allow_all()
    queue.resume_job(job_id)
    done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert done.files[0].attempts == 2
    expected = b"".join(bytes([offset % 251]) * CHUNK for offset in range(0, 100, CHUNK))
    assert bytes(stepped.written["src/file-0"]) == expected
    assert stepped.moved == 100


def test_a_paused_job_holds_no_slot(stepped: SteppedExecutor) -> None:
    """With one slot: once its executor stopped, another job runs and completes while the
    paused job waits; resumed, the paused one completes too."""
    with tq.TransferQueue(1) as queue:
        paused_id = queue.queue_job("local-upload", make_files(1, size=50, prefix="a"), stepped)
        other_id = queue.queue_job("local-upload", make_files(2, size=0, prefix="b"), noop_executor)
        stepped.allow(1)
        stepped.wait_written("src/a-0", 10)
        queue.pause_job(paused_id)
        stepped.allow(1)
        other = queue.wait(other_id, timeout=WAIT)
        assert other.status is tq.TransferStatus.COMPLETED
        still = queue.get_job(paused_id)
        assert still is not None
        assert still.status is tq.TransferStatus.PAUSED
        stepped.allow_all()
        queue.resume_job(paused_id)
        assert queue.wait(paused_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_a_paused_job_starts_no_file(gate: GatedExecutor) -> None:
    """A queued job paused behind another starts nothing when the slot frees; resumed
    before any file of it started, it is queued again, then runs."""
    with tq.TransferQueue(1) as queue:
        first = queue.queue_job("local-upload", make_files(1, prefix="a"), gate)
        second = queue.queue_job("local-upload", make_files(2, prefix="b"), gate)
        gate.wait_running(1)
        queue.pause_job(second)
        third = queue.queue_job("local-upload", make_files(1, prefix="c"), gate)
        gate.release("src/a-0")
        gate.wait_started(2)
        assert gate.started[1] == "src/c-0"  # the paused job's files were passed over
        gate.release("src/c-0")
        assert queue.wait(third, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        assert queue.wait(first, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        held = queue.get_job(second)
        assert held is not None
        assert held.status is tq.TransferStatus.PAUSED
        assert held.started_at is None
        fourth = queue.queue_job("local-upload", make_files(1, prefix="d"), gate)
        gate.wait_started(3)  # it holds the slot: the resumed job waits for it
        queue.resume_job(second)
        resumed = queue.get_job(second)
        assert resumed is not None
        assert resumed.status is tq.TransferStatus.QUEUED
        gate.release_all()
        assert queue.wait(fourth, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        assert queue.wait(second, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_events_announce_both_transitions(
    queue: tq.TransferQueue, recorder: EventRecorder, stepped: SteppedExecutor
) -> None:
    job_id = queue.queue_job("local-upload", make_files(1, size=30), stepped)
    stepped.allow(1)
    stepped.wait_written("src/file-0", 10)
    queue.pause_job(job_id)
    stepped.allow(1)
    wait_for_job(queue, job_id, _stopped)
    stepped.allow_all()
    queue.resume_job(job_id)
    queue.wait(job_id, timeout=WAIT)
    statuses = [job.status for name, job in recorder.for_job(job_id) if name == "job-updated"]
    # Each transition has its event, in order (coalesced file changes come between).
    changes = [s for n, s in enumerate(statuses) if n == 0 or statuses[n - 1] is not s]
    assert changes == [
        tq.TransferStatus.ACTIVE,
        tq.TransferStatus.PAUSED,
        tq.TransferStatus.ACTIVE,
        tq.TransferStatus.COMPLETED,
    ]


def test_watch_sees_the_pause_and_the_resume(
    queue: tq.TransferQueue, stepped: SteppedExecutor
) -> None:
    job_id = queue.queue_job("local-upload", make_files(1, size=30), stepped)
    with queue.watch(job_id, timeout=WAIT) as watch:
        stepped.allow(1)
        stepped.wait_written("src/file-0", 10)
        queue.pause_job(job_id)
        assert next(job for job in watch if job.status is tq.TransferStatus.PAUSED)
        queue.resume_job(job_id)
        assert next(job for job in watch if job.status is tq.TransferStatus.ACTIVE)
        stepped.allow_all()
        assert list(watch)[-1].status is tq.TransferStatus.COMPLETED


def test_wait_blocks_while_paused(queue: tq.TransferQueue, stepped: SteppedExecutor) -> None:
    """A paused job is not finished: wait() times out, then returns once it is resumed
    and done."""
    job_id = queue.queue_job("local-upload", make_files(1, size=20), stepped)
    queue.pause_job(job_id)
    with pytest.raises(TimeoutError):
        queue.wait(job_id, timeout=0.05)
    stepped.allow_all()
    queue.resume_job(job_id)
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_retention_keeps_a_paused_job(stepped: SteppedExecutor) -> None:
    with tq.TransferQueue(2, max_finished_jobs=0) as queue:
        job_id = queue.queue_job("local-upload", make_files(1, size=20), stepped)
        queue.pause_job(job_id)
        for _ in range(3):  # empty: completed, then dropped, at once
            queue.queue_job("local-upload", [], noop_executor)
        assert queue.cleanup_old_jobs(0) == 0
        assert queue.get_job(job_id) is not None
        assert job_id in queue.get_active_job_ids()
        stepped.allow_all()
        # Watched from before the resume: once completed, the job is dropped at once, so
        # a wait() after it could find no such job.
        with queue.watch(job_id, timeout=WAIT) as snapshots:
            queue.resume_job(job_id)
            *_, last = snapshots
        assert last.status is tq.TransferStatus.COMPLETED


@pytest.mark.parametrize("action", ["pause_job", "resume_job"])
def test_unknown_id(queue: tq.TransferQueue, action: str) -> None:
    with pytest.raises(tq.JobNotFoundError):
        getattr(queue, action)("transfer-0-0")


def test_invalid_transitions(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Pausing a paused or finished job, resuming one that is not paused: JobStateError,
    naming the job and its status; nothing changes."""
    running = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    with pytest.raises(tq.JobStateError) as raised:
        queue.resume_job(running)
    assert raised.value.job_id == running
    assert raised.value.status == "active"
    assert str(raised.value) == f"cannot resume transfer job {running}: it is active"
    assert raised.value.detail is None
    assert isinstance(raised.value, ValueError)
    copy = pickle.loads(pickle.dumps(tq.JobStateError(running, "active", "pause", "but why")))
    assert (copy.status, copy.detail) == ("active", "but why")
    assert str(copy) == f"cannot pause transfer job {running}: it is active but why"
    queue.pause_job(running)
    with pytest.raises(tq.JobStateError, match="it is paused"):
        queue.pause_job(running)
    gate.release_all()
    queue.resume_job(running)
    queue.wait(running, timeout=WAIT)
    with pytest.raises(tq.JobStateError, match=r"cannot pause .* it is completed"):
        queue.pause_job(running)
    with pytest.raises(tq.JobStateError, match="it is completed"):
        queue.resume_job(running)
    job = queue.get_job(running)
    assert job is not None
    assert job.status is tq.TransferStatus.COMPLETED


def test_cancel_a_paused_job(queue: tq.TransferQueue, stepped: SteppedExecutor) -> None:
    job_id = queue.queue_job("local-upload", make_files(1, size=30), stepped)
    stepped.allow(1)
    stepped.wait_written("src/file-0", 10)
    queue.pause_job(job_id)
    stepped.allow(1)
    wait_for_job(queue, job_id, _stopped)
    assert queue.cancel_job(job_id)
    done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.CANCELLED
    assert {file.status for file in done.files} == {tq.TransferFileStatus.ERROR}


def test_shutdown_cancels_paused_jobs_and_refuses_pauses(stepped: SteppedExecutor) -> None:
    queue = tq.TransferQueue(1)
    gate = GatedExecutor()
    running = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    paused = queue.queue_job("local-upload", make_files(1, size=20), stepped)
    queue.pause_job(paused)  # queued behind the running one: nothing of it started
    queue.shutdown(wait=False)
    done = queue.wait(paused, timeout=WAIT)
    assert done.status is tq.TransferStatus.CANCELLED
    assert done.error == "Cancelled by queue shutdown"
    with pytest.raises(tq.QueueShutdownError):
        queue.pause_job(running)
    gate.release_all()
    queue.shutdown(wait=True)
    assert queue.get_job(running).status is tq.TransferStatus.COMPLETED  # type: ignore[union-attr]


def test_an_executor_that_knows_nothing_of_pausing_is_restarted(queue: tq.TransferQueue) -> None:
    """It wraps the TransferPaused in an error of its own: read as the pause (no failure,
    no retry policy asked), and the file starts again from 0 once resumed."""
    started, told = threading.Event(), threading.Event()
    calls: list[int] = []

    def wrapping(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        calls.append(file.attempts)
        if len(calls) == 1:
            started.set()
            assert told.wait(WAIT)
            try:
                on_progress(5)
            except Exception as exc:
                raise RuntimeError("upload interrupted") from exc
        on_progress(file.size)

    job_id = queue.queue_job("local-upload", make_files(1, size=10), wrapping)
    assert started.wait(WAIT)
    queue.pause_job(job_id)
    told.set()
    paused = wait_for_job(queue, job_id, _stopped)
    assert paused.files[0].error is None
    queue.resume_job(job_id)
    done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert calls == [1, 2]


def test_an_executor_that_finishes_regardless_completes_the_file(
    queue: tq.TransferQueue,
) -> None:
    """It never reports progress: paused meanwhile, its file completes all the same, and
    the job, its last file done, completes while paused."""
    started, finish = threading.Event(), threading.Event()

    def silent(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert finish.wait(WAIT)

    job_id = queue.queue_job("local-upload", make_files(1), silent)
    assert started.wait(WAIT)
    queue.pause_job(job_id)
    finish.set()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_a_transfer_paused_of_its_own_while_running_is_a_failure(queue: tq.TransferQueue) -> None:
    """TransferPaused raised by an executor that was not told to pause (the job runs)
    is an error like any other: otherwise the file would start again for ever."""

    def confused(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        raise tq.TransferPaused("not asked")

    job_id = queue.queue_job("local-upload", make_files(1), confused)
    done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.FAILED
    assert done.files[0].error_type == "transferqueue.TransferPaused"


def test_resumed_before_the_executor_stopped(queue: tq.TransferQueue) -> None:
    """Told to pause, the executor is slow to stop; the job is resumed meanwhile: its
    file starts again as soon as the executor stopped."""
    executor = SlowToStop()
    job_id = queue.queue_job("local-upload", make_files(1), executor)
    assert executor.started.wait(WAIT)
    queue.pause_job(job_id)
    assert executor.told.wait(WAIT)
    queue.resume_job(job_id)
    executor.go_on.set()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert executor.attempts == [1, 2]


def test_progress_callback_pause_checks(queue: tq.TransferQueue) -> None:
    seen: list[tuple[bool, str]] = []
    inside, paused = threading.Event(), threading.Event()

    def checking(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress.raise_if_paused()
        on_progress.raise_if_stopped()
        seen.append((on_progress.paused, "running"))
        inside.set()
        assert paused.wait(WAIT)
        seen.append((on_progress.paused, "paused"))
        try:
            on_progress.raise_if_stopped()
        except tq.TransferPaused as exc:
            seen.append((True, str(exc)))
            raise

    job_id = queue.queue_job("local-upload", make_files(1), checking)
    assert inside.wait(WAIT)
    queue.pause_job(job_id)
    paused.set()
    wait_for_job(queue, job_id, _stopped)
    assert seen == [
        (False, "running"),
        (True, "paused"),
        (True, f"transfer job {job_id} was paused"),
    ]
    queue.cancel_job(job_id)


def test_wait_stopped_wakes_at_a_pause_and_at_a_cancel(queue: tq.TransferQueue) -> None:
    """An executor sleeping in wait_stopped wakes when its job is paused (and, resumed,
    sleeps again until the job is cancelled); without either, it times out."""
    woke: list[tuple[bool, bool]] = []
    inside, woken = threading.Event(), threading.Event()

    def sleeper(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        woke.append((on_progress.wait_stopped(0.01), on_progress.paused))
        inside.set()
        woke.append((on_progress.wait_stopped(WAIT), on_progress.paused))
        woken.set()  # a cancelled job ends before its executor returns: wait() cannot tell
        on_progress.raise_if_stopped()

    job_id = queue.queue_job("local-upload", make_files(1), sleeper)
    assert inside.wait(WAIT)
    queue.pause_job(job_id)
    wait_for_job(queue, job_id, _stopped)
    inside.clear()
    queue.resume_job(job_id)
    assert inside.wait(WAIT)
    woken.clear()
    queue.cancel_job(job_id)
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    assert woken.wait(WAIT)
    assert woke == [(False, False), (True, True), (False, False), (True, False)]


def test_wait_stopped_made_while_paused_is_set(queue: tq.TransferQueue) -> None:
    """The stop event made for a job already paused starts set; once the job finished
    there is nothing to wait for."""
    started, go_on = threading.Event(), threading.Event()
    waits: list[bool] = []

    def late(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert go_on.wait(WAIT)
        waits.append(on_progress.wait_stopped(WAIT))

    job_id = queue.queue_job("local-upload", make_files(1), late)
    assert started.wait(WAIT)
    queue.pause_job(job_id)
    go_on.set()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert waits == [True]


def test_an_error_that_breaks_isinstance_while_paused_fails_its_file(
    queue: tq.TransferQueue,
) -> None:
    """The executor, never told to pause (it reports nothing), raises an error whose
    type checks raise while its job is paused: no pause can be read in it, so it fails
    its file, and the slot comes back."""
    from tests.helpers.hostile_errors import HostileClassError

    started, go_on = threading.Event(), threading.Event()

    def hostile(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert go_on.wait(WAIT)
        raise HostileClassError("odd")

    job_id = queue.queue_job("local-upload", make_files(1), hostile)
    assert started.wait(WAIT)
    queue.pause_job(job_id)
    go_on.set()
    done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.FAILED
    assert done.files[0].error == "odd"


def test_a_paused_job_goes_through_json(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """to_dict() writes "paused", from_dict() takes it back (as the Redis registry does)."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    queue.pause_job(job_id)
    paused = queue.get_job(job_id)
    assert paused is not None
    assert paused.to_dict()["status"] == "paused"
    assert paused.to_dict(camel_case=True)["status"] == "paused"
    assert tq.TransferJob.from_dict(paused.to_dict()) == paused


def test_a_retry_due_while_paused_waits_for_the_resume() -> None:
    """A file fails while its job is paused; its retry falls due during the pause and
    does not start (the queue would start it in the same step, under its lock: the event
    that shows it due shows it not started); resumed, the retry runs."""
    started, go_on = threading.Event(), threading.Event()
    attempts: list[int] = []

    def flaky(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        attempts.append(file.attempts)
        if len(attempts) == 1:
            started.set()
            assert go_on.wait(WAIT)
            raise ConnectionError("dropped")

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0, jitter=0)
    with tq.TransferQueue(1, retry=policy) as queue:
        job_id = queue.queue_job("local-upload", make_files(1), flaky)
        assert started.wait(WAIT)
        queue.pause_job(job_id)
        go_on.set()
        due = wait_for_job(
            queue,
            job_id,
            lambda job: job.files[0].error is not None and job.files[0].retry_at is None,
        )
        assert due.status is tq.TransferStatus.PAUSED
        assert due.files[0].status is tq.TransferFileStatus.QUEUED
        assert due.files[0].attempts == 1
        queue.resume_job(job_id)
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert attempts == [1, 2]


def test_a_paused_job_with_skipped_files(stepped: SteppedExecutor) -> None:
    """Files queued as skipped (their destination up to date) take no part in a pause:
    they stay skipped while paused and after the resume, are never started, count in
    ``skipped_files`` (not in the bytes to move), and come through JSON and Redis's
    records with the paused status; retention keeps the paused job, and the resumed one
    completes at 100%."""
    files = make_files(4, size=30)
    for index in (0, 2):
        files[index]["skip"] = True
    with tq.TransferQueue(1, max_finished_jobs=0) as queue:
        job_id = queue.queue_job("local-upload", files, stepped)
        stepped.allow(1)
        # Its report of 10 bytes made, not only the bytes written: the next report raises.
        wait_for_job(queue, job_id, lambda job: job.files[1].loaded == 10)
        queue.pause_job(job_id)
        stepped.allow(1)
        paused = wait_for_job(queue, job_id, _stopped)
        assert [str(file.status) for file in paused.files] == [
            "skipped",
            "queued",
            "skipped",
            "queued",
        ]
        assert [file.loaded for file in paused.files] == [0, 20, 0, 0]
        progress = paused.progress
        assert (progress.completed_files, progress.skipped_files, progress.failed_files) == (
            0,
            2,
            0,
        )
        assert (progress.total_bytes, progress.loaded_bytes, progress.percentage) == (60, 20, 33)
        # Through JSON both ways, and as the Redis registry stores and reads it.
        assert tq.TransferJob.from_dict(json.loads(json.dumps(paused.to_dict()))) == paused
        camel = paused.to_dict(camel_case=True)
        assert (camel["status"], camel["progress"]["skippedFiles"]) == ("paused", 2)
        fields = {_wire.HEAD: _wire.encode_head(paused).encode()}
        for index, file in enumerate(paused.files):
            fields[f"{_wire.FILE_PREFIX}{index}".encode()] = _wire.encode_file(file).encode()
        assert _wire.decode_job(job_id, fields) == paused
        # Retention keeps it while finished jobs are dropped at once.
        queue.queue_job("local-upload", [], noop_executor)
        assert queue.cleanup_old_jobs(0) == 0
        assert job_id in queue.get_active_job_ids()
        stepped.allow_all()
        # Watched from before the resume: once completed, the job is dropped at once, so
        # a wait() after it could find no such job.
        with queue.watch(job_id, timeout=WAIT) as snapshots:
            queue.resume_job(job_id)
            *_, done = snapshots
    assert done.status is tq.TransferStatus.COMPLETED
    assert [str(file.status) for file in done.files] == [
        "skipped",
        "completed",
        "skipped",
        "completed",
    ]
    assert [file.attempts for file in done.files] == [0, 2, 0, 1]
    assert sorted(stepped.written) == ["src/file-1", "src/file-3"]
    assert stepped.moved == 60
    assert (done.progress.completed_files, done.progress.skipped_files) == (2, 2)
    assert (done.progress.loaded_bytes, done.progress.percentage) == (60, 100)


def test_a_job_of_skipped_files_only_cannot_be_paused(queue: tq.TransferQueue) -> None:
    """It completed when it was queued: there is nothing left to pause."""
    files = make_files(2)
    for file in files:
        file["skip"] = True
    job_id = queue.queue_job("local-upload", files, noop_executor)
    with pytest.raises(tq.JobStateError):
        queue.pause_job(job_id)


def test_the_worker_whose_executor_stopped_runs_the_resumed_file() -> None:
    """Resumed before its executor stopped, the file goes back in line and the worker
    that gave its seat back takes it: no second worker thread is started for it."""
    executor = SlowToStop()
    with tq.TransferQueue(2) as queue:  # a free seat, where a second worker could start
        job_id = queue.queue_job("local-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)
        queue.pause_job(job_id)
        assert executor.told.wait(WAIT)
        queue.resume_job(job_id)
        executor.go_on.set()
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert len(executor.threads) == 2
    assert executor.threads[0] is executor.threads[1]


def test_a_job_resumed_while_its_executor_stops_still_runs_after_shutdown() -> None:
    """As with a backend: shut down without waiting while the resumed file's executor
    stops, the file still runs to the job's end."""
    executor = SlowToStop()
    queue = tq.TransferQueue(1)
    try:
        job_id = queue.queue_job("local-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)
        queue.pause_job(job_id)
        assert executor.told.wait(WAIT)
        queue.resume_job(job_id)
        queue.shutdown(wait=False)
        executor.go_on.set()
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    finally:
        executor.go_on.set()
        queue.shutdown()
    assert executor.attempts == [1, 2]


@pytest.mark.parametrize("max_attempts", [2, 3])
def test_a_pause_uses_up_none_of_the_files_retries(max_attempts: int) -> None:
    """A file's first attempt is ended by a pause; resumed, it fails once: a pause is no
    failure, so the retry policy counts that failure as the file's first. With
    max_attempts=2 the file is retried (were the pause counted, it would fail for good);
    with 3 its retry waits initial_delay (were the pause counted, 100,000 times that)."""
    started, told = threading.Event(), threading.Event()
    attempts: list[int] = []

    def paused_then_flaky(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        attempts.append(file.attempts)
        if len(attempts) == 1:
            started.set()
            assert on_progress.wait_stopped(WAIT)
            told.set()
            on_progress.raise_if_stopped()
        if len(attempts) == 2:
            raise ConnectionError("dropped")

    policy = tq.RetryPolicy(
        max_attempts=max_attempts,
        initial_delay=0.001,
        multiplier=100_000,
        max_delay=3600,
        jitter=0,
    )
    with tq.TransferQueue(1, retry=policy) as queue:
        job_id = queue.queue_job("local-upload", make_files(1), paused_then_flaky)
        assert started.wait(WAIT)
        queue.pause_job(job_id)
        assert told.wait(WAIT)
        wait_for_job(queue, job_id, _stopped)
        queue.resume_job(job_id)
        done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert attempts == [1, 2, 3]
    assert done.files[0].attempts == 3  # every start, the paused one included


class DroppingOnCancel(SteppedExecutor):
    """A SteppedExecutor that, at a pause, registers with ``on_progress.call_on_cancel``
    the removal of what it kept; the hook records what the queue says of the job when
    it runs (which takes the queue's lock: it would wait for ever under it)."""

    def __init__(self, queue: tq.TransferQueue) -> None:
        super().__init__()
        self.queue = queue
        self.seen: list[tuple[str, tq.TransferStatus | None, int]] = []

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            super().__call__(file, on_progress)
        except tq.TransferPaused:
            on_progress.call_on_cancel(functools.partial(self._drop, file, on_progress.job_id))
            raise

    def _drop(self, file: tq.TransferFile, job_id: str) -> None:
        job = self.queue.get_job(job_id)
        self.seen.append((job_id, None if job is None else job.status, threading.get_ident()))
        with self._cond:
            del self.written[file.source_path]


def _paused_with_a_hook(queue: tq.TransferQueue, executor: DroppingOnCancel) -> str:
    job_id = queue.queue_job("local-upload", make_files(1, size=30), executor)
    executor.allow(1)
    executor.wait_written("src/file-0", 10)
    queue.pause_job(job_id)
    executor.allow(1)
    wait_for_job(queue, job_id, _stopped)
    # 10 bytes, or 20 if the pause came after the first step's report
    assert len(executor.written["src/file-0"]) in (10, 20)
    assert executor.seen == []
    return job_id


def test_a_cancel_runs_the_hooks_of_a_paused_job_before_it_returns() -> None:
    """cancel_job runs the hook the paused executor left, in the cancelling thread, after
    the queue released its lock (the hook reads the job, cancelled already)."""
    with tq.TransferQueue(1) as queue:
        executor = DroppingOnCancel(queue)
        job_id = _paused_with_a_hook(queue, executor)
        assert queue.cancel_job(job_id)
        assert executor.seen == [(job_id, tq.TransferStatus.CANCELLED, threading.get_ident())]
        assert executor.written == {}
        executor.allow_all()


def test_a_shutdown_runs_the_hooks_of_the_paused_jobs_it_cancels() -> None:
    queue = tq.TransferQueue(1)
    executor = DroppingOnCancel(queue)
    try:
        job_id = _paused_with_a_hook(queue, executor)
    finally:
        executor.allow_all()
        queue.shutdown()
    assert executor.seen == [(job_id, tq.TransferStatus.CANCELLED, threading.get_ident())]
    assert executor.written == {}


def test_the_hooks_of_a_job_resumed_and_completed_never_run() -> None:
    """Resumed, the file completes: the job ends without a cancel, its hooks are dropped
    (the executor took back what it kept), and a shutdown afterwards runs nothing."""
    queue = tq.TransferQueue(1)
    executor = DroppingOnCancel(queue)
    try:
        job_id = _paused_with_a_hook(queue, executor)
        executor.allow_all()
        queue.resume_job(job_id)
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    finally:
        executor.allow_all()
        queue.shutdown(cancel_jobs=True)
    assert executor.seen == []
    assert len(executor.written["src/file-0"]) == 30
