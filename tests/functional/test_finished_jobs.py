"""A finished job keeps its files in a compact form, not as records: its snapshot is
built again when asked for, equal to the one its terminal event carried, and the same
object for as long as anyone holds it (benchmarks/run.py measures the bytes kept)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.event_recorder import EventRecorder
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.jobs import make_job
from transferqueue._core.failure import CANCELLED_TYPE, Failure
from transferqueue._core.job import Job, _FileTable, _FinalFiles

QUEUED = tq.TransferFileStatus.QUEUED
TRANSFERRING = tq.TransferFileStatus.TRANSFERRING
COMPLETED = tq.TransferFileStatus.COMPLETED
ERROR = tq.TransferFileStatus.ERROR
SKIPPED = tq.TransferFileStatus.SKIPPED


def files(count: int, *, skip: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    # Sizes above 256, each its own int object, as a listing's would be.
    return [
        {
            "source_path": f"src/{i}",
            "destination_path": f"dst/{i}",
            "size": 1000 + i,
            "skip": i in skip,
        }
        for i in range(count)
    ]


def chunked(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    for part in range(1, 5):
        on_progress(file.size * part // 4)


def half_then_fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    on_progress(file.size // 2)
    if file.source_path in ("src/1", "src/3"):
        raise PermissionError(f"refused: {file.source_path}")
    on_progress(file.size)


class FailOnce:
    """Fails each file's first attempt with a transient error, then completes it."""

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 3)
        if file.attempts == 1 and file.source_path != "src/0":
            raise ConnectionResetError("reset")
        on_progress(file.size)


def kept(queue: tq.TransferQueue, job_id: str) -> Job:
    with queue._lock:
        return queue._jobs[job_id]


def terminal_event(recorder: EventRecorder, job_id: str) -> tq.TransferJob:
    name, snapshot = recorder.for_job(job_id)[-1]
    assert name == "job-updated"
    assert snapshot.status.is_terminal
    return snapshot


def assert_same_content(rebuilt: tq.TransferJob, final: tq.TransferJob) -> None:
    """Equal in every field, and in both JSON shapes; an int shared by the final
    records (a completed file's bytes done are its size's) is shared again."""
    assert rebuilt is not final
    assert rebuilt == final
    assert rebuilt.to_dict() == final.to_dict()
    assert rebuilt.to_dict(camel_case=True) == final.to_dict(camel_case=True)
    for new, old in zip(rebuilt.files, final.files, strict=True):
        assert (new.loaded is new.size) == (old.loaded is old.size), old
    progress = rebuilt.progress
    assert (progress.loaded_bytes is progress.total_bytes) == (
        final.progress.loaded_bytes is final.progress.total_bytes
    )


def run_to_end(
    queue: tq.TransferQueue,
    recorder: EventRecorder,
    listing: list[dict[str, Any]],
    executor: tq.Executor,
    **options: Any,
) -> tuple[tq.TransferJob, Job]:
    job_id = queue.queue_job("local-upload", listing, executor, **options)
    queue.wait(job_id, timeout=WAIT)
    return terminal_event(recorder, job_id), kept(queue, job_id)


# -- the snapshot built again is the final one ------------------------------------------


@pytest.mark.parametrize(
    ("name", "listing", "executor"),
    [
        ("completed", files(10), chunked),
        ("failed halfway", files(5), half_then_fail),
        ("with skipped files", files(6, skip=(0, 2, 5)), chunked),
        ("all skipped", files(3, skip=(0, 1, 2)), noop_executor),
        ("empty", [], noop_executor),
    ],
)
def test_a_finished_job_builds_its_final_snapshot_again(
    queue: tq.TransferQueue,
    recorder: EventRecorder,
    name: str,
    listing: list[dict[str, Any]],
    executor: tq.Executor,
) -> None:
    """What a finished job keeps builds a snapshot equal to its terminal event's, in
    every field of every file: statuses, bytes done, errors and their kind, attempts."""
    final, job = run_to_end(queue, recorder, listing, executor)
    assert_same_content(job.build_final_snapshot(), final)


def test_retried_files_keep_their_attempts(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """Files tried twice and once in one job: each keeps its own count."""
    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0.001, jitter=0)
    final, job = run_to_end(queue, recorder, files(4), FailOnce(), retry=policy)
    assert [file.attempts for file in final.files] == [1, 2, 2, 2]
    assert_same_content(job.build_final_snapshot(), final)


def test_a_cancelled_job_keeps_each_file_as_it_ended(
    queue: tq.TransferQueue, recorder: EventRecorder, gate: GatedExecutor
) -> None:
    """Cancelled with one file completed, two running with bytes done and one never
    started: each ends as it was, the unfinished ones with the cancel's error."""
    job_id = queue.queue_job("local-upload", files(4), gate)
    gate.wait_running(2)
    gate.release("src/0")
    gate.wait_started(3)
    assert queue.cancel_job(job_id)
    gate.notify()
    queue.wait(job_id, timeout=WAIT)
    final = terminal_event(recorder, job_id)
    assert [file.status for file in final.files] == [COMPLETED, ERROR, ERROR, ERROR]
    assert final.files[3].attempts == 0
    assert final.files[1].error_type == CANCELLED_TYPE
    assert_same_content(kept(queue, job_id).build_final_snapshot(), final)


# -- the compact form, field by field ---------------------------------------------------


def table(
    records: list[tq.TransferFile],
    statuses: list[tq.TransferFileStatus],
    loaded: list[int],
    attempts: list[int],
    errors: dict[int, Failure] | None = None,
    retry_at: dict[int, datetime] | None = None,
) -> _FileTable:
    files = _FileTable(records)
    files.statuses = statuses
    files.loaded = loaded
    files.attempts = attempts
    files.errors = errors or {}
    files.retry_at = retry_at or {}
    files.dirty = set(range(len(records)))
    return files


def record_list(count: int) -> list[tq.TransferFile]:
    return [tq.TransferFile(f"src/{i}", f"dst/{i}", 1000 + i) for i in range(count)]


def compact_cases() -> list[tuple[str, _FileTable]]:
    when = datetime(2026, 12, 3, 20, 0, tzinfo=timezone.utc)
    refused = Failure("refused", "PermissionError")
    cancelled = Failure("Cancelled by user", CANCELLED_TYPE)
    records = record_list(6)
    sizes = [record.size for record in records]
    return [
        ("all completed", table(records, [COMPLETED] * 6, list(sizes), [1] * 6)),
        (
            "every status, every field",
            table(
                records,
                [COMPLETED, ERROR, ERROR, SKIPPED, QUEUED, TRANSFERRING],
                [sizes[0], 500, sizes[2], 0, 7, 3],
                [3, 1, 2, 0, 1, 4],
                {1: refused, 2: cancelled, 4: refused},
                {4: when},
            ),
        ),
        (
            "more than 255 attempts",
            table(records[:2], [COMPLETED, ERROR], [sizes[0], 0], [300, 1], {1: refused}),
        ),
        ("all failed alike", table(records[:3], [ERROR] * 3, [0, 0, 0], [1] * 3, {0: refused})),
        (
            "a completed file short of its size",
            table(records[:2], [COMPLETED] * 2, [sizes[0], 5], [1, 1]),
        ),
        ("no files", table([], [], [], [])),
    ]


@pytest.mark.parametrize(("name", "files_table"), compact_cases())
def test_the_compact_form_keeps_every_field(name: str, files_table: _FileTable) -> None:
    """Whatever a file table holds, the compact form builds the very records the table
    builds (every field, including the ones no finished job has, such as a retry
    time), from fewer objects."""
    final = _FinalFiles(files_table)
    assert final.records() == tuple(files_table.updated_records())


def test_a_completed_job_keeps_four_objects_for_its_files() -> None:
    """Ten completed files: one tuple of names and sizes, one status and one count for
    all of them, nothing else (their records, 112 bytes each, are gone)."""
    records = record_list(10)
    sizes = [record.size for record in records]
    final = _FinalFiles(table(records, [COMPLETED] * 10, sizes, [1] * 10))
    assert final.statuses is COMPLETED
    assert final.attempts == 1
    assert final.loaded is None
    assert final.errors is None
    assert final.retry_at is None
    assert len(final.paths) == 30
    assert all(a is b for a, b in zip(final.paths[2::3], sizes, strict=True))


# -- one snapshot while held, none kept by the queue ------------------------------------


def let_go(queue: tq.TransferQueue, job_id: str) -> None:
    """Wait for the job's end and for the event thread to let go of its final snapshot
    (it ends with the shutdown: the queue still answers about its finished jobs)."""
    queue.wait(job_id, timeout=WAIT)
    queue.shutdown(wait=True)
    gc.collect()


def test_the_queue_holds_no_snapshot_of_a_finished_job(queue: tq.TransferQueue) -> None:
    """Once nobody holds a finished job's snapshot, it and its records are gone; the
    queue answers with an equal one."""
    job_id = queue.queue_job("local-upload", files(3), chunked)
    final = queue.wait(job_id, timeout=WAIT)
    queue.shutdown(wait=True)  # its event thread, which let go of it, has ended
    expected = final.to_dict()
    snapshot_ref, record_ref = weakref.ref(final), weakref.ref(final.files[0])
    del final
    gc.collect()
    assert snapshot_ref() is None
    assert record_ref() is None
    again = queue.get_job(job_id)
    assert again is not None
    assert again.to_dict() == expected


def test_the_event_thread_lets_go_of_a_final_snapshot_while_the_queue_runs(
    queue: tq.TransferQueue,
) -> None:
    """Without a shutdown: once another job's end went out after it (the event thread
    has delivered a batch or waited since), a finished job's final snapshot is held by
    the queue no longer."""
    first = queue.queue_job("local-upload", files(2), chunked)
    final = queue.wait(first, timeout=WAIT)
    final_ref = weakref.ref(final)
    del final
    queue.wait(queue.queue_job("local-upload", files(1), chunked), timeout=WAIT)
    gc.collect()
    assert final_ref() is None
    assert kept(queue, first)._snapshot is None


def test_a_finished_job_is_one_snapshot_while_held(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """While the terminal event's snapshot is held (here by the recorder), get_job,
    get_all_jobs, wait and watch hand out that very object."""
    job_id = queue.queue_job("local-upload", files(3), chunked)
    waited = queue.wait(job_id, timeout=WAIT)
    final = terminal_event(recorder, job_id)
    assert waited is final
    assert queue.get_job(job_id) is final
    assert [job for job in queue.get_all_jobs() if job.id == job_id] == [final]
    assert next(job for job in queue.get_all_jobs() if job.id == job_id) is final
    with queue.watch(job_id) as watch:
        assert next(watch) is final


def test_a_snapshot_built_again_is_shared_while_held(queue: tq.TransferQueue) -> None:
    """Built again once nobody held the final one, a snapshot is then handed out
    itself while held."""
    job_id = queue.queue_job("local-upload", files(2), chunked)
    let_go(queue, job_id)
    first = queue.get_job(job_id)
    assert first is not None
    assert queue.get_job(job_id) is first
    assert queue.wait(job_id, timeout=WAIT) is first


def test_two_threads_building_at_once_get_one_snapshot(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two get_job calls that both build the snapshot (nobody held it) hand out one
    of the two: the first shared wins."""
    job_id = queue.queue_job("local-upload", files(2), chunked)
    let_go(queue, job_id)
    both_building = threading.Barrier(2, timeout=WAIT)
    real_build = Job.build_final_snapshot

    def build_together(self: Job) -> tq.TransferJob:
        both_building.wait()
        return real_build(self)

    monkeypatch.setattr(Job, "build_final_snapshot", build_together)
    got: list[tq.TransferJob | None] = []
    threads = [threading.Thread(target=lambda: got.append(queue.get_job(job_id))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(got) == 2
    assert got[0] is not None
    assert got[0] is got[1]


def test_snapshots_of_finished_jobs_are_built_without_the_lock(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_job, get_all_jobs, wait and watch build a finished job's snapshot (a record
    per file) with the state lock released: the build can take it."""
    job_id = queue.queue_job("local-upload", files(2), chunked)
    let_go(queue, job_id)
    real_build = Job.build_final_snapshot
    builds: list[str] = []

    def build_unlocked(self: Job) -> tq.TransferJob:
        # Had the caller held the (non-reentrant) lock, this would time out.
        assert queue._lock.acquire(timeout=WAIT), "built under the state lock"
        queue._lock.release()
        builds.append(self.id)
        return real_build(self)

    monkeypatch.setattr(Job, "build_final_snapshot", build_unlocked)
    calls: list[Callable[[], object]] = [
        lambda: queue.get_job(job_id),
        queue.get_all_jobs,
        lambda: queue.wait(job_id, timeout=WAIT),
        lambda: next(queue.watch(job_id)),
        queue._current_jobs,
    ]
    for call in calls:
        gc.collect()  # nothing holds the last one built
        assert call()
    assert builds == [job_id] * len(calls)


def test_a_finished_job_holds_its_final_snapshot_until_released() -> None:
    """From its end until the event thread releases it (once the threads that its end
    woke had their turn), the job holds its final snapshot: wait() takes that one
    rather than building it again. Then it is held only by whoever else holds it."""
    job = make_job(1000, 2000)
    for _ in range(2):
        index, _, _, _ = job.start_next_file()
        job.finish_file(index, None)
    assert job.is_finished
    final_ref = weakref.ref(job.snapshot())
    gc.collect()
    final = final_ref()
    assert final is not None
    assert job.snapshot_at_hand() is final
    job.release_final_snapshot()
    assert job.snapshot_at_hand() is final  # held here, so handed out again
    del final
    gc.collect()
    assert final_ref() is None
    assert job.snapshot_at_hand() is None  # to be built again, without the lock


def test_release_leaves_an_unfinished_job_alone() -> None:
    """Only a finished job lets go of its snapshot: a live one keeps the one it reuses
    until something changes."""
    job = make_job(1000)
    first = job.snapshot()
    job.release_final_snapshot()
    assert job.snapshot() is first


def test_the_event_thread_compacts_the_files_without_the_lock(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's files are made compact (O(files)) by the event thread as it delivers the
    job's end, with the state lock released, not by whoever ended the job under it."""
    real_compact = Job.compact_files
    compacted: list[str] = []

    def compact_unlocked(self: Job) -> Any:
        assert queue._lock.acquire(timeout=WAIT), "compacted under the state lock"
        queue._lock.release()
        compacted.append(threading.current_thread().name)
        return real_compact(self)

    monkeypatch.setattr(Job, "compact_files", compact_unlocked)
    job_id = queue.queue_job("local-upload", files(3), chunked)
    queue.wait(job_id, timeout=WAIT)
    assert compacted == ["transferqueue-events"]
    assert isinstance(kept(queue, job_id)._final, _FinalFiles)


# -- what else a finished job lets go -----------------------------------------------------


def test_a_finished_job_keeps_no_cancel_hooks(queue: tq.TransferQueue) -> None:
    """A finished job has handed its cancel hooks over (dropped or to run)."""
    done = queue.queue_job("local-upload", files(1), noop_executor)
    queue.wait(done, timeout=WAIT)
    assert kept(queue, done).cancel_hooks is None


def test_a_hook_added_after_the_cancel_runs_at_once(queue: tq.TransferQueue) -> None:
    """An executor still running when its job was cancelled registers a cancel hook:
    it runs at once, in the executor's thread (the job keeps no hooks by then, the
    executor's callback still has them)."""
    ran: list[str] = []
    started, cancelled = threading.Event(), threading.Event()

    def late(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        assert cancelled.wait(WAIT)
        on_progress.call_on_cancel(lambda: ran.append(threading.current_thread().name))
        ran.append("after")

    job_id = queue.queue_job("local-upload", files(1), late)
    assert started.wait(WAIT)
    assert queue.cancel_job(job_id)
    assert kept(queue, job_id).cancel_hooks is None
    cancelled.set()
    queue.wait(job_id, timeout=WAIT)
    queue.shutdown(wait=True)  # the executor has returned
    assert len(ran) == 2
    assert ran[0].startswith("transferqueue-worker")
    assert ran[1] == "after"


def test_retention_still_drops_finished_jobs_by_age(queue: tq.TransferQueue) -> None:
    """cleanup_old_jobs reads a finished job's completed_at, which it keeps."""
    job_id = queue.queue_job("local-upload", files(1), noop_executor)
    final = queue.wait(job_id, timeout=WAIT)
    assert final.completed_at is not None
    assert queue.cleanup_old_jobs(timedelta(hours=1)) == 0
    assert queue.cleanup_old_jobs(0) == 1
    assert queue.get_job(job_id) is None
