"""Issue 10, item 9: which files changed. ``job-updated`` carries ``changed_files`` (the
files changed since the job's previous ``job-updated``) and a watch says, after each
snapshot, which files changed since the one it yielded before, its skipped snapshots
included; so a consumer can follow a job of many files by its changes alone.

The job-level bookkeeping is tested on ``Job`` directly, the rest with real queues.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import transferqueue as tq
from tests.conftest import GatedExecutor, make_files, noop_executor
from tests.functional.test_job import make_job
from tests.unit.test_watch_unit import changes_of


def assert_follows(
    before: tq.TransferJob, after: tq.TransferJob, changed: Sequence[int] | None
) -> None:
    """``changed`` is sorted and names every file whose record differs: each file it
    leaves out has the very same record object in both snapshots."""
    assert changed is not None
    assert list(changed) == sorted(set(changed))
    listed = set(changed)
    for index, (old, new) in enumerate(zip(before.files, after.files, strict=True)):
        if index not in listed:
            assert new is old, f"file {index} changed but was not listed"


class Changes:
    """A job-updated receiver: every ``(snapshot, changed_files)`` in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[tq.TransferJob, tuple[int, ...]]] = []
        self.created: list[tq.TransferJob] = []
        self.lock = threading.Lock()

    def on_created(self, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        assert "changed_files" not in extra  # a new job: every file is new
        with self.lock:
            self.created.append(job)

    def on_updated(
        self, sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...], **extra: Any
    ) -> None:
        with self.lock:
            self.events.append((job, changed_files))

    @contextlib.contextmanager
    def listening(self, queue: tq.TransferQueue) -> Iterator[None]:
        """Receive ``queue``'s events for the block."""
        with (
            tq.job_created.connected_to(self.on_created, sender=queue),
            tq.job_updated.connected_to(self.on_updated, sender=queue),
        ):
            yield


def _two_steps(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    on_progress(file.size // 2)
    on_progress(file.size)


# -- the job's bookkeeping ----------------------------------------------------------


def test_changes_since_the_last_take_survive_snapshots_built_in_between() -> None:
    """A snapshot built between two events (for get_job, say) rebuilds the changed
    records and starts the next snapshot afresh; the changes an event reports do not:
    they are every file changed since the previous event, in whatever snapshots."""
    job = make_job(10, 10, 10, 10)
    job.snapshot()
    assert job.take_changed_files() == set()  # the created job: nothing changed yet
    job.start_next_file()  # file 0
    job.snapshot()  # as get_job() would
    job.start_next_file()  # file 1
    job.report_progress(0, 1, 5)  # file 0, its first attempt
    job.snapshot()
    assert sorted(job.take_changed_files()) == [0, 1]
    job.report_progress(1, 1, 5)
    assert job.take_changed_files() == set()  # not in a snapshot yet: the next event's
    job.snapshot()
    assert sorted(job.take_changed_files()) == [1]
    assert job.take_changed_files() == set()


def test_a_terminal_job_keeps_no_change_set() -> None:
    """The terminal event takes the last changes, and the finished job keeps nothing
    but its record (not even an empty set)."""
    job = make_job(1, 1)
    job.start_next_file()
    job.cancel("stop")
    assert sorted(job.take_changed_files()) == [0, 1]
    assert job._unreported is None
    assert job.take_changed_files() == set()
    empty = make_job()
    assert empty.finish_if_done()
    assert empty.take_changed_files() == set()
    assert empty._unreported is None


# -- job-updated's changed_files ------------------------------------------------------


def test_each_event_lists_exactly_the_files_that_changed() -> None:
    """Every job-updated has ``changed_files``, ascending; starting from the job-created
    snapshot, each event's records are the previous event's except the listed ones. With
    update_interval=0 each event reports one change, so it lists exactly one file."""
    changes = Changes()
    with tq.TransferQueue(2, update_interval=0) as queue, changes.listening(queue):
        job_id = queue.queue_job("local-upload", make_files(30), _two_steps)
        final = queue.wait(job_id)
    [created] = changes.created
    previous = created
    for snapshot, changed in changes.events:
        assert_follows(previous, snapshot, changed)
        assert len(changed) == 1
        previous = snapshot
    assert previous is final
    # Per file: started, half loaded, wholly loaded, completed.
    assert len(changes.events) == 30 * 4


def test_a_snapshot_asked_for_between_events_loses_no_change(gate: GatedExecutor) -> None:
    """A get_job() between two events builds a snapshot of its own, which rebuilds the
    changed records; the next event still lists the files changed before it.

    With an hour's update_interval the only events are the job's status changes: "active"
    (file 0 started), then the cancel. File 1 completes in between and get_job() sees it;
    the cancel changes only the unfinished files 0 and 2, yet its event lists file 1 too.
    """
    changes = Changes()
    with tq.TransferQueue(2, update_interval=3600) as queue, changes.listening(queue):
        job_id = queue.queue_job("local-upload", make_files(3), gate)
        gate.wait_running(2)
        gate.release("src/file-1")
        gate.wait_started(3)  # file 2 starts once file 1 completed, in its worker
        snapshot = queue.get_job(job_id)
        assert snapshot is not None
        assert snapshot.files[1].status is tq.TransferFileStatus.COMPLETED
        queue.cancel_job(job_id)
        gate.notify()  # the cancelled executors return
        final = queue.wait(job_id)
    [created] = changes.created
    [(active, first), (cancelled, last)] = changes.events
    assert first == (0,)
    assert_follows(created, active, first)
    assert cancelled is final
    assert last == (0, 1, 2)
    assert_follows(active, final, last)


def test_a_receiver_asking_for_the_job_loses_no_change() -> None:
    """Receivers that call get_job() while files move (snapshots between every pair of
    events) still see every change, event by event."""
    changes = Changes()

    def ask(sender: tq.TransferQueue, *, job: tq.TransferJob, **extra: Any) -> None:
        sender.get_job(job.id)

    with (
        tq.TransferQueue(3, update_interval=0.001) as queue,
        changes.listening(queue),
        tq.job_updated.connected_to(ask, sender=queue),
    ):
        job_id = queue.queue_job("local-upload", make_files(200), _two_steps)
        final = queue.wait(job_id)
    previous = changes.created[0]
    for snapshot, changed in changes.events:
        assert_follows(previous, snapshot, changed)
        previous = snapshot
    assert previous is final


# -- JobWatch.changed_files -------------------------------------------------------------


def test_a_watch_says_what_changed_across_the_snapshots_it_skipped(gate: GatedExecutor) -> None:
    """The first snapshot has ``changed_files`` None (every file is new); a consumer that
    looks again only after the job ended gets the terminal snapshot alone, and
    ``changed_files`` names every file that changed since the first, gathered from the
    many events it skipped (with update_interval=0, one per change: the terminal event
    itself lists only the last file)."""
    with tq.TransferQueue(2, update_interval=0) as queue:
        job_id = queue.queue_job("local-upload", make_files(10), gate)
        gate.wait_running(2)
        with queue.watch(job_id) as watch:
            assert changes_of(watch) is None
            first = next(watch)
            assert changes_of(watch) is None
            assert first.progress.completed_files == 0
            gate.release_all()
            final = queue.wait(job_id)
            assert list(watch) == [final]
    assert changes_of(watch) == tuple(range(10))
    assert_follows(first, final, changes_of(watch))


def test_a_watch_in_step_with_the_events_gets_each_events_changes() -> None:
    """A consumer that takes every snapshot gets, after each, what changed since the
    one before: the rebuilt job matches every snapshot, and each file is listed only
    for the events in which it changed (here: three per file at most)."""
    gate_files = 12
    stepped: list[tuple[tq.TransferJob, tuple[int, ...] | None]] = []
    with tq.TransferQueue(1, update_interval=0) as queue:
        job_id = queue.queue_job("local-upload", make_files(gate_files), _two_steps)
        with queue.watch(job_id) as watch:
            for snapshot in watch:
                stepped.append((snapshot, changes_of(watch)))
    first, first_changed = stepped[0]
    assert first_changed is None
    previous = first
    listed = 0
    for snapshot, changed in stepped[1:]:
        assert_follows(previous, snapshot, changed)
        assert changed is not None
        listed += len(changed)
        previous = snapshot
    assert previous.status is tq.TransferStatus.COMPLETED
    assert listed <= 3 * gate_files


def test_a_keepalive_says_nothing_changed(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """A keep-alive ``None`` comes with ``changed_files == ()``."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    with queue.watch(job_id, keepalive=0.01) as watch:
        next(watch)
        assert next(watch) is None
        assert changes_of(watch) == ()
        gate.release_all()
        *_, final = (job for job in watch if job is not None)
    assert final.status is tq.TransferStatus.COMPLETED
    assert changes_of(watch) is not None


def test_a_job_nobody_hears_keeps_no_changes_once_ended() -> None:
    """Nobody listening: the status events still take the job's changes, and once it
    ended the job keeps no change set."""
    with tq.TransferQueue(2) as queue:
        job_id = queue.queue_job("local-upload", make_files(50), noop_executor)
        queue.wait(job_id)
        with queue._lock:
            assert queue._jobs[job_id]._unreported is None
    assert queue.get_job(job_id) is not None


def test_every_receiver_of_an_event_gets_the_same_tuple() -> None:
    """The changes are sorted once per event: every receiver gets the same tuple."""
    changes = Changes()
    seen: list[tuple[int, ...]] = []

    def other(
        sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...], **_: Any
    ) -> None:
        seen.append(changed_files)

    with (
        tq.TransferQueue(1, update_interval=0) as queue,
        changes.listening(queue),
        tq.job_updated.connected_to(other, sender=queue),
    ):
        queue.wait(queue.queue_job("local-upload", make_files(3), noop_executor))
    assert len(seen) == len(changes.events)
    for mine, (_, theirs) in zip(seen, changes.events, strict=True):
        assert mine is theirs
