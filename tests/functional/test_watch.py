"""Functional tests of ``queue.watch()``, with the queue's real threads.

Most queues here use ``update_interval=0``, so that every change is its own event and a
watch has many snapshots to skip or to get in order. JobWatch on its own, fed by hand, is
tested in ``test_watch_unit.py``.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
import weakref
from collections.abc import Generator, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.threads import in_thread
from tests.helpers.watching import FROZEN, assert_clock_frozen, closed_after, drain_until_timeout

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:

    def assert_type(value, typ):  # typing.assert_type is 3.11+; mypy checks the calls
        return value


_RANK = {"queued": 0, "active": 1, "completed": 2, "failed": 2, "cancelled": 2}


def newness(job: tq.TransferJob) -> tuple[int, int, int]:
    """How far a job has come: status, finished files, bytes (never lower in a newer one,
    for the executors of this file, which never take bytes back)."""
    progress = job.progress
    return (
        _RANK[job.status],
        progress.completed_files + progress.failed_files,
        progress.loaded_bytes,
    )


def assert_each_newer(items: list[tq.TransferJob]) -> None:
    """Every snapshot is newer than the one before: never older, never the same again."""
    for before, after in itertools.pairwise(items):
        assert newness(after) >= newness(before), (newness(before), newness(after))
        assert after is not before
        assert after != before


def assert_ends_with_terminal(items: list[tq.TransferJob]) -> None:
    """The terminal snapshot comes exactly once, last."""
    assert items, "the watch yielded nothing"
    terminal = [i for i, job in enumerate(items) if job.status.is_terminal]
    assert terminal == [len(items) - 1], [job.status for job in items]


class SteppingExecutor:
    """Waits for ``go``, reports 1, 2, … up to the file's size one byte at a time, sets
    ``reported``, then waits for ``release`` before it returns (bounded by WAIT)."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.reported = threading.Event()
        self.release = threading.Event()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if not self.go.wait(WAIT):
            raise AssertionError("never told to go")
        for loaded in range(1, file.size + 1):
            on_progress(loaded)
        self.reported.set()
        if not self.release.wait(WAIT):
            raise AssertionError("never released")

    def open(self) -> None:
        self.go.set()
        self.release.set()


@pytest.fixture
def queue0() -> Iterator[tq.TransferQueue]:
    """A queue with limit 2 that sends one event per change (update_interval=0)."""
    q = tq.TransferQueue(2, update_interval=0)
    try:
        yield q
    finally:
        q.shutdown(wait=True, cancel_jobs=True)


@pytest.fixture
def stepper(queue0: tq.TransferQueue) -> Iterator[SteppingExecutor]:
    """A SteppingExecutor opened at the end of the test, before ``queue0`` shuts down."""
    executor = SteppingExecutor()
    yield executor
    executor.open()


def one_file(size: int = 100) -> list[dict[str, Any]]:
    return make_files(1, size)


# -- what it yields --------------------------------------------------------------------


def test_first_next_yields_current_snapshot_at_once(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """The first next() yields the job as it stands, at once, even while its
    executor is blocked (timeout=0: any waiting would raise TimeoutError instead)."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=0)
    first = next(watch)
    assert first == queue.get_job(job_id)
    assert first.status == "active"
    # Nothing newer exists: the next call waits, and with no time allowed, times out.
    with pytest.raises(TimeoutError):
        next(watch)
    watch.close()


def test_yields_each_newer_snapshot_then_ends_after_terminal(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """After the current snapshot it yields newer ones (never an older one after a
    newer one), ends with the terminal snapshot and then stops; that last item is what
    wait() returns."""
    job_id = queue0.queue_job("s3-upload", make_files(2, 20), stepper)
    items: list[tq.TransferJob] = []
    with queue0.watch(job_id, timeout=WAIT) as watch:
        items.append(next(watch))
        stepper.go.set()
        # Both files report 20 bytes, then wait for release: the job is held at 40.
        while items[-1].progress.loaded_bytes < 40:
            items.append(next(watch))
        assert items[-1].status == "active"
        stepper.release.set()
        items.extend(watch)  # runs to StopIteration
        assert watch.closed
    assert_ends_with_terminal(items)
    assert_each_newer(items)
    assert items[-1].status == "completed"
    assert items[-1].progress.loaded_bytes == 40
    assert items[-1] == queue0.wait(job_id, timeout=WAIT)
    with pytest.raises(StopIteration):
        next(watch)


def test_snapshot_already_on_its_way_is_not_replayed(queue0: tq.TransferQueue) -> None:
    """Events posted before the watch began but delivered after it are older than
    its first snapshot (or the same); the watch never yields them after that snapshot."""
    stepper = SteppingExecutor()
    in_receiver = threading.Event()
    resume = threading.Event()
    held = False

    def holding(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        nonlocal held
        if not held:  # hold the event thread on the job's first update ("active")
            held = True
            in_receiver.set()
            assert resume.wait(WAIT)

    try:
        with tq.job_updated.connected_to(holding, sender=queue0):
            job_id = queue0.queue_job("s3-upload", one_file(10), stepper)
            assert in_receiver.wait(WAIT)
            stepper.go.set()
            assert stepper.reported.wait(WAIT)  # progress 1..10 now waits in the outbox
            watch = queue0.watch(job_id, keepalive=0.05, timeout=WAIT)
            first = next(watch)
            assert first is not None
            assert first.progress.loaded_bytes == 10
            resume.set()  # the ten older snapshots go out now
            # The event thread delivers in order: once this empty job's end is delivered,
            # the ten older events have been offered to the watch.
            queue0.wait(queue0.queue_job("s3-upload", [], noop_executor), timeout=WAIT)
            # The job is held: nothing newer exists, so only a keep-alive may come.
            assert next(watch) is None
            stepper.release.set()
            rest = [job for job in watch if job is not None]
            final = queue0.wait(job_id, timeout=WAIT)
    finally:
        resume.set()
        stepper.open()
    assert rest == [final]


def test_slow_consumer_gets_latest_then_terminal(queue0: tq.TransferQueue) -> None:
    """A consumer that does not iterate while 100 changes happen skips them and gets
    the latest (within one step), then the terminal snapshot, then StopIteration."""
    stepper = SteppingExecutor()
    saw_all = threading.Event()
    received = 0

    def counting(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        nonlocal received
        received += 1
        if job.progress.loaded_bytes == 100:
            saw_all.set()

    try:
        with tq.job_updated.connected_to(counting, sender=queue0):
            job_id = queue0.queue_job("s3-upload", one_file(100), stepper)
            watch = queue0.watch(job_id, timeout=WAIT)
            items = [next(watch)]
            stepper.go.set()
            # The event thread has fed the watch every snapshot before the last one.
            assert saw_all.wait(WAIT)
            while items[-1].progress.loaded_bytes < 100:
                items.append(next(watch))
            assert len(items) <= 3, [job.progress.loaded_bytes for job in items]
            stepper.release.set()
            items.extend(watch)
            final = queue0.wait(job_id, timeout=WAIT)
    finally:
        stepper.open()
    assert received >= 100  # the events were there; the watch skipped them
    assert items[-1] == final
    assert items[-1].status == "completed"
    assert len(items) <= 4
    assert_each_newer(items)
    with pytest.raises(StopIteration):
        next(watch)


def test_consumer_back_after_the_end_gets_only_the_terminal_snapshot(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """A consumer that comes back after the job ended skips every intermediate
    snapshot: it gets the terminal one next, then StopIteration."""
    job_id = queue0.queue_job("s3-upload", make_files(3, 30), stepper)
    watch = queue0.watch(job_id, timeout=WAIT)
    first = next(watch)
    stepper.open()
    final = queue0.wait(job_id, timeout=WAIT)
    assert list(watch) == [final]
    assert first.status != "completed"
    assert final.status == "completed"


def _fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    raise OSError("disk full")


@pytest.mark.parametrize(
    ("how", "status"), [("complete", "completed"), ("fail", "failed"), ("cancel", "cancelled")]
)
def test_watching_a_terminal_job_yields_its_terminal_snapshot_once(
    queue: tq.TransferQueue, gate: GatedExecutor, how: str, status: str
) -> None:
    """A job already terminal gives exactly its terminal snapshot, then the iterator
    stops; nothing is subscribed for it."""
    executors: dict[str, tq.Executor] = {"complete": noop_executor, "fail": _fail, "cancel": gate}
    executor = executors[how]
    job_id = queue.queue_job("s3-upload", make_files(2), executor)
    if how == "cancel":
        assert queue.cancel_job(job_id)
        gate.notify()
    final = queue.wait(job_id, timeout=WAIT)
    watch = queue.watch(job_id)
    assert queue._delivery.watch_count() == 0
    assert next(watch) == final
    assert final.status == status
    with pytest.raises(StopIteration):
        next(watch)
    assert watch.closed


def test_unknown_job_raises_job_not_found_at_call_time(queue: tq.TransferQueue) -> None:
    """``watch()`` of an unknown id raises JobNotFoundError (a KeyError) when called,
    not when iterated; so does a job removed by cleanup_old_jobs."""
    with pytest.raises(tq.JobNotFoundError):
        queue.watch("transfer-0-0")
    with pytest.raises(KeyError):
        queue.watch("nope", timeout=1, keepalive=1)
    job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    assert queue.cleanup_old_jobs(0) == 1
    with pytest.raises(tq.JobNotFoundError):
        queue.watch(job_id)
    assert queue._delivery.watch_count() == 0


# -- keep-alive and timeout ----------------------------------------------------------------


def test_keepalive_yields_none_while_quiet_then_the_snapshot(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """With keepalive, a quiet period yields None (at least once) before the next
    snapshot; snapshots still come after it."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    with queue.watch(job_id, keepalive=0.05, timeout=WAIT) as watch:
        first = next(watch)
        assert first is not None
        assert first.status == "active"
        assert next(watch) is None  # the job is held: only the keep-alive can come
        gate.release_all()
        rest = list(watch)
    assert rest, "no snapshot after the keep-alive"
    assert rest[-1] == queue.wait(job_id, timeout=WAIT)


def test_no_keepalive_means_no_none(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Without keepalive a quiet watch yields nothing: it waits until its timeout
    and raises TimeoutError, never None."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=0.1)
    assert next(watch) is not None
    with closed_after(watch, WAIT), pytest.raises(TimeoutError):
        next(watch)
    watch.close()


def test_keepalive_as_timedelta(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Keepalive and timeout take a timedelta as well as seconds."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    with queue.watch(
        job_id, keepalive=timedelta(milliseconds=20), timeout=timedelta(seconds=WAIT)
    ) as watch:
        assert next(watch) is not None
        assert next(watch) is None


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"keepalive": 0}, ValueError),
        ({"keepalive": -1}, ValueError),
        ({"keepalive": float("nan")}, ValueError),
        ({"keepalive": float("inf")}, ValueError),
        ({"keepalive": timedelta(0)}, ValueError),
        ({"keepalive": "5"}, TypeError),
        ({"keepalive": True}, TypeError),
        ({"timeout": -1}, ValueError),
        ({"timeout": float("nan")}, ValueError),
        ({"timeout": "5"}, TypeError),
        ({"timeout": [1]}, TypeError),
    ],
)
def test_invalid_options_raise_at_call_time(
    queue: tq.TransferQueue, gate: GatedExecutor, options: dict[str, Any], error: type[Exception]
) -> None:
    """A bad keepalive or timeout is refused when watch() is called, and nothing
    is subscribed."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    with pytest.raises(error):
        queue.watch(job_id, **options)
    assert queue._delivery.watch_count() == 0


def test_timeout_raises_while_the_job_is_held(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Iterating raises TimeoutError once the watch has waited ``timeout`` seconds
    without the job finishing."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=0.05)
    assert next(watch) is not None
    outcome = in_thread(lambda: next(watch))
    assert isinstance(outcome[0], TimeoutError), outcome
    assert job_id in str(outcome[0])
    watch.close()
    assert queue._delivery.watch_count() == 0


def test_timeout_raises_under_a_frozen_clock(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """With freezegun's clock standing still, the timeout still expires (the
    watch must not measure its wait with time.monotonic alone)."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    with freeze_time(FROZEN):
        assert_clock_frozen()
        watch = queue.watch(job_id, timeout=0.1)
        assert next(watch) is not None
        with closed_after(watch, WAIT), pytest.raises(TimeoutError):
            next(watch)
    watch.close()


def test_keepalive_and_timeout_under_a_frozen_clock(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Under freezegun, keep-alives come and the timeout (which keep-alives do
    not reset) still ends the iteration."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    with freeze_time(FROZEN):
        assert_clock_frozen()
        watch = queue.watch(job_id, timeout=0.2, keepalive=0.05)
        assert next(watch) is not None
        items = drain_until_timeout(watch)
    assert items[-1] == "timeout", items
    assert set(items[:-1]) == {None}
    watch.close()


# -- unsubscribing ------------------------------------------------------------------------


def test_close_unsubscribes(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """``close()`` unsubscribes at once, ends the iterator and is idempotent."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    watch = queue.watch(job_id, timeout=WAIT)
    other = queue.watch(job_id, timeout=WAIT)
    assert queue._delivery.watch_count() == 2
    next(watch)
    watch.close()
    assert queue._delivery.watch_count() == 1
    assert watch.closed
    with pytest.raises(StopIteration):
        next(watch)
    watch.close()
    assert queue._delivery.watch_count() == 1
    other.close()  # never iterated
    assert queue._delivery.watch_count() == 0


def test_with_block_left_early_unsubscribes(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Leaving a ``with queue.watch(...)`` block early (break) unsubscribes."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    with queue.watch(job_id, timeout=WAIT) as watch:
        assert queue._delivery.watch_count() == 1
        for _ in watch:
            break
    assert queue._delivery.watch_count() == 0
    assert watch.closed


def test_generator_with_block_closed_early_unsubscribes(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """A streaming generator that iterates the watch inside ``with`` (the README's
    Flask sketch) unsubscribes when the server closes it early."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=WAIT)

    def stream() -> Generator[str, None, None]:
        with watch:
            for job in watch:
                yield f"data: {job.status}\n\n"

    response = stream()
    assert next(response) == "data: active\n\n"
    response.close()
    assert queue._delivery.watch_count() == 0


@contextlib.contextmanager
def event_thread_parked(q: tq.TransferQueue) -> Iterator[None]:
    """Hold ``q``'s event thread inside a receiver (where it holds no lock) for the block.

    A dropped watch's finaliser unsubscribes only if the queue's lock is free at that
    instant (else its job's next event does it): parked, the event thread cannot be
    holding it, so the unsubscribing is checked deterministically.
    """
    parked = threading.Event()
    unpark = threading.Event()

    def park(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        parked.set()
        unpark.wait(WAIT)

    with tq.job_created.connected_to(park, sender=q):
        try:
            q.queue_job("s3-upload", [], noop_executor)
            assert parked.wait(WAIT)
            yield
        finally:
            unpark.set()


def test_dropped_watch_is_freed(queue0: tq.TransferQueue, stepper: SteppingExecutor) -> None:
    """A watch dropped without close(), after it was fed events, is freed: the queue,
    its event thread included, keeps no reference to it."""
    job_id = queue0.queue_job("s3-upload", one_file(10), stepper)
    watch = queue0.watch(job_id, timeout=WAIT)
    job = next(watch)
    stepper.go.set()
    while job.progress.loaded_bytes < 10:  # the event thread fed it its last event
        job = next(watch)
    ref = weakref.ref(watch)
    del watch
    gc.collect()
    assert ref() is None


def test_dropped_watch_unsubscribes(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """A watch dropped without close() unsubscribes at once (lock free) and is
    freed."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=WAIT)
    assert next(watch) is not None
    ref = weakref.ref(watch)
    with event_thread_parked(queue):
        del watch
        gc.collect()
        assert ref() is None
        assert queue._delivery.watch_count() == 0


def test_never_iterated_watch_dropped_unsubscribes(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """A watch never iterated (a client gone before the first byte) and dropped
    unsubscribes and is freed."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    with event_thread_parked(queue):
        ref = weakref.ref(queue.watch(job_id))
        gc.collect()
        assert ref() is None
        assert queue._delivery.watch_count() == 0


def test_consumer_generator_closed_early_unsubscribes(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """A generator wrapping the watch without ``with``, closed early as a WSGI
    server closes a response, leaves nothing subscribed."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    gen = (job.status for job in queue.watch(job_id, timeout=WAIT))
    assert next(gen) == "active"
    with event_thread_parked(queue):
        gen.close()
        gc.collect()
        assert queue._delivery.watch_count() == 0


def test_watch_dropped_while_the_lock_is_busy_goes_with_the_next_event(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """A watch dropped where the queue's lock is busy (its finaliser never blocks on
    it) is unsubscribed by its job's next event, before the job ends."""
    job_id = queue0.queue_job("s3-upload", one_file(10), stepper)
    watch = queue0.watch(job_id, timeout=WAIT)
    next(watch)
    with queue0._lock:  # as for a finaliser run by a thread that holds the lock
        del watch
        gc.collect()
    stepper.go.set()
    assert stepper.reported.wait(WAIT)  # ten progress events, the job still active
    # Events are delivered in order: once this empty job's end is out, so are the ten.
    queue0.wait(queue0.queue_job("s3-upload", [], noop_executor), timeout=WAIT)
    assert queue0._delivery.watch_count() == 0


def test_terminal_job_unsubscribes_its_watches(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """Once the job is terminal, the event thread forgets its watches, iterated to
    the end or not."""
    job_id = queue0.queue_job("s3-upload", one_file(5), stepper)
    drained = queue0.watch(job_id, timeout=WAIT)
    idle = queue0.watch(job_id, timeout=WAIT)
    assert queue0._delivery.watch_count() == 2
    stepper.open()
    final = queue0.wait(job_id, timeout=WAIT)
    assert queue0._delivery.watch_count() == 0
    assert list(drained)[-1] == final
    assert next(idle) == final  # what it had pending is the terminal snapshot


def test_watching_starts_no_thread(queue0: tq.TransferQueue, stepper: SteppingExecutor) -> None:
    """A watch (with keepalive and timeout) starts no thread, and none stays
    behind once it is closed."""
    job_id = queue0.queue_job("s3-upload", one_file(10), stepper)
    stepper.go.set()
    assert stepper.reported.wait(WAIT)  # the job is held now: its threads are all up
    before = set(threading.enumerate())
    watch = queue0.watch(job_id, keepalive=0.02, timeout=WAIT)
    assert next(watch) is not None
    assert next(watch) is None
    during = set(threading.enumerate())
    watch.close()
    after = set(threading.enumerate())
    assert during - before == set()
    assert after - before == set()


# -- many consumers, other threads, receivers ---------------------------------------------------


def test_fifty_consumers_each_see_ordered_snapshots_ending_with_terminal(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """50 threads watching one job each get snapshots in order, ending with the
    terminal one that wait() returns; nothing stays subscribed."""
    job_id = queue0.queue_job("s3-upload", make_files(4, 25), stepper)
    consumers = 50
    barrier = threading.Barrier(consumers + 1)
    seen: dict[int, list[tq.TransferJob]] = {}
    errors: list[BaseException] = []

    def consume(number: int) -> None:
        try:
            with queue0.watch(job_id, timeout=WAIT) as watch:
                items = [next(watch)]
                barrier.wait(WAIT)
                items.extend(watch)
            seen[number] = items
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(consumers)]
    for thread in threads:
        thread.start()
    barrier.wait(WAIT)  # every consumer has its first snapshot
    stepper.open()
    for thread in threads:
        thread.join(WAIT)
    assert not [t for t in threads if t.is_alive()]
    assert errors == []
    final = queue0.wait(job_id, timeout=WAIT)
    assert len(seen) == consumers
    for items in seen.values():
        assert items[-1] == final
        assert_ends_with_terminal(items)
        assert_each_newer(items)
    assert queue0._delivery.watch_count() == 0


class _NotedCondition(threading.Condition):
    """A watch's condition that notes which thread notifies it, each time."""

    def __init__(self, notifiers: list[threading.Thread]) -> None:
        super().__init__(threading.RLock())
        self._notifiers = notifiers

    def notify(self, n: int = 1) -> None:
        self._notifiers.append(threading.current_thread())
        super().notify(n)


def test_an_event_wakes_its_watches_in_turn(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """The event thread wakes one watch of a job per event, and each consumer woken
    wakes the next: not twenty threads at once, all wanting the GIL. Every consumer
    still gets the snapshots in order, up to the terminal one."""
    job_id = queue0.queue_job("s3-upload", make_files(1, 5), stepper)
    consumers = 20
    notifiers: list[threading.Thread] = []
    watches = [queue0.watch(job_id, timeout=WAIT) for _ in range(consumers)]
    for watch in watches:  # before any event can reach them: the job waits for go
        watch._feed.ready = _NotedCondition(notifiers)
    barrier = threading.Barrier(consumers + 1)
    seen: dict[int, list[tq.TransferJob]] = {}
    errors: list[BaseException] = []
    events: list[threading.Thread] = []

    def consume(number: int) -> None:
        try:
            with watches[number] as watch:
                items = [next(watch)]
                barrier.wait(WAIT)
                items.extend(watch)
            seen[number] = items
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def counting(sender: object, *, job: tq.TransferJob) -> None:
        events.append(threading.current_thread())

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(consumers)]
    with tq.job_updated.connected_to(counting, sender=queue0):
        for thread in threads:
            thread.start()
        barrier.wait(WAIT)  # every consumer has its first snapshot
        stepper.open()
        for thread in threads:
            thread.join(WAIT)
    assert not [t for t in threads if t.is_alive()]
    assert errors == []
    final = queue0.wait(job_id, timeout=WAIT)
    for items in seen.values():
        assert items[-1] == final
        assert_ends_with_terminal(items)
        assert_each_newer(items)
    assert len(seen) == consumers
    (event_thread,) = set(events)
    # At most one wake-up per event from the event thread (none when no consumer was
    # waiting); without the relay, one per watch and event.
    assert 0 < len(events) < consumers
    assert len([t for t in notifiers if t is event_thread]) <= len(events)


def test_a_busy_consumer_does_not_hold_up_the_other_watches(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """Watches are woken in turn, but one whose consumer is not waiting (busy elsewhere,
    here never iterating again) is passed over: the watches after it still get every
    snapshot, and it gets the latest when it looks."""
    job_id = queue0.queue_job("s3-upload", make_files(1, 5), stepper)
    busy = queue0.watch(job_id, timeout=WAIT)  # first in turn
    assert next(busy) is not None
    consumers = 5
    barrier = threading.Barrier(consumers + 1)
    seen: dict[int, list[tq.TransferJob]] = {}
    errors: list[BaseException] = []

    def consume(number: int) -> None:
        try:
            # No timeout: a wake-up that never came would leave it waiting, to be
            # closed after WAIT, and its snapshots would then end without the terminal.
            with queue0.watch(job_id) as watch, closed_after(watch, WAIT):
                items = [next(watch)]
                barrier.wait(WAIT)
                items.extend(watch)
            seen[number] = items
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(consumers)]
    for thread in threads:
        thread.start()
    barrier.wait(WAIT)
    stepper.open()
    for thread in threads:
        thread.join(2 * WAIT)
    assert not [t for t in threads if t.is_alive()]
    assert errors == []
    final = queue0.wait(job_id, timeout=WAIT)
    assert len(seen) == consumers
    for items in seen.values():
        assert items[-1] == final
        assert_ends_with_terminal(items)
    with busy:
        assert list(busy) == [final]


def test_close_from_another_thread_wakes_the_consumer(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """``close()`` from another thread ends a consumer blocked in next() with
    StopIteration, promptly (well before its own timeout)."""
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = queue.watch(job_id, timeout=3 * WAIT)
    assert next(watch) is not None
    blocking = threading.Event()
    outcome: list[object] = []

    def consume() -> None:
        blocking.set()
        try:
            outcome.append(next(watch))
        except StopIteration as exc:
            outcome.append(exc)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert blocking.wait(WAIT)
    watch.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], StopIteration)
    assert queue._delivery.watch_count() == 0


def test_snapshots_are_those_receivers_get(
    queue0: tq.TransferQueue, stepper: SteppingExecutor
) -> None:
    """After the first, every snapshot a watch yields is one the job_updated
    receivers got (the same object), and the last is the terminal event's."""
    received: list[tq.TransferJob] = []

    def collect(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        received.append(job)

    with tq.job_updated.connected_to(collect, sender=queue0):
        job_id = queue0.queue_job("s3-upload", make_files(2, 10), stepper)
        watch = queue0.watch(job_id, timeout=WAIT)
        items = [next(watch)]
        stepper.open()
        items.extend(watch)
        queue0.wait(job_id, timeout=WAIT)
    assert len(items) >= 2
    for item in items[1:]:
        assert any(item is job for job in received), item
    assert items[-1] is received[-1]


@pytest.mark.parametrize("interval", [0, tq.DEFAULT_UPDATE_INTERVAL])
def test_watch_counts_as_a_listener(interval: float) -> None:
    """With no receiver connected at all, a watch still gets file-level progress,
    at update_interval 0 and at the default (snapshots are built for it)."""
    assert not tq.job_updated.receivers, "a receiver leaked from elsewhere: test is void"
    stepper = SteppingExecutor()
    q = tq.TransferQueue(2, update_interval=interval)
    try:
        job_id = q.queue_job("s3-upload", one_file(10), stepper)
        watch = q.watch(job_id, timeout=WAIT)
        items = [next(watch)]
        stepper.go.set()
        assert stepper.reported.wait(WAIT)
        # The job is held at 10 bytes until released: the watch must see them first.
        while items[-1].progress.loaded_bytes < 10:
            items.append(next(watch))
        assert items[-1].status == "active"
        stepper.release.set()
        items.extend(watch)
    finally:
        stepper.open()
        q.shutdown(wait=True, cancel_jobs=True)
    assert items[-1].status == "completed"
    assert_each_newer(items)


def test_watch_types() -> None:
    """``watch()`` is typed JobWatch[TransferJob]; with keepalive its items may be None
    (JobWatch[TransferJob | None]). Checked by mypy --strict over this file; at run time
    only the classes are checked."""
    with tq.TransferQueue(1) as q:
        job_id = q.queue_job("s3-upload", make_files(1), noop_executor)
        final = q.wait(job_id, timeout=WAIT)  # terminal: every watch below yields it, once
        plain: tq.JobWatch[tq.TransferJob] = q.watch(job_id)
        alive: tq.JobWatch[tq.TransferJob | None] = q.watch(job_id, keepalive=1)
        assert_type(q.watch(job_id, timeout=1), tq.JobWatch[tq.TransferJob])
        assert_type(q.watch(job_id, keepalive=1.5), tq.JobWatch[tq.TransferJob | None])
        job = next(plain)
        maybe = next(alive)
        assert_type(job, tq.TransferJob)
        assert_type(maybe, tq.TransferJob | None)
        assert isinstance(plain, tq.JobWatch)
        assert isinstance(alive, tq.JobWatch)
        assert job == maybe == final


def test_a_receiver_cannot_wait_on_a_watch(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """A watch is fed by the event thread, so a receiver iterating one would wait
    for itself: it gets what is there at once, then RuntimeError instead of a hang."""
    outcome: list[object] = []
    done = threading.Event()

    def receiver(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if job.status != "active" or done.is_set():
            return
        # The job is held by the gate: nothing newer can come while this receiver runs.
        with queue.watch(job.id) as watch:
            outcome.append(next(watch).status)
            try:
                next(watch)
            except RuntimeError as exc:
                outcome.append(str(exc))
        done.set()

    with tq.job_updated.connected_to(receiver, sender=queue):
        job_id = queue.queue_job("s3-upload", make_files(1), gate)
        assert done.wait(WAIT)
        gate.release_all()
        assert queue.wait(job_id, timeout=WAIT).status == "completed"
    assert outcome[0] == "active"
    assert "cannot wait in a receiver" in str(outcome[1])
