"""One file's turn in a worker thread: what the worker needs, and the executor's call."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ._errors import TransferCancelled
from ._job import Executor, Job, transferring_record
from ._log import logger
from ._progress import ProgressCallback
from ._records import TransferFile
from ._retry import RetryPolicy


class FileTask:
    """A file handed to a worker, with everything needed to run it without the lock."""

    __slots__ = (
        "abandoned",
        "attempt",
        "cancel_event",
        "executor",
        "file_index",
        "job",
        "record",
        "retry_policy",
    )

    def __init__(
        self,
        job: Job,
        file_index: int,
        record: TransferFile,
        attempt: int,
        executor: Executor,
        cancel_event: threading.Event,
        retry_policy: RetryPolicy | None,
    ) -> None:
        self.job = job
        self.file_index = file_index
        self.record = record  # a record of the file (paths, size), to build the executor's from
        self.attempt = attempt  # 1 for the file's first attempt
        self.executor = executor
        self.cancel_event = cancel_event
        self.retry_policy = retry_policy
        self.abandoned = False  # set under the state lock when no worker could take it

    def run(self, report: Callable[[Job, int, int], bool]) -> BaseException | None:
        """Run the executor (without the lock); return what it raised, None on success.
        ``report`` records ``on_progress`` calls."""
        if self.cancel_event.is_set():
            # Cancelled between being picked and starting: the job is terminal already,
            # so this result is ignored; the executor never runs.
            return TransferCancelled(f"transfer job {self.job.id} was cancelled")
        on_progress = ProgressCallback(report, self.job, self.file_index, self.cancel_event)
        try:
            self.executor(transferring_record(self.record, self.attempt), on_progress)
        except BaseException as exc:  # noqa: BLE001 - a failing executor must not harm the worker
            return exc
        return None

    def retry_delay(self, error: BaseException) -> float | None:
        """Seconds to wait before trying again after ``error``, or None for no retry."""
        policy = self.retry_policy
        if policy is None or not policy.should_retry(error, self.attempt):
            return None
        return policy.delay(self.attempt, random.random())  # jitter, not a secret

    def log_failure(self, error: BaseException, text: str, retry_delay: float | None) -> None:
        """Log a failed attempt, with its traceback; a cancellation is no failure."""
        if isinstance(error, TransferCancelled):
            return
        file = self.record.source_path
        if retry_delay is None:
            logger.warning("file %s of job %s failed: %s", file, self.job.id, text, exc_info=error)
        else:
            logger.info(
                "file %s of job %s failed on attempt %d, retrying in %.3g s: %s",
                file,
                self.job.id,
                self.attempt,
                retry_delay,
                text,
                exc_info=error,
            )


def error_text(exc: BaseException) -> str:
    """A failed file's error: ``str(exc)``, or the class name where that is empty (S16)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not cost the worker its slot
        text = ""
    return text or type(exc).__name__


def log_worker_crash(future: Future[None]) -> None:
    """Log a worker that died of an error of this library's own, which nothing else reads."""
    exc = future.exception()
    if exc is not None:
        logger.critical("a transferqueue worker thread crashed", exc_info=exc)
