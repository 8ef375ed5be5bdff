"""The mutable state of one job, kept by the queue and never handed out.

Every method here is called with the queue's state lock held. Progress is accounted
incrementally (O(1) per change), and a snapshot is built only when someone asks for one
and the job changed since the last.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ._clock import utc_now
from ._enums import TransferFileStatus, TransferStatus, TransferType
from ._records import TransferFile, TransferJob, TransferProgress

if TYPE_CHECKING:
    from ._progress import ProgressCallback

Executor = Callable[[TransferFile, "ProgressCallback"], object]
"""``executor(file, on_progress)``: transfers one file, blocking; raises to fail it."""

_QUEUED = TransferFileStatus.QUEUED
_TRANSFERRING = TransferFileStatus.TRANSFERRING
_COMPLETED = TransferFileStatus.COMPLETED
_ERROR = TransferFileStatus.ERROR

# Ids must be unique across every queue of the process (S1), hence one counter here.
# itertools.count is not documented as thread-safe, so it gets a lock of its own.
_id_counter = itertools.count(1)
_id_lock = threading.Lock()


def _changed(
    record: TransferFile, loaded: int, status: TransferFileStatus, error: str | None = None
) -> TransferFile:
    """Return a new record of the same file with another progress, status and error.

    Positional arguments and no attrs.evolve: this runs on every on_progress call.
    """
    return TransferFile(
        record.source_path, record.destination_path, record.size, loaded, status, error
    )


def new_job_id(created_at: datetime) -> str:
    """Return a process-unique id: ``transfer-<milliseconds since epoch>-<counter>``."""
    with _id_lock:
        number = next(_id_counter)
    return f"transfer-{int(created_at.timestamp() * 1000)}-{number}"


class Job:
    """One job's live state, then, once terminal, only its final snapshot."""

    __slots__ = (
        "_completed_files",
        "_failed_files",
        "_files",
        "_loaded_bytes",
        "_next_index",
        "_snapshot",
        "_total_bytes",
        "cancel_event",
        "completed_at",
        "created_at",
        "error",
        "executor",
        "id",
        "last_update_sent",
        "started_at",
        "status",
        "terminal_delivered",
        "type",
    )

    def __init__(
        self,
        transfer_type: TransferType,
        files: list[TransferFile],
        executor: Executor,
        created_at: datetime,
    ) -> None:
        self.id = new_job_id(created_at)
        self.type = transfer_type
        self.created_at = created_at
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.status = TransferStatus.QUEUED
        self.error: str | None = None
        # The current record of every file; replaced (never mutated) on each change, so a
        # snapshot is just tuple(self._files). None once the job is terminal.
        self._files: list[TransferFile] | None = files
        self._next_index = 0  # files before this index have been started
        self._total_bytes = sum(record.size for record in files)
        self._loaded_bytes = 0
        self._completed_files = 0
        self._failed_files = 0
        self.executor: Executor | None = executor
        self.cancel_event: threading.Event | None = threading.Event()
        self._snapshot: TransferJob | None = None
        # Event bookkeeping, owned by the event delivery (see _delivery.py).
        self.last_update_sent = float("-inf")
        self.terminal_delivered = False

    # -- state queries -------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        """True once the job is in a terminal status."""
        return self._files is None

    @property
    def waiting_files(self) -> int:
        """How many files have not started yet (0 once terminal)."""
        if self._files is None:
            return 0
        return len(self._files) - self._next_index

    # -- transitions ----------------------------------------------------------------

    def start_next_file(self) -> tuple[int, TransferFile, bool]:
        """Mark the next waiting file transferring.

        Returns its index, its new record (the ``file`` given to the executor) and
        whether the job became ``active`` with it.
        """
        files = self._require_live()
        index = self._next_index
        self._next_index += 1
        queued = files[index]
        record = _changed(queued, 0, _TRANSFERRING)
        files[index] = record
        self._snapshot = None
        if self.status is TransferStatus.QUEUED:
            self.status = TransferStatus.ACTIVE
            self.started_at = utc_now()
            return index, record, True
        return index, record, False

    def report_progress(self, index: int, loaded: int) -> bool:
        """Record ``loaded`` bytes done of a transferring file (clamped to 0..size, S7).

        Returns whether anything changed; a file that is no longer transferring (a late
        call after its executor returned) is left alone.
        """
        files = self._require_live()
        record = files[index]
        if record.status is not _TRANSFERRING:
            return False
        loaded = 0 if loaded < 0 else min(loaded, record.size)
        if loaded == record.loaded:
            return False
        self._loaded_bytes += loaded - record.loaded
        files[index] = _changed(record, loaded, _TRANSFERRING)
        self._snapshot = None
        return True

    def finish_file(self, index: int, error: str | None) -> bool:
        """Record the end of a file's executor; ``error`` None means success.

        Returns whether the job became terminal with it (``completed`` or ``failed``).
        """
        files = self._require_live()
        record = files[index]
        if error is None:
            self._loaded_bytes += record.size - record.loaded
            self._completed_files += 1
            files[index] = _changed(record, record.size, _COMPLETED)
        else:
            self._failed_files += 1
            files[index] = _changed(record, record.loaded, _ERROR, error)
        self._snapshot = None
        return self.finish_if_done()

    def finish_if_done(self) -> bool:
        """Enter ``completed`` or ``failed`` if every file finished; True if it did."""
        files = self._require_live()
        if self._completed_files + self._failed_files < len(files):
            return False
        if self._failed_files:
            self._terminate(
                TransferStatus.FAILED, f"{self._failed_files} of {len(files)} files failed"
            )
        else:
            if self.started_at is None:  # an empty job: it starts and ends at once (S5)
                self.started_at = self.created_at
            self._terminate(TransferStatus.COMPLETED, None)
        return True

    def cancel(self, reason: str) -> None:
        """Enter ``cancelled``: every file not completed becomes ``error`` with ``reason``."""
        files = self._require_live()
        for index, record in enumerate(files):
            if record.status is _QUEUED or record.status is _TRANSFERRING:
                self._failed_files += 1
                files[index] = _changed(record, record.loaded, _ERROR, reason)
        assert self.cancel_event is not None
        self.cancel_event.set()
        self._snapshot = None
        self._terminate(TransferStatus.CANCELLED, reason)

    def _terminate(self, status: TransferStatus, error: str | None) -> None:
        self.status = status
        self.error = error
        self.completed_at = utc_now()
        # Terminal is final (S4): freeze the snapshot now and drop everything mutable, so
        # late executor calls find nothing to change and the job keeps only its record.
        self._snapshot = self._build_snapshot()
        self._files = None
        self.executor = None
        self.cancel_event = None

    # -- snapshots ------------------------------------------------------------------

    def snapshot(self) -> TransferJob:
        """Return the job as it stands now, reusing the last snapshot when unchanged."""
        if self._snapshot is None:
            self._snapshot = self._build_snapshot()
        return self._snapshot

    def _build_snapshot(self) -> TransferJob:
        files = self._require_live()
        return TransferJob(
            id=self.id,
            type=self.type,
            status=self.status,
            files=tuple(files),
            progress=self._progress(len(files)),
            created_at=self.created_at,
            started_at=self.started_at,
            completed_at=self.completed_at,
            error=self.error,
        )

    def _progress(self, total_files: int) -> TransferProgress:
        completed = self._completed_files
        if completed == total_files:
            percentage = 100  # every file completed, an empty job included (S5)
        elif self._total_bytes:
            # Floor, capped at 99: 100 means "every file completed" and nothing less (S6).
            percentage = min(99, self._loaded_bytes * 100 // self._total_bytes)
        else:
            percentage = completed * 100 // total_files
        return TransferProgress(
            total_files=total_files,
            completed_files=completed,
            failed_files=self._failed_files,
            total_bytes=self._total_bytes,
            loaded_bytes=self._loaded_bytes,
            percentage=percentage,
        )

    def _require_live(self) -> list[TransferFile]:
        files = self._files
        if files is None:
            raise RuntimeError(f"job {self.id} is terminal and can no longer change")
        return files
