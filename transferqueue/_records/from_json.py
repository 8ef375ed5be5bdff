"""The records back from their snake_case JSON dicts: ``TransferJob.from_dict()`` and its
siblings, for data that comes from elsewhere (another process, through Redis).

Such data is untrusted: every field is checked, by type (``bool`` is no number here),
range and, between fields, for what the queue never writes (more bytes loaded than a
file has, a job whose progress counts other files than it lists). Keys missing or
unknown are refused, and so are naive datetimes. Any problem raises ``ValueError`` that
names the field (``files[3].size``) and what it held, shortened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar

from .enums import TransferFileStatus, TransferStatus, TransferType
from .records import TransferFile, TransferJob, TransferProgress

_FILE_KEYS = frozenset(
    {
        "source_path",
        "destination_path",
        "size",
        "loaded",
        "status",
        "error",
        "attempts",
        "retry_at",
        "error_type",
    }
)
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
_HEAD_KEYS = frozenset(
    {"id", "type", "status", "progress", "created_at", "started_at", "completed_at", "error"}
)
_JOB_KEYS = _HEAD_KEYS | {"files"}

# The longest ISO 8601 text isoformat() writes ("2026-01-01T00:00:00.000000+00:00" is 32).
_MAX_ISO_LENGTH = 40

EnumT = TypeVar("EnumT", bound=Enum)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(
    data: object, keys: frozenset[str], where: str, optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a JSON object, not {type(data).__name__}")
    missing = sorted(keys - optional - data.keys())
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(str(key) for key in data.keys() - keys)
    if unknown:
        names = ", ".join(name if len(name) <= 40 else name[:37] + "..." for name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(f"{where} has unknown keys: {names}{more}")
    return data


def _count(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{where} must be an int >= 0, not {_shown(value)}")
    return value


def _rate(value: object, where: str) -> float | None:
    if value is None:
        return None
    if (type(value) is int or type(value) is float) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(f"{where} must be a finite number >= 0 or null, not {_shown(value)}")


def _text(value: object, where: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if type(value) is not str or not value:
        kind = "a non-empty string or null" if optional else "a non-empty string"
        raise ValueError(f"{where} must be {kind}, not {_shown(value)}")
    return value


def _member(enum: type[EnumT], value: object, where: str) -> EnumT:
    if type(value) is str:
        try:
            return enum(value)
        except ValueError:
            pass
    known = ", ".join(str(member.value) for member in enum)
    raise ValueError(f"{where} must be one of {known}, not {_shown(value)}")


def _moment(value: object, where: str, *, optional: bool = True) -> datetime | None:
    if value is None and optional:
        return None
    if type(value) is str and len(value) <= _MAX_ISO_LENGTH:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.utcoffset() is not None:
                return moment.astimezone(timezone.utc)
    raise ValueError(
        f"{where} must be an ISO 8601 date and time with its UTC offset"
        f"{' or null' if optional else ''}, not {_shown(value)}"
    )


def file_from_dict(data: object, where: str = "file") -> TransferFile:
    """A :class:`TransferFile` from ``TransferFile.to_dict()``'s shape, checked."""
    fields = _fields(data, _FILE_KEYS, where)
    size = _count(fields["size"], f"{where}.size")
    loaded = _count(fields["loaded"], f"{where}.loaded")
    if loaded > size:
        raise ValueError(f"{where}.loaded ({loaded}) exceeds its size ({size})")
    status = _member(TransferFileStatus, fields["status"], f"{where}.status")
    if status is TransferFileStatus.SKIPPED and loaded:
        raise ValueError(f"{where} is skipped but has {loaded} bytes loaded")
    return TransferFile(
        source_path=_text(fields["source_path"], f"{where}.source_path"),
        destination_path=_text(fields["destination_path"], f"{where}.destination_path"),
        size=size,
        loaded=loaded,
        status=status,
        error=_text(fields["error"], f"{where}.error", optional=True),
        attempts=_count(fields["attempts"], f"{where}.attempts"),
        retry_at=_moment(fields["retry_at"], f"{where}.retry_at"),
        error_type=_text(fields["error_type"], f"{where}.error_type", optional=True),
    )


def progress_from_dict(data: object, where: str = "progress") -> TransferProgress:
    """A :class:`TransferProgress` from ``TransferProgress.to_dict()``'s shape, checked."""
    fields = _fields(data, _PROGRESS_KEYS, where, _PROGRESS_OPTIONAL)
    total_files = _count(fields["total_files"], f"{where}.total_files")
    completed = _count(fields["completed_files"], f"{where}.completed_files")
    failed = _count(fields["failed_files"], f"{where}.failed_files")
    # Absent from the records of versions that could not skip files: none skipped.
    skipped = _count(fields.get("skipped_files", 0), f"{where}.skipped_files")
    if completed + failed + skipped > total_files:
        raise ValueError(
            f"{where} counts {completed} completed, {failed} failed and {skipped} skipped "
            f"of {total_files} files"
        )
    total_bytes = _count(fields["total_bytes"], f"{where}.total_bytes")
    loaded_bytes = _count(fields["loaded_bytes"], f"{where}.loaded_bytes")
    if loaded_bytes > total_bytes:
        raise ValueError(f"{where}.loaded_bytes ({loaded_bytes}) exceeds total_bytes")
    percentage = _count(fields["percentage"], f"{where}.percentage")
    if percentage > 100:
        raise ValueError(f"{where}.percentage must be at most 100, not {percentage}")
    return TransferProgress(
        total_files=total_files,
        completed_files=completed,
        failed_files=failed,
        total_bytes=total_bytes,
        loaded_bytes=loaded_bytes,
        percentage=percentage,
        bytes_per_second=_rate(fields["bytes_per_second"], f"{where}.bytes_per_second"),
        eta_seconds=_rate(fields["eta_seconds"], f"{where}.eta_seconds"),
        skipped_files=skipped,
    )


def job_from_head(head: object, files: Sequence[TransferFile], where: str = "job") -> TransferJob:
    """A :class:`TransferJob` from its fields but ``files`` (``to_dict()``'s shape without
    that key), checked, with ``files`` as its files (as many as its progress counts)."""
    fields = _fields(head, _HEAD_KEYS, where)
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
    created_at = _moment(fields["created_at"], f"{where}.created_at", optional=False)
    assert created_at is not None
    return TransferJob(
        id=_text(fields["id"], f"{where}.id"),
        type=_member(TransferType, fields["type"], f"{where}.type"),
        status=_member(TransferStatus, fields["status"], f"{where}.status"),
        files=tuple(files),
        progress=progress,
        created_at=created_at,
        started_at=_moment(fields["started_at"], f"{where}.started_at"),
        completed_at=_moment(fields["completed_at"], f"{where}.completed_at"),
        error=_text(fields["error"], f"{where}.error", optional=True),
    )


def job_from_dict(data: object, where: str = "job") -> TransferJob:
    """A :class:`TransferJob` from ``TransferJob.to_dict()``'s shape, checked."""
    fields = _fields(data, _JOB_KEYS, where)
    listed = fields["files"]
    if not isinstance(listed, list):
        raise ValueError(f"{where}.files must be a JSON array, not {type(listed).__name__}")
    files = [file_from_dict(item, f"{where}.files[{n}]") for n, item in enumerate(listed)]
    head = {key: value for key, value in fields.items() if key != "files"}
    return job_from_head(head, files, where)
