"""The transfer queue: a shared concurrency limit over many jobs of blocking transfers."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from transferqueue._errors import (
    JobNotFoundError,
    JobStateError,
    QueueShutdownError,
    TransferQueueError,
)
from transferqueue._events.delivery import EventDelivery
from transferqueue._events.watch import JobWatch, WatchFeed
from transferqueue._executor import GO_ON, STOP_CANCELLED, STOP_PAUSED, Executor
from transferqueue._log import log_in_queue_thread, logger
from transferqueue._records import TransferJob
from transferqueue._records.enums import TransferStatus, TransferType

from . import process as _process
from .bandwidth import TokenBucket, check_bandwidth_limit
from .cancel_hooks import CancelHooks
from .clock import utc_now
from .eager_lock import EagerLock
from .failure import Failure, error_type_name
from .job import Job
from .retry import RetryPolicy
from .retry_timer import RetryTimer
from .scheduler import RoundRobin
from .task import FileTask, Reservation, log_worker_crash
from .validation import (
    check_count,
    check_files,
    check_limit,
    check_positive_seconds,
    check_retry_policy,
    check_seconds,
    check_transfer_type,
)

if TYPE_CHECKING:
    from .backend import Backend

DEFAULT_UPDATE_INTERVAL = 0.1
"""Seconds between two coalesced ``job-updated`` events of one job (status changes
are never delayed)."""

DEFAULT_SPEED_WINDOW = 10.0
"""Seconds over which a job's ``bytes_per_second`` is averaged: from the last sample at
least this old (or the job's start) to the job's latest change. Samples are kept a tenth
of the window apart, so the span measured lies between the window and 1.1 times it while
bytes flow steadily."""

_CANCELLED_BY_USER = "Cancelled by user"
_CANCELLED_BY_SHUTDOWN = "Cancelled by queue shutdown"
_CANCELLED_AT_EXIT = "Cancelled at interpreter exit"


_MIN_SPEED_WINDOW = 0.001
"""The shortest ``speed_window`` (seconds): the queue looks at each active job once a window."""

_MAX_SPEED_WINDOW = 86_400.0
"""The longest ``speed_window`` (seconds, a day): speeds averaged over longer say little."""

# A file whose cluster-wide slot cannot be had (the backend's server unreachable) waits
# this long before it asks again, doubling up to the cap.
_SLOT_RETRY_FIRST = 0.1
_SLOT_RETRY_CAP = 5.0


def _created_at(job: TransferJob) -> datetime:
    return job.created_at


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _bytes_per_second(rate: float | None) -> str:
    return "none" if rate is None else f"{rate:,.0f} B/s"


def _check_speed_window(value: object) -> float:
    seconds = check_positive_seconds(value, "speed_window")
    if not _MIN_SPEED_WINDOW <= seconds <= _MAX_SPEED_WINDOW:
        raise ValueError(
            f"speed_window must be between {_MIN_SPEED_WINDOW:g} and {_MAX_SPEED_WINDOW:g} "
            f"seconds, got {seconds:g}"
        )
    return seconds


class TransferQueue:
    """Runs the files of many jobs under one concurrency limit, tracks and reports them.

    ``concurrency_limit`` (an int ≥ 1) bounds how many executors run at once across all
    jobs. Keyword options (durations in seconds or as a ``timedelta``):

    - ``update_interval`` (default 0.1): how often, at most, file-level progress of one
      job is announced as a ``job-updated`` event (0 announces every change);
    - ``retry``: the :class:`RetryPolicy` for failed files (default: no retries), which
      ``queue_job`` can override per job;
    - ``speed_window`` (default 10, from 0.001 to 86,400): over how long a job's speed is
      averaged; a job with no byte moved for that long reads 0 B/s (announced once);
    - ``max_finished_jobs`` / ``max_finished_age``: retention. Finished jobs beyond the
      newest ``max_finished_jobs``, or that ended ``max_finished_age`` ago or earlier,
      are forgotten as new jobs come and go, oldest first (default: kept until
      :meth:`cleanup_old_jobs`);
    - ``bandwidth_limit``: a cap in bytes per second on the bytes moved by all the
      executors together (default None: no cap), which
      :meth:`update_bandwidth_limit` changes while they run; executors draw from it
      through ``on_progress.throttle`` (the built-in ones do). With a backend it caps
      this process, not the cluster;
    - ``backend``: shared state for a queue that is one of several processes, such as a
      :class:`transferqueue.redis.RedisBackend` (see the guide "Queues across processes
      on Redis", docs/howto/redis.rst). The limit is then cluster-wide. Without it (the
      default) the queue lives in this process alone.

    No thread starts until the first job is queued.
    """

    def __init__(
        self,
        concurrency_limit: int,
        *,
        update_interval: float | timedelta = DEFAULT_UPDATE_INTERVAL,
        retry: RetryPolicy | None = None,
        speed_window: float | timedelta = DEFAULT_SPEED_WINDOW,
        max_finished_jobs: int | None = None,
        max_finished_age: float | timedelta | None = None,
        bandwidth_limit: float | None = None,
        backend: Backend | None = None,
    ) -> None:
        limit = check_limit(concurrency_limit)
        # Thread-safe on its own (its lock is never taken with the state lock held).
        self._bandwidth = TokenBucket(check_bandwidth_limit(bandwidth_limit))
        interval = check_seconds(update_interval, "update_interval")
        self._retry_policy = check_retry_policy(retry)
        self._speed_window = timedelta(seconds=_check_speed_window(speed_window))
        self._max_finished_jobs = (
            None
            if max_finished_jobs is None
            else check_count(max_finished_jobs, "max_finished_jobs")
        )
        self._max_finished_age = (
            None
            if max_finished_age is None
            else timedelta(seconds=check_seconds(max_finished_age, "max_finished_age"))
        )
        # The state lock. It guards every Job, the registries, the scheduler, the slot
        # count, the pools and the event outbox. Rule: hold it only for bookkeeping; never
        # while an executor or a signal receiver runs (they may call back into the queue).
        self._lock = threading.Lock()
        self._lock_eagerly = EagerLock(self._lock)  # the same lock, for the hot paths
        self._job_finished = threading.Condition(self._lock)  # notified as jobs finish
        self._jobs: dict[str, Job] = {}  # every registered job, oldest first
        self._unfinished: dict[str, Job] = {}  # queued, active or paused jobs, oldest first
        # The registered terminal jobs in the order they ended: what retention drops from.
        # Oldest first. An OrderedDict, not a dict: dropping a dict's first entry again and
        # again leaves holes that each next(iter()) walks over (60 us a drop, under the lock,
        # with 100,000 jobs kept), where popitem(last=False) stays constant.
        self._finished: OrderedDict[str, Job] = OrderedDict()
        self._scheduler = RoundRobin()
        # Files handed to a worker and not returned: running, or (with a backend) waiting
        # for their cluster-wide slot. At most _limit: the limit, or with a backend the
        # most this process runs at once.
        self._running = 0
        self._closed = False
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._retired_pools: list[ThreadPoolExecutor] = []
        self._delivery = EventDelivery(self, self._lock, self._job_finished, interval, backend)
        self._retry_timer = RetryTimer(self._lock, self._retry_due_locked)
        self._in_worker = threading.local()
        self._backend = backend
        self._limit = limit
        if backend is not None:
            age = None if self._max_finished_age is None else self._max_finished_age.total_seconds()
            # May raise: before the queue is known to anyone.
            backend.attach(
                limit,
                self._max_finished_jobs,
                age,
                on_cancel_request=self._cancel_requested,
                has_unfinished_jobs=self._has_unfinished_jobs,
                on_owner_lost=self._owner_lost,
                current_jobs=self._current_jobs,
                on_pause_request=self._pause_requested,
            )
            self._limit = backend.local_limit or limit
        _process.register(self)

    # -- jobs ------------------------------------------------------------------------

    def queue_job(
        self,
        type: TransferType | str,  # noqa: A002 - the contract's name for it
        files: Iterable[Mapping[str, Any]],
        executor: Executor,
        *,
        retry: RetryPolicy | None = None,
    ) -> str:
        """Register a job and start its files as slots allow; return its id.

        ``files`` is an iterable of mappings with the keys ``source_path``,
        ``destination_path`` (str or ``os.PathLike``) and ``size`` (int ≥ 0), and
        optionally ``skip``: True for a file whose destination is already up to date
        (as the listing helpers mark it when asked to compare), recorded as ``skipped``
        and never handed to the executor. A job of skipped files only completes at once.
        ``executor(file, on_progress)`` is called in a worker thread once per file and
        attempt. ``retry`` overrides the queue's :class:`RetryPolicy` for this job
        (:data:`NO_RETRY` turns retries off).
        Raises ``TypeError``/``ValueError`` for bad arguments, :class:`QueueShutdownError`
        after :meth:`shutdown`, and ``RuntimeError`` when no thread can be started for its
        events (Python 3.12 in an atexit handler, a process limit); nothing is registered
        then.
        """
        transfer_type = check_transfer_type(type)
        records = check_files(files)
        if not callable(executor):
            raise TypeError(f"executor must be callable, not {executor.__class__.__name__}")
        retry_policy = check_retry_policy(retry) or self._retry_policy
        id_suffix = "" if self._backend is None else self._backend.job_id_suffix()
        with self._lock:
            if self._closed:
                raise QueueShutdownError("the transfer queue is shut down")
            self._delivery.start()
            self._drop_expired_locked()
            job = Job(
                transfer_type,
                records,
                executor,
                utc_now(),
                retry_policy=retry_policy,
                speed_window=self._speed_window,
                id_suffix=id_suffix,
            )
            self._jobs[job.id] = job
            created = self._delivery.post_created(job)
            if job.finish_if_done():  # no files: completed at once
                self._job_ended_locked(job)
            else:
                self._unfinished[job.id] = job
                self._scheduler.add(job)
                self._start_workers_locked()
        if self._backend is not None:
            # Written before the id is handed out, so that any process can look it up at
            # once; the event thread writes the job's later events.
            self._backend.publish([(created, 0, None)])
            self._backend.listen_for_cancels()
        return job.id

    def get_job(self, job_id: str) -> TransferJob | None:
        """Return a snapshot of the job, or None if no such job is registered.

        A finished job's snapshot is the one its terminal event carried for as long as
        anyone holds it; the queue itself keeps its files in a compact form and builds an
        equal snapshot again when none is held.

        With a backend, a job of another process is read from the shared registry (as
        its owner last wrote it: at most ``update_interval`` behind).
        """
        with self._lock:
            self._drop_expired_locked()
            job = self._jobs.get(job_id)
            if job is not None:
                snapshot = job.snapshot_at_hand()
                if snapshot is not None:
                    return snapshot
        if job is not None:  # finished, its snapshot held by nobody: built without the lock
            return self._rebuilt(job)
        return None if self._backend is None else self._backend.read_job(job_id)

    def _rebuilt(self, job: Job) -> TransferJob:
        """A finished job's snapshot, built without the lock; the one another thread
        built meanwhile if it did (a snapshot stays one object while it is held)."""
        built = job.build_final_snapshot()
        with self._lock:
            return job.share_snapshot(built)

    def _snapshots(self, jobs: list[Job], found: list[TransferJob | None]) -> list[TransferJob]:
        """The snapshots of ``jobs``, given the ones ``snapshot_at_hand`` gave under the
        lock (``found``): the finished jobs' others are built without the lock."""
        missing = [index for index, snapshot in enumerate(found) if snapshot is None]
        if missing:
            built = [jobs[index].build_final_snapshot() for index in missing]
            with self._lock:
                for index, snapshot in zip(missing, built, strict=True):
                    found[index] = jobs[index].share_snapshot(snapshot)
        return found  # type: ignore[return-value]  # no None is left

    def get_all_jobs(self) -> list[TransferJob]:
        """Return a snapshot of every registered job, oldest first (with a backend, every
        job of the cluster: this process's as they stand, the others' from the registry).

        The finished jobs' snapshots that nobody holds are built, without the lock, from
        what the queue keeps of them (see :meth:`get_job`): a record per file.
        """
        with self._lock:
            self._drop_expired_locked()
            kept = list(self._jobs.values())
            found = [job.snapshot_at_hand() for job in kept]
        local = self._snapshots(kept, found)
        if self._backend is None:
            return local
        jobs = local + self._backend.read_jobs({job.id for job in local})
        jobs.sort(key=_created_at)  # stable: each source's order among equals stays
        return jobs

    def get_active_job_ids(self) -> list[str]:
        """Return the ids of the queued, active and paused jobs, oldest first (with a backend,
        of the cluster)."""
        with self._lock:
            active = list(self._unfinished)
            if self._backend is None:
                return active
            local = {job_id: _ms(job.created_at) for job_id, job in self._jobs.items()}
        ordered = [(local[job_id], job_id) for job_id in active]
        ordered += [
            (created, job_id)
            for job_id, created in self._backend.read_active()
            if job_id not in local
        ]
        ordered.sort(key=lambda pair: pair[0])
        return [job_id for _, job_id in ordered]

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a queued, active or paused job; False if unknown or already terminal.

        The job is ``cancelled`` at once and its unfinished files become ``error``. Its
        waiting files never start; its running executors get ``TransferCancelled`` from
        their next ``on_progress`` call, and keep their slot until they return.

        With a backend, a job of another process is cancelled by that process, which
        this call asks through the backend and waits for (a few seconds at most): True
        once the job is ``cancelled``; ``TimeoutError`` if its owner does not confirm.
        """
        with self._lock:
            job = self._unfinished.get(job_id)
            known = job is not None or job_id in self._jobs
            if job is not None:
                hooks = self._cancel_locked(job, _CANCELLED_BY_USER)
        if job is not None:
            hooks.run()
            logger.info("job %s cancel requested", job_id)
            return True
        if known or self._backend is None:
            return False
        return self._backend.request_cancel(job_id)  # another process's job

    def pause_job(self, job_id: str) -> None:
        """Pause a queued or active job: it becomes ``paused`` at once and starts no file
        until :meth:`resume_job`.

        Its running executors get :class:`TransferPaused` from their next ``on_progress``
        call and stop there, keeping what they have where they can resume from it; each
        gives its slot back as it stops, and its file is ``queued`` again, with the bytes
        it had. A paused job is not finished: :meth:`wait` and :meth:`watch` go on
        waiting, retention keeps it, :meth:`cancel_job` still cancels it.

        Raises :class:`JobNotFoundError` for an unknown id, :class:`JobStateError` when
        the job is paused already or finished, and :class:`QueueShutdownError` after
        :meth:`shutdown` (which cancels paused jobs: nothing could resume them).
        With a backend, a job of another process is paused by that process, which this
        call asks through the backend and waits for (a few seconds at most);
        ``TimeoutError`` if its owner does not confirm.
        """
        if self._pause_here(job_id, "pause"):
            logger.info("job %s paused", job_id)
        else:
            self._ask_owner(job_id, "pause")

    def resume_job(self, job_id: str) -> None:
        """Resume a paused job: it is ``active`` again (``queued`` if none of its files
        had started) and its files start as slots allow, those stopped by the pause
        first; executors that kept what they had go on from there.

        Raises :class:`JobNotFoundError` for an unknown id and :class:`JobStateError`
        when the job is not paused. With a backend, a job of another process is resumed
        by that process, as :meth:`pause_job` pauses it.
        """
        if self._pause_here(job_id, "resume"):
            logger.info("job %s resumed", job_id)
        else:
            self._ask_owner(job_id, "resume")

    def _pause_here(self, job_id: str, action: str) -> bool:
        """Pause (``action`` "pause") or resume ("resume") a job of this process; False
        if it has none by that id. Raises as :meth:`pause_job` and :meth:`resume_job`;
        logs nothing (the caller does, as its thread must)."""
        pausing = action == "pause"
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return False
            if job.is_finished or job.is_paused is pausing:
                raise JobStateError(job_id, str(job.status), action)
            if pausing:
                if self._closed:
                    raise QueueShutdownError("the transfer queue is shut down")
                job.pause()
                self._delivery.post_update(job)
            else:
                job.resume()
                self._delivery.post_update(job)
                self._scheduler.add(job)
                self._start_workers_locked()
        return True

    def _ask_owner(self, job_id: str, action: str) -> None:
        """The job is not this process's: unknown, or (with a backend) another's, whose
        owner is asked to pause or resume it."""
        if self._backend is None:
            raise JobNotFoundError(job_id)
        self._backend.request_pause(job_id, action)

    def _pause_requested(self, job_id: str, requester: str, action: str) -> None:
        """Another process asked to pause or resume a job of this one (from the
        backend's thread); one that does not allow it (it ended, or was paused or
        resumed meanwhile) is left as it is: the requester reads it in the registry."""
        try:
            done = self._pause_here(job_id, action)
        except TransferQueueError as exc:
            log_in_queue_thread(
                logging.INFO,
                "job %s: %s requested by %s, but not done here: %s",
                job_id,
                action,
                requester,
                exc,
            )
            return
        if done:
            log_in_queue_thread(
                logging.INFO,
                "job %s %s requested by %s (another process)",
                job_id,
                action,
                requester,
            )
        else:  # ended and forgotten meanwhile: the requester reads its end in the registry
            log_in_queue_thread(
                logging.INFO,
                "job %s: %s requested by %s, but it is not running here",
                job_id,
                action,
                requester,
            )

    def _cancel_requested(self, job_id: str, requester: str) -> None:
        """Another process asked to cancel a job of this one (from the backend's thread)."""
        with self._lock:
            job = self._unfinished.get(job_id)
            if job is not None:
                hooks = self._cancel_locked(job, _CANCELLED_BY_USER)
        if job is not None:
            hooks.run()
            log_in_queue_thread(
                logging.INFO, "job %s cancel requested by %s (another process)", job_id, requester
            )
        else:  # ended meanwhile: the requester reads its end in the registry
            log_in_queue_thread(
                logging.INFO,
                "job %s: cancel requested by %s, but it is not running here",
                job_id,
                requester,
            )

    def _has_unfinished_jobs(self) -> bool:
        with self._lock:
            return bool(self._unfinished)

    def _owner_lost(self, job_ids: Collection[str], message: str, error_type: str) -> None:
        """The cluster declared this process lost (from the backend, no lock held): the
        jobs it owned under the name it lost are failed there already, or about to be;
        fail them here too, telling their running executors to stop."""
        failure = Failure(message, error_type)
        with self._lock:
            ended = [self._unfinished[job_id] for job_id in job_ids if job_id in self._unfinished]
            hooks = []
            for job in ended:
                hooks.append(job.fail_all(failure))
                self._retry_timer.discard(job)
                self._job_ended_locked(job)
        for job_hooks in hooks:
            job_hooks.run()
        if ended:
            log_in_queue_thread(
                logging.ERROR,
                "this process was declared lost by its cluster: %d unfinished jobs failed (%s)",
                len(ended),
                message,
            )

    def _current_jobs(self) -> list[tuple[TransferJob, int]]:
        """Every job this process keeps, as it stands, with the number of its last
        event (for the backend to write again after its server lost its data)."""
        with self._lock:
            jobs = list(self._jobs.values())
            found = [job.snapshot_at_hand() for job in jobs]
            # A finished job's number is final: its terminal event was posted as it ended.
            numbers = [job.updates_posted for job in jobs]
        return list(zip(self._snapshots(jobs, found), numbers, strict=True))

    def wait(self, job_id: str, timeout: float | timedelta | None = None) -> TransferJob:
        """Block until the job is terminal and its terminal event was delivered.
        A paused job is not terminal: ``wait`` goes on blocking until it is resumed and
        finishes (or is cancelled), or ``timeout`` passes.

        Returns the terminal snapshot (the terminal event's very object while anyone
        holds it, else an equal one, see :meth:`get_job`). Raises
        :class:`JobNotFoundError` for an unknown id (or one that retention or cleanup has
        dropped already: with a small ``max_finished_jobs``, a job can end and be dropped
        before ``wait`` is called) and ``TimeoutError`` if the job has not finished
        within ``timeout`` seconds.
        Called from a receiver, it returns once the job is terminal, since that job's
        terminal event cannot be delivered before the receiver returns.

        With a backend, a job of another process is waited for in the shared registry:
        blocking on its event stream in Redis, never more than a second without looking
        at the job itself.
        """
        seconds = None if timeout is None else check_seconds(timeout, "timeout")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                if self._delivery.is_delivery_thread():
                    # Its terminal event cannot go out before this receiver returns.
                    finished = self._job_finished.wait_for(lambda: job.is_finished, seconds)
                else:
                    finished = self._job_finished.wait_for(lambda: job.terminal_delivered, seconds)
                if not finished:
                    raise TimeoutError(f"transfer job {job_id} did not finish within {seconds} s")
                snapshot = job.snapshot_at_hand()
                if snapshot is not None:
                    return snapshot
            elif self._backend is None:
                raise JobNotFoundError(job_id)
        if job is not None:  # its terminal snapshot held by nobody: built without the lock
            return self._rebuilt(job)
        assert self._backend is not None
        return self._backend.wait(job_id, seconds)  # another process's job

    @overload
    def watch(
        self,
        job_id: str,
        *,
        timeout: float | timedelta | None = None,
        keepalive: None = None,
    ) -> JobWatch[TransferJob]: ...

    @overload
    def watch(
        self,
        job_id: str,
        *,
        timeout: float | timedelta | None = None,
        keepalive: float | timedelta,
    ) -> JobWatch[TransferJob | None]: ...

    def watch(
        self,
        job_id: str,
        *,
        timeout: float | timedelta | None = None,
        keepalive: float | timedelta | None = None,
    ) -> JobWatch[TransferJob] | JobWatch[TransferJob | None]:
        """Return a blocking iterator over the job's snapshots, ending with the terminal one.

        It yields the job as it stands now at once, then each newer snapshot the job's
        events carry; a consumer slower than the events skips to the latest one, but
        always gets the terminal one. With ``keepalive`` it yields ``None`` after that
        many seconds without a new snapshot (for an SSE comment, say). Iterating raises
        ``TimeoutError`` once it has waited ``timeout`` seconds in all without the job
        finishing. Close it (``close()``, ``with``, or drop it) to stop early: it leaves
        nothing subscribed. Raises :class:`JobNotFoundError` for an unknown id.

        With a backend, a job of another process is watched through its event stream in
        Redis, read in the iterating thread (a ``close()`` from another thread is seen
        within a second).
        """
        seconds = None if timeout is None else check_seconds(timeout, "timeout")
        quiet = None if keepalive is None else check_positive_seconds(keepalive, "keepalive")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                first = job.snapshot_at_hand()
                if first is not None:
                    unsubscribe = functools.partial(self._forget_feed, job)
                    return self._delivery.watch(
                        job, first, unsubscribe, timeout=seconds, keepalive=quiet
                    )
            elif self._backend is None:
                raise JobNotFoundError(job_id)
        if job is not None:  # finished, its snapshot held by nobody: built without the lock
            first = self._rebuilt(job)
            with self._lock:  # a finished job's watch subscribes nothing: never unsubscribed
                return self._delivery.watch(job, first, None, timeout=seconds, keepalive=quiet)
        assert self._backend is not None
        return self._backend.watch(job_id, seconds, quiet)  # another process's job

    def _forget_feed(self, job: Job, feed: WatchFeed, blocking: bool) -> None:
        if self._lock.acquire(blocking):
            try:
                self._delivery.forget_feed(job, feed)
            finally:
                self._lock.release()

    def cleanup_old_jobs(self, max_age: float | timedelta = 3600) -> int:
        """Forget terminal jobs that completed at least ``max_age`` ago; return how many.

        ``max_age`` is in seconds or a ``timedelta``; 0 removes every terminal job.
        Queued, active and paused jobs always stay.
        """
        seconds = check_seconds(max_age, "max_age")
        cutoff = utc_now() - timedelta(seconds=seconds)
        with self._lock:
            old = [
                job_id
                for job_id, job in self._finished.items()
                # 0 means every terminal job, even one whose completed_at lies ahead of a
                # clock that was set back since.
                if seconds == 0 or (job.completed_at is not None and job.completed_at <= cutoff)
            ]
            for job_id in old:
                del self._jobs[job_id]
                del self._finished[job_id]
        if self._backend is None:
            return len(old)
        forgotten = self._backend.forget_ended_before(None if seconds == 0 else cutoff)
        return len(set(old).union(forgotten))

    # -- concurrency -------------------------------------------------------------------

    @property
    def concurrency_limit(self) -> int:
        """The most executors that may run at once, across all jobs (with a backend,
        across the cluster: the limit its server stores now)."""
        if self._backend is not None:
            return self._backend.read_limit()
        return self._limit

    def update_concurrency_limit(self, new_limit: int) -> None:
        """Change the limit: raising it starts waiting files at once; lowering it
        interrupts nothing, and no file starts until fewer than the new limit run.

        With a backend it changes the cluster's limit, for every process (and this
        process's own cap, unless the backend has a ``local_limit``).
        """
        limit = check_limit(new_limit)
        backend = self._backend
        if backend is not None:
            backend.set_limit(limit)  # a round trip: never under the lock
            if backend.local_limit is not None:
                return
        with self._lock:
            previous, self._limit = self._limit, limit
            self._start_workers_locked()
        if limit != previous and backend is None:
            logger.info("concurrency limit changed from %d to %d", previous, limit)

    # -- bandwidth ---------------------------------------------------------------------

    @property
    def bandwidth_limit(self) -> float | None:
        """The cap in bytes per second on what all the executors move together, or None
        when there is none."""
        return self._bandwidth.rate

    def update_bandwidth_limit(self, bytes_per_second: float | None) -> None:
        """Change the bandwidth cap (a number of bytes per second > 0, or None to lift
        it); ``TypeError`` / ``ValueError`` for anything else. Running executors follow
        the new cap within 0.2 s, those waiting for the old one included; what the old
        cap allowed already is not taken back."""
        rate = check_bandwidth_limit(bytes_per_second, "bytes_per_second")
        previous = self._bandwidth.rate
        self._bandwidth.set_rate(rate)
        if rate != previous:
            logger.info(
                "bandwidth limit changed from %s to %s",
                _bytes_per_second(previous),
                _bytes_per_second(rate),
            )

    # -- shutting down -----------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_jobs: bool = False) -> None:
        """Refuse new jobs; with ``cancel_jobs``, cancel every unfinished job first.
        Paused jobs are cancelled either way: nothing could resume them.

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
            cancelled = [
                job
                for job in self._unfinished.values()
                # A paused job could never be resumed now (nothing may start): cancelled.
                if cancel_jobs or job.is_paused
            ]
            hooks = [self._cancel_locked(job, _CANCELLED_BY_SHUTDOWN) for job in cancelled]
            # Files waiting to be retried give up now, with their last error.
            given_up = 0
            for job in self._retry_timer.clear():
                if job.is_finished:
                    continue
                given_up += job.waiting_retries
                if job.abandon_retries():
                    self._job_ended_locked(job)
                else:
                    self._delivery.mark_changed(job)
            pools = [*self._retired_pools, *([self._pool] if self._pool else [])]
            timer_thread = self._retry_timer.thread()
        for job_hooks in hooks:
            job_hooks.run()
        for pool in pools:
            pool.shutdown(wait=wait)
        if wait:
            if timer_thread is not None:
                timer_thread.join()
            self._delivery.join()
            if self._backend is not None:
                self._backend.shutdown()
        if given_up:  # last: a logging filter that raises here leaves nothing half-done
            logger.warning(
                "queue shut down: %d files waiting to be retried failed with their last error",
                given_up,
            )

    # -- interpreter exit and fork (called by process.py) --------------------------------

    def cancel_at_exit(self) -> None:
        """Cancel every unfinished job, so that exit need not wait for their files, and
        refuse new ones: a job queued now (by an executor cleaning up, a receiver) would
        be run by the workers that are about to be joined."""
        with self._lock:
            self._closed = True
            unfinished = list(self._unfinished.values())
            hooks = [self._cancel_locked(job, _CANCELLED_AT_EXIT) for job in unfinished]
        for job_hooks in hooks:
            job_hooks.run()
        if unfinished:
            logger.warning("interpreter exit: cancelled %d unfinished jobs", len(unfinished))

    def before_fork(self) -> None:
        """Take the lock, so that the child inherits no half-made change."""
        self._lock.acquire()

    def after_fork_in_parent(self) -> None:
        """Release the lock taken before the fork."""
        self._lock.release()

    def after_fork_in_child(self) -> None:
        """Start afresh in a forked child: new locks, no threads, no parent job running.

        The parent's unfinished jobs go on in the parent; here they are forgotten. Its
        finished jobs stay, as the history they are.
        """
        self._lock = threading.Lock()
        self._lock_eagerly = EagerLock(self._lock)
        self._job_finished = threading.Condition(self._lock)
        self._bandwidth = TokenBucket(self._bandwidth.rate)  # its lock may be held
        for job_id in self._unfinished:
            del self._jobs[job_id]
        self._unfinished = {}
        for job in self._finished.values():
            job.terminal_delivered = True  # the parent delivers its events, not this child
            job.release_final_snapshot()
        self._scheduler = RoundRobin()
        self._running = 0
        self._pool = None
        self._pool_size = 0
        self._retired_pools = []
        self._retry_timer.reset_after_fork(self._lock)
        self._delivery.reset_after_fork(self._lock, self._job_finished)
        self._in_worker = threading.local()
        if self._backend is not None:
            self._backend.after_fork_in_child()

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
            if self._backend is not None:
                self._start_clustered_worker_locked(job)
                continue
            task = self._start_file_locked(job)
            try:
                future = self._worker_pool_locked().submit(self._work, task)
            except RuntimeError as exc:
                # Refused at interpreter exit, or no thread could start: in that case the
                # pool has queued the task already, so the worker must skip it if it runs.
                task.abandoned = True
                self._running -= 1
                failure = Failure(f"no worker thread: {exc}", error_type_name(type(exc)))
                self._finish_file_locked(job, task.file_index, failure)
            else:
                future.add_done_callback(log_worker_crash)

    def _start_clustered_worker_locked(self, job: Job) -> None:
        """With a backend: reserve the job's next file for a new worker, which gets its
        cluster-wide slot before starting it."""
        reservation = self._reserve_file_locked(job)
        try:
            future = self._worker_pool_locked().submit(self._work_clustered, reservation)
        except RuntimeError as exc:
            reservation.abandoned = True  # as in _start_workers_locked
            self._running -= 1
            self._start_reserved_locked(reservation)
            failure = Failure(f"no worker thread: {exc}", error_type_name(type(exc)))
            self._finish_file_locked(job, reservation.file_index, failure)
        else:
            future.add_done_callback(log_worker_crash)

    def _reserve_file_locked(self, job: Job) -> Reservation:
        """Take a local seat for the job's next file; it starts once it has its slot."""
        self._running += 1
        assert job.cancel_event is not None
        return Reservation(job, job.reserve_next_file(), job.cancel_event)

    def _start_file_locked(self, job: Job) -> FileTask:
        """Take a slot for the job's next file and return what a worker needs to run it."""
        self._running += 1
        index, record, attempt, became_active = job.start_next_file()
        if became_active:
            self._delivery.post_update(job)
        else:
            self._delivery.mark_changed(job)
        assert job.executor is not None
        assert job.cancel_event is not None
        assert job.cancel_hooks is not None
        return FileTask(
            job,
            index,
            record,
            attempt,
            job.executor,
            job.cancel_event,
            job.retry_policy,
            job.cancel_hooks,
            try_number=job.counted_attempts(index),
        )

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

    def _next_reservation_locked(self) -> Reservation | None:
        """The next file for a worker that just gave its seat back, if the limit allows."""
        if self._running < self._limit:  # else the limit was lowered: the seat is gone
            job = self._scheduler.next_job()
            if job is not None:
                return self._reserve_file_locked(job)
        return None

    def _finish_file_locked(self, job: Job, index: int, error: Failure | None) -> None:
        if job.is_finished:  # cancelled meanwhile: terminal is final
            return
        if job.finish_file(index, error):
            self._job_ended_locked(job)
        else:
            self._delivery.mark_changed(job)

    def _cancel_locked(self, job: Job, reason: str) -> CancelHooks:
        """Cancel the job; return its cancel hooks, to run once the lock is released."""
        hooks = job.cancel(reason)
        self._retry_timer.discard(job)
        self._job_ended_locked(job)
        return hooks

    def _job_ended_locked(self, job: Job) -> None:
        self._unfinished.pop(job.id, None)
        self._delivery.post_update(job)
        self._job_finished.notify_all()
        if job.id in self._jobs:
            self._finished[job.id] = job
            self._drop_expired_locked()

    def _drop_expired_locked(self) -> None:
        """Retention: forget the oldest finished jobs beyond the count or the age."""
        finished = self._finished
        if self._max_finished_jobs is not None:
            while len(finished) > self._max_finished_jobs:
                job_id, _ = finished.popitem(last=False)
                del self._jobs[job_id]
        if self._max_finished_age is not None and finished:
            cutoff = utc_now() - self._max_finished_age
            while finished:
                job_id, job = next(iter(finished.items()))  # the first of a linked list: O(1)
                if job.completed_at is None or job.completed_at > cutoff:
                    break
                finished.popitem(last=False)
                del self._jobs[job_id]

    def _retry_due_locked(self, job: Job, index: int) -> None:
        """A file waited out its retry delay: make it the job's next to start."""
        if job.is_finished:
            return
        job.retry_due(index)
        self._scheduler.add(job)
        self._delivery.mark_changed(job)
        self._start_workers_locked()

    def _report_progress(self, job: Job, index: int, attempt: int, loaded: int) -> int:
        """Record an executor's progress; say whether it should stop (the job was
        cancelled or paused) or go on."""
        with self._lock_eagerly:
            if job.is_finished:
                return STOP_CANCELLED if job.halted else GO_ON
            if job.report_progress(index, attempt, loaded):
                self._delivery.mark_changed(job)
            return STOP_PAUSED if job.status is TransferStatus.PAUSED else GO_ON

    def _stop_event(self, job: Job) -> threading.Event | None:
        """The job's stop event, made now if it has none; None once it is finished."""
        with self._lock:
            return None if job.is_finished else job.ensure_stop_event()

    # -- the worker threads -----------------------------------------------------------------

    def _work(self, task: FileTask) -> None:
        """Run files one after another while the limit allows: one worker per slot."""
        with self._lock:
            if task.abandoned:
                return
        self._in_worker.active = True
        try:
            next_task: FileTask | None = task
            while next_task is not None:
                task = next_task
                error = task.run(self._report_progress, self._stop_event, self._bandwidth)
                # From here to the slot's release no call may raise, or the slot and the
                # file would be lost for ever: run() and judge_failure() catch whatever the
                # executor's error, the retry policy or logging raise. What the policy says
                # is decided here, without the lock. A final failure is logged before the
                # job's end can be reported; a retry only once it is certain (a cancel or a
                # shutdown can refuse it under the lock). A pause is no failure.
                failure = retry_delay = None
                if error is not None and not task.paused:
                    failure, retry_delay = task.judge_failure(error)
                with self._lock_eagerly:
                    self._running -= 1
                    retrying = self._end_attempt_locked(task, failure, retry_delay)
                    next_task = None
                    if self._running < self._limit:  # else the limit was lowered: slot gone
                        next_job = self._scheduler.next_job()
                        if next_job is not None:
                            next_task = self._start_file_locked(next_job)
                if failure is not None and retry_delay is not None:
                    # Never raises either: next_task holds a slot already.
                    assert error is not None
                    task.log_failure(error, failure.message, retry_delay if retrying else None)
        finally:
            self._in_worker.active = False

    def _work_clustered(self, reservation: Reservation) -> None:
        """With a backend: run reserved files one after another, each under a
        cluster-wide slot taken without the lock; the backend says whether a slot may
        serve the next file too (small files would otherwise cost more in round trips
        than in work)."""
        backend = self._backend
        assert backend is not None
        with self._lock:
            if reservation.abandoned:
                return
        self._in_worker.active = True
        slot: object | None = None
        taken_at = 0.0
        try:
            next_reservation: Reservation | None = reservation
            # The next file, started already: its reservation came with a kept slot.
            next_task: FileTask | None = None
            while next_reservation is not None:
                reservation = next_reservation
                job = reservation.job
                task, next_task = next_task, None
                error = failure = retry_delay = None
                if task is None:
                    if slot is None:
                        slot = self._acquire_slot(backend, reservation)
                        taken_at = time.monotonic()
                    with self._lock_eagerly:
                        if job.is_finished or job.is_paused or slot is None:
                            # Cancelled while waiting: the file is ended. Paused (the wait
                            # ends without a slot then, even if resumed since): the file
                            # goes back to its job's line, and any slot to the next file.
                            if not job.is_finished:
                                job.unreserve(reservation.file_index)
                                self._scheduler.add(job)
                            self._running -= 1
                            next_reservation = self._next_reservation_locked()
                        else:
                            task = self._start_reserved_locked(reservation)
                if task is not None:
                    error = task.run(self._report_progress, self._stop_event, self._bandwidth)
                    # As in _work: nothing from here to the seat's release may raise.
                    if error is not None and not task.paused:
                        failure, retry_delay = task.judge_failure(error)
                    if slot is not None and not backend.may_reuse(slot, taken_at):
                        backend.release_slot(slot)  # back before the file's end is told
                        slot = None
                    with self._lock_eagerly:
                        self._running -= 1
                        next_reservation = self._next_reservation_locked()
                        told = slot is None or next_reservation is not None
                        if told:  # else the kept slot goes back first
                            retrying = self._end_attempt_locked(task, failure, retry_delay)
                            if next_reservation is None:  # the file may be back in line
                                next_reservation = self._next_reservation_locked()
                        if slot is not None and next_reservation is not None:
                            # The kept slot serves it: started under this same hold of
                            # the lock, as an embedded queue's next file is (its job has
                            # not ended: the file was reserved under this hold).
                            next_task = self._start_reserved_locked(next_reservation)
                    if not told:
                        assert slot is not None
                        backend.release_slot(slot)
                        slot = None
                        with self._lock_eagerly:
                            retrying = self._end_attempt_locked(task, failure, retry_delay)
                            next_reservation = self._next_reservation_locked()
                elif slot is not None and (
                    next_reservation is None or not backend.may_reuse(slot, taken_at)
                ):
                    backend.release_slot(slot)
                    slot = None
                if failure is not None and retry_delay is not None:
                    assert task is not None
                    assert error is not None
                    task.log_failure(error, failure.message, retry_delay if retrying else None)
        finally:
            self._in_worker.active = False
            if slot is not None:  # only when something raised: give it back all the same
                backend.release_slot(slot)

    def _acquire_slot(self, backend: Backend, reservation: Reservation) -> object | None:
        """The reserved file's cluster-wide slot; None once its job is cancelled or
        paused.

        While the backend cannot give one (its server unreachable), the file stays
        ``queued`` and this worker asks again, waiting 0.1 s, then twice as long each
        time up to 5 s; a pause or a cancel ends that wait at once, so that a paused
        job's file gives its seat back without waiting for the server. Never raises.
        """
        cancel = reservation.cancel_event
        job = reservation.job

        def stopped() -> bool:
            return cancel.is_set() or job.is_paused

        delay = _SLOT_RETRY_FIRST
        failed = False
        while True:
            try:
                slot = backend.acquire_slot(stopped)
            except Exception as exc:  # noqa: BLE001 - the seat must not be lost
                if not failed:
                    log_in_queue_thread(
                        logging.WARNING,
                        "file %d of job %s waits for a cluster-wide slot: %s",
                        reservation.file_index,
                        reservation.job.id,
                        exc,
                        exc_info=None if isinstance(exc, TransferQueueError) else exc,
                    )
                failed = True
                stop = self._stop_event(job)  # set once paused or cancelled
                if stop is None or stop.wait(delay):
                    return None
                delay = min(delay * 2, _SLOT_RETRY_CAP)
                continue
            if failed:
                log_in_queue_thread(
                    logging.INFO,
                    "file %d of job %s got its cluster-wide slot again",
                    reservation.file_index,
                    reservation.job.id,
                )
            return slot

    def _start_reserved_locked(self, reservation: Reservation) -> FileTask:
        job = reservation.job
        index = reservation.file_index
        record, attempt, became_active = job.start_reserved_file(index)
        if became_active:
            self._delivery.post_update(job)
        else:
            self._delivery.mark_changed(job)
        assert job.executor is not None
        assert job.cancel_hooks is not None
        return FileTask(
            job,
            index,
            record,
            attempt,
            job.executor,
            reservation.cancel_event,
            job.retry_policy,
            job.cancel_hooks,
            try_number=job.counted_attempts(index),
        )

    def _end_attempt_locked(
        self, task: FileTask, error: Failure | None, retry_delay: float | None
    ) -> bool:
        """Record how a file's attempt ended; True if it now waits to be retried.

        The caller gave the attempt's seat back and picks the next file after this:
        a file stopped by a pause that was resumed meanwhile is back in line by then, and
        may be that next file. No worker is started here: the seat is the caller's to
        fill, and after ``shutdown(wait=False)`` nothing else would fill it.
        """
        job = task.job
        if job.is_finished:  # cancelled meanwhile: terminal is final
            return False
        if task.paused:
            job.stopped_for_pause(task.file_index)
            self._delivery.mark_changed(job)
            if not job.is_paused:  # resumed before its executor stopped: it starts again
                self._scheduler.add(job)
            return False
        if error is not None and retry_delay is not None and not self._closed:
            try:
                self._retry_timer.add(job, task.file_index, retry_delay)
            except RuntimeError:  # no timer thread could start: the file fails instead
                pass
            else:
                retry_at = utc_now() + timedelta(seconds=retry_delay)
                job.wait_to_retry(task.file_index, error, retry_at)
                self._delivery.mark_changed(job)
                return True
        self._finish_file_locked(job, task.file_index, error)
        return False
