"""The transfer queue: a shared concurrency limit over many jobs of blocking transfers."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import Any

from ._clock import utc_now
from ._delivery import EventDelivery
from ._eager_lock import EagerLock
from ._enums import TransferStatus, TransferType
from ._errors import JobNotFoundError, QueueShutdownError
from ._job import Executor, Job
from ._records import TransferJob
from ._scheduler import RoundRobin
from ._task import FileTask, log_worker_crash
from ._validation import check_files, check_limit, check_seconds, check_transfer_type

DEFAULT_UPDATE_INTERVAL = 0.1
"""Seconds between two coalesced ``job-updated`` events of one job (status changes
are never delayed)."""

_CANCELLED_BY_USER = "Cancelled by user"
_CANCELLED_BY_SHUTDOWN = "Cancelled by queue shutdown"


class TransferQueue:
    """Runs the files of many jobs under one concurrency limit, tracks and reports them.

    ``concurrency_limit`` (an int ≥ 1) bounds how many executors run at once across all
    jobs; ``update_interval`` (seconds or a ``timedelta``, default 0.1) bounds how often
    file-level progress of one job is announced as a ``job-updated`` event (0 announces
    every change). No thread starts until the first job is queued.
    """

    def __init__(
        self,
        concurrency_limit: int,
        *,
        update_interval: float | timedelta = DEFAULT_UPDATE_INTERVAL,
    ) -> None:
        self._limit = check_limit(concurrency_limit)
        interval = check_seconds(update_interval, "update_interval")
        # The state lock. It guards every Job, the registries, the scheduler, the slot
        # count, the pools and the event outbox. Rule: hold it only for bookkeeping; never
        # while an executor or a signal receiver runs (they may call back into the queue).
        self._lock = threading.Lock()
        self._lock_eagerly = EagerLock(self._lock)  # the same lock, for the hot paths
        self._job_finished = threading.Condition(self._lock)  # notified as jobs finish
        self._jobs: dict[str, Job] = {}  # every registered job, oldest first
        self._unfinished: dict[str, Job] = {}  # queued or active jobs, oldest first
        self._scheduler = RoundRobin()
        self._running = 0  # files whose executor was handed to a worker and not returned
        self._closed = False
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._retired_pools: list[ThreadPoolExecutor] = []
        self._delivery = EventDelivery(self, self._lock, self._job_finished, interval)
        self._in_worker = threading.local()

    # -- jobs ------------------------------------------------------------------------

    def queue_job(
        self,
        type: TransferType | str,  # noqa: A002 - the contract's name for it
        files: Iterable[Mapping[str, Any]],
        executor: Executor,
    ) -> str:
        """Register a job and start its files as slots allow; return its id.

        ``files`` is an iterable of mappings with the keys ``source_path``,
        ``destination_path`` (str or ``os.PathLike``) and ``size`` (int ≥ 0).
        ``executor(file, on_progress)`` is called once per file in a worker thread.
        Raises ``TypeError``/``ValueError`` for bad arguments, :class:`QueueShutdownError`
        after :meth:`shutdown`, and ``RuntimeError`` when no thread can be started for its
        events (Python 3.12 in an atexit handler, a process limit); nothing is registered
        then.
        """
        transfer_type = check_transfer_type(type)
        records = check_files(files)
        if not callable(executor):
            raise TypeError(f"executor must be callable, not {executor.__class__.__name__}")
        with self._lock:
            if self._closed:
                raise QueueShutdownError("the transfer queue is shut down")
            self._delivery.start()
            job = Job(transfer_type, records, executor, utc_now())
            self._jobs[job.id] = job
            self._delivery.post_created(job)
            if job.finish_if_done():  # no files: completed at once (S5)
                self._job_ended_locked(job)
            else:
                self._unfinished[job.id] = job
                self._scheduler.add(job)
                self._start_workers_locked()
        return job.id

    def get_job(self, job_id: str) -> TransferJob | None:
        """Return a snapshot of the job, or None if no such job is registered."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.snapshot()

    def get_all_jobs(self) -> list[TransferJob]:
        """Return a snapshot of every registered job, oldest first."""
        with self._lock:
            return [job.snapshot() for job in self._jobs.values()]

    def get_active_job_ids(self) -> list[str]:
        """Return the ids of the queued and active jobs, oldest first."""
        with self._lock:
            return list(self._unfinished)

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a queued or active job (S9); False if unknown or already terminal.

        The job is ``cancelled`` at once and its unfinished files become ``error``. Its
        waiting files never start; its running executors get ``TransferCancelled`` from
        their next ``on_progress`` call, and keep their slot until they return.
        """
        with self._lock:
            job = self._unfinished.get(job_id)
            if job is None:
                return False
            job.cancel(_CANCELLED_BY_USER)
            self._job_ended_locked(job)
            return True

    def wait(self, job_id: str, timeout: float | timedelta | None = None) -> TransferJob:
        """Block until the job is terminal and its terminal event was delivered.

        Returns the terminal snapshot. Raises :class:`JobNotFoundError` for an unknown
        id and ``TimeoutError`` if the job has not finished within ``timeout`` seconds.
        Called from a receiver, it returns once the job is terminal, since that job's
        terminal event cannot be delivered before the receiver returns.
        """
        seconds = None if timeout is None else check_seconds(timeout, "timeout")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFoundError(job_id)
            if self._delivery.is_delivery_thread():
                # Its terminal event cannot go out before this receiver returns.
                finished = self._job_finished.wait_for(lambda: job.is_finished, seconds)
            else:
                finished = self._job_finished.wait_for(lambda: job.terminal_delivered, seconds)
            if not finished:
                raise TimeoutError(f"transfer job {job_id} did not finish within {seconds} s")
            return job.snapshot()

    def cleanup_old_jobs(self, max_age: float | timedelta = 3600) -> int:
        """Forget terminal jobs that completed at least ``max_age`` ago; return how many.

        ``max_age`` is in seconds or a ``timedelta``; 0 removes every terminal job.
        Queued and active jobs always stay.
        """
        seconds = check_seconds(max_age, "max_age")
        cutoff = utc_now() - timedelta(seconds=seconds)
        with self._lock:
            old = [
                job_id
                for job_id, job in self._jobs.items()
                # 0 means every terminal job, even one whose completed_at lies ahead of a
                # clock that was set back since.
                if job.completed_at is not None and (seconds == 0 or job.completed_at <= cutoff)
            ]
            for job_id in old:
                del self._jobs[job_id]
        return len(old)

    # -- concurrency -------------------------------------------------------------------

    @property
    def concurrency_limit(self) -> int:
        """The most executors that may run at once, across all jobs."""
        return self._limit

    def update_concurrency_limit(self, new_limit: int) -> None:
        """Change the limit (S2): raising it starts waiting files at once; lowering it
        interrupts nothing, and no file starts until fewer than the new limit run."""
        limit = check_limit(new_limit)
        with self._lock:
            self._limit = limit
            self._start_workers_locked()

    # -- shutting down -----------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_jobs: bool = False) -> None:
        """Refuse new jobs; with ``cancel_jobs``, cancel every unfinished job first.

        With ``wait`` (the default) return once every queued and running file finished,
        every event was delivered and every thread of the queue ended. Idempotent.
        """
        if wait and (
            getattr(self._in_worker, "active", False) or self._delivery.is_delivery_thread()
        ):
            raise RuntimeError(
                "shutdown(wait=True) called from a worker or receiver of this queue would "
                "wait for itself; call shutdown(wait=False) there"
            )
        with self._lock:
            self._closed = True
            if cancel_jobs:
                for job in list(self._unfinished.values()):
                    job.cancel(_CANCELLED_BY_SHUTDOWN)
                    self._job_ended_locked(job)
            pools = [*self._retired_pools, *([self._pool] if self._pool else [])]
        for pool in pools:
            pool.shutdown(wait=wait)
        if wait:
            self._delivery.join()

    def __enter__(self) -> TransferQueue:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown(wait=True)

    # -- scheduling (state lock held) ------------------------------------------------------

    def _start_workers_locked(self) -> None:
        """Hand waiting files to new workers while slots are free."""
        while self._running < self._limit and not self._closed:
            job = self._scheduler.next_job()
            if job is None:
                return
            task = self._start_file_locked(job)
            try:
                future = self._worker_pool_locked().submit(self._work, task)
            except RuntimeError as exc:
                # Refused at interpreter exit, or no thread could start: in that case the
                # pool has queued the task already, so the worker must skip it if it runs.
                task.abandoned = True
                self._running -= 1
                self._finish_file_locked(job, task.file_index, f"no worker thread: {exc}")
            else:
                future.add_done_callback(log_worker_crash)

    def _start_file_locked(self, job: Job) -> FileTask:
        """Take a slot for the job's next file and return what a worker needs to run it."""
        self._running += 1
        index, record, became_active = job.start_next_file()
        if became_active:
            self._delivery.post_update(job)
        else:
            self._delivery.mark_changed(job)
        assert job.executor is not None
        assert job.cancel_event is not None
        return FileTask(job, index, record, job.executor, job.cancel_event)

    def _worker_pool_locked(self) -> ThreadPoolExecutor:
        # The queue, not the pool, enforces the limit; the pool only has to have enough
        # threads. When the limit outgrows it, a larger pool takes over and the old one
        # finishes the work it has (its threads end once idle).
        if self._pool is None or self._pool_size < self._limit:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._retired_pools.append(self._pool)
            self._pool = ThreadPoolExecutor(self._limit, thread_name_prefix="transferqueue-worker")
            self._pool_size = self._limit
        return self._pool

    def _finish_file_locked(self, job: Job, index: int, error: str | None) -> None:
        if job.is_finished:  # cancelled meanwhile: terminal is final (S4)
            return
        if job.finish_file(index, error):
            self._job_ended_locked(job)
        else:
            self._delivery.mark_changed(job)

    def _job_ended_locked(self, job: Job) -> None:
        self._unfinished.pop(job.id, None)
        self._delivery.post_update(job)
        self._job_finished.notify_all()

    def _report_progress(self, job: Job, index: int, loaded: int) -> bool:
        """Record an executor's progress; False once the job is cancelled."""
        with self._lock_eagerly:
            if job.is_finished:
                return job.status is not TransferStatus.CANCELLED
            if job.report_progress(index, loaded):
                self._delivery.mark_changed(job)
            return True

    # -- the worker threads -----------------------------------------------------------------

    def _work(self, task: FileTask) -> None:
        """Run files one after another while the limit allows: one worker per slot."""
        with self._lock:
            if task.abandoned:
                return
        self._in_worker.active = True
        try:
            while True:
                error = task.run(self._report_progress)
                with self._lock_eagerly:
                    self._running -= 1
                    self._finish_file_locked(task.job, task.file_index, error)
                    if self._running >= self._limit:
                        return  # the limit was lowered: this slot is gone
                    next_job = self._scheduler.next_job()
                    if next_job is None:
                        return
                    task = self._start_file_locked(next_job)
        finally:
            self._in_worker.active = False
