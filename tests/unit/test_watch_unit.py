"""Unit tests of JobWatch alone: no queue, no event thread; the test
feeds it snapshots with its feed's ``offer()``, as the event thread would.

The functional side, with a real queue, is in ``test_watch.py``.
"""

from __future__ import annotations

import gc
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.threads import in_thread
from tests.helpers.watching import (
    FROZEN,
    assert_clock_frozen,
    changes_of,
    closed_after,
    drain_until_timeout,
)
from transferqueue import JobWatch
from transferqueue._events.watch import WatchFeed

JOB_ID = "transfer-1-1"
CREATED = datetime(2030, 1, 1, tzinfo=timezone.utc)
SIZE = 1000


def snapshot(loaded: int, status: str = "active") -> tq.TransferJob:
    """A one-file job snapshot with ``loaded`` bytes done, in ``status``."""
    job_status = tq.TransferStatus(status)
    file_status = {
        "queued": tq.TransferFileStatus.QUEUED,
        "active": tq.TransferFileStatus.TRANSFERRING,
        "completed": tq.TransferFileStatus.COMPLETED,
    }.get(status, tq.TransferFileStatus.ERROR)
    done = job_status is tq.TransferStatus.COMPLETED
    return tq.TransferJob(
        id=JOB_ID,
        type=tq.TransferType.S3_UPLOAD,
        status=job_status,
        files=(tq.TransferFile("src", "dst", SIZE, loaded, file_status),),
        progress=tq.TransferProgress(
            total_files=1,
            completed_files=int(done),
            failed_files=int(job_status.is_terminal and not done),
            total_bytes=SIZE,
            loaded_bytes=loaded,
            percentage=100 if done else loaded * 100 // SIZE,
        ),
        created_at=CREATED,
        started_at=None if status == "queued" else CREATED,
        completed_at=CREATED if job_status.is_terminal else None,
    )


class Unsubscriber:
    """Records the ``blocking`` flag of every unsubscribe call."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, feed: WatchFeed, blocking: bool) -> None:
        self.calls.append(blocking)


def make_watch(
    first: tq.TransferJob | None = None,
    sequence: int = 0,
    unsubscribe: Unsubscriber | None = None,
    *,
    timeout: float | None = WAIT,
    keepalive: float | None = None,
    subscribed: bool = True,
) -> tuple[JobWatch[Any], WatchFeed]:
    """A watch as the queue builds it, and the feed the event thread would offer to;
    ``subscribed=False`` is a watch of a job that was terminal already."""
    feed = WatchFeed(
        first if first is not None else snapshot(0, "queued"), sequence, subscribed=subscribed
    )
    if subscribed and unsubscribe is None:
        unsubscribe = Unsubscriber()
    watch: JobWatch[Any] = JobWatch(
        JOB_ID,
        feed,
        unsubscribe if subscribed else None,
        timeout=timeout,
        keepalive=keepalive,
    )
    return watch, feed


# -- what it yields ------------------------------------------------------------------------


def test_first_next_yields_the_first_snapshot_at_once() -> None:
    """The first next() returns the snapshot the watch started from without waiting
    (timeout=0 would raise on any wait), and is the iterator itself."""
    first = snapshot(10)
    watch, _ = make_watch(first, timeout=0)
    assert iter(watch) is watch
    assert next(watch) is first
    with pytest.raises(TimeoutError):
        next(watch)


def test_newer_snapshots_are_yielded_one_by_one() -> None:
    """Each snapshot offered with a higher sequence is yielded, in order."""
    watch, feed = make_watch(snapshot(0), sequence=3, timeout=0)
    assert next(watch).progress.loaded_bytes == 0
    for sequence, loaded in [(4, 10), (5, 20), (9, 30)]:
        newer = snapshot(loaded)
        feed.offer(newer, sequence)
        assert next(watch) is newer
    with pytest.raises(TimeoutError):
        next(watch)


def test_snapshots_not_newer_than_seen_are_ignored() -> None:
    """A snapshot numbered at or below what the watch has seen (one already on its
    way when the watch began, or one arriving late) is never yielded."""
    first = snapshot(50)
    watch, feed = make_watch(first, sequence=5, timeout=0)
    feed.offer(snapshot(10), 3)  # older than the first snapshot
    feed.offer(snapshot(40), 5)
    assert next(watch) is first
    with pytest.raises(TimeoutError):  # nothing newer was offered
        next(watch)

    watch, feed = make_watch(first, sequence=5, timeout=0)
    assert next(watch) is first
    newest = snapshot(70)
    feed.offer(newest, 7)
    feed.offer(snapshot(60), 6)  # older, after a newer one
    assert next(watch) is newest
    with pytest.raises(TimeoutError):
        next(watch)


def test_the_same_snapshot_is_not_yielded_twice() -> None:
    """An event carrying the very snapshot the watch has (an unchanged job) does
    not yield it again."""
    first = snapshot(20)
    watch, feed = make_watch(first, sequence=1, timeout=0)
    assert next(watch) is first
    feed.offer(first, 2)
    with pytest.raises(TimeoutError):
        next(watch)


def test_slow_consumer_skips_to_the_latest() -> None:
    """Snapshots offered while the consumer does not iterate are skipped; the next
    next() yields the latest."""
    watch, feed = make_watch(snapshot(0), sequence=0, timeout=0)
    assert next(watch).progress.loaded_bytes == 0
    offered = [snapshot(loaded) for loaded in range(1, 51)]
    for sequence, job in enumerate(offered, start=1):
        feed.offer(job, sequence)
    assert next(watch) is offered[-1]
    with pytest.raises(TimeoutError):
        next(watch)


def test_changed_files_follow_the_snapshots_yielded() -> None:
    """``changed_files`` is None for the first snapshot (even one replaced by a
    newer before the consumer looked), then the offered event's own tuple (the same
    object) when nothing was skipped, and the sorted union of the skipped events' and
    the yielded one's when the consumer skipped; older or repeated offers add nothing."""
    watch, feed = make_watch(snapshot(0), sequence=0, timeout=0)
    assert changes_of(watch) is None
    newer = snapshot(1)
    feed.offer(newer, 1, (4,))
    assert next(watch) is newer
    assert changes_of(watch) is None  # the first the consumer sees: every file is new

    own = (2, 7)
    feed.offer(snapshot(2), 2, own)
    next(watch)
    assert changes_of(watch) is own

    latest = snapshot(5)
    feed.offer(snapshot(3), 3, (9, 3))
    feed.offer(snapshot(3), 1, (100,))  # older than one seen: ignored with its changes
    feed.offer(snapshot(4), 4, (1, 3))
    feed.offer(latest, 5, (8,))
    feed.offer(latest, 6, (50,))  # the same snapshot again: ignored
    assert next(watch) is latest
    assert changes_of(watch) == (1, 3, 8, 9)

    feed.offer(snapshot(6), 7, (1,))
    feed.offer(snapshot(7), 8)  # changes unknown: every file
    feed.offer(snapshot(8), 9, (2,))
    next(watch)
    assert changes_of(watch) is None


def test_terminal_snapshot_is_yielded_then_the_iterator_stops() -> None:
    """After skipping intermediates, the terminal snapshot is yielded, then
    StopIteration (at once: no wait), and later offers change nothing."""
    watch, feed = make_watch(snapshot(0), sequence=0)
    next(watch)
    feed.offer(snapshot(100), 1)
    terminal = snapshot(SIZE, "completed")
    feed.offer(terminal, 2)
    feed.offer(snapshot(999), 3)  # nothing comes after terminal; ignored if it did
    closed_before = watch.closed
    assert in_thread(lambda: next(watch)) == [terminal]
    assert (closed_before, watch.closed) == (False, True)
    outcome = in_thread(lambda: next(watch))
    assert isinstance(outcome[0], StopIteration), outcome
    with pytest.raises(StopIteration):
        next(watch)


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_terminal_offered_before_the_first_next(status: str) -> None:
    """A consumer that had not started when the job ended gets the terminal
    snapshot (the latest), then StopIteration."""
    watch, feed = make_watch(snapshot(0, "queued"), sequence=0)
    terminal = snapshot(SIZE if status == "completed" else 0, status)
    feed.offer(terminal, 1)
    assert in_thread(lambda: list(watch)) == [[terminal]]


def test_watch_of_a_terminal_job_yields_it_once() -> None:
    """A watch made for a job already terminal (nothing subscribed) yields its
    terminal snapshot, then stops without waiting."""
    terminal = snapshot(SIZE, "completed")
    watch, _ = make_watch(terminal, subscribed=False, timeout=None)
    assert in_thread(lambda: list(watch)) == [[terminal]]
    assert watch.closed
    watch.close()  # nothing to unsubscribe from; still fine


# -- keep-alive and timeout --------------------------------------------------------------------


def test_keepalive_yields_none_after_a_quiet_period() -> None:
    """With keepalive, waiting that long without a snapshot yields None (repeatedly),
    and a snapshot offered afterwards is still yielded."""
    watch, feed = make_watch(snapshot(0), keepalive=0.01)
    assert next(watch) is not None
    assert next(watch) is None
    assert next(watch) is None
    newer = snapshot(5)
    feed.offer(newer, 1)
    assert next(watch) is newer


def test_without_keepalive_quiet_ends_in_timeout_not_none() -> None:
    """Without keepalive, a quiet watch never yields None: it times out."""
    watch, _ = make_watch(snapshot(0), timeout=0.05)
    next(watch)
    with closed_after(watch, WAIT):
        with pytest.raises(TimeoutError, match=JOB_ID):
            next(watch)
        with pytest.raises(TimeoutError):  # the time is used up for good
            next(watch)


def test_timeout_counts_all_waiting_across_keepalives() -> None:
    """The timeout is the total time waited, not reset by each keep-alive: a quiet
    watch yields a few Nones, then raises TimeoutError."""
    watch, _ = make_watch(snapshot(0), timeout=0.1, keepalive=0.02)
    next(watch)
    items = drain_until_timeout(watch)
    assert items[-1] == "timeout", items
    assert items[:-1] == [None] * (len(items) - 1)
    assert len(items) >= 4


def test_a_ready_snapshot_is_yielded_before_waiting() -> None:
    """A snapshot already offered is yielded even with no time left to wait."""
    watch, feed = make_watch(snapshot(0), timeout=0, keepalive=0.01)
    next(watch)
    newer = snapshot(1)
    feed.offer(newer, 1)
    assert next(watch) is newer


def test_timeout_expires_under_a_frozen_clock() -> None:
    """With freezegun's clock standing still, the timeout still expires."""
    with freeze_time(FROZEN):
        assert_clock_frozen()
        watch, _ = make_watch(snapshot(0), timeout=0.1)
        next(watch)
        with closed_after(watch, WAIT), pytest.raises(TimeoutError):
            next(watch)


def test_keepalives_and_timeout_under_a_frozen_clock() -> None:
    """Under freezegun, keep-alives come at their interval and the timeout,
    which they do not reset, still ends the iteration."""
    with freeze_time(FROZEN):
        assert_clock_frozen()
        watch, _ = make_watch(snapshot(0), timeout=0.1, keepalive=0.02)
        next(watch)
        items = drain_until_timeout(watch)
    assert items[-1] == "timeout", items
    assert set(items[:-1]) == {None}


# -- closing -------------------------------------------------------------------------------------


def test_close_unsubscribes_once_and_ends_the_iterator() -> None:
    """``close()`` unsubscribes (blocking, from the caller's thread) exactly once, even
    when called again; the iterator ends, a pending snapshot included, and later offers
    are ignored."""
    unsubscribe = Unsubscriber()
    watch, feed = make_watch(snapshot(0), unsubscribe=unsubscribe)
    next(watch)
    feed.offer(snapshot(1), 1)  # pending, not yet taken
    watch.close()
    assert unsubscribe.calls == [True]
    assert watch.closed
    feed.offer(snapshot(2), 2)
    outcome = in_thread(lambda: next(watch))
    assert isinstance(outcome[0], StopIteration), outcome
    watch.close()
    assert unsubscribe.calls == [True]


def test_with_block_closes() -> None:
    """``with watch:`` gives the watch itself and closes it on exit, early exit by
    break or exception included."""
    unsubscribe = Unsubscriber()
    watch, _ = make_watch(snapshot(0), unsubscribe=unsubscribe)
    with watch as entered:
        assert entered is watch
        for _ in watch:
            break
    assert unsubscribe.calls == [True]
    assert watch.closed

    unsubscribe = Unsubscriber()
    watch, _ = make_watch(snapshot(0), unsubscribe=unsubscribe)
    with pytest.raises(RuntimeError), watch:
        raise RuntimeError("client gone")
    assert unsubscribe.calls == [True]


def test_dropping_an_open_watch_unsubscribes_without_blocking() -> None:
    """A watch dropped unclosed unsubscribes from its finaliser, without blocking
    (a finaliser may run in a thread that holds the queue's lock)."""
    unsubscribe = Unsubscriber()
    watch, _ = make_watch(snapshot(0), unsubscribe=unsubscribe)
    next(watch)
    del watch
    gc.collect()
    assert unsubscribe.calls == [False]

    unsubscribe = Unsubscriber()
    make_watch(snapshot(0), unsubscribe=unsubscribe)  # never iterated, dropped at once
    gc.collect()
    assert unsubscribe.calls == [False]


def test_dropping_a_closed_watch_does_not_unsubscribe_again() -> None:
    """A watch closed and then dropped is unsubscribed once, by close()."""
    unsubscribe = Unsubscriber()
    watch, _ = make_watch(snapshot(0), unsubscribe=unsubscribe)
    watch.close()
    del watch
    gc.collect()
    assert unsubscribe.calls == [True]


class _SignallingCondition(threading.Condition):
    """A Condition that tells when a thread has started waiting on it."""

    def __init__(self) -> None:
        super().__init__(threading.RLock())
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_close_from_another_thread_wakes_a_blocked_consumer() -> None:
    """``close()`` from another thread ends a consumer blocked in next() (no timeout,
    no keepalive) with StopIteration."""
    first = snapshot(0)
    watch, feed = make_watch(first, timeout=None)
    ready = _SignallingCondition()
    feed.ready = ready  # no other thread uses the feed yet
    outcome: list[object] = []

    def consume() -> None:
        try:
            outcome.append(next(watch))
            outcome.append(next(watch))  # blocks: nothing newer comes
        except StopIteration as exc:
            outcome.append(exc)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert ready.waiting.wait(WAIT)  # the consumer is blocked inside next()
    watch.close()
    thread.join(WAIT)
    assert not thread.is_alive(), "close() did not wake the consumer"
    assert len(outcome) == 2, outcome
    assert outcome[0] is first
    assert isinstance(outcome[1], StopIteration)


def test_an_offer_wakes_a_blocked_consumer() -> None:
    """A snapshot offered from another thread wakes a consumer blocked in next()."""
    first = snapshot(0)
    watch, feed = make_watch(first, timeout=None)
    ready = _SignallingCondition()
    feed.ready = ready
    newer = snapshot(1)

    def offer_when_blocked() -> None:
        if ready.waiting.wait(WAIT):
            feed.offer(newer, 1)
        else:
            watch.close()  # the consumer never blocked: end it, the test fails

    thread = threading.Thread(target=offer_when_blocked, daemon=True)
    thread.start()
    assert in_thread(lambda: [next(watch), next(watch)]) == [[first, newer]]
    thread.join(WAIT)


# -- an offering thread against a consuming thread --------------------------------------------


def test_concurrent_offers_are_consumed_in_order_ending_with_terminal() -> None:
    """With one thread offering 2,000 snapshots and the terminal one while another
    iterates, the consumer gets an increasing subsequence ending with the terminal."""
    watch, feed = make_watch(snapshot(0), sequence=0)
    offered = [snapshot(loaded) for loaded in range(1, 2001)]
    terminal = snapshot(SIZE, "completed")
    started = threading.Event()

    def produce() -> None:
        assert started.wait(WAIT)
        for sequence, job in enumerate(offered, start=1):
            feed.offer(job, sequence)
        feed.offer(terminal, len(offered) + 1)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()

    def consume() -> list[tq.TransferJob]:
        items = [next(watch)]
        started.set()
        items.extend(watch)
        return items

    (items,) = in_thread(consume)
    producer.join(WAIT)
    assert isinstance(items, list)
    assert items[-1] is terminal
    loaded = [job.progress.loaded_bytes for job in items[:-1]]
    assert loaded == sorted(set(loaded)), "older after newer, or the same one twice"


# -- polled, with a listener (the event-loop streams) -------------------------------------


def test_poll_answers_at_once_and_ends_like_next() -> None:
    """poll() gives the next snapshot if one is due, None at once otherwise (never a
    keep-alive, never a wait: timeout=0 would raise), and StopIteration after the
    terminal snapshot, with the changes a next() would have given."""
    first = snapshot(0)
    watch, feed = make_watch(first, sequence=1, timeout=0, keepalive=0.01)
    assert watch.poll() is first
    assert [watch.changed_files] == [None]  # (a list: mypy would narrow the property)
    assert watch.poll() is None
    assert watch.poll() is None
    feed.offer(snapshot(10), 2, (0,))
    last = snapshot(SIZE, "completed")
    feed.offer(last, 3, (0,))
    assert watch.poll() is last  # skipped to the latest, the changes of both merged
    assert watch.changed_files == (0,)
    assert watch.event_id == "3"
    with pytest.raises(StopIteration):
        watch.poll()


def test_listener_called_after_each_offer_taken_without_the_feeds_lock() -> None:
    """The feed's listener is called once for each snapshot the feed takes (not for one
    it ignores as old), after its lock is released: another thread can take that lock
    from within the listener; after close() it is not called again."""
    watch, feed = make_watch(snapshot(0), sequence=1)
    calls: list[object] = []

    def take_and_release() -> bool:
        if not feed.ready.acquire(timeout=WAIT):
            return False
        feed.ready.release()
        return True

    def listener() -> None:
        # Taken by another thread: it could not be while this thread held it.
        calls.extend(in_thread(take_and_release))

    watch.listen(listener)
    feed.offer(snapshot(10), 2, (0,), notify=False)
    feed.offer(snapshot(5), 2, (0,), notify=False)  # not newer: ignored, no call
    feed.offer(snapshot(20), 3, (0,))
    assert calls == [True, True]
    watch.close()
    feed.offer(snapshot(30), 4, (0,))
    assert calls == [True, True]
    assert feed.listener is None
