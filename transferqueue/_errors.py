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
