"""One file's turn in a worker thread: what the worker needs, and the executor's call."""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future

from transferqueue._errors import TransferCancelled, TransferPaused
from transferqueue._executor import Executor, ProgressCallback, set_running_callback
from transferqueue._log import log_in_queue_thread
from transferqueue._records import TransferFile

from .bandwidth import TokenBucket
from .cancel_hooks import CancelHooks
from .failure import Failure, describe_error
from .job import Job, transferring_record
from .retry import RetryPolicy


class FileTask:
    """A file handed to a worker, with everything needed to run it without the lock."""

    __slots__ = (
        "abandoned",
        "attempt",
        "cancel_event",
        "cancel_hooks",
        "executor",
        "file_index",
        "job",
        "paused",
        "record",
        "retry_policy",
        "try_number",
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
        cancel_hooks: CancelHooks,
        *,
        try_number: int,
    ) -> None:
        self.job = job
        self.file_index = file_index
        self.record = record  # a record of the file (paths, size), to build the executor's from
        # 1 for the file's first attempt; the token that tells this attempt's progress
        # reports from a later one's, so every attempt has its own, a paused one included.
        self.attempt = attempt
        # This attempt's number as the retry policy counts them: attempts that a pause
        # ended are no failures, and are left out.
        self.try_number = try_number
        self.executor = executor
        self.cancel_event = cancel_event
        self.retry_policy = retry_policy
        # The job's, taken while it runs: the job hands them over as it ends, and a hook
        # the executor adds after that runs at once.
        self.cancel_hooks = cancel_hooks
        self.abandoned = False  # set under the state lock when no worker could take it
        # Set by run(): the attempt ended because its job was paused (an error it raised
        # is then no failure of the file).
        self.paused = False

    def run(
        self,
        report: Callable[[Job, int, int, int], int],
        stop_event: Callable[[Job], threading.Event | None],
        bandwidth: TokenBucket | None = None,
    ) -> BaseException | None:
        """Run the executor (without the lock); return what it raised, None on success.
        ``report`` records ``on_progress`` calls; ``stop_event`` gives the job's stop
        event (see :meth:`ProgressCallback.wait_stopped`); ``bandwidth`` is the queue's
        cap, which ``on_progress.throttle`` draws from."""
        if self.cancel_event.is_set():
            # Cancelled between being picked and starting: the job is terminal already,
            # so this result is ignored; the executor never runs.
            return TransferCancelled(f"transfer job {self.job.id} was cancelled")
        if self.job.is_paused:
            # Paused between being picked and starting: the file goes back untouched.
            self.paused = True
            return TransferPaused(f"transfer job {self.job.id} was paused")
        on_progress = ProgressCallback(
            functools.partial(report, self.job),
            self.job,
            self.file_index,
            self.attempt,
            self.cancel_event,
            functools.partial(stop_event, self.job),
            bandwidth,
            self.cancel_hooks.add,
        )
        set_running_callback(on_progress)
        try:
            self.executor(transferring_record(self.record, self.attempt), on_progress)
        except BaseException as exc:  # noqa: BLE001 - a failing executor must not harm the worker
            # Told to pause, the executor may raise something of its own on the way out
            # (it knows nothing of pausing, or wrapped the exception): a pause all the same.
            # A TransferPaused of its own making counts only while the job is paused.
            self.paused = on_progress.told_to_pause or _is_pause(exc, self.job)
            return exc
        finally:
            set_running_callback(None)
        return None

    def judge_failure(self, error: BaseException) -> tuple[Failure, float | None]:
        """Read a failed attempt's ``error``: what the file records of it, and the
        seconds to wait before its retry (None: the file fails). A final failure is
        logged here, before the job's end can be reported.

        Never raises: the error and the logging configuration are the application's,
        and whatever they raise must not keep the worker from giving its slot back.
        """
        failure = describe_error(error)
        try:
            retry_delay = self.retry_delay(error)
        except BaseException:  # noqa: BLE001 - an isinstance() that raises (a hostile
            # metaclass or __class__): a failure the policy cannot classify is not retried.
            retry_delay = None
        if retry_delay is None:
            self.log_failure(error, failure.message, None)
        return failure, retry_delay

    def retry_delay(self, error: BaseException) -> float | None:
        """Seconds to wait before trying again after ``error``, or None for no retry."""
        policy = self.retry_policy
        if policy is None or not policy.should_retry(error, self.try_number):
            return None
        return policy.delay(self.try_number, random.random())  # jitter, not a secret

    def log_failure(self, error: BaseException, text: str, retry_delay: float | None) -> None:
        """Log a failed attempt, with its traceback; a cancellation is no failure.
        Never raises (see :func:`log_in_queue_thread`)."""
        try:
            cancelled = isinstance(error, TransferCancelled)
        except BaseException:  # noqa: BLE001 - a __class__ that raises: not ours, so no cancel
            cancelled = False
        if cancelled:
            return
        file = self.record.source_path
        if retry_delay is None:
            log_in_queue_thread(
                logging.WARNING,
                "file %s of job %s failed: %s",
                file,
                self.job.id,
                text,
                exc_info=error,
            )
        else:
            log_in_queue_thread(
                logging.INFO,
                "file %s of job %s failed on attempt %d, retrying in %.3g s: %s",
                file,
                self.job.id,
                self.try_number,
                retry_delay,
                text,
                exc_info=error,
            )


def _is_pause(error: BaseException, job: Job) -> bool:
    """Whether ``error`` is a TransferPaused raised while ``job`` is paused."""
    try:
        return job.is_paused and isinstance(error, TransferPaused)
    except BaseException:  # noqa: BLE001 - a __class__ that raises: not ours, so no pause
        return False


class Reservation:
    """With a backend: a file taken out of its job's line for a worker, which starts it
    once it holds a cluster-wide slot (see ``TransferQueue._work_clustered``)."""

    __slots__ = ("abandoned", "cancel_event", "file_index", "job")

    def __init__(self, job: Job, file_index: int, cancel_event: threading.Event) -> None:
        self.job = job
        self.file_index = file_index
        self.cancel_event = cancel_event  # the job's: kept, since a terminal job drops it
        self.abandoned = False  # set under the state lock when no worker could take it


def log_worker_crash(future: Future[None]) -> None:
    """Log a worker that died of an error of this library's own, which nothing else reads."""
    exc = future.exception()
    if exc is not None:
        log_in_queue_thread(logging.CRITICAL, "a transferqueue worker thread crashed", exc_info=exc)
