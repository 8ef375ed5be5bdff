"""The str-valued enumerations: job status, file status and transfer type."""

from __future__ import annotations

import enum


class _StrEnum(str, enum.Enum):
    """An enum whose members are their string values, in ``str()`` and ``format()`` too.

    Python 3.10 has no ``enum.StrEnum``; this gives the same behaviour on 3.10 to 3.13.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class TransferStatus(_StrEnum):
    """Where a job stands: ``queued`` → ``active`` → one of the three terminal statuses.

    ``paused`` (by :meth:`~transferqueue.TransferQueue.pause_job`) is not terminal: the
    job starts no file until :meth:`~transferqueue.TransferQueue.resume_job` puts it back
    to ``active`` (``queued`` if no file of it had started).
    """

    QUEUED = "queued"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for ``completed``, ``failed`` and ``cancelled``: nothing changes afterwards."""
        return self in _TERMINAL_STATUSES


_TERMINAL_STATUSES = frozenset(
    {TransferStatus.COMPLETED, TransferStatus.FAILED, TransferStatus.CANCELLED}
)


class TransferFileStatus(_StrEnum):
    """Where one file of a job stands: ``queued`` → ``transferring`` → ``completed`` or
    ``error`` (a file waiting to be retried is ``queued`` again).

    ``skipped`` is a file that was never to be transferred: its destination was already
    up to date when the job was queued (the ``"skip": True`` of the listing helpers'
    comparison, see :func:`~transferqueue.executors.skip_up_to_date`). It stays
    ``skipped``, counts as done, and moves no byte.
    """

    QUEUED = "queued"
    TRANSFERRING = "transferring"
    COMPLETED = "completed"
    ERROR = "error"
    SKIPPED = "skipped"


class TransferType(_StrEnum):
    """The kind of transfer a job performs; informational, chosen by the caller."""

    S3_UPLOAD = "s3-upload"
    S3_DOWNLOAD = "s3-download"
    LOCAL_UPLOAD = "local-upload"
    CROSS_STORAGE = "cross-storage"
    HUGGINGFACE = "huggingface"
