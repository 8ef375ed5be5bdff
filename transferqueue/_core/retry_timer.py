"""The files waiting out a retry delay, and the thread that wakes them when it ends.

A waiting file holds no concurrency slot and no worker: only an entry in a heap. One
thread per queue, started when the first file waits and ended when none does, sleeps
until the earliest entry is due and hands it back to the queue.

Cancelling a job forgets its entries lazily: they are marked, skipped when they reach the
top of the heap, and swept out when they outnumber the live ones. So a cancel costs what
its own entries cost, not a rebuild of the whole heap under the lock, and cancelling many
jobs stays linear; the heap never holds more than twice the live entries (plus a few).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from .job import Job

# Discarded entries are swept out once they outnumber the live ones and this many; below
# it, sweeping a small heap again and again would cost more than keeping them.
_SWEEP_MINIMUM = 64


class _Wait:
    """One file waiting for its retry; ``discarded`` once its job was cancelled."""

    __slots__ = ("discarded", "index", "job")

    def __init__(self, job: Job, index: int) -> None:
        self.job = job
        self.index = index
        self.discarded = False


# due (time.monotonic) or, while incoming, the delay; tie-breaker (unique); the wait
_Entry = tuple[float, int, _Wait]


class RetryTimer:
    """The retry waits of one queue. Every method is called with the queue's state lock
    held, which the timer thread also takes to hand over due files; ``on_due(job,
    index)`` runs under it too, so it must only do bookkeeping."""

    def __init__(self, lock: threading.Lock, on_due: Callable[[Job, int], None]) -> None:
        self._on_due = on_due
        self._wakeup = threading.Condition(lock)  # one waiter: the timer thread
        # Only the timer thread reads the clock: freezegun gives threads different
        # time.monotonic() depending on their stacks. So a new wait arrives as a delay
        # in _incoming and the thread turns it into a due time in _heap.
        self._incoming: list[_Entry] = []
        self._heap: list[_Entry] = []
        self._waits: dict[Job, set[_Wait]] = {}  # each job's live waits, to discard them
        self._live = 0  # waits neither due yet nor discarded
        self._discarded = 0  # discarded waits still in _incoming or _heap
        self._order = itertools.count()  # equal due times keep their order
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        """How many files wait (discarded entries not counted)."""
        return self._live

    @property
    def stored(self) -> int:
        """How many entries are kept, discarded ones not yet swept out included: at most
        twice :func:`len` plus a few dozen."""
        return len(self._heap) + len(self._incoming)

    def add(self, job: Job, index: int, delay: float) -> None:
        """Wake the job's file ``index`` after ``delay`` seconds.

        Raises ``RuntimeError`` if no timer thread can start (nothing is added then).
        """
        if self._thread is None:
            thread = threading.Thread(target=self._run, name="transferqueue-retries", daemon=True)
            thread.start()
            self._thread = thread
        wait = _Wait(job, index)
        self._waits.setdefault(job, set()).add(wait)
        self._live += 1
        self._incoming.append((delay, next(self._order), wait))
        self._wakeup.notify()

    def discard(self, job: Job) -> None:
        """Forget the job's waiting files (its job was cancelled): they never wake.

        Costs the job's own entries: they are marked here and dropped later.
        """
        waits = self._waits.pop(job, None)
        if waits is None:
            return
        for wait in waits:
            wait.discarded = True
        self._live -= len(waits)
        self._discarded += len(waits)
        if self._live == 0:
            self._forget_all()
        elif self._discarded > max(self._live, _SWEEP_MINIMUM):
            self._sweep()
        self._wakeup.notify()

    def clear(self) -> list[Job]:
        """Forget every waiting file; return their jobs, each once, oldest wait first."""
        live = [entry for entry in self._heap + self._incoming if not entry[2].discarded]
        jobs = [entry[2].job for entry in sorted(live, key=lambda entry: entry[1])]
        self._forget_all()
        self._wakeup.notify()
        return list(dict.fromkeys(jobs))

    def thread(self) -> threading.Thread | None:
        """The timer thread, if one runs: to join at shutdown."""
        return self._thread

    def reset_after_fork(self, lock: threading.Lock) -> None:
        """In a forked child: no thread runs and no parent file waits here."""
        self._wakeup = threading.Condition(lock)
        self._forget_all()
        self._thread = None

    def _forget_all(self) -> None:
        self._heap = []
        self._incoming = []
        self._waits = {}
        self._live = 0
        self._discarded = 0

    def _sweep(self) -> None:
        """Drop the discarded entries: linear in the heap, which they are half of at least."""
        self._incoming = [entry for entry in self._incoming if not entry[2].discarded]
        self._heap = [entry for entry in self._heap if not entry[2].discarded]
        heapq.heapify(self._heap)
        self._discarded = 0

    def _run(self) -> None:
        with self._wakeup:
            reached = -float("inf")  # the due time a wait last timed out for
            while self._live:
                # A wait that timed out means its due time came, even where the clock
                # stands still (freezegun patches time.monotonic for some callers).
                now = max(time.monotonic(), reached)
                for delay, order, wait in self._incoming:
                    heapq.heappush(self._heap, (now + delay, order, wait))
                self._incoming = []
                due, _, wait = self._heap[0]
                if wait.discarded:
                    heapq.heappop(self._heap)
                    self._discarded -= 1
                    continue
                if due > now:
                    if not self._wakeup.wait(due - now):
                        reached = due
                    continue
                heapq.heappop(self._heap)
                self._live -= 1
                waits = self._waits[wait.job]
                waits.remove(wait)
                if not waits:
                    del self._waits[wait.job]
                self._on_due(wait.job, wait.index)
            self._thread = None
