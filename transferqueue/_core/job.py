"""The mutable state of one job, kept by the queue and never handed out.

Every method here is called with the queue's state lock held, but
:meth:`Job.compact_files` and :meth:`Job.build_final_snapshot`, which read only what a
finished job never changes again. Progress is accounted incrementally (O(1) per change),
and a snapshot is built only when someone asks for one and the job changed since the last.

A finished job keeps no snapshot: once its terminal event is delivered (see
:meth:`Job.release_final_snapshot`), it keeps its files in a compact form
(:class:`_FinalFiles`: their names and sizes in one tuple, what they share stored once)
and builds its snapshot again when asked, equal to the final one. While anyone holds a
finished job's snapshot it is handed out again, the same object (see
``_final_snapshots``); the queue itself holds none.
"""

from __future__ import annotations

import functools
import itertools
import operator
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from transferqueue._executor import Executor
from transferqueue._records import TransferFile, TransferJob, TransferProgress
from transferqueue._records.enums import TransferFileStatus, TransferStatus, TransferType

from .cancel_hooks import CancelHooks
from .clock import utc_now
from .failure import CANCELLED_TYPE, Failure

if TYPE_CHECKING:
    from .retry import RetryPolicy

_QUEUED = TransferFileStatus.QUEUED
_TRANSFERRING = TransferFileStatus.TRANSFERRING
_COMPLETED = TransferFileStatus.COMPLETED
_ERROR = TransferFileStatus.ERROR
_SKIPPED = TransferFileStatus.SKIPPED

# Ids must be unique across every queue of the process, hence one counter here.
# itertools.count is not documented as thread-safe, so it gets a lock of its own.
_id_counter = itertools.count(1)
id_lock = threading.Lock()  # renewed in a forked child (see process.py)


# The snapshots of finished jobs that someone still holds, by job id (unique in the
# process), held weakly: a finished job hands out the one alive rather than an equal copy,
# and keeps none itself. An entry goes when its snapshot does. Rule: a job's entry is read
# and written only under the state lock of the job's queue (dict operations are atomic
# under the GIL, so jobs of other queues may be looked up at the same time).
_final_snapshots: weakref.WeakValueDictionary[str, TransferJob] = weakref.WeakValueDictionary()

# What take_changed_files returns when no file changed: shared, never mutated.
_NOTHING_CHANGED: frozenset[int] = frozenset()

NEVER_SENT = float("-inf")
"""``Job.last_update_sent`` before the first update, and once the job's end was delivered:
one float for every job (each job's own would be 24 bytes it keeps when finished)."""

# Speed samples are kept this many per speed window (see Job._sample).
_SAMPLES_PER_WINDOW = 10


@functools.lru_cache(maxsize=8)
def _sample_spacing(speed_window: timedelta) -> timedelta:
    """The time between two speed samples: one object for every job of a window, rather
    than 40 bytes that each job keeps for as long as the queue keeps it."""
    return speed_window / _SAMPLES_PER_WINDOW


def transferring_record(record: TransferFile, attempt: int) -> TransferFile:
    """Return the record an executor is given: the file, transferring its ``attempt``-th
    time, nothing loaded yet."""
    return TransferFile(
        record.source_path, record.destination_path, record.size, 0, _TRANSFERRING, None, attempt
    )


def new_job_id(created_at: datetime) -> str:
    """Return a process-unique id: ``transfer-<milliseconds since epoch>-<counter>``."""
    with id_lock:
        number = next(_id_counter)
    return f"transfer-{int(created_at.timestamp() * 1000)}-{number}"


class Job:
    """One job's live state, then, once terminal, its fields and its files' compact form."""

    __slots__ = (
        "_completed_files",
        "_failed_files",
        "_files",
        "_final",
        "_loaded_bytes",
        "_next_index",
        "_retry_ready",
        "_sample_spacing",
        "_samples",
        "_skipped_ahead",
        "_skipped_files",
        "_snapshot",
        "_speed_window",
        "_total_bytes",
        "_unreported",
        "cancel_event",
        "cancel_hooks",
        "completed_at",
        "created_at",
        "error",
        "executor",
        "halted",
        "id",
        "last_update_sent",
        "retry_policy",
        "started_at",
        "status",
        "stop_event",
        "terminal_delivered",
        "type",
        "updates_posted",
    )

    def __init__(
        self,
        transfer_type: TransferType,
        files: list[TransferFile],
        executor: Executor,
        created_at: datetime,
        *,
        retry_policy: RetryPolicy | None = None,
        speed_window: timedelta = timedelta(seconds=10),
        id_suffix: str = "",
    ) -> None:
        self.id = new_job_id(created_at) + id_suffix
        self.type = transfer_type
        self.created_at = created_at
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.status = TransferStatus.QUEUED
        self.error: str | None = None
        # Files queued as skipped (their destination up to date) are never started: they
        # count as done from the start and their bytes are not the job's to move.
        skipped = sum(1 for record in files if record.status is _SKIPPED)
        self._skipped_files = skipped
        self._skipped_ahead = skipped  # skipped files at or after _next_index
        self._files: _FileTable | None = _FileTable(files, skipped)  # None once terminal
        self._next_index = 0  # files before this index have been started at least once
        self._retry_ready: deque[int] | None = deque()  # failed files due for another attempt
        self._total_bytes = sum(record.size for record in files)
        if skipped:
            self._total_bytes -= sum(r.size for r in files if r.status is _SKIPPED)
            self._pass_skipped(self._files)
        self._loaded_bytes = 0
        self._completed_files = 0
        self._failed_files = 0
        self.executor: Executor | None = executor
        self.cancel_event: threading.Event | None = threading.Event()
        # True once ended by cancel() or fail_all(): its running executors are told to
        # stop (their on_progress raises TransferCancelled).
        self.halted = False
        # What its executors left to undo should it be cancelled (a paused file's kept
        # partial copy): run by the queue once it released its lock after the cancel (the
        # job hands them over as it ends, and keeps none once finished).
        self.cancel_hooks: CancelHooks | None = CancelHooks()
        # Set while paused and once halted, for executors waiting in wait_stopped; made
        # on first use (most jobs are never paused nor waited so), dropped once terminal.
        self.stop_event: threading.Event | None = None
        self.retry_policy = retry_policy  # None: failed files are not retried
        # None: changed since the last snapshot; once finished, None as soon as the event
        # thread let go of the final one (see release_final_snapshot).
        self._snapshot: TransferJob | None = None
        # The files once finished: their table, until the event thread has made their
        # compact form (outside the lock: O(files)) as it delivers the job's end.
        self._final: _FinalFiles | _FileTable | None = None
        # The files changed since the job's last job-updated event: each snapshot built
        # adds the files it rebuilt (so a snapshot between two events, for get_job, loses
        # none), and the next event takes them (see take_changed_files). None once taken
        # for the terminal event.
        self._unreported: set[int] | None = set()
        # Speed: (time, loaded bytes) samples, at least _sample_spacing apart, the oldest
        # the last one at or before the window's start; the newest is the latest change.
        self._speed_window = speed_window
        self._sample_spacing = _sample_spacing(speed_window)
        self._samples: deque[tuple[datetime, int]] | None = None  # None until active
        # Event bookkeeping, owned by the event delivery (see transferqueue/_events/delivery.py).
        self.last_update_sent = NEVER_SENT
        self.terminal_delivered = False
        self.updates_posted = 0  # job-updated snapshots posted so far: their sequence

    # -- state queries -------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        """True once the job is in a terminal status."""
        return self._files is None

    @property
    def is_paused(self) -> bool:
        """True while the job is paused."""
        return self.status is TransferStatus.PAUSED

    @property
    def waiting_files(self) -> int:
        """How many files may start now: those not started yet (0 once terminal, and
        while paused)."""
        if self._files is None or self.status is TransferStatus.PAUSED:
            return 0
        assert self._retry_ready is not None
        unstarted = len(self._files.records) - self._next_index - self._skipped_ahead
        return len(self._retry_ready) + unstarted

    @property
    def waiting_retries(self) -> int:
        """How many files wait out a retry delay (0 once terminal)."""
        return 0 if self._files is None else len(self._files.retry_at)

    # -- transitions ----------------------------------------------------------------

    def start_next_file(self) -> tuple[int, TransferFile, int, bool]:
        """Mark the next waiting file transferring: a file due for a retry first, since
        it came before the files not started yet.

        Returns its index, a record of the file (to build the executor's ``file`` from
        with :func:`transferring_record`, outside the lock), its attempt number and
        whether the job became ``active`` with it.
        """
        files = self._require_live()
        assert self._retry_ready is not None
        if self._retry_ready:
            index = self._retry_ready.popleft()
            files.errors.pop(index, None)  # its last attempt's error: this one starts afresh
        else:
            index = self._take_next(files)
        return self._begin(files, index)

    def reserve_next_file(self) -> int:
        """Take the next waiting file out of the line without starting it (it stays
        ``queued``): for a queue that must first get a cluster-wide slot for it, then
        starts it with :meth:`start_reserved_file` (unless the job ends first)."""
        self._require_live()
        assert self._retry_ready is not None
        if self._retry_ready:
            return self._retry_ready.popleft()
        return self._take_next(self._require_live())

    def start_reserved_file(self, index: int) -> tuple[TransferFile, int, bool]:
        """Start a file taken by :meth:`reserve_next_file`, as :meth:`start_next_file`
        starts one: returns its record, its attempt number and whether the job became
        ``active`` with it."""
        files = self._require_live()
        files.errors.pop(index, None)  # a retried file's last error: this attempt starts afresh
        _, record, attempt, became_active = self._begin(files, index)
        return record, attempt, became_active

    def _take_next(self, files: _FileTable) -> int:
        """The index of the next file not started yet, taken out of the line."""
        index = self._next_index
        self._next_index = index + 1
        if self._skipped_ahead:
            self._pass_skipped(files)
        return index

    def _pass_skipped(self, files: _FileTable) -> None:
        """Move ``_next_index`` past the skipped files it points at: they never start."""
        statuses = files.statuses
        while self._skipped_ahead and statuses[self._next_index] is _SKIPPED:
            self._next_index += 1
            self._skipped_ahead -= 1

    def _begin(self, files: _FileTable, index: int) -> tuple[int, TransferFile, int, bool]:
        attempt = files.attempts[index] = files.attempts[index] + 1
        self._set(files, index, _TRANSFERRING)
        if self.status is TransferStatus.QUEUED:
            self.status = TransferStatus.ACTIVE
            self.started_at = utc_now()
            self._samples = deque([(self.started_at, self._loaded_bytes)])
            return index, files.records[index], attempt, True
        return index, files.records[index], attempt, False

    def report_progress(self, index: int, attempt: int, loaded: int) -> bool:
        """Record ``loaded`` bytes done of a file's transferring ``attempt`` (clamped to
        0..size).

        Returns whether anything changed. A report for an attempt that has ended (a late
        call after its executor returned, from a thread it left behind, even while a
        later attempt of the file runs) is left alone.
        """
        files = self._require_live()
        if files.statuses[index] is not _TRANSFERRING or files.attempts[index] != attempt:
            return False
        loaded = 0 if loaded < 0 else min(loaded, files.records[index].size)
        previous = files.loaded[index]
        if loaded == previous:
            return False
        self._add_loaded(files, index, loaded - previous)
        return True

    def finish_file(self, index: int, error: Failure | None) -> bool:
        """Record the end of a file's executor; ``error`` None means success.

        Returns whether the job became terminal with it (``completed`` or ``failed``).
        """
        files = self._require_live()
        if error is None:
            self._add_loaded(files, index, files.records[index].size - files.loaded[index])
            self._completed_files += 1
            self._set(files, index, _COMPLETED)
        else:
            self._failed_files += 1
            self._set(files, index, _ERROR, error)
        return self.finish_if_done()

    def pause(self) -> None:
        """Enter ``paused``: no file starts until :meth:`resume`; running files go on
        until their executors stop (:meth:`stopped_for_pause`) or finish."""
        self._require_live()
        self.status = TransferStatus.PAUSED
        self._snapshot = None
        if self.stop_event is not None:
            self.stop_event.set()

    def ensure_stop_event(self) -> threading.Event:
        """The job's stop event, made if it has none: set while the job is paused, and
        once it is halted."""
        if self.stop_event is None:
            self.stop_event = threading.Event()
            if self.status is TransferStatus.PAUSED:
                self.stop_event.set()
        return self.stop_event

    def resume(self) -> None:
        """Leave ``paused`` for ``active``, or ``queued`` if no file had started; the
        speed is measured afresh, not across the pause."""
        self._require_live()
        if self.started_at is None:
            self.status = TransferStatus.QUEUED
        else:
            self.status = TransferStatus.ACTIVE
            self._samples = deque([(utc_now(), self._loaded_bytes)])
        self._snapshot = None
        if self.stop_event is not None:
            self.stop_event.clear()

    def stopped_for_pause(self, index: int) -> None:
        """A file's executor stopped because the job was paused: the file is ``queued``
        again, first in line, keeping its bytes done (the executor resumes from what it
        kept, or reports from 0 again). The attempt stays counted in ``attempts`` (its
        number stays that attempt's, so that its late reports are told apart), but not
        by the retry policy (see :meth:`counted_attempts`)."""
        files = self._require_live()
        assert self._retry_ready is not None
        self._retry_ready.append(index)
        files.paused[index] = files.paused.get(index, 0) + 1
        self._set(files, index, _QUEUED)

    def counted_attempts(self, index: int) -> int:
        """The file's attempts as its retry policy counts them: those a pause ended
        are left out (a pause is no failure, and must not use up the file's retries)."""
        files = self._require_live()
        return files.attempts[index] - files.paused.get(index, 0)

    def unreserve(self, index: int) -> None:
        """Put back a file taken by :meth:`reserve_next_file` that did not start (its
        job was paused while it waited for its slot)."""
        self._require_live()
        assert self._retry_ready is not None
        self._retry_ready.appendleft(index)

    def wait_to_retry(self, index: int, error: Failure, retry_at: datetime) -> None:
        """Put a failed file back to ``queued`` until :meth:`retry_due`: it keeps its
        ``error`` and gets its ``retry_at``; its bytes count from 0 again."""
        files = self._require_live()
        self._add_loaded(files, index, -files.loaded[index])
        files.retry_at[index] = retry_at
        self._set(files, index, _QUEUED, error)

    def retry_due(self, index: int) -> None:
        """Make a file that waited out its retry delay the next of this job to start."""
        files = self._require_live()
        assert self._retry_ready is not None
        del files.retry_at[index]
        files.dirty.add(index)
        self._snapshot = None
        self._retry_ready.append(index)

    def abandon_retries(self) -> bool:
        """Fail every file still waiting for its retry delay, with its last error.

        Returns whether the job became terminal with it.
        """
        files = self._require_live()
        for index in list(files.retry_at):
            del files.retry_at[index]
            self._failed_files += 1
            self._set(files, index, _ERROR, files.errors[index])
        return self.finish_if_done()

    def finish_if_done(self) -> bool:
        """Enter ``completed`` or ``failed`` if every file finished; True if it did."""
        total = len(self._require_live().records)
        if self._completed_files + self._failed_files + self._skipped_files < total:
            return False
        if self._failed_files:
            self._terminate(TransferStatus.FAILED, f"{self._failed_files} of {total} files failed")
        else:
            if self.started_at is None:  # an empty job: it starts and ends at once
                self.started_at = self.created_at
            self._terminate(TransferStatus.COMPLETED, None)
        return True

    def cancel(self, reason: str) -> CancelHooks:
        """Enter ``cancelled``: every file not completed becomes ``error`` with ``reason``
        (of the kind :class:`TransferCancelled`).

        Returns the job's cancel hooks, for the caller to run once it released the lock.
        """
        files = self._require_live()
        files.retry_at.clear()
        failure = Failure(reason, CANCELLED_TYPE)  # one, shared by every file it ends
        self._halt(failure)
        return self._terminate(TransferStatus.CANCELLED, reason)

    def fail_all(self, failure: Failure) -> CancelHooks:
        """Enter ``failed`` at once, as :meth:`cancel` enters ``cancelled``: every file not
        completed becomes ``error`` with ``failure``, and its running executors are told
        to stop (with a backend: this process was declared lost by its cluster).

        Returns the job's cancel hooks, as :meth:`cancel` does.
        """
        files = self._require_live()
        files.retry_at.clear()
        self._halt(failure)
        return self._terminate(TransferStatus.FAILED, failure.message)

    def _halt(self, failure: Failure) -> None:
        """End every file that has not ended with ``failure``; stop the executors."""
        files = self._require_live()
        for index, status in enumerate(files.statuses):
            if status is _QUEUED or status is _TRANSFERRING:
                self._failed_files += 1
                self._set(files, index, _ERROR, failure)
        assert self.cancel_event is not None
        self.cancel_event.set()
        if self.stop_event is not None:
            self.stop_event.set()
        self.halted = True

    def _add_loaded(self, files: _FileTable, index: int, delta: int) -> None:
        files.loaded[index] += delta
        self._loaded_bytes += delta
        files.dirty.add(index)
        self._snapshot = None
        self._sample()

    def _sample(self) -> None:
        """Record the job's bytes now for its speed (O(1) amortised, a few samples kept)."""
        samples = self._samples
        if samples is None:  # not started: nothing to measure yet
            return
        now = utc_now()
        # The newest sample follows every change; it is kept, and a new newest begun, once
        # it lies a spacing after the one before it. So the samples stay few at any rate.
        if len(samples) == 1 or samples[-1][0] - samples[-2][0] >= self._sample_spacing:
            samples.append((now, self._loaded_bytes))
        else:
            samples[-1] = (now, self._loaded_bytes)
        window_start = now - self._speed_window
        while len(samples) > 2 and samples[1][0] <= window_start:
            samples.popleft()

    @property
    def speed_window_seconds(self) -> float:
        """The window the job's speed is averaged over, in seconds."""
        return self._speed_window.total_seconds()

    def settle_speed(self) -> tuple[bool, float] | None:
        """Report 0 B/s once no byte has moved for a whole speed window.

        Speed is measured at changes, so a stalled job would keep its last rate; the
        event thread calls this now and then. Returns None when the job is not active
        (nothing to settle), else ``(changed, seconds)``: whether the speed just fell to 0
        (a new snapshot is due) and how long until it is worth looking again.
        """
        samples = self._samples
        if self.status is not TransferStatus.ACTIVE or samples is None:
            return None
        window = self.speed_window_seconds
        now = utc_now()
        last_time, last_bytes = samples[-1]
        idle = (now - last_time).total_seconds()
        if idle < window:
            return False, window - idle
        if len(samples) == 2 and samples[0][1] == last_bytes:
            return False, window  # settled already
        # From the last change to now, no byte: the rate over the window is 0. A speed that
        # read 0 already (a retry took bytes back) needs no new snapshot.
        changed = self._speed() != 0.0
        self._samples = deque([(last_time, last_bytes), (now, last_bytes)])
        if changed:
            self._snapshot = None
        return changed, window

    def _set(
        self,
        files: _FileTable,
        index: int,
        status: TransferFileStatus,
        error: Failure | None = None,
    ) -> None:
        files.statuses[index] = status
        if error is not None:
            files.errors[index] = error
        files.dirty.add(index)
        self._snapshot = None

    def _terminate(self, status: TransferStatus, error: str | None) -> CancelHooks:
        """End the job; return its cancel hooks (dropped unrun unless it was halted)."""
        hooks = self.cancel_hooks
        assert hooks is not None
        self.cancel_hooks = None  # the tasks that run its files hold them while they need
        if not self.halted:  # ended by its files: nothing was left to undo
            hooks.drop()
        self.status = status
        self.error = error
        self.completed_at = utc_now()
        if self._loaded_bytes == self._total_bytes:  # one int object for both, kept
            self._loaded_bytes = self._total_bytes
        # Terminal is final: freeze the snapshot now and drop everything mutable, so
        # late executor calls find nothing to change. The snapshot is held until the
        # terminal event was delivered and its waiters had time to take it (see
        # release_final_snapshot), then only weakly; the files are kept in their compact
        # form (see compact_files), which builds it again once it is gone.
        files = self._require_live()
        snapshot = self._snapshot = self._build_snapshot()
        self._final = files
        _final_snapshots[self.id] = snapshot
        self._files = None
        self._retry_ready = None
        self._samples = None
        self.executor = None
        self.cancel_event = None
        self.stop_event = None
        self.retry_policy = None
        return hooks

    # -- snapshots ------------------------------------------------------------------

    def snapshot(self) -> TransferJob:
        """Return the job as it stands now, reusing the last snapshot when unchanged.

        A finished job's snapshot is the final one while anyone holds it, else built
        again (equal to it); the queue builds that without its lock, see
        :meth:`snapshot_at_hand`.
        """
        snapshot = self.snapshot_at_hand()
        if snapshot is None:
            snapshot = self.share_snapshot(self.build_final_snapshot())
        return snapshot

    def snapshot_at_hand(self) -> TransferJob | None:
        """Return the job's snapshot, or None for a finished job whose snapshot nobody
        holds any longer: :meth:`build_final_snapshot` builds that one, without the lock
        (it costs a record per file), then :meth:`share_snapshot` hands it out."""
        snapshot = self._snapshot
        if snapshot is not None:
            return snapshot
        if self._files is not None:
            snapshot = self._snapshot = self._build_snapshot()
            return snapshot
        return _final_snapshots.get(self.id)

    def release_final_snapshot(self) -> None:
        """Hold a finished job's final snapshot no longer: the event delivery calls it
        once the terminal event went out and the threads waiting for it had their turn.
        From then on it lives as long as someone else holds it (see snapshot())."""
        if self._files is None:
            if isinstance(self._final, _FileTable):  # not compacted (in a forked child)
                self._final = _FinalFiles(self._final)
            self._snapshot = None

    def compact_files(self) -> _FinalFiles:
        """Return a finished job's files in their compact form, made from its file table
        if need be. Called without the lock, by the event thread once it delivered the
        job's end (a finished job's table never changes again); the thread then gives
        the result to :meth:`keep_compact_files` under the lock."""
        final = self._final
        if final is None:
            raise RuntimeError(f"job {self.id} is not finished")
        return final if isinstance(final, _FinalFiles) else _FinalFiles(final)

    def keep_compact_files(self, files: _FinalFiles) -> None:
        """Keep ``files`` (from :meth:`compact_files`) instead of the file table."""
        self._final = files

    def build_final_snapshot(self) -> TransferJob:
        """Build a finished job's snapshot from what it keeps: equal to its final one.

        Called with or without the lock: it reads only what never changes once the job is
        finished (its fields, its counts and its compact files).
        """
        files = self.compact_files().records()
        return TransferJob(
            id=self.id,
            type=self.type,
            status=self.status,
            files=files,
            progress=self._progress(len(files)),
            created_at=self.created_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
            error=self.error,
        )

    def share_snapshot(self, built: TransferJob) -> TransferJob:
        """Return the finished job's snapshot that someone holds, if any (another thread
        may have built one meanwhile), else ``built``, which is handed out from now on
        for as long as anyone holds it."""
        alive = _final_snapshots.get(self.id)
        if alive is not None:
            return alive
        _final_snapshots[self.id] = built
        return built

    def take_changed_files(self) -> set[int] | frozenset[int]:
        """Return the indexes of the files changed since the last call (or since the job
        was created), as of the last snapshot built, and start afresh.

        The event delivery calls it with each ``job-updated`` snapshot it builds, right
        after building it: so every file of the job not among them has the same record in
        that snapshot as in the previous event's. Nothing is sorted here, under the lock.
        """
        changed = self._unreported
        if not changed:
            if self._files is None:
                self._unreported = None  # a terminal job keeps only its record
            return _NOTHING_CHANGED
        self._unreported = set() if self._files is not None else None
        return changed

    def _build_snapshot(self) -> TransferJob:
        files = self._require_live()
        assert self._unreported is not None
        self._unreported.update(files.dirty)  # before updated_records() clears it
        records = files.updated_records()
        return TransferJob(
            id=self.id,
            type=self.type,
            status=self.status,
            files=tuple(records),
            progress=self._progress(len(records)),
            created_at=self.created_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
            error=self.error,
        )

    def _progress(self, total_files: int) -> TransferProgress:
        completed = self._completed_files
        skipped = self._skipped_files
        if completed + skipped == total_files:
            percentage = 100  # every file completed or skipped, an empty job included
        elif self._total_bytes:
            # Floor, capped at 99: 100 means "every file completed" and nothing less.
            percentage = min(99, self._loaded_bytes * 100 // self._total_bytes)
        else:  # of the files to transfer, all empty: counted in files
            percentage = completed * 100 // (total_files - skipped)
        speed = eta = None
        if self.status is TransferStatus.ACTIVE:
            speed = self._speed()
            if speed:
                eta = (self._total_bytes - self._loaded_bytes) / speed
        return TransferProgress(
            total_files=total_files,
            completed_files=completed,
            failed_files=self._failed_files,
            total_bytes=self._total_bytes,
            loaded_bytes=self._loaded_bytes,
            percentage=percentage,
            bytes_per_second=speed,
            eta_seconds=eta,
            skipped_files=skipped,
        )

    def _speed(self) -> float | None:
        """Bytes per second from the oldest kept sample to the latest change, if measurable."""
        samples = self._samples
        if samples is None or len(samples) < 2:
            return None
        (first_time, first_bytes), (last_time, last_bytes) = samples[0], samples[-1]
        seconds = (last_time - first_time).total_seconds()
        if seconds <= 0:
            return None
        # A retry or a restart takes bytes back; the rate then is 0, not negative.
        return max(0.0, (last_bytes - first_bytes) / seconds)

    def _require_live(self) -> _FileTable:
        files = self._files
        if files is None:
            raise RuntimeError(f"job {self.id} is terminal and can no longer change")
        return files


class _FileTable:
    """The live state of an unfinished job's files.

    Per file: its last built record, and its current status, bytes done, attempts (and
    how many of them a pause ended) and error (message and kind).
    Records are rebuilt only for the files in ``dirty``, when a snapshot is asked for:
    building an attrs record on every change, under the lock, is what the hot path
    (every file start and end, every on_progress call) cannot afford.
    """

    __slots__ = (
        "attempts",
        "dirty",
        "errors",
        "loaded",
        "paused",
        "records",
        "retry_at",
        "statuses",
    )

    def __init__(self, records: list[TransferFile], skipped: int = 0) -> None:
        self.records = records
        if skipped:
            self.statuses = [record.status for record in records]
        else:
            self.statuses = [_QUEUED] * len(records)
        self.loaded = [0] * len(records)
        self.attempts = [0] * len(records)
        self.errors: dict[int, Failure] = {}
        self.retry_at: dict[int, datetime] = {}  # files waiting out a retry delay
        # Per file, how many of its attempts a pause ended (absent: none; most jobs are
        # never paused).
        self.paused: dict[int, int] = {}
        self.dirty: set[int] = set()

    def updated_records(self) -> list[TransferFile]:
        """Rebuild the records of the files that changed; return every record."""
        records = self.records
        for index in self.dirty:
            record = records[index]
            error = self.errors.get(index)
            loaded = self.loaded[index]
            records[index] = TransferFile(
                record.source_path,
                record.destination_path,
                record.size,
                # A whole file's count is its size: the same int object, not a second one
                # (32 bytes a file that a finished job would keep).
                record.size if loaded == record.size else loaded,
                self.statuses[index],
                None if error is None else error.message,
                self.attempts[index],
                self.retry_at.get(index),
                None if error is None else error.error_type,
            )
        self.dirty.clear()
        return records


# A finished job's file statuses, one byte each, are indexes in this tuple.
_FILE_STATUSES = tuple(TransferFileStatus)
_NAMES_AND_SIZE = operator.attrgetter("source_path", "destination_path", "size")


class _FinalFiles:
    """The files of a finished job, without their records: what the records held, in
    the fewest objects. Never changes once made, so it is read without the lock.

    - ``paths``: each file's source path, destination path and size, one after another
      in one tuple (the very objects its records held);
    - ``statuses``: one status for every file (a job that completed), or one byte per
      file, an index in ``_FILE_STATUSES``;
    - ``attempts``: one count for every file, or one per file (bytes, a tuple beyond 255);
    - ``loaded``: the bytes done of the files where they are not what their status
      implies (a completed file's size, 0 for the others), else None;
    - ``errors``, ``retry_at``: by file index, the files that have one (else None).

    A job of 10 completed files keeps 4 objects here instead of 12 (the records and their
    tuple): ~370 bytes instead of ~1,240, their names aside.
    """

    __slots__ = ("attempts", "errors", "loaded", "paths", "retry_at", "statuses")

    def __init__(self, files: _FileTable) -> None:
        """Take the compact form of a finished job's file table, whose records were
        just rebuilt: O(files), at C speed for a job whose files all completed."""
        records = files.records
        count = len(records)
        self.paths: tuple[str | int, ...] = tuple(
            itertools.chain.from_iterable(map(_NAMES_AND_SIZE, records))
        )
        statuses = files.statuses
        status = statuses[0] if count else _COMPLETED
        self.statuses: TransferFileStatus | bytes = (
            status
            if statuses.count(status) == count
            else bytes(map(_FILE_STATUSES.index, statuses))
        )
        attempts = files.attempts
        attempt = attempts[0] if count else 0
        self.attempts: int | bytes | tuple[int, ...]
        if attempts.count(attempt) == count:
            self.attempts = attempt
        else:
            try:
                self.attempts = bytes(attempts)
            except ValueError:  # more than 255 attempts of a file
                self.attempts = tuple(attempts)
        self.loaded: dict[int, int] | None = None
        sizes = self.paths[2::3]
        if not (self.statuses is _COMPLETED and tuple(files.loaded) == sizes):
            loaded = {
                index: done
                for index, (done, state, size) in enumerate(
                    zip(files.loaded, statuses, sizes, strict=True)
                )
                if done != (size if state is _COMPLETED else 0)
            }
            self.loaded = loaded or None
        # The table's own dicts: it is dropped with the job's end, so nothing changes them.
        self.errors: dict[int, Failure] | None = files.errors or None
        self.retry_at: dict[int, datetime] | None = files.retry_at or None

    def records(self) -> tuple[TransferFile, ...]:
        """Build the files' records again, equal to the ones the job's files last had."""
        parts = iter(self.paths)
        rows: Iterator[tuple[str, str, int]] = zip(parts, parts, parts, strict=True)  # type: ignore[arg-type]
        statuses, attempts = self.statuses, self.attempts
        loaded, errors, retry_at = self.loaded, self.errors, self.retry_at
        if (
            statuses is _COMPLETED
            and isinstance(attempts, int)
            and loaded is None
            and errors is None
            and retry_at is None
        ):
            # Every file completed alike (a job that completed): the quick way.
            return tuple(
                [
                    TransferFile(source, destination, size, size, _COMPLETED, None, attempts)
                    for source, destination, size in rows
                ]
            )
        records = []
        for index, (source, destination, size) in enumerate(rows):
            status = _FILE_STATUSES[statuses[index]] if isinstance(statuses, bytes) else statuses
            done = size if status is _COMPLETED else 0
            if loaded is not None:
                done = loaded.get(index, done)
                if done == size:  # the size's int object, as the live records share it
                    done = size
            error = None if errors is None else errors.get(index)
            records.append(
                TransferFile(
                    source,
                    destination,
                    size,
                    done,
                    status,
                    None if error is None else error.message,
                    attempts if isinstance(attempts, int) else attempts[index],
                    None if retry_at is None else retry_at.get(index),
                    None if error is None else error.error_type,
                )
            )
        return tuple(records)
