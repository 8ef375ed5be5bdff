"""A worker of a Redis-backed queue keeps its cluster-wide slot for its process's next
file within ``slot_keep`` of taking it (so that a no-op file costs at most 3 round
trips), against a real redis-server: how many slots were taken, that a kept slot goes
back before its job's end is told, that a limit changed here or a lost slot is never
reused."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend, RedisSemaphore, Slot, SlotLostError


class CountingBackend(RedisBackend):
    """A real RedisBackend that counts the slots it takes from Redis."""

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, namespace="q", **options)  # type: ignore[arg-type]
        self.taken = 0
        self._count_lock = threading.Lock()

    def acquire_slot(self, stopped: Callable[[], bool]) -> Slot | None:
        slot = super().acquire_slot(stopped)
        with self._count_lock:
            self.taken += 1
        return slot


def holders(url: str) -> int:
    with RedisSemaphore(url, 1, namespace="q") as observer:
        return observer.state().holders


def test_a_kept_slot_serves_the_next_files_and_goes_back_before_the_job_ends(
    redis_url: str,
) -> None:
    """slot_keep as long as the lease: 30 files of one worker take one slot in all, and
    once wait() returns the slot is back in Redis (not given back after the end is
    told)."""
    backend = CountingBackend(redis_url, slot_keep=10.0)
    with tq.TransferQueue(1, backend=backend) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(30), noop_executor), WAIT)
        assert job.status is tq.TransferStatus.COMPLETED
        assert holders(redis_url) == 0
    assert backend.taken == 1


def test_slot_keep_zero_takes_a_slot_per_file(redis_url: str) -> None:
    backend = CountingBackend(redis_url, slot_keep=0)
    with tq.TransferQueue(1, backend=backend) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(30), noop_executor), WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert backend.taken == 30
    assert holders(redis_url) == 0


def test_a_limit_set_by_this_process_sends_kept_slots_back(
    redis_url: str,
) -> None:
    """The first file sets the limit (a lower one would do the same): the next file takes
    a slot under the limit as it is now (a second slot taken), the third reuses it."""
    backend = CountingBackend(redis_url, slot_keep=10.0)
    with tq.TransferQueue(1, backend=backend) as queue:

        def set_the_limit_once(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            if file.source_path == "src/file-0":
                queue.update_concurrency_limit(1)

        job = queue.wait(queue.queue_job("s3-upload", make_files(3), set_the_limit_once), WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert backend.taken == 2


def test_a_lost_slot_is_not_reused(redis_url: str) -> None:
    """A slot Redis no longer counts (its holder removed, as when its lease ran out) is
    never kept for another file; a held one within slot_keep is."""
    backend = RedisBackend(redis_url, namespace="q", slot_keep=10.0)
    with tq.TransferQueue(1, backend=backend):
        slot = backend.acquire_slot(lambda: False)
        assert slot is not None
        taken_at = time.monotonic()
        assert backend.may_reuse(slot, taken_at)
        with redis.Redis.from_url(redis_url) as client:
            for key in client.scan_iter("q:semaphore:*"):
                if not key.endswith(b":limit"):
                    client.delete(key)
        with pytest.raises(SlotLostError):
            slot.refresh()
        assert not backend.may_reuse(slot, taken_at)
        backend.release_slot(slot)


def test_a_slot_taken_longer_ago_than_slot_keep_goes_back(redis_url: str) -> None:
    backend = RedisBackend(redis_url, namespace="q", slot_keep=0.05)
    with tq.TransferQueue(1, backend=backend):
        slot = backend.acquire_slot(lambda: False)
        assert slot is not None
        assert not backend.may_reuse(slot, time.monotonic() - 0.05)
        assert backend.may_reuse(slot, time.monotonic())
        backend.release_slot(slot)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"slot_keep": -1}, ValueError, "slot_keep must be a finite duration >= 0"),
        ({"slot_keep": float("nan")}, ValueError, "slot_keep must be a finite duration"),
        ({"slot_keep": "0.1"}, TypeError, "slot_keep must be a number of seconds"),
        ({"slot_keep": 11}, ValueError, r"slot_keep must be at most the lease \(10 s\)"),
        ({"lease": 1, "slot_keep": 2}, ValueError, r"at most the lease \(1 s\)"),
    ],
)
def test_bad_slot_keep_is_refused(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RedisBackend("redis://127.0.0.1:1/0", **options)  # type: ignore[arg-type]


def test_slot_keep_reads_back_in_seconds() -> None:
    assert RedisBackend("redis://127.0.0.1:1/0").slot_keep == 0.05
    assert RedisBackend("redis://127.0.0.1:1/0", slot_keep=timedelta(seconds=1)).slot_keep == 1.0
