"""The Redis semaphore across real processes (tests/helpers/redis_worker.py),
against a real redis-server: the limit holds across processes, waiters are served in
order of arrival, a killed holder's slot comes back within one lease, a paused one
notices it lost its slot, and a semaphore refuses to be used after fork."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial
from typing import cast

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from tests.helpers.worker_process import PROCESS_TIMEOUT, ROOT, Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisSemaphore, SemaphoreState


def waiting_is(semaphore: RedisSemaphore, count: int) -> bool:
    return semaphore.state().waiting == count


def test_three_processes_never_exceed_the_limit_and_use_all_of_it(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """3 processes x 3 threads x 30 acquisitions at a limit of 4: the holders, counting
    themselves in Redis, were never more than 4 at once, and were 4 at some point."""
    limit, threads, rounds = 4, 3, 30
    for _ in range(3):
        workers.append(Worker("contend", redis_url, "tq", limit, threads, rounds, 0.005))
    for worker in workers:
        assert worker.read_line() == "done"
        worker.finish()
    assert redis_client.get("tq:test:max") == str(limit).encode()
    assert redis_client.get("tq:test:acquired") == str(3 * threads * rounds).encode()
    assert redis_client.get("tq:test:running") == b"0"
    with RedisSemaphore(redis_url, limit, namespace="tq") as semaphore:
        assert semaphore.state() == SemaphoreState(limit=limit, holders=0, waiting=0)


def test_a_process_that_keeps_re_acquiring_does_not_starve_the_others(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """Three processes take and release one slot as fast as they can. Whoever holds it
    notes the first waiter in the queue: that process, and not the one that just
    released and asked again, is always the next holder; each gets its turns."""
    with RedisSemaphore(redis_url, 1, namespace="fair") as semaphore:
        slot = semaphore.acquire()
        assert slot is not None
        for count, name in enumerate("ABC", start=1):
            workers.append(Worker("hammer", redis_url, "fair", 1, name))
            assert workers[-1].read_line() == "ready"
            wait_until(partial(waiting_is, semaphore, count), f"{name} queued")
        slot.release()
        wait_until(lambda: redis_client.llen("fair:test:order") >= 150, "150 acquisitions")
        redis_client.set("fair:test:stop", 1)
        for worker in workers:
            worker.finish()
    rows = [
        row.decode().split()
        for row in cast(list[bytes], redis_client.lrange("fair:test:order", 0, -1))
    ]
    names = {pid: name for name, pid, _ in rows}
    order = "".join(name for name, _, _ in rows)
    assert order.startswith("ABC")  # in order of arrival
    for (_, _, head), (_, pid, _) in itertools.pairwise(rows):
        if head != "-":
            assert pid == head, f"{names[pid]} went before {names[head]}: {order}"
    for name in "ABC":
        assert order.count(name) >= 10, order


def test_a_killed_holder_frees_its_slot_within_one_lease(
    redis_url: str,
    workers: list[Worker],
) -> None:
    lease = 1.0
    workers.append(Worker("hold", redis_url, "kill", 1, lease))
    holder = workers[0].read_line().split()
    assert holder[0] == "held"
    with RedisSemaphore(redis_url, 1, namespace="kill") as semaphore:
        workers[0].process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert workers[0].process.wait(PROCESS_TIMEOUT) == -signal.SIGKILL
        assert semaphore.state().holders == 1  # still leased to the dead process
        slot = semaphore.acquire(timeout=WAIT)
        freed_after = time.monotonic() - killed_at
        assert slot is not None
        # The last renewal came at most a third of a lease before the kill.
        assert freed_after <= lease + 0.5, freed_after


def test_a_holder_paused_past_its_lease_notices_it_lost_the_slot(
    redis_url: str,
    workers: list[Worker],
) -> None:
    """SIGSTOP past the lease: another process gets the slot; on SIGCONT the paused
    holder's keeper reports the loss (on_lost) without waiting for Redis to say so."""
    lease = 0.5
    workers.append(Worker("hold", redis_url, "pause", 1, lease))
    worker = workers[0]
    assert worker.read_line().startswith("held ")
    with RedisSemaphore(redis_url, 1, namespace="pause") as semaphore:
        worker.process.send_signal(signal.SIGSTOP)
        try:
            slot = semaphore.acquire(timeout=WAIT)
            assert slot is not None
        finally:
            worker.process.send_signal(signal.SIGCONT)
        line = worker.read_line()
        assert line.startswith("lost "), line
        assert "not renewed within its lease of 0.5 s" in line
        assert semaphore.state().holders == 1  # the paused one took nothing back
        slot.release()
    worker.finish()


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from transferqueue.redis import RedisSemaphore

    semaphore = RedisSemaphore(sys.argv[1], 1, namespace="fork")
    slot = semaphore.acquire()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        messages = []
        for attempt in (semaphore.acquire, slot.release, slot.refresh):
            try:
                attempt()
            except RuntimeError as exc:
                messages.append(str(exc))
        os.write(write, "|".join(messages).encode())
        os._exit(0)
    os.close(write)
    print(os.read(read, 4096).decode())
    os.waitpid(pid, 0)
    print(slot.release(), semaphore.state().holders)
    semaphore.close()
    """
)


def test_a_semaphore_is_refused_in_a_forked_child(redis_url: str) -> None:
    """The parent's slots stay the parent's: the child can neither take new ones through
    the inherited object nor release or renew the parent's."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    messages, after = done.stdout.splitlines()
    refusal = (
        "a RedisSemaphore and its slots belong to the process that created them; "
        "create a new semaphore after fork"
    )
    assert messages.split("|") == [refusal] * 3
    assert after == "True 0"
