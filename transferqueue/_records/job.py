"""A job as handed out (:class:`TransferJob`), and its JSON both ways: whole, without its
files (what changes with every event, stored apart from them in Redis), and as the changes
an update brings (what the web streams send)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from .enums import TransferFileStatus, TransferStatus, TransferType
from .fields import js_iso, member, moment, object_fields, python_iso, text
from .file import TransferFile, file_camel, file_from_dict, file_snake
from .progress import TransferProgress, progress_camel, progress_from_dict, progress_snake

_HEAD_KEYS = frozenset(
    {"id", "type", "status", "progress", "created_at", "started_at", "completed_at", "error"}
)
_JOB_KEYS = _HEAD_KEYS | {"files"}


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
        return _job_camel(self) if camel_case else _job_snake(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferJob:
        """The job from :meth:`to_dict`'s snake_case dict (its files and progress
        included), every field checked: for data from another process, which is
        untrusted. Raises ``ValueError`` naming the field (``files[3].size``) for anything
        :meth:`to_dict` would not have written: a key missing or unknown, a value of the
        wrong type or out of range, a naive datetime, more bytes loaded than a file has, a
        progress that counts other files than the job lists."""
        return job_from_dict(data)


def job_changes_to_dict(
    job: TransferJob, changed_files: Sequence[int], *, camel_case: bool = False
) -> dict[str, Any]:
    """The job without its files, and the files ``changed_files`` (indexes in
    ``job.files``): ``{"job": TOTALS, "changed_files": [{"index": I, "file": FILE}, ...]}``
    (``changedFiles`` in camelCase), in the order of ``changed_files``.

    What the web streams send after the job whole (``{"job": JOB}``), in the shape of the
    CLI's ``--json`` lines, so that an update of a job of many files costs what changed,
    not what the job holds. A reader keeps the files it has and puts each ``FILE`` at
    ``files[I]``.
    """
    files = job.files
    to_dict = file_camel if camel_case else file_snake
    return {
        "job": _job_camel(job, with_files=False) if camel_case else job_head_to_dict(job),
        "changedFiles" if camel_case else "changed_files": [
            {"index": index, "file": to_dict(files[index])} for index in changed_files
        ],
    }


def _job_snake(job: TransferJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "type": job.type.value,
        "status": job.status.value,
        "files": [file_snake(file) for file in job.files],
        "progress": progress_snake(job.progress),
        "created_at": python_iso(job.created_at, "TransferJob.created_at"),
        "started_at": python_iso(job.started_at, "TransferJob.started_at"),
        "completed_at": python_iso(job.completed_at, "TransferJob.completed_at"),
        "error": job.error,
    }


def job_head_to_dict(job: TransferJob) -> dict[str, Any]:
    """The snake_case dict of ``job`` without its ``files`` key: what changes with every
    event of a job of many files, stored apart from them (see transferqueue.redis)."""
    return {
        "id": job.id,
        "type": job.type.value,
        "status": job.status.value,
        "progress": progress_snake(job.progress),
        "created_at": python_iso(job.created_at, "TransferJob.created_at"),
        "started_at": python_iso(job.started_at, "TransferJob.started_at"),
        "completed_at": python_iso(job.completed_at, "TransferJob.completed_at"),
        "error": job.error,
    }


def _job_camel(job: TransferJob, *, with_files: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {"id": job.id, "type": job.type.value, "status": job.status.value}
    if with_files:
        result["files"] = [file_camel(file) for file in job.files]
    result["progress"] = progress_camel(job.progress)
    result["createdAt"] = js_iso(job.created_at, "TransferJob.created_at")
    if job.started_at is not None:
        result["startedAt"] = js_iso(job.started_at, "TransferJob.started_at")
    if job.completed_at is not None:
        result["completedAt"] = js_iso(job.completed_at, "TransferJob.completed_at")
    if job.error is not None:
        result["error"] = job.error
    return result


def job_from_head(head: object, files: Sequence[TransferFile], where: str = "job") -> TransferJob:
    """A :class:`TransferJob` from its fields but ``files`` (``to_dict()``'s shape without
    that key), checked, with ``files`` as its files (as many as its progress counts)."""
    fields = object_fields(head, _HEAD_KEYS, where)
    progress = progress_from_dict(fields["progress"], f"{where}.progress")
    if len(files) != progress.total_files:
        raise ValueError(
            f"{where} has {len(files)} files but its progress counts {progress.total_files}"
        )
    skipped = sum(1 for file in files if file.status is TransferFileStatus.SKIPPED)
    if skipped != progress.skipped_files:
        raise ValueError(
            f"{where} has {skipped} skipped files but its progress counts {progress.skipped_files}"
        )
    created_at = moment(fields["created_at"], f"{where}.created_at", optional=False)
    assert created_at is not None
    return TransferJob(
        id=text(fields["id"], f"{where}.id"),
        type=member(TransferType, fields["type"], f"{where}.type"),
        status=member(TransferStatus, fields["status"], f"{where}.status"),
        files=tuple(files),
        progress=progress,
        created_at=created_at,
        started_at=moment(fields["started_at"], f"{where}.started_at"),
        completed_at=moment(fields["completed_at"], f"{where}.completed_at"),
        error=text(fields["error"], f"{where}.error", optional=True),
    )


def job_from_dict(data: object, where: str = "job") -> TransferJob:
    """A :class:`TransferJob` from ``TransferJob.to_dict()``'s shape, checked."""
    fields = object_fields(data, _JOB_KEYS, where)
    listed = fields["files"]
    if not isinstance(listed, list):
        raise ValueError(f"{where}.files must be a JSON array, not {type(listed).__name__}")
    files = [file_from_dict(item, f"{where}.files[{n}]") for n, item in enumerate(listed)]
    head = {key: value for key, value in fields.items() if key != "files"}
    return job_from_head(head, files, where)
