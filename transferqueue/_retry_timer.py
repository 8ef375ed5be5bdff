"""The files waiting out a retry delay, and the thread that wakes them when it ends.

A waiting file holds no concurrency slot and no worker: only an entry in a heap. One
thread per queue, started when the first file waits and ended when none does, sleeps
until the earliest entry is due and hands it back to the queue.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

from ._job import Job

_Entry = tuple[float, int, Job, int]  # due (time.monotonic), tie-breaker, job, file index


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
        self._order = itertools.count()  # equal due times keep their order
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._heap) + len(self._incoming)

    def add(self, job: Job, index: int, delay: float) -> None:
        """Wake the job's file ``index`` after ``delay`` seconds.

        Raises ``RuntimeError`` if no timer thread can start (nothing is added then).
        """
        if self._thread is None:
            thread = threading.Thread(target=self._run, name="transferqueue-retries", daemon=True)
            thread.start()
            self._thread = thread
        self._incoming.append((delay, next(self._order), job, index))
        self._wakeup.notify()

    def discard(self, job: Job) -> None:
        """Forget the job's waiting files (its job was cancelled): they never wake."""
        self._incoming = [entry for entry in self._incoming if entry[2] is not job]
        kept = [entry for entry in self._heap if entry[2] is not job]
        if len(kept) != len(self._heap):
            heapq.heapify(kept)
            self._heap = kept
        self._wakeup.notify()

    def clear(self) -> list[Job]:
        """Forget every waiting file; return their jobs, each once, oldest wait first."""
        jobs = [entry[2] for entry in sorted(self._heap + self._incoming, key=lambda e: e[1])]
        self._heap = []
        self._incoming = []
        self._wakeup.notify()
        return list(dict.fromkeys(jobs))

    def thread(self) -> threading.Thread | None:
        """The timer thread, if one runs: to join at shutdown."""
        return self._thread

    def reset_after_fork(self, lock: threading.Lock) -> None:
        """In a forked child: no thread runs and no parent file waits here."""
        self._wakeup = threading.Condition(lock)
        self._heap = []
        self._incoming = []
        self._thread = None

    def _run(self) -> None:
        with self._wakeup:
            reached = -float("inf")  # the due time a wait last timed out for
            while self._heap or self._incoming:
                # A wait that timed out means its due time came, even where the clock
                # stands still (freezegun patches time.monotonic for some callers).
                now = max(time.monotonic(), reached)
                for delay, order, job, index in self._incoming:
                    heapq.heappush(self._heap, (now + delay, order, job, index))
                self._incoming = []
                due = self._heap[0][0]
                if due > now:
                    if not self._wakeup.wait(due - now):
                        reached = due
                    continue
                _, _, job, index = heapq.heappop(self._heap)
                self._on_due(job, index)
            self._thread = None
