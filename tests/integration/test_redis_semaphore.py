"""The Redis semaphore in one process, against a real redis-server.

Several semaphore objects stand for several processes here (each has its own connection
pool and holder ids); tests/integration/test_redis_processes.py runs real processes.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.docs_samples import docs_sample
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import (
    MAX_LIMIT,
    RedisSemaphore,
    SemaphoreState,
    Slot,
    SlotLostError,
)
from transferqueue.redis import _semaphore as semaphore_module

HOLDERS = "transferqueue:semaphore:holders"


@pytest.fixture
def semaphores(redis_url: str) -> Iterator[Callable[..., RedisSemaphore]]:
    """Make semaphores on the test's server (limit 1 unless given); all closed after."""
    made: list[RedisSemaphore] = []

    def make(limit: int = 1, **kwargs: object) -> RedisSemaphore:
        semaphore = RedisSemaphore(redis_url, limit, **kwargs)  # type: ignore[arg-type]
        made.append(semaphore)
        return semaphore

    yield make
    for semaphore in made:
        semaphore.close()


@pytest.fixture
def slow_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiters re-try only every 20 s on their own: a prompt admission proves a wake-up."""
    monkeypatch.setattr(semaphore_module, "MAX_WAITER_LEASE", 60.0)


class Waiter:
    """A thread waiting in ``acquire``; ``result`` once it returned."""

    def __init__(self, semaphore: RedisSemaphore, **kwargs: object) -> None:
        self.result: Slot | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self.result = semaphore.acquire(**kwargs)  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - handed to the test by join()
                self.error = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, name="waiter")
        self.thread.start()

    def join(self) -> Slot | None:
        assert self.done.wait(WAIT), "acquire did not return"
        self.thread.join(WAIT)
        assert self.error is None, self.error
        return self.result


def wait_waiting(semaphore: RedisSemaphore, count: int) -> None:
    wait_until(lambda: semaphore.state().waiting == count, f"{count} wait")


# -- slots --------------------------------------------------------------------------------


def test_at_most_limit_slots_and_release_frees_one(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    """Two objects (two would-be processes) share a limit of 2; release is idempotent."""
    first, second = semaphores(2), semaphores(2)
    a, b = first.acquire(timeout=0), second.acquire(timeout=0)
    assert a is not None
    assert b is not None
    assert a.holder_id != b.holder_id
    assert first.try_acquire() is None
    assert second.try_acquire() is None
    assert first.state() == SemaphoreState(limit=2, holders=2, waiting=0)
    assert first.held() == (a,)
    assert a.release() is True
    assert a.released
    assert not a.lost
    assert a.lost_reason is None
    assert a.release() is False
    assert first.held() == ()
    c = second.try_acquire()
    assert c is not None
    with c:
        assert second.state().holders == 2
    assert c.released
    assert second.state().holders == 1


def test_holder_ids_name_host_and_process(semaphores: Callable[..., RedisSemaphore]) -> None:
    import os
    import socket

    slot = semaphores().acquire()
    assert slot is not None
    host, pid, random_part = slot.holder_id.rsplit(":", 2)
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert len(random_part) == 16
    assert repr(slot) == f"<Slot {slot.holder_id}>"


def test_a_release_wakes_the_waiter(
    semaphores: Callable[..., RedisSemaphore], slow_fallback: None
) -> None:
    """The waiter blocks in Redis and is pushed a wake-up on release, not found by polling
    (its own retry would come 20 s later)."""
    holder, other = semaphores(lease=60), semaphores(lease=60)
    slot = holder.acquire()
    assert slot is not None
    waiter = Waiter(other, timeout=WAIT)
    wait_waiting(holder, 1)
    slot.release()
    got = waiter.join()
    assert got is not None
    assert other.held() == (got,)
    assert holder.state() == SemaphoreState(limit=1, holders=1, waiting=0)


def test_timeout_gives_none_and_leaves_the_queue(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    holder, other = semaphores(), semaphores()
    assert holder.acquire() is not None
    assert other.acquire(timeout=timedelta(milliseconds=300)) is None
    assert other.acquire(timeout=0) is None
    assert holder.state() == SemaphoreState(limit=1, holders=1, waiting=0)


@pytest.mark.parametrize("kind", ["event", "callable"])
def test_cancel_ends_a_wait(semaphores: Callable[..., RedisSemaphore], kind: str) -> None:
    holder, other = semaphores(), semaphores()
    assert holder.acquire() is not None
    stop = threading.Event()
    cancel = stop if kind == "event" else stop.is_set
    waiter = Waiter(other, cancel=cancel)
    wait_waiting(holder, 1)
    stop.set()
    assert waiter.join() is None
    assert holder.state().waiting == 0


def test_a_set_cancel_still_tries_once(semaphores: Callable[..., RedisSemaphore]) -> None:
    """Cancel ends waiting, not trying: a free slot is taken, a busy one not waited for."""
    semaphore = semaphores()
    cancelled = threading.Event()
    cancelled.set()
    slot = semaphore.acquire(cancel=cancelled)
    assert slot is not None
    assert semaphore.acquire(cancel=cancelled) is None
    assert semaphore.state().waiting == 0


def test_cancel_and_timeout_are_checked(semaphores: Callable[..., RedisSemaphore]) -> None:
    semaphore = semaphores()
    with pytest.raises(TypeError, match=r"cancel must be a threading\.Event or a callable"):
        semaphore.acquire(cancel=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a finite duration >= 0"):
        semaphore.acquire(timeout=-1)


def test_an_interrupted_wait_leaves_the_queue(semaphores: Callable[..., RedisSemaphore]) -> None:
    """An exception out of the cancel callable (as KeyboardInterrupt would be) propagates,
    and the waiter's place is given up."""
    holder, other = semaphores(), semaphores()
    assert holder.acquire() is not None

    def interrupt() -> bool:
        if holder.state().waiting:
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        other.acquire(cancel=interrupt)
    assert holder.state() == SemaphoreState(limit=1, holders=1, waiting=0)


def test_waiters_are_admitted_in_order_of_arrival(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    holder = semaphores()
    slot = holder.acquire()
    assert slot is not None
    waiters = []
    for count in (1, 2, 3):
        waiters.append(Waiter(semaphores(), timeout=WAIT))
        wait_waiting(holder, count)
    slot.release()
    for position, waiter in enumerate(waiters):
        got = waiter.join()
        assert got is not None, position
        assert holder.state().waiting == len(waiters) - position - 1
        # Nobody behind it got in first: it is the only holder.
        assert holder.state().holders == 1
        got.release()


def test_a_newcomer_queues_behind_waiters_even_when_a_slot_is_free(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    """Fairness inside Redis: a slot freed by an expired lease (nobody pushed a wake-up)
    belongs to the first waiter; a newcomer's try is refused and wakes that waiter."""
    holder, other, newcomer = semaphores(), semaphores(), semaphores()
    slot = holder.acquire()
    assert slot is not None
    waiter = Waiter(other, timeout=WAIT)
    wait_waiting(holder, 1)
    holder._holdings._keeper.stop()  # nobody renews it now
    redis_client.zadd(HOLDERS, {slot.holder_id: 1}, xx=True)  # its lease ended long ago
    assert newcomer.try_acquire() is None
    assert waiter.join() is not None


# -- leases -------------------------------------------------------------------------------


def test_the_keeper_renews_held_slots(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    semaphore = semaphores(lease=0.3)
    slot = semaphore.acquire()
    assert slot is not None
    first_end = redis_client.zscore(HOLDERS, slot.holder_id)
    assert first_end is not None
    wait_until(
        lambda: (redis_client.zscore(HOLDERS, slot.holder_id) or 0) > first_end + 300,
        "renewed past the first lease",
    )
    assert not slot.lost
    slot.refresh()
    assert semaphore.state().holders == 1
    slot.release()
    # With nothing held the keeper thread ends; a new slot starts a new one.
    wait_until(
        lambda: not any(t.name.startswith("transferqueue-leases") for t in threading.enumerate()),
        "the keeper thread ended",
    )
    again = semaphore.acquire()
    assert again is not None
    second_end = redis_client.zscore(HOLDERS, again.holder_id)
    assert second_end is not None
    wait_until(
        lambda: (redis_client.zscore(HOLDERS, again.holder_id) or 0) > second_end,
        "the new slot renewed",
    )


def test_refresh_after_expiry_reports_the_loss(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    """A lease that ended in Redis is never renewed: refresh raises, the slot reads lost,
    on_lost is called once, and the slot no longer counts anywhere."""
    reports: list[tuple[Slot, str]] = []
    semaphore = semaphores(2, on_lost=lambda slot, reason: reports.append((slot, reason)))
    slot = semaphore.acquire()
    assert slot is not None
    semaphore._holdings._keeper.stop()
    redis_client.zadd(HOLDERS, {slot.holder_id: 1}, xx=True)
    with pytest.raises(SlotLostError, match="its lease had ended in Redis") as caught:
        slot.refresh()
    assert caught.value.holder_id == slot.holder_id
    assert slot.lost
    assert slot.lost_reason == "its lease had ended in Redis"
    assert reports == [(slot, "its lease had ended in Redis")]
    assert semaphore.held() == ()
    assert redis_client.zscore(HOLDERS, slot.holder_id) is None
    with pytest.raises(SlotLostError, match="its lease had ended in Redis"):
        slot.refresh()
    assert len(reports) == 1
    assert slot.release() is False
    with pytest.raises(SlotLostError, match="it was released"):
        slot.refresh()


def test_the_keeper_reports_a_slot_gone_from_redis(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    lost = threading.Event()
    reasons: list[str] = []

    def on_lost(slot: Slot, reason: str) -> None:
        reasons.append(reason)
        lost.set()

    semaphore = semaphores(lease=0.3, on_lost=on_lost)
    slot = semaphore.acquire()
    assert slot is not None
    redis_client.zrem(HOLDERS, slot.holder_id)
    assert lost.wait(WAIT)
    assert reasons == ["its lease had ended in Redis"]
    assert slot.lost


def test_a_lease_that_ran_out_here_is_lost_without_asking_redis(
    semaphores: Callable[..., RedisSemaphore], caplog: pytest.LogCaptureFixture
) -> None:
    """As after a pause (SIGSTOP, swap) longer than the lease: by this process's clock
    the lease ended, so the slot is lost even if Redis would still renew it."""
    semaphore = semaphores(lease=0.3)
    slot = semaphore.acquire()
    assert slot is not None
    semaphore._holdings._keeper.stop()
    with semaphore._holdings.lock:
        slot._renewed_at -= 0.3
    assert slot.lost_reason == "not renewed within its lease of 0.3 s"
    with caplog.at_level(logging.WARNING, logger="transferqueue"), pytest.raises(SlotLostError):
        slot.refresh()
    assert f"slot {slot.holder_id} of transferqueue lost" in caplog.text


def test_on_lost_may_raise_or_close_the_semaphore(
    semaphores: Callable[..., RedisSemaphore],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A raising callback is logged and the others still run; a callback may close the
    semaphore from the keeper's own thread without a deadlock."""
    closed = threading.Event()
    first = semaphores(2, lease=0.3, on_lost=lambda slot, reason: 1 / 0)

    def close_it(slot: Slot, reason: str) -> None:
        second.close()
        closed.set()

    second = semaphores(2, lease=0.3, on_lost=close_it)
    a, c = first.acquire(), second.acquire()
    assert a is not None
    assert c is not None
    with caplog.at_level(logging.ERROR, logger="transferqueue"):
        redis_client.zrem(HOLDERS, a.holder_id, c.holder_id)
        assert closed.wait(WAIT)
        wait_until(lambda: "on_lost callback" in caplog.text, "the raise was logged")
    assert "ZeroDivisionError" in caplog.text
    with pytest.raises(RuntimeError, match="closed"):
        second.acquire()


# -- the limit ----------------------------------------------------------------------------


def test_the_stored_limit_wins_and_comes_back_if_lost(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    first = semaphores(2)
    second = semaphores(5)
    assert first.limit == second.limit == 2
    second.set_limit(3)
    assert first.limit == 3
    redis_client.delete("transferqueue:semaphore:limit")
    assert first.state().limit == 2  # what it would store
    assert first.acquire() is not None
    assert redis_client.get("transferqueue:semaphore:limit") == b"2"
    redis_client.delete("transferqueue:semaphore:limit")
    assert second.acquire() is not None
    assert redis_client.get("transferqueue:semaphore:limit") == b"3"  # its last known limit


def test_lowering_the_limit_admits_nobody_until_below_it(
    semaphores: Callable[..., RedisSemaphore], caplog: pytest.LogCaptureFixture
) -> None:
    semaphore = semaphores(3)
    slots = [semaphore.acquire() for _ in range(3)]
    a, b, c = slots
    assert a is not None
    assert b is not None
    assert c is not None
    with caplog.at_level(logging.INFO, logger="transferqueue"):
        semaphore.set_limit(1)
    assert "cluster limit of transferqueue changed from '3' to 1" in caplog.text
    assert semaphore.state() == SemaphoreState(limit=1, holders=3, waiting=0)  # all kept
    other = semaphores()
    waiter = Waiter(other, timeout=WAIT)
    wait_waiting(semaphore, 1)
    a.release()
    assert semaphore.try_acquire() is None
    assert semaphore.state() == SemaphoreState(limit=1, holders=2, waiting=1)
    b.release()
    assert semaphore.state() == SemaphoreState(limit=1, holders=1, waiting=1)
    assert not waiter.done.is_set()
    c.release()
    assert waiter.join() is not None
    assert semaphore.state() == SemaphoreState(limit=1, holders=1, waiting=0)


def test_raising_the_limit_wakes_waiters_at_once(
    semaphores: Callable[..., RedisSemaphore], slow_fallback: None
) -> None:
    holder = semaphores(lease=60)
    assert holder.acquire() is not None
    waiters = []
    for count in (1, 2, 3):
        waiters.append(Waiter(semaphores(lease=60), timeout=WAIT))
        wait_waiting(holder, count)
    holder.set_limit(3)
    assert waiters[0].join() is not None
    assert waiters[1].join() is not None
    assert holder.state() == SemaphoreState(limit=3, holders=3, waiting=1)
    assert not waiters[2].done.is_set()
    holder.set_limit(4)
    assert waiters[2].join() is not None


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "at least 1"),
        (-2, ValueError, "at least 1"),
        (MAX_LIMIT + 1, ValueError, f"at most {MAX_LIMIT}"),
        (True, TypeError, "must be an int"),
        (2.0, TypeError, "must be an int"),
        ("3", TypeError, "must be an int"),
    ],
)
def test_a_bad_limit_is_refused(
    semaphores: Callable[..., RedisSemaphore],
    redis_url: str,
    value: object,
    error: type[Exception],
    message: str,
) -> None:
    semaphore = semaphores()
    with pytest.raises(error, match=message):
        semaphore.set_limit(value)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        RedisSemaphore(redis_url, value)  # type: ignore[arg-type]
    assert semaphore.limit == 1


def test_the_largest_limit_is_stored_and_read_back(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    semaphore = semaphores(MAX_LIMIT)
    assert semaphore.limit == MAX_LIMIT
    assert semaphore.acquire() is not None


# -- the object ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lease": 0.05}, ValueError, "lease must lie between 0.1 and 3600 seconds"),
        ({"lease": 3601}, ValueError, "lease must lie between"),
        ({"lease": "10"}, TypeError, "lease must be a number of seconds"),
        ({"namespace": ""}, ValueError, "1 to 200 characters"),
        ({"namespace": "x" * 201}, ValueError, "1 to 200 characters"),
        ({"namespace": "a b"}, ValueError, "whitespace or control"),
        ({"namespace": "a\x00"}, ValueError, "whitespace or control"),
        ({"namespace": b"ns"}, TypeError, "namespace must be a str"),
        ({"on_lost": "print"}, TypeError, "on_lost must be callable"),
    ],
)
def test_bad_settings_are_refused(
    redis_url: str,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        RedisSemaphore(redis_url, 1, **kwargs)  # type: ignore[arg-type]


def test_namespaces_are_separate_semaphores(
    semaphores: Callable[..., RedisSemaphore], redis_client: redis.Redis
) -> None:
    exports, imports = semaphores(namespace="exports"), semaphores(namespace="app:imports")
    assert exports.acquire() is not None
    assert imports.acquire() is not None
    assert exports.try_acquire() is None
    assert redis_client.zcard("exports:semaphore:holders") == 1
    assert redis_client.zcard("app:imports:semaphore:holders") == 1
    assert repr(exports) == f"<RedisSemaphore 'exports' at {exports.url}>"
    assert exports.lease == 10.0


def test_close_ends_a_wait_in_another_thread(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    """A wait going on when its semaphore is closed raises at its next try, and leaves
    nothing behind in Redis, whether that try was refused or admitted."""
    holder, observer = semaphores(), semaphores()
    assert holder.acquire() is not None
    waiting = semaphores()
    closing = threading.Event()

    def close_refused() -> bool:
        if not closing.is_set():
            closing.set()
            waiting.close()
        return False

    with pytest.raises(RuntimeError, match="was closed while waiting"):
        waiting.acquire(cancel=close_refused)
    assert observer.state() == SemaphoreState(limit=1, holders=1, waiting=0)

    # Closing releases the object's own slot, which the wait then gets: it is given back.
    both = semaphores(namespace="both")
    assert both.acquire() is not None

    def close_admitted() -> bool:
        if closing.is_set():
            closing.clear()
            both.close()
        return False

    with pytest.raises(RuntimeError, match="was closed while waiting"):
        both.acquire(cancel=close_admitted)
    assert semaphores(namespace="both").state() == SemaphoreState(limit=1, holders=0, waiting=0)


def test_close_releases_every_slot_and_ends_the_object(
    semaphores: Callable[..., RedisSemaphore],
    redis_url: str,
) -> None:
    observer = semaphores(3)
    with RedisSemaphore(redis_url, 3) as semaphore:
        slots = [semaphore.acquire(), semaphore.acquire()]
        assert observer.state().holders == 2
    assert observer.state().holders == 0
    assert all(slot is not None and slot.released for slot in slots)
    semaphore.close()  # again: nothing happens
    with pytest.raises(RuntimeError, match="this RedisSemaphore is closed"):
        semaphore.acquire()


def test_the_readme_example_runs(redis_url: str) -> None:
    """The Redis guide's semaphore example runs as written (on the test's server)."""
    code = docs_sample("A semaphore across processes")
    assert "redis://localhost:6379/0" in code
    done = subprocess.run(
        [sys.executable, "-c", code.replace("redis://localhost:6379/0", redis_url)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SemaphoreState(limit=4, holders=0, waiting=0)"


def test_script_calls_reuse_a_connection_kept_aside_not_a_pool_checkout_each(
    semaphores: Callable[..., RedisSemaphore],
) -> None:
    """The scripts go out on connections of the pool kept aside between calls
    (``RedisConnection.exchange``): a hundred acquire and release cycles check out a
    connection or two from the pool, not one per script call (a checkout costs redis-py
    8 about 50 us of CPU)."""
    semaphore = semaphores(1)
    pool = semaphore._commands.connection.client.connection_pool
    real_get_connection = pool.get_connection
    checkouts: list[object] = []

    def counting(*args: object, **kwargs: object) -> object:
        checkouts.append(args)
        return real_get_connection(*args, **kwargs)

    pool.get_connection = counting  # type: ignore[method-assign,assignment]
    for _ in range(100):
        slot = semaphore.acquire(timeout=WAIT)
        assert slot is not None
        slot.release()
    assert len(checkouts) < 10
