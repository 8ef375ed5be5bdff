"""What the semaphore reads from Redis is untrusted. Values written
straight into its keys (as a bug or a hostile redis_client with access could) are refused with
a RedisDataError naming the key, or dropped where they would block a slot for ever;
set_limit() repairs the limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.helpers.redis_server import MISSING, REQUIRED

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisDataError, RedisSemaphore, SemaphoreState

KEY = "transferqueue:semaphore:"


@pytest.fixture
def semaphore(redis_url: str) -> Iterator[RedisSemaphore]:
    with RedisSemaphore(redis_url, 1) as made:
        yield made


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (b"abc", "'abc'"),
        (b"0", "'0'"),
        (b"-1", "'-1'"),
        (b"2.5", "'2.5'"),
        (b"1e3", "'1e3'"),
        (b"0x10", "'0x10'"),
        (b" 4", "' 4'"),
        (b"4\n", "'4?'"),
        (b"", "''"),
        (b"04", "'04'"),
        (b"1000000000", "'1000000000'"),
        (b"\x00\xff\x1b[31m", "'???[31m'"),
        (b"9" * 100, "'" + "9" * 40 + "...'"),
    ],
)
def test_a_limit_that_is_not_a_plain_integer_is_refused(
    semaphore: RedisSemaphore, redis_client: redis.Redis, stored: bytes, shown: str
) -> None:
    redis_client.set(KEY + "limit", stored)
    expected = (
        f"unexpected data in Redis at {semaphore.url}: the limit key {KEY}limit holds "
        f"{shown}, not an integer from 1 to 999999999 (set_limit() replaces it)"
    )
    for call in (semaphore.acquire, semaphore.try_acquire, semaphore.state):
        with pytest.raises(RedisDataError) as caught:
            call()
        assert str(caught.value) == expected
        assert isinstance(caught.value, ValueError)
    assert redis_client.zcard(KEY + "holders") == 0  # refused before anything was written
    semaphore.set_limit(2)
    assert semaphore.acquire() is not None
    assert semaphore.state() == SemaphoreState(limit=2, holders=1, waiting=0)


def test_a_limit_key_of_another_type_is_refused_then_replaced(
    semaphore: RedisSemaphore, redis_client: redis.Redis
) -> None:
    redis_client.delete(KEY + "limit")
    redis_client.rpush(KEY + "limit", "4")
    with pytest.raises(
        RedisDataError, match=f"the limit key {KEY}limit holds a list, not a string"
    ):
        semaphore.acquire()
    semaphore.set_limit(3)
    assert semaphore.limit == 3


def test_a_release_works_whatever_the_limit_holds(
    semaphore: RedisSemaphore, redis_client: redis.Redis
) -> None:
    """The slot goes back; only waking the waiters is left to them (they report the
    limit themselves)."""
    slot = semaphore.acquire()
    assert slot is not None
    redis_client.set(KEY + "limit", "many")
    assert slot.release() is True
    assert redis_client.zcard(KEY + "holders") == 0


@pytest.mark.parametrize("name", ["holders", "queue", "waiting"])
def test_a_sorted_set_key_of_another_type_is_refused(
    semaphore: RedisSemaphore, redis_client: redis.Redis, name: str
) -> None:
    slot = semaphore.acquire()
    assert slot is not None
    redis_client.delete(KEY + name)
    redis_client.set(KEY + name, "x")
    message = f"{KEY}{name} holds a string, not a zset"
    calls: list[Callable[[], object]] = [
        semaphore.acquire,
        semaphore.state,
        lambda: semaphore.set_limit(2),
    ]
    if name == "holders":
        calls.append(slot.refresh)
    calls.append(slot.release)  # last: the slot counts as released here afterwards
    for call in calls:
        with pytest.raises(RedisDataError, match=message):
            call()


@pytest.mark.parametrize("stored", [b"ten", b"-1", b"1.5", b"9" * 16])
def test_a_ticket_counter_that_is_not_an_integer_is_refused(
    semaphore: RedisSemaphore, redis_client: redis.Redis, stored: bytes
) -> None:
    """Refused when a ticket may be needed; a try that never queues does not need one."""
    redis_client.set(KEY + "tickets", stored)
    with pytest.raises(RedisDataError, match=f"the ticket counter {KEY}tickets holds"):
        semaphore.acquire()
    assert semaphore.try_acquire() is not None
    redis_client.delete(KEY + "tickets")
    redis_client.hset(KEY + "tickets", "a", "1")
    with pytest.raises(RedisDataError, match="holds a hash, not a string"):
        semaphore.acquire(timeout=1)


def test_holders_and_waiters_that_would_never_end_are_dropped(
    semaphore: RedisSemaphore, redis_client: redis.Redis
) -> None:
    """A holder or waiter whose lease ends beyond the longest lease (here: never) was not
    written by this library: it is dropped instead of blocking the slot for ever."""
    redis_client.zadd(KEY + "holders", {"ghost": float("inf"), "far": 2e15})
    redis_client.zadd(KEY + "queue", {"ghost-waiter": 0})
    redis_client.zadd(KEY + "waiting", {"ghost-waiter": float("inf")})
    assert semaphore.state() == SemaphoreState(limit=1, holders=0, waiting=0)
    slot = semaphore.acquire(timeout=5)
    assert slot is not None
    assert redis_client.zrange(KEY + "holders", 0, -1) == [slot.holder_id.encode()]
    assert redis_client.zcard(KEY + "queue") == 0


def test_a_queued_waiter_without_a_lease_is_skipped(
    semaphore: RedisSemaphore, redis_client: redis.Redis
) -> None:
    """An entry in the queue that has no lease (nobody will ever take its turn) does not
    hold up the newcomer behind it."""
    redis_client.zadd(KEY + "queue", {"orphan-1": 0, "orphan-2": 1})
    assert semaphore.acquire(timeout=5) is not None
    assert redis_client.zcard(KEY + "queue") == 0


def test_a_wake_up_key_of_another_type_is_replaced(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """A release pushes the first waiter's wake-up even if its key was overwritten."""
    with RedisSemaphore(redis_url, 1) as holder:
        slot = holder.acquire()
        assert slot is not None
        redis_client.zadd(KEY + "queue", {"someone": 0})
        seconds, micros = redis_client.time()
        alive_for_a_minute = seconds * 1000 + micros // 1000 + 60_000
        redis_client.zadd(KEY + "waiting", {"someone": alive_for_a_minute})
        redis_client.set(KEY + "wake:someone", "not a list")
        slot.release()
        assert redis_client.lrange(KEY + "wake:someone", 0, -1) == [b"1"]
        assert 0 < redis_client.pttl(KEY + "wake:someone") <= 2000
