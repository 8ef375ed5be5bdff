"""transferqueue: many blocking file transfers under one shared concurrency limit.

Jobs of files are queued with an executor that transfers one file; the queue runs them in
worker threads, never more at once than its limit, tracks every file's and job's progress,
cancels jobs, and announces changes through the blinker signals ``job_created`` and
``job_updated``. The documentation in docs/ has a tutorial and explains what the queue
guarantees; README.rst is the manual.
"""

from typing import TYPE_CHECKING

from ._core import singleton as _singleton
from ._core.config import get_max_concurrent_transfers
from ._core.job import Executor
from ._core.queue import DEFAULT_SPEED_WINDOW, DEFAULT_UPDATE_INTERVAL, TransferQueue
from ._core.retry import DEFAULT_NEVER_RETRY_ON, DEFAULT_RETRY_ON, NO_RETRY, RetryPolicy
from ._core.singleton import update_transfer_queue_concurrency
from ._errors import JobNotFoundError, QueueShutdownError, TransferCancelled, TransferQueueError
from ._events.signals import job_created, job_updated
from ._events.watch import JobWatch
from ._executor import ProgressCallback
from ._records.enums import TransferFileStatus, TransferStatus, TransferType
from ._records.records import TransferFile, TransferJob, TransferProgress

if TYPE_CHECKING:
    from .redis import RedisBackend

transfer_queue: TransferQueue
"""The queue shared by the whole process, limited by ``MAX_CONCURRENT_TRANSFERS``.

Made on first use, not at import (PEP 562): the first lookup reads the variable and
raises its ``ValueError`` if the value is bad. It starts no thread until its first job.
"""

# Hidden from type checkers, which would type every missing name by __getattr__.
if not TYPE_CHECKING:  # pragma: no branch

    def __getattr__(name: str) -> object:
        """Look up ``transfer_queue``, making it on the first lookup, and
        ``RedisBackend``, importing redis-py on the first lookup (PEP 562)."""
        if name == "transfer_queue":
            return _singleton.shared_queue()
        if name == "RedisBackend":
            from . import redis

            return redis.RedisBackend
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        """The module's names, ``transfer_queue`` included before it is made."""
        return sorted({*globals(), "transfer_queue", "RedisBackend"})


__all__ = [
    "DEFAULT_NEVER_RETRY_ON",
    "DEFAULT_RETRY_ON",
    "DEFAULT_SPEED_WINDOW",
    "DEFAULT_UPDATE_INTERVAL",
    "NO_RETRY",
    "Executor",
    "JobNotFoundError",
    "JobWatch",
    "ProgressCallback",
    "QueueShutdownError",
    "RedisBackend",
    "RetryPolicy",
    "TransferCancelled",
    "TransferFile",
    "TransferFileStatus",
    "TransferJob",
    "TransferProgress",
    "TransferQueue",
    "TransferQueueError",
    "TransferStatus",
    "TransferType",
    "get_max_concurrent_transfers",
    "job_created",
    "job_updated",
    "transfer_queue",
    "update_transfer_queue_concurrency",
]

__version__ = "0.1.0"
