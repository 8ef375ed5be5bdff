"""S19 retries (issue #3 part 3): the RetryTimer on its own, with a real lock and thread.

Entries are ordered by giving some a delay of 0 or a few milliseconds and others an
hour: nothing here sleeps, and nothing waits for the hour.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, noop_executor
from transferqueue._core import retry_timer as _retry_timer
from transferqueue._core.clock import utc_now
from transferqueue._core.job import Job
from transferqueue._core.retry_timer import RetryTimer

HOUR = 3600.0


def _job() -> Job:
    return Job(
        tq.TransferType.S3_UPLOAD, [tq.TransferFile("src", "dst", 1)], noop_executor, utc_now()
    )


class Fired:
    """The ``on_due`` callback: records ``(job, index)`` and whether the lock was held."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.calls: list[tuple[Job, int]] = []
        self.lock_held: list[bool] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, job: Job, index: int) -> None:
        # A non-reentrant Lock that this thread holds cannot be taken again.
        held = self.lock.locked() and not self.lock.acquire(blocking=False)
        with self._cond:
            self.calls.append((job, index))
            self.lock_held.append(held)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_calls(self, count: int) -> list[tuple[Job, int]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, WAIT), (
                f"expected {count} due entries, got {len(self.calls)}"
            )
            return list(self.calls)


@pytest.fixture
def lock() -> threading.Lock:
    return threading.Lock()


@pytest.fixture
def fired(lock: threading.Lock) -> Fired:
    return Fired(lock)


@pytest.fixture
def timer(lock: threading.Lock, fired: Fired) -> Iterator[RetryTimer]:
    """A timer whose thread is made to end (every entry dropped) after the test."""
    retry_timer = RetryTimer(lock, fired)
    try:
        yield retry_timer
    finally:
        with lock:
            retry_timer.clear()
            thread = retry_timer.thread()
        if thread is not None:
            thread.join(WAIT)
            assert not thread.is_alive()


def _join(thread: threading.Thread | None) -> None:
    """Wait (bounded) for a timer thread (taken from thread() under the lock) to end."""
    assert thread is not None
    thread.join(WAIT)
    assert not thread.is_alive(), "the timer thread did not end"


def test_no_thread_until_an_entry_is_added(timer: RetryTimer, lock: threading.Lock) -> None:
    """S19: the timer starts its one thread, named "transferqueue-retries", with the
    first waiting entry, not before."""
    before = {t for t in threading.enumerate() if t.name == "transferqueue-retries"}
    assert timer.thread() is None
    assert len(timer) == 0

    with lock:
        timer.add(_job(), 0, HOUR)
        thread = timer.thread()

    assert thread is not None
    assert thread.name == "transferqueue-retries"
    assert thread.is_alive()
    assert thread not in before
    assert len(timer) == 1


def test_entries_come_due_in_order_of_due_time(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: entries fire in the order of their due times, not of adding; equal due
    times keep the order they were added in; an entry due in an hour does not fire."""
    late, first, second, tied, last = (_job() for _ in range(5))
    with lock:  # all added at once: one "now" for all of them
        timer.add(late, 0, HOUR)
        timer.add(last, 4, 0.03)
        timer.add(first, 1, 0)
        timer.add(second, 3, 0.01)
        timer.add(tied, 2, 0)

    calls = fired.wait_calls(4)

    assert calls == [(first, 1), (tied, 2), (second, 3), (last, 4)]
    with lock:
        assert len(timer) == 1
        assert timer.clear() == [late]


def test_on_due_runs_in_the_timer_thread_under_the_lock(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: on_due(job, index) is called in the "transferqueue-retries" thread with
    the queue's lock held (it only does bookkeeping on the queue's state)."""
    job = _job()
    with lock:
        timer.add(job, 7, 0)
        timer.add(job, 8, 0.001)

    assert fired.wait_calls(2) == [(job, 7), (job, 8)]
    assert fired.lock_held == [True, True]
    assert fired.threads == {"transferqueue-retries"}


def test_thread_ends_when_no_entry_is_left(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: once every entry came due the thread ends; the next entry starts a new
    one, which fires too."""
    with lock:
        timer.add(_job(), 0, 0)
        timer.add(_job(), 0, 0.001)
        first_thread = timer.thread()
    fired.wait_calls(2)
    _join(first_thread)

    assert timer.thread() is None
    assert len(timer) == 0

    job = _job()
    with lock:
        timer.add(job, 5, 0)
        second_thread = timer.thread()
    assert second_thread is not None
    assert second_thread is not first_thread
    assert fired.wait_calls(3)[-1] == (job, 5)
    _join(second_thread)


def test_discard_removes_only_that_jobs_entries(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: discard(job) drops every entry of that job (they never fire) and keeps
    the others, which fire as planned, even those due after the dropped ones."""
    dropped, kept = _job(), _job()
    with lock:
        timer.add(dropped, 0, 0.005)
        timer.add(kept, 0, 0.02)
        timer.add(dropped, 1, 0.01)
        timer.add(kept, 1, HOUR)
        timer.discard(dropped)
        assert len(timer) == 2

    # ``kept``'s first entry is due after both of ``dropped``'s: had they stayed, they
    # would have fired before it.
    assert fired.wait_calls(1) == [(kept, 0)]
    with lock:
        assert len(timer) == 1
        assert fired.calls == [(kept, 0)]
        assert timer.clear() == [kept]


def test_discard_of_entries_already_in_the_heap(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: discard also removes entries the thread has already scheduled (taken in
    before a later entry fired), and leaves the other jobs' scheduled entries."""
    dropped, kept, marker = _job(), _job(), _job()
    with lock:
        timer.add(dropped, 0, HOUR)
        timer.add(kept, 0, HOUR)
        timer.add(dropped, 1, HOUR)
        timer.add(marker, 0, 0)
    # The thread took all four in at once before firing the marker.
    fired.wait_calls(1)

    with lock:
        timer.discard(dropped)
        assert len(timer) == 1
        assert timer.clear() == [kept]


def test_discard_of_the_last_entries_ends_the_thread_at_once(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: a thread sleeping for an hour-long wait wakes and ends as soon as its
    entries are discarded (what a cancel relies on), without firing them."""
    job = _job()
    marker = _job()
    with lock:
        timer.add(job, 0, HOUR)
        timer.add(job, 1, HOUR)
        timer.add(marker, 0, 0)
        thread = timer.thread()
    fired.wait_calls(1)  # the thread now sleeps until the hour is up

    with lock:
        timer.discard(job)
        assert len(timer) == 0

    _join(thread)
    assert fired.calls == [(marker, 0)]
    assert timer.thread() is None


def test_discard_of_an_unknown_job_changes_nothing(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: discarding a job with no entries keeps every entry."""
    job = _job()
    with lock:
        timer.add(job, 0, HOUR)
        timer.discard(_job())
        assert len(timer) == 1
        assert timer.clear() == [job]
    assert fired.calls == []


def test_clear_returns_the_jobs_once_each_oldest_wait_first(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """S19: clear() forgets every entry and returns their jobs, each once, in the
    order their first entry was added (not the jobs' creation order); the thread ends
    and nothing fires."""
    a, b, c = _job(), _job(), _job()
    marker = _job()
    with lock:
        timer.add(b, 0, HOUR)  # scheduled in the heap before the marker fires
        timer.add(marker, 0, 0)
        thread = timer.thread()
    fired.wait_calls(1)
    with lock:
        timer.add(a, 0, HOUR)  # still incoming when clear() runs
        timer.add(b, 1, HOUR)
        timer.add(c, 0, HOUR)
        timer.add(a, 1, HOUR)
        assert len(timer) == 5
        assert timer.clear() == [b, a, c]
        assert len(timer) == 0
        assert timer.clear() == []

    _join(thread)
    assert fired.calls == [(marker, 0)]


def test_due_entries_fire_while_the_clock_stands_still(
    timer: RetryTimer, lock: threading.Lock, fired: Fired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S19, S11: with time.monotonic() frozen (as freezegun freezes it for some
    callers) a wait that timed out counts as due: entries still fire, in order."""
    frozen_clock = SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr(_retry_timer, "time", frozen_clock)
    first, second, third = _job(), _job(), _job()
    with lock:
        timer.add(third, 0, 0.03)
        timer.add(first, 0, 0.01)
        timer.add(second, 0, 0.02)
        thread = timer.thread()

    assert fired.wait_calls(3) == [(first, 0), (second, 0), (third, 0)]
    _join(thread)


# -- cancelling many jobs (issue 10, item 9): lazy discards -----------------------------


def test_a_discarded_wait_never_fires_and_a_new_wait_of_the_job_does(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """Issue 10: a discarded entry stays in the heap, marked, and is skipped when due;
    the same job's wait added afterwards (the same file, even) is a new entry and fires.
    Due at once, the discarded ones would fire first had they not been skipped."""
    job, other = _job(), _job()
    with lock:
        timer.add(job, 0, 0)
        timer.add(job, 1, 0)
        timer.add(other, 0, HOUR)  # keeps the discarded entries stored (no sweep)
        timer.discard(job)
        assert len(timer) == 1
        assert timer.stored == 3
        timer.add(job, 0, 0.001)
        assert len(timer) == 2

    assert fired.wait_calls(1) == [(job, 0)]
    with lock:
        assert fired.calls == [(job, 0)]
        assert len(timer) == 1
        assert timer.stored == 1  # the discarded entries went as they came to the top
        assert timer.clear() == [other]


def test_discarding_the_same_job_twice_or_after_its_wait_fired_changes_nothing(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """Issue 10: once a job's waits fired or were discarded, discarding it again
    forgets nothing else."""
    job, kept = _job(), _job()
    with lock:
        timer.add(job, 0, 0)
        timer.add(kept, 0, HOUR)
    fired.wait_calls(1)
    with lock:
        timer.discard(job)
        timer.discard(job)
        assert (len(timer), timer.stored) == (1, 1)
        assert timer.clear() == [kept]


def test_the_heap_stays_bounded_while_many_jobs_are_cancelled(
    timer: RetryTimer, lock: threading.Lock, fired: Fired
) -> None:
    """Issue 10: discarded entries are swept out once they outnumber the live ones (and
    64): what is stored stays within twice the waiting files plus 64 after every discard,
    and the last discard empties it."""
    jobs = [_job() for _ in range(2000)]
    marker = _job()
    with lock:
        for number, job in enumerate(jobs):
            timer.add(job, 0, HOUR)
            timer.add(job, 1, HOUR + number)
        timer.add(marker, 0, 0)
    fired.wait_calls(1)  # the thread has taken them all into its heap
    with lock:
        for job in jobs[:-1]:
            timer.discard(job)
            assert timer.stored <= 2 * len(timer) + 64
        assert len(timer) == 2
        timer.discard(jobs[-1])
        assert (len(timer), timer.stored) == (0, 0)
        thread = timer.thread()
    _join(thread)
    assert fired.calls == [(marker, 0)]


def test_a_cancel_costs_its_own_entries_not_the_whole_heap(
    timer: RetryTimer, lock: threading.Lock, fired: Fired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: cancelling 2,000 jobs one by one, each with a file waiting, rebuilds
    the heap only now and then: the entries heapified in all stay linear in the number
    of entries (rebuilding on every cancel, as before, heapified about 2,000,000)."""
    heapified: list[int] = []

    def counting_heapify(heap: list[Any]) -> None:
        heapified.append(len(heap))
        heapq.heapify(heap)

    monkeypatch.setattr(
        _retry_timer,
        "heapq",
        SimpleNamespace(heappush=heapq.heappush, heappop=heapq.heappop, heapify=counting_heapify),
    )
    jobs = [_job() for _ in range(2000)]
    marker, kept = _job(), _job()
    with lock:
        for job in jobs:
            timer.add(job, 0, HOUR)
        timer.add(kept, 0, HOUR)
        timer.add(marker, 0, 0)
    fired.wait_calls(1)
    with lock:
        for job in jobs:
            timer.discard(job)
        assert len(timer) == 1
        assert timer.clear() == [kept]
    assert sum(heapified) <= 3 * len(jobs)
