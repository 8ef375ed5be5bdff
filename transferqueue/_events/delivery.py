"""Delivery of job events to blinker receivers, in order, from one thread.

Snapshots are built under the queue's state lock, at the moment of the change they
report, and appended to an outbox; a single delivery thread sends them in that order with
the lock released. One thread and one outbox give the three guarantees together: events
of a job arrive in the order they were built, the terminal one (built last, once) arrives
last and once, and a receiver may call back into the queue, since no lock is held.

File-level changes are coalesced: the job is marked pending and the delivery thread
builds one snapshot for it when ``update_interval`` has passed since the job's last event.

With a backend (``TransferQueue(..., backend=...)``) every ``job-updated`` event goes to
the backend's ``publish`` first, in one call per batch, so that the other processes of the
cluster see the job as the receivers here do: coalesced like them, never one write per
change (``queue_job`` writes the job's creation itself, before it returns the id).

Each ``job-updated`` event also says which files changed since the job's previous one
(``changed_files``, taken from the job as its snapshot is built), so that a receiver or a
watch can follow a job of many files by its changes rather than rescanning every file. A
receiver gets it only if it can take it (:mod:`.receivers`): receivers written before it
existed, ``def on_update(sender, job)``, are called as they always were.

The same thread feeds each :class:`~transferqueue.JobWatch` of a job after the blinker
receivers, and logs each job's creation and end, so that the log follows the events. It
also looks at each active job once per speed window, so that a stalled job's speed falls
to 0 with an event of its own.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Set
from typing import Any

from blinker import NamedSignal

from transferqueue._core.backend import RegistryBackend
from transferqueue._core.job import NEVER_SENT, Job
from transferqueue._log import log_in_queue_thread
from transferqueue._records import TransferJob
from transferqueue._records.enums import TransferStatus

from .receivers import COROUTINE, WITH_CHANGED_FILES, decisions
from .signals import job_created, job_updated
from .watch import JobWatch, Unsubscribe, WatchFeed, wake_in_turn

# How long the delivery thread lingers once no job is open and nothing is left to send;
# the next job starts a new one. Ending it lets an unused queue be garbage-collected.
_IDLE_SECONDS = 1.0

# signal, snapshot, job, sequence, files changed since the job's previous job-updated
_Event = tuple[NamedSignal, TransferJob, Job, int, Set[int]]
_NO_CHANGES: frozenset[int] = frozenset()


class EventDelivery:
    """The outbox of one queue and the thread that empties it.

    The thread is started by :meth:`start` when a job is queued, before the job is
    registered, and runs while any job is open (queued or active) or any event is unsent:
    so no event ever waits for a thread that cannot start. The posting methods and
    :meth:`start` are called with the queue's state lock held.
    """

    def __init__(
        self,
        sender: Any,
        lock: threading.Lock,
        job_finished: threading.Condition,
        update_interval: float,
        backend: RegistryBackend | None = None,
    ) -> None:
        self._sender = sender
        self._backend = backend  # gets every event first, to share it with other processes
        self._job_finished = job_finished
        self._update_interval = update_interval
        # Everything below is guarded by the queue's state lock, shared through these
        # conditions. _wakeup has one waiter, the delivery thread.
        self._wakeup = threading.Condition(lock)
        self._outbox: list[_Event] = []
        self._pending: dict[Job, None] = {}  # jobs with unreported file changes, in order
        # Active jobs, and when (this thread's clock) to see whether their speed stalled;
        # the earliest of those times, so that most wake-ups need not look at each job.
        self._speed_checks: dict[Job, float] = {}
        self._next_speed_check = math.inf
        self._feeds: dict[Job, list[WatchFeed]] = {}  # the feeds of unfinished jobs' watches
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []  # every thread that may still be alive
        self._open_jobs = 0  # jobs created whose terminal event is not posted yet
        self._draining = False
        # Jobs whose terminal event went out: each holds its final snapshot until this
        # thread next wakes from a wait, has delivered one more batch, or ends, so that
        # the threads its end woke (in wait()) take that very snapshot rather than build
        # it again; then it lets go. Changed by this thread only (and after a fork).
        self._ended: list[Job] = []

    # -- posting (state lock held) ---------------------------------------------------

    def start(self) -> None:
        """Make sure the delivery thread runs; call it before registering a job.

        Raises ``RuntimeError`` when no thread can be started (Python 3.12 in an atexit
        handler, or a process limit), so that the caller can refuse the job cleanly.
        """
        if self._thread is not None:
            return
        thread = threading.Thread(target=self._run, name="transferqueue-events", daemon=True)
        thread.start()
        self._thread = thread
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)

    def post_created(self, job: Job) -> TransferJob:
        """Queue the ``job-created`` event of a new job; return its snapshot."""
        self._open_jobs += 1
        snapshot = job.snapshot()
        self._post((job_created, snapshot, job, 0, _NO_CHANGES))
        return snapshot

    def post_update(self, job: Job) -> None:
        """Queue a ``job-updated`` event with the job as it stands now."""
        self._pending.pop(job, None)  # this snapshot reports those changes too
        if job.is_finished:
            self._open_jobs -= 1
        self._post(_updated(job))

    def mark_changed(self, job: Job) -> None:
        """Note a file-level change; it is reported within ``update_interval``.

        At interval 0 every change is posted, as its own snapshot, when anyone listens.
        """
        if self._update_interval == 0:
            if self._is_listened_to(job):  # a snapshot per change is O(files): only if heard
                self.post_update(job)
        elif job not in self._pending:
            self._pending[job] = None
            self._wakeup.notify()

    def _post(self, event: _Event) -> None:
        self._outbox.append(event)
        self._wakeup.notify()

    def _is_listened_to(self, job: Job) -> bool:
        return self._backend is not None or bool(job_updated.receivers) or job in self._feeds

    # -- watches (state lock held) -----------------------------------------------------

    def watch(
        self,
        job: Job,
        first: TransferJob,
        unsubscribe: Unsubscribe | None,
        **options: float | None,
    ) -> JobWatch[TransferJob | None]:
        """Return a watch of the job that starts with ``first``, its snapshot of now;
        ``unsubscribe`` may be None for a finished job (nothing is subscribed then)."""
        subscribed = not job.is_finished  # else nothing more will come
        feed = WatchFeed(first, job.updates_posted, subscribed=subscribed)
        if subscribed:
            self._feeds.setdefault(job, []).append(feed)
        return JobWatch(
            job.id,
            feed,
            unsubscribe if subscribed else None,
            in_feeding_thread=self.is_delivery_thread,
            **options,
        )

    def forget_feed(self, job: Job, feed: WatchFeed) -> None:
        """Unsubscribe a closed watch's feed (it may have gone with its job already)."""
        feeds = self._feeds.get(job)
        if feeds is not None and feed in feeds:
            feeds.remove(feed)
            if not feeds:
                del self._feeds[job]

    def watch_count(self) -> int:
        """How many watches are subscribed, across jobs (one dropped while the lock was
        busy stays counted until its job's next event). Call it with the state lock held."""
        return sum(len(feeds) for feeds in self._feeds.values())

    def _feeds_of(self, batch: list[_Event]) -> dict[Job, tuple[WatchFeed, ...]]:
        """The open feeds of the batch's jobs; forget closed ones and finished jobs'."""
        found: dict[Job, tuple[WatchFeed, ...]] = {}
        for _, snapshot, job, _, _ in batch:
            feeds = self._feeds.get(job)
            if feeds is None:
                continue
            feeds[:] = [feed for feed in feeds if not feed.closed]
            found[job] = tuple(feeds)
            if snapshot.status.is_terminal or not feeds:
                del self._feeds[job]
        return found

    def is_delivery_thread(self) -> bool:
        """True when called from a receiver, in the delivery thread (no lock needed)."""
        return threading.current_thread() is self._thread

    def reset_after_fork(self, lock: threading.Lock, job_finished: threading.Condition) -> None:
        """In a forked child: nothing to send, no thread, and the parent's watches end."""
        self._wakeup = threading.Condition(lock)
        self._job_finished = job_finished
        self._outbox = []
        self._pending = {}
        self._speed_checks = {}
        self._next_speed_check = math.inf
        for feeds in self._feeds.values():
            for feed in feeds:
                feed.end_after_fork()
        self._feeds = {}
        self._thread = None
        self._threads = []
        self._open_jobs = 0
        self._draining = False
        self._let_go_of_ends()

    # -- shutting down (state lock not held) -------------------------------------------

    def join(self) -> None:
        """Deliver everything posted, without waiting for the interval, and end the thread."""
        with self._wakeup:
            self._draining = True
            self._wakeup.notify()
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join()

    # -- the delivery thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wakeup:
                batch = self._take_batch()
                if not batch:
                    self._let_go_of_ends()
                    self._thread = None
                    return
                feeds = self._feeds_of(batch)
            self._send(batch, feeds)
            finished = [job for event in batch if (job := _finished_job(event))]
            # Not kept while waiting for the next batch: a finished job's final snapshot
            # is let go of by its job at this thread's next wake-up (see _ended).
            del batch, feeds
            if finished or self._ended:
                # O(files) each: without the lock (a finished job's table never changes).
                compact = [job.compact_files() for job in finished]
                with self._wakeup:
                    self._let_go_of_ends()  # a batch went out since: they had their turn
                    for job, files in zip(finished, compact, strict=True):
                        job.keep_compact_files(files)
                        job.terminal_delivered = True
                        job.last_update_sent = NEVER_SENT  # nothing more: its time goes
                    if finished:
                        self._ended.extend(finished)
                        self._job_finished.notify_all()

    def _let_go_of_ends(self) -> None:
        """The jobs whose end went out before this thread's last wait (or last batch)
        hold their final snapshots no longer (state lock held)."""
        for job in self._ended:
            job.release_final_snapshot()
        self._ended = []

    def _take_batch(self) -> list[_Event]:
        """Wait for events and return them in order; empty when the thread should end."""
        reached: float | None = None  # the due time a wait last timed out for
        idle = False
        while True:
            # The only clock read of the coalescing, always from this thread: freezegun
            # returns real or frozen time.monotonic() depending on the caller's stack, so
            # reads from several threads could not be compared. A wait that timed out means
            # its due time has come even if the clock stands still (freezegun).
            now = time.monotonic()
            if reached is not None:
                now = max(now, reached)
            if self._draining:
                now = math.inf
            batch, self._outbox = self._outbox, []
            for _, _, job, _, _ in batch:
                job.last_update_sent = now
                self._follow_speed(job, now)
            next_due = self._flush_due(batch, now)
            check_due = self._settle_speeds(batch, now)
            if batch:
                return batch
            if next_due is None and check_due is None:
                if self._draining or (idle and not self._open_jobs):
                    return batch
                idle = not self._wakeup.wait(_IDLE_SECONDS)
                self._let_go_of_ends()
                reached = None
            else:
                due, timeout = math.inf, math.inf
                if next_due is not None:
                    # Bounded by the interval: with a frozen clock next_due - now can exceed it.
                    due, timeout = next_due, min(next_due - now, self._update_interval)
                if check_due is not None and check_due - now < timeout:
                    due, timeout = check_due, check_due - now
                timed_out = not self._wakeup.wait(min(timeout, threading.TIMEOUT_MAX))
                self._let_go_of_ends()
                reached = due if timed_out else None
                idle = False

    def _flush_due(self, batch: list[_Event], now: float) -> float | None:
        """Append a snapshot of each pending job that is due; return when the next is."""
        if not self._pending:
            return None
        next_due: float | None = None
        for job in list(self._pending):
            due = job.last_update_sent + self._update_interval
            if now >= due:
                del self._pending[job]
                job.last_update_sent = now
                if self._is_listened_to(job):  # nobody to tell: skip building the snapshot
                    batch.append(_updated(job))
            elif next_due is None or due < next_due:
                next_due = due
        return next_due

    def _follow_speed(self, job: Job, now: float) -> None:
        """Look at an active job's speed a window from now; forget a finished job."""
        if job.is_finished:
            self._speed_checks.pop(job, None)
        elif job.status is TransferStatus.ACTIVE and job not in self._speed_checks:
            due = self._speed_checks[job] = now + job.speed_window_seconds
            self._next_speed_check = min(self._next_speed_check, due)

    def _settle_speeds(self, batch: list[_Event], now: float) -> float | None:
        """Let each due job's speed fall to 0 if it stalled (appending its snapshot when
        heard); return when the next check is due. None while draining: no checks then."""
        if self._draining or not self._speed_checks:
            return None
        if now < self._next_speed_check:
            return self._next_speed_check
        next_due = math.inf
        for job, due in list(self._speed_checks.items()):
            if now >= due:
                settled = job.settle_speed()
                if settled is None:  # no longer active
                    del self._speed_checks[job]
                    continue
                changed, seconds = settled
                due = self._speed_checks[job] = now + seconds
                if changed and self._is_listened_to(job):
                    self._pending.pop(job, None)  # this snapshot reports those changes too
                    job.last_update_sent = now
                    batch.append(_updated(job))
            next_due = min(next_due, due)
        self._next_speed_check = next_due
        return None if next_due == math.inf else next_due

    def _send(self, batch: list[_Event], feeds: dict[Job, tuple[WatchFeed, ...]]) -> None:
        sender = self._sender
        if self._backend is not None:  # first: other processes' readers wait for it
            # A job's creation was written by queue_job already.
            updates = [
                (snapshot, sequence, changes)
                for signal, snapshot, _, sequence, changes in batch
                if signal is job_updated
            ]
            if updates:
                self._backend.publish(updates)
        for signal, snapshot, job, sequence, changes in batch:
            _log_event(signal, snapshot)
            job_feeds = feeds.get(job, ())
            updated = signal is job_updated
            # Sorted once per event, without the lock, and only if anyone takes it; one
            # tuple for all.
            changed = tuple(sorted(changes)) if updated and job_feeds else None
            if not signal.is_muted:  # receivers_for() ignores muting; Signal.send honours it
                for receiver in signal.receivers_for(sender):
                    try:
                        style = decisions.call_style(receiver)
                        if style == COROUTINE:
                            raise _coroutine_refused(signal)
                        # Only to receivers that take it: one written before it existed,
                        # def on_update(sender, job), must not fail at every event.
                        if updated and style == WITH_CHANGED_FILES:
                            if changed is None:
                                changed = tuple(sorted(changes))
                            receiver(sender, job=snapshot, changed_files=changed)
                        else:
                            receiver(sender, job=snapshot)
                    except BaseException as exc:  # noqa: BLE001 - it stops neither delivery nor others
                        log_in_queue_thread(
                            logging.ERROR,
                            "%s receiver %r raised on job %s",
                            signal.name,
                            receiver,
                            snapshot.id,
                            exc_info=exc,
                        )
            if changed is not None:  # a job-updated, sorted for the feeds if it has any
                for feed in job_feeds:
                    feed.offer(snapshot, sequence, changed, notify=False)
                # One consumer woken here, each woken one waking the next: not all of
                # them at once, contending for the GIL (wake_in_turn).
                wake_in_turn(job_feeds)


def _coroutine_refused(signal: NamedSignal) -> RuntimeError:
    """What blinker's ``Signal.send`` raises for an ``async def`` receiver, which it cannot
    call: calling it would only make a coroutine that nothing awaits, so it would never run."""
    return RuntimeError(
        f"Cannot send to a coroutine function: {signal.name} receivers are called in the "
        "queue's event thread; connect a plain function that hands the job to your event "
        'loop (loop.call_soon_threadsafe), see docs/howto/scripts.rst, "Bridging to asyncio"'
    )


def _updated(job: Job) -> _Event:
    """A ``job-updated`` event with the job as it stands now, numbered in its sequence,
    with the files changed since the job's previous ``job-updated``."""
    job.updates_posted += 1
    snapshot = job.snapshot()
    return (job_updated, snapshot, job, job.updates_posted, job.take_changed_files())


def _finished_job(event: _Event) -> Job | None:
    """The job whose terminal ``job-updated`` this event is, if it is one."""
    signal, snapshot, job, _, _ = event
    return job if signal is job_updated and snapshot.status.is_terminal else None


def _log_event(signal: NamedSignal, job: TransferJob) -> None:
    """Log a job's creation and its end; its other updates are too many to log."""
    progress = job.progress
    if signal is job_created:
        log_in_queue_thread(
            logging.INFO,
            "job %s queued: %s, %d files, %d bytes",
            job.id,
            job.type,
            progress.total_files,
            progress.total_bytes,
        )
    elif job.status is TransferStatus.COMPLETED:
        log_in_queue_thread(
            logging.INFO, "job %s completed: %d files", job.id, progress.completed_files
        )
    elif job.status is TransferStatus.FAILED:
        log_in_queue_thread(logging.WARNING, "job %s failed: %s", job.id, job.error)
    elif job.status is TransferStatus.CANCELLED:
        log_in_queue_thread(logging.INFO, "job %s cancelled: %s", job.id, job.error)
