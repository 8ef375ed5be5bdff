"""One file's turn in a worker thread: what the worker needs, and the executor's call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ._job import Executor, Job, transferring_record
from ._progress import ProgressCallback
from ._records import TransferFile

logger = logging.getLogger("transferqueue")


class FileTask:
    """A file handed to a worker, with everything needed to run it without the lock."""

    __slots__ = ("abandoned", "cancel_event", "executor", "file_index", "job", "record")

    def __init__(
        self,
        job: Job,
        file_index: int,
        record: TransferFile,
        executor: Executor,
        cancel_event: threading.Event,
    ) -> None:
        self.job = job
        self.file_index = file_index
        self.record = record  # a record of the file (paths, size), to build the executor's from
        self.executor = executor
        self.cancel_event = cancel_event
        self.abandoned = False  # set under the state lock when no worker could take it

    def run(self, report: Callable[[Job, int, int], bool]) -> str | None:
        """Run the executor (without the lock); return None on success, else the file's
        error text (S16). ``report`` records ``on_progress`` calls."""
        if self.cancel_event.is_set():
            # Cancelled between being picked and starting: the job is terminal already,
            # so this result is ignored; the executor never runs.
            return "cancelled before it started"
        on_progress = ProgressCallback(report, self.job, self.file_index, self.cancel_event)
        try:
            self.executor(transferring_record(self.record), on_progress)
        except BaseException as exc:  # noqa: BLE001 - a failing executor must not harm the worker
            return _error_text(exc)
        return None


def _error_text(exc: BaseException) -> str:
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
