"""The immutable records handed out by the queue (contract S10).

Every record is a frozen attrs class with slots; collections are tuples. A record, once
handed out, never changes: the queue builds a new one for every change.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ._enums import TransferFileStatus, TransferStatus, TransferType


@attrs.frozen
class TransferFile:
    """One file of a job, as it stood when this record was made.

    ``loaded`` is the number of bytes of this file transferred so far (its full ``size``
    once completed); ``error`` is set only when ``status`` is ``error``.
    """

    source_path: str
    destination_path: str
    size: int
    loaded: int = 0
    status: TransferFileStatus = TransferFileStatus.QUEUED
    error: str | None = None


@attrs.frozen
class TransferProgress:
    """A job's totals (contract S6).

    ``percentage`` is an int from 0 to 100 that is 100 exactly when every file completed;
    it is measured in bytes, or in files when the files total 0 bytes.
    """

    total_files: int
    completed_files: int
    failed_files: int
    total_bytes: int
    loaded_bytes: int
    percentage: int


@attrs.frozen
class TransferJob:
    """A job as it stood when this snapshot was made.

    Timestamps are timezone-aware UTC. ``started_at`` is set when the first file starts,
    ``completed_at`` when the job enters a terminal status, and ``error`` summarises a
    failed or cancelled job.
    """

    id: str
    type: TransferType
    status: TransferStatus
    files: tuple[TransferFile, ...]
    progress: TransferProgress
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
