"""S2 (one limit across all jobs, resizable at run time) and S3 (round-robin fairness),
exercised with the real worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files


class JobWatch:
    """A ``job-updated`` receiver that wakes a test waiting for some state of the queue.

    Every change of a job is followed by an event, so a predicate over ``get_job()`` that
    becomes true is re-checked when that change's event arrives.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def __call__(self, sender: object, **extra: object) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, WAIT), f"timed out waiting for {what}"


class StartChecker:
    """Wraps an executor; at every start checks that fewer than the limit in force run.

    That is S2's rule for a start: "no new file starts until fewer than the (new) limit are
    running". The count covers executors actually inside their call, which the queue also
    counts as running, so a recorded violation is a real one. Only valid where the limit
    is not changed while a start is in flight (the tests change it with every runner held).
    """

    def __init__(self, queue: tq.TransferQueue, inner: tq.Executor) -> None:
        self._queue = queue
        self._inner = inner
        self._lock = threading.Lock()
        self.running = 0
        self.violations: list[str] = []

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._lock:
            limit = self._queue.concurrency_limit
            if self.running >= limit:
                self.violations.append(
                    f"{file.source_path} started with {self.running} running, limit {limit}"
                )
            self.running += 1
        try:
            self._inner(file, on_progress)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def watched() -> Iterator[Callable[[int], tuple[tq.TransferQueue, JobWatch, GatedExecutor]]]:
    """Make queues (update_interval 0) with a JobWatch and a gate; clean all up after."""
    made: list[tuple[tq.TransferQueue, JobWatch, GatedExecutor]] = []

    def make(limit: int) -> tuple[tq.TransferQueue, JobWatch, GatedExecutor]:
        entry = (tq.TransferQueue(limit, update_interval=0), JobWatch(), GatedExecutor())
        made.append(entry)
        return entry

    yield make
    for q, _, gate in made:
        gate.release_all()
        q.shutdown(wait=True, cancel_jobs=True)


def _statuses(queue: tq.TransferQueue, job_id: str) -> list[str]:
    job = queue.get_job(job_id)
    assert job is not None
    return [f.status.value for f in job.files]


def _file_is(queue: tq.TransferQueue, job_id: str, index: int, status: str) -> Callable[[], bool]:
    return lambda: _statuses(queue, job_id)[index] == status


def test_limit_holds_across_several_jobs(
    watched: Callable[[int], tuple[tq.TransferQueue, JobWatch, GatedExecutor]],
) -> None:
    """S2: three jobs of five files under limit 2 never run more than two executors at once;
    each release lets exactly one waiting file start."""
    queue, _, gate = watched(2)
    checker = StartChecker(queue, gate)
    job_ids = [
        queue.queue_job("s3-upload", make_files(5, prefix=f"job{j}"), checker) for j in range(3)
    ]

    gate.wait_running(2)
    assert len(gate.started) == 2
    for released in range(1, 16):
        gate.release(gate.started[released - 1])
        expected_started = min(released + 2, 15)
        gate.wait_started(expected_started)
        gate.wait_running(min(2, 15 - released))
        assert len(gate.started) == expected_started
        assert gate.max_running <= 2

    for job_id in job_ids:
        assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert gate.max_running == 2
    assert len(set(gate.started)) == 15
    assert checker.violations == []


def test_raising_the_limit_starts_waiting_files_at_once(
    watched: Callable[[int], tuple[tq.TransferQueue, JobWatch, GatedExecutor]],
) -> None:
    """S2: raising the limit from 1 to 3 starts two waiting files without any release."""
    queue, _, gate = watched(1)
    job_id = queue.queue_job("s3-upload", make_files(5), gate)
    gate.wait_running(1)
    assert gate.started == ["src/file-0"]

    queue.update_concurrency_limit(3)

    assert queue.concurrency_limit == 3
    gate.wait_running(3)
    # The two new workers start together, so their executors may enter in either order.
    assert sorted(gate.started) == ["src/file-0", "src/file-1", "src/file-2"]
    assert _statuses(queue, job_id) == [
        "transferring",
        "transferring",
        "transferring",
        "queued",
        "queued",
    ]

    gate.release_all()
    assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert gate.max_running == 3


def test_lowering_the_limit_interrupts_nothing(
    watched: Callable[[int], tuple[tq.TransferQueue, JobWatch, GatedExecutor]],
) -> None:
    """S2: lowering 3 → 1 cancels none of the three running files, and no file starts
    until fewer than one run: only the third release lets exactly one new file start."""
    queue, watch, gate = watched(3)
    checker = StartChecker(queue, gate)
    with tq.job_updated.connected_to(watch, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(6), checker)
        gate.wait_running(3)

        queue.update_concurrency_limit(1)

        assert queue.concurrency_limit == 1
        assert gate.running == 3
        assert _statuses(queue, job_id)[:3] == ["transferring"] * 3
        job = queue.get_job(job_id)
        assert job is not None
        assert job.status == tq.TransferStatus.ACTIVE

        for done in range(2):
            gate.release(f"src/file-{done}")
            # The finish of a file and the decision to start another are one step under
            # the queue's lock: once the file shows completed, the decision was made.
            watch.wait_for(_file_is(queue, job_id, done, "completed"), f"file-{done} completed")
            statuses = _statuses(queue, job_id)
            assert statuses.count("transferring") == 2 - done, statuses
            assert statuses[3:] == ["queued"] * 3, statuses
            assert len(gate.started) == 3

        gate.release("src/file-2")
        gate.wait_started(4)
        gate.wait_running(1)
        watch.wait_for(_file_is(queue, job_id, 2, "completed"), "file-2 completed")
        # The first three started together (in any order); the fourth came alone.
        assert sorted(gate.started[:3]) == [f"src/file-{i}" for i in range(3)]
        assert gate.started[3] == "src/file-3"
        assert _statuses(queue, job_id) == [
            "completed",
            "completed",
            "completed",
            "transferring",
            "queued",
            "queued",
        ]

        gate.release_all()
        assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert checker.violations == []
    assert gate.max_running == 3  # the three that ran when the limit was lowered


def test_raise_then_lower_under_load_never_exceeds_the_limit(
    watched: Callable[[int], tuple[tq.TransferQueue, JobWatch, GatedExecutor]],
) -> None:
    """S2: 2 → 4 → 2 → 3 → 1 with files held by a gate: each change starts exactly as many
    files as the limit in force allows, and none beyond it."""
    queue, watch, gate = watched(2)
    checker = StartChecker(queue, gate)
    with tq.job_updated.connected_to(watch, sender=queue):
        job_id = queue.queue_job("cross-storage", make_files(10), checker)
        gate.wait_running(2)

        queue.update_concurrency_limit(4)
        gate.wait_running(4)
        assert len(gate.started) == 4

        queue.update_concurrency_limit(2)
        assert gate.running == 4  # lowering interrupts nothing
        for done in range(2):
            gate.release(f"src/file-{done}")
            watch.wait_for(_file_is(queue, job_id, done, "completed"), f"file-{done} completed")
            assert len(gate.started) == 4  # 3, then 2 still run: not fewer than 2
        assert _statuses(queue, job_id).count("transferring") == 2

        gate.release("src/file-2")  # 1 running < 2: exactly one new file starts
        gate.wait_started(5)
        gate.wait_running(2)
        watch.wait_for(_file_is(queue, job_id, 2, "completed"), "file-2 completed")
        assert len(gate.started) == 5
        assert _statuses(queue, job_id).count("transferring") == 2

        queue.update_concurrency_limit(3)  # one more slot: one more file at once
        gate.wait_running(3)
        assert len(gate.started) == 6

        queue.update_concurrency_limit(1)
        gate.release_all()
        assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert checker.violations == []
    assert gate.max_running == 4


def _record_starts(
    order: list[str], lock: threading.Lock, hold: str, held: threading.Event, go: threading.Event
) -> tq.Executor:
    """An executor that records every start and blocks only on the file named ``hold``."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            order.append(file.source_path)
        if file.source_path == hold:
            held.set()
            assert go.wait(WAIT), f"{hold} was never released"

    return executor


def _start_order(jobs: list[tuple[str, int]]) -> list[str]:
    """Limit 1: queue the first job of ``(prefix, files)``, and the others while its first
    file holds the slot; return the order in which every file started."""
    order: list[str] = []
    held = threading.Event()
    go = threading.Event()
    (first, count), *others = jobs
    executor = _record_starts(order, threading.Lock(), f"src/{first}-0", held, go)
    with tq.TransferQueue(1) as queue:
        try:
            job_ids = [queue.queue_job("s3-upload", make_files(count, 1, first), executor)]
            assert held.wait(WAIT)
            job_ids += [
                queue.queue_job("s3-upload", make_files(n, 1, prefix), executor)
                for prefix, n in others
            ]
        finally:
            go.set()
        for job_id in job_ids:
            assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    return order


def test_one_file_job_behind_a_thousand_file_job_starts_at_the_next_free_slot() -> None:
    """S3: limit 1; job A (1000 files) holds the slot with its first file; job B (1 file) is
    queued; when A's first file ends, B's file is the next to start (2nd overall)."""
    order = _start_order([("a", 1000), ("b", 1)])
    assert len(order) == 1001
    assert order[:2] == ["src/a-0", "src/b-0"]


def test_round_robin_order_across_three_jobs_queued_behind_a_held_slot() -> None:
    """S3: limit 1, the slot held by another job's file; jobs of 3, 2 and 2 files queued
    meanwhile start one file per job in turn: A0 B0 C0 A1 B1 C1 A2."""
    order = _start_order([("x", 1), ("a", 3), ("b", 2), ("c", 2)])
    assert order == [
        "src/x-0",
        *("src/a-0", "src/b-0", "src/c-0"),
        *("src/a-1", "src/b-1", "src/c-1"),
        "src/a-2",
    ]


def test_round_robin_order_when_the_first_job_holds_the_slot() -> None:
    """S3: limit 1; job A (3 files) takes the slot with A0 when queued; jobs B and C (2 files
    each) queued meanwhile: every job gets a turn before A a second one: A0 B0 C0 A1 B1 C1 A2.
    """
    order = _start_order([("a", 3), ("b", 2), ("c", 2)])
    assert order == [
        *("src/a-0", "src/b-0", "src/c-0"),
        *("src/a-1", "src/b-1", "src/c-1"),
        "src/a-2",
    ]
