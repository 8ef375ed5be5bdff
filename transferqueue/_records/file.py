"""One file of a job as handed out (:class:`TransferFile`), and its JSON both ways."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .enums import TransferFileStatus
from .fields import count, js_iso, member, moment, object_fields, python_iso, text

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
    ``attempts`` counts the times this file was started (0 until it first starts; the
    record an executor is given carries its own attempt's number), those that a pause of
    its job ended included. A pause is no failure: the retry policy (its
    ``max_attempts`` and its backoff) counts only the attempts that no pause ended, so
    ``attempts`` can exceed ``max_attempts``.
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
        return file_camel(self) if camel_case else file_snake(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferFile:
        """The file from :meth:`to_dict`'s snake_case dict, every field checked: for data
        from elsewhere, another process through Redis say. Raises ``ValueError``
        naming the field for anything :meth:`to_dict` would not have written."""
        return file_from_dict(data)


def file_snake(file: TransferFile) -> dict[str, Any]:
    return {
        "source_path": file.source_path,
        "destination_path": file.destination_path,
        "size": file.size,
        "loaded": file.loaded,
        "status": file.status.value,
        "error": file.error,
        "attempts": file.attempts,
        "retry_at": python_iso(file.retry_at, "TransferFile.retry_at"),
        "error_type": file.error_type,
    }


def file_camel(file: TransferFile) -> dict[str, Any]:
    result: dict[str, Any] = {
        "sourcePath": file.source_path,
        "destinationPath": file.destination_path,
        "size": file.size,
        "loaded": file.loaded,
        "status": file.status.value,
    }
    if file.error is not None:
        result["error"] = file.error
    result["attempts"] = file.attempts
    if file.retry_at is not None:
        result["retryAt"] = js_iso(file.retry_at, "TransferFile.retry_at")
    if file.error_type is not None:
        result["errorType"] = file.error_type
    return result


def file_from_dict(data: object, where: str = "file") -> TransferFile:
    """A :class:`TransferFile` from ``TransferFile.to_dict()``'s shape, checked."""
    fields = object_fields(data, _FILE_KEYS, where)
    size = count(fields["size"], f"{where}.size")
    loaded = count(fields["loaded"], f"{where}.loaded")
    if loaded > size:
        raise ValueError(f"{where}.loaded ({loaded}) exceeds its size ({size})")
    status = member(TransferFileStatus, fields["status"], f"{where}.status")
    if status is TransferFileStatus.SKIPPED and loaded:
        raise ValueError(f"{where} is skipped but has {loaded} bytes loaded")
    return TransferFile(
        source_path=text(fields["source_path"], f"{where}.source_path"),
        destination_path=text(fields["destination_path"], f"{where}.destination_path"),
        size=size,
        loaded=loaded,
        status=status,
        error=text(fields["error"], f"{where}.error", optional=True),
        attempts=count(fields["attempts"], f"{where}.attempts"),
        retry_at=moment(fields["retry_at"], f"{where}.retry_at"),
        error_type=text(fields["error_type"], f"{where}.error_type", optional=True),
    )
