"""A job's totals as handed out (:class:`TransferProgress`), and their JSON both ways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .fields import count, object_fields, rate

_PROGRESS_KEYS = frozenset(
    {
        "total_files",
        "completed_files",
        "failed_files",
        "total_bytes",
        "loaded_bytes",
        "percentage",
        "bytes_per_second",
        "eta_seconds",
        "skipped_files",
    }
)
# Keys a record may lack: those of fields added after the first release's records, which
# Redis may still hold (a cluster upgraded one process at a time), read as their default.
_PROGRESS_OPTIONAL = frozenset({"skipped_files"})


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
        return progress_camel(self) if camel_case else progress_snake(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferProgress:
        """The progress from :meth:`to_dict`'s snake_case dict, every field checked
        (``ValueError`` naming the field otherwise)."""
        return progress_from_dict(data)


def progress_snake(progress: TransferProgress) -> dict[str, Any]:
    return {
        "total_files": progress.total_files,
        "completed_files": progress.completed_files,
        "failed_files": progress.failed_files,
        "total_bytes": progress.total_bytes,
        "loaded_bytes": progress.loaded_bytes,
        "percentage": progress.percentage,
        "bytes_per_second": progress.bytes_per_second,
        "eta_seconds": progress.eta_seconds,
        "skipped_files": progress.skipped_files,
    }


def progress_camel(progress: TransferProgress) -> dict[str, Any]:
    result: dict[str, Any] = {
        "totalFiles": progress.total_files,
        "completedFiles": progress.completed_files,
        "failedFiles": progress.failed_files,
        "totalBytes": progress.total_bytes,
        "loadedBytes": progress.loaded_bytes,
        "percentage": progress.percentage,
    }
    if progress.bytes_per_second is not None:
        result["bytesPerSecond"] = progress.bytes_per_second
    if progress.eta_seconds is not None:
        result["etaSeconds"] = progress.eta_seconds
    result["skippedFiles"] = progress.skipped_files
    return result


def progress_from_dict(data: object, where: str = "progress") -> TransferProgress:
    """A :class:`TransferProgress` from ``TransferProgress.to_dict()``'s shape, checked."""
    fields = object_fields(data, _PROGRESS_KEYS, where, _PROGRESS_OPTIONAL)
    total_files = count(fields["total_files"], f"{where}.total_files")
    completed = count(fields["completed_files"], f"{where}.completed_files")
    failed = count(fields["failed_files"], f"{where}.failed_files")
    # Absent from the records of versions that could not skip files: none skipped.
    skipped = count(fields.get("skipped_files", 0), f"{where}.skipped_files")
    if completed + failed + skipped > total_files:
        raise ValueError(
            f"{where} counts {completed} completed, {failed} failed and {skipped} skipped "
            f"of {total_files} files"
        )
    total_bytes = count(fields["total_bytes"], f"{where}.total_bytes")
    loaded_bytes = count(fields["loaded_bytes"], f"{where}.loaded_bytes")
    if loaded_bytes > total_bytes:
        raise ValueError(f"{where}.loaded_bytes ({loaded_bytes}) exceeds total_bytes")
    percentage = count(fields["percentage"], f"{where}.percentage")
    if percentage > 100:
        raise ValueError(f"{where}.percentage must be at most 100, not {percentage}")
    return TransferProgress(
        total_files=total_files,
        completed_files=completed,
        failed_files=failed,
        total_bytes=total_bytes,
        loaded_bytes=loaded_bytes,
        percentage=percentage,
        bytes_per_second=rate(fields["bytes_per_second"], f"{where}.bytes_per_second"),
        eta_seconds=rate(fields["eta_seconds"], f"{where}.eta_seconds"),
        skipped_files=skipped,
    )
