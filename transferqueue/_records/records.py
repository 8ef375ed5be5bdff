"""The immutable records handed out by the queue (contract S10).

Every record is a frozen attrs class with slots; collections are tuples. A record, once
handed out, never changes: the queue builds a new one for every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from . import to_json as _json
from .enums import TransferFileStatus, TransferStatus, TransferType


@attrs.frozen
class TransferFile:
    """One file of a job, as it stood when this record was made.

    ``loaded`` is the number of bytes of this file transferred so far (its full ``size``
    once completed; 0 for a file ``skipped`` because its destination was up to date).
    ``error`` is set when ``status`` is ``error``, and on a ``queued`` file that waits to
    be retried, where it is the error of its last attempt.
    ``error_type`` is set with it: the kind of that error, for code to test instead of
    the message. It is the exception's class, a built-in one named bare
    (``"FileExistsError"``), any other by module and qualified name
    (``"botocore.exceptions.ClientError"``); the files a cancelled job ended have
    ``"transferqueue.TransferCancelled"``.
    ``attempts`` counts the executor calls started for this file (0 until it first
    starts; the record an executor is given carries its own attempt's number).
    ``retry_at`` is set while the file waits to be retried: when it will be tried again.
    """

    source_path: str
    destination_path: str
    size: int
    loaded: int = 0
    status: TransferFileStatus = TransferFileStatus.QUEUED
    error: str | None = None
    attempts: int = 0
    retry_at: datetime | None = None
    # Last, so that records built by position before it existed still mean the same.
    error_type: str | None = None

    def to_dict(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Return this file as a new JSON-ready dict, which the caller may change.

        ``status`` becomes its string value, ``retry_at`` an ISO 8601 string in UTC.
        ``camel_case=True`` gives camelCase JSON for a JavaScript front end (``sourcePath``, …,
        plus ``attempts``, ``retryAt`` and ``errorType``), leaving out fields that are
        ``None``.
        """
        return _json.file_to_dict(self, camel_case=camel_case)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferFile:
        """The file from :meth:`to_dict`'s snake_case dict, every field checked: for data
        from elsewhere, another process through Redis say. Raises ``ValueError``
        naming the field for anything :meth:`to_dict` would not have written."""
        from .from_json import file_from_dict

        return file_from_dict(data)


@attrs.frozen
class TransferProgress:
    """A job's totals.

    ``percentage`` is an int from 0 to 100 that is 100 exactly when every file completed
    or was skipped; it is measured in bytes, or in files when the files total 0 bytes.

    ``skipped_files`` counts the files queued as ``skipped`` (their destination was up to
    date): they are not among ``completed_files``, and their bytes are not in
    ``total_bytes`` nor ``loaded_bytes``, which count what the job moves. A job of
    skipped files only moves 0 bytes and is at 100.

    ``bytes_per_second`` is the job's recent transfer rate (see
    :data:`~transferqueue.DEFAULT_SPEED_WINDOW` for how it is averaged) and
    ``eta_seconds`` the time left at that rate; both are ``None`` while unknown and
    whenever the job is not ``active``.
    """

    total_files: int
    completed_files: int
    failed_files: int
    total_bytes: int
    loaded_bytes: int
    percentage: int
    bytes_per_second: float | None = None
    eta_seconds: float | None = None
    # Last, so that records built by position before it existed still mean the same.
    skipped_files: int = 0

    def to_dict(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Return this progress as a new JSON-ready dict, which the caller may change.

        ``camel_case=True`` gives camelCase JSON for a JavaScript front end (``totalFiles``, …,
        plus ``bytesPerSecond``, ``etaSeconds`` and ``skippedFiles``), leaving out fields
        that are ``None``.
        """
        return _json.progress_to_dict(self, camel_case=camel_case)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferProgress:
        """The progress from :meth:`to_dict`'s snake_case dict, every field checked
        (``ValueError`` naming the field otherwise)."""
        from .from_json import progress_from_dict

        return progress_from_dict(data)


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

    def to_dict(self, *, camel_case: bool = False) -> dict[str, Any]:
        """Return this job as a new JSON-ready dict, which the caller may change.

        Enums become their string values, datetimes ``isoformat()`` strings in UTC, and
        ``files`` and ``progress`` nested dicts. ``camel_case=True`` gives camelCase JSON
        for a JavaScript front end, as ``JSON.stringify`` would write it: its key names
        (``createdAt``, ``totalFiles``, ``sourcePath``, …), fields that are ``None`` left
        out, and datetimes like JavaScript's ``Date.toISOString()``
        (``2026-11-29T17:00:00.123Z``). The result is new on every call.
        """
        return _json.job_to_dict(self, camel_case=camel_case)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferJob:
        """The job from :meth:`to_dict`'s snake_case dict (its files and progress
        included), every field checked: for data from another process, which is
        untrusted. Raises ``ValueError`` naming the field (``files[3].size``) for anything
        :meth:`to_dict` would not have written: a key missing or unknown, a value of the
        wrong type or out of range, a naive datetime, more bytes loaded than a file has, a
        progress that counts other files than the job lists."""
        from .from_json import job_from_dict

        return job_from_dict(data)
