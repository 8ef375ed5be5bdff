"""The library's exceptions.

Each names the package as its module: ``transferqueue.TransferCancelled`` is where users
find it, and the name a failed file's ``error_type`` records, whatever module defines it.
"""

from __future__ import annotations


class TransferQueueError(Exception):
    """Base class of every exception this library defines."""

    __module__ = "transferqueue"


class TransferCancelled(TransferQueueError):
    """Raised inside an executor by ``on_progress`` once the executor's job is cancelled.

    Let it propagate (or raise it yourself after cleaning up): the queue expects it.
    """

    __module__ = "transferqueue"


class TransferPaused(TransferQueueError):
    """Raised inside an executor by ``on_progress`` once the executor's job is paused.

    Let it propagate, keeping what the file has so far where the executor can resume
    from it (the built-in executors do): the queue puts the file back to ``queued`` and
    calls the executor again for it once the job is resumed. An executor that knows
    nothing of pausing loses nothing by it: whatever it raises after ``on_progress``
    raised this is read as the pause, and a file it completes regardless is completed.
    """

    __module__ = "transferqueue"


class JobStateError(TransferQueueError, ValueError):
    """The job's status does not allow what was asked: pausing a job that is paused or
    finished, resuming one that is not paused.

    ``status`` is the job's status (a :class:`TransferStatus` value, such as
    ``"paused"``), ``action`` what was asked (``"pause"`` or ``"resume"``) and ``detail``,
    when not None, why that status does not allow it, which the message adds.
    """

    __module__ = "transferqueue"

    def __init__(self, job_id: str, status: str, action: str, detail: str | None = None) -> None:
        super().__init__(job_id, status, action, detail)
        self.job_id = job_id
        self.status = status  # the job's status when it was asked
        self.action = action  # "pause" or "resume"
        self.detail = detail

    def __str__(self) -> str:
        message = f"cannot {self.action} transfer job {self.job_id}: it is {self.status}"
        return message if self.detail is None else f"{message} {self.detail}"


class JobNotFoundError(TransferQueueError, KeyError):
    """No job with this id is registered (never queued, or removed by cleanup)."""

    __module__ = "transferqueue"

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def __str__(self) -> str:
        # KeyError's own __str__ would show only the repr of the id.
        return f"no transfer job with id {self.job_id!r}"


class QueueShutdownError(TransferQueueError, RuntimeError):
    """The queue was shut down and accepts no new jobs."""

    __module__ = "transferqueue"
