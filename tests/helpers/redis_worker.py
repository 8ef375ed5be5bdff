"""Worker processes for the Redis semaphore tests: ``python -m tests.helpers.redis_worker ...``.

Each command uses its own :class:`RedisSemaphore` in its own process, and the holders
record what they saw in Redis themselves (keys under ``<namespace>:test:``), so that the
tests check facts from every process, not from the parent's view:

``hold URL NAMESPACE LIMIT LEASE``
    take one slot, print ``held <holder id>``, and keep it (renewed) until stdin closes;
    then release it and exit. Should the slot be lost, print ``lost <reason>``.
``contend URL NAMESPACE LIMIT THREADS ROUNDS HOLD``
    THREADS threads take a slot ROUNDS times each; a holder counts itself in
    ``test:running`` while it holds (keeping the highest count in ``test:max``) for HOLD
    seconds of work, then releases; ``test:acquired`` counts every acquisition. Prints
    ``done`` at the end.
``hammer URL NAMESPACE LIMIT NAME``
    print ``ready``, then take and release a slot again and again, as fast as it can,
    until ``test:stop`` exists. While holding it appends ``NAME PID HEAD`` to the list
    ``test:order``: HEAD is the process id of the first waiter in the queue then (``-``
    if none), the one that must come next.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import cast

import redis

from transferqueue.redis import RedisSemaphore, Slot

# Counts a holder in (KEYS[1]) and keeps the highest count seen (KEYS[2]), atomically.
_COUNT_IN = """
local running = redis.call('INCR', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
return running
"""


def _print_loss(slot: Slot, reason: str) -> None:
    print("lost", reason, flush=True)


def hold(url: str, namespace: str, limit: int, lease: float) -> None:
    with RedisSemaphore(
        url, limit, namespace=namespace, lease=lease, on_lost=_print_loss
    ) as semaphore:
        slot = semaphore.acquire(timeout=30)
        assert slot is not None, "no slot within 30 s"
        print("held", slot.holder_id, flush=True)
        sys.stdin.read()
        slot.release()


def contend(url: str, namespace: str, limit: int, threads: int, rounds: int, hold: float) -> None:
    client = redis.Redis.from_url(url)
    count_in = client.register_script(_COUNT_IN)
    running, highest = f"{namespace}:test:running", f"{namespace}:test:max"
    acquired = f"{namespace}:test:acquired"
    failures: list[BaseException] = []

    def work(semaphore: RedisSemaphore) -> None:
        try:
            for _ in range(rounds):
                slot = semaphore.acquire(timeout=60)
                assert slot is not None, "no slot within 60 s"
                with slot:
                    count_in(keys=[running, highest])
                    client.incr(acquired)
                    time.sleep(hold)  # the work done under the slot
                    client.decr(running)
        except BaseException as exc:
            failures.append(exc)
            raise

    with RedisSemaphore(url, limit, namespace=namespace) as semaphore:
        workers = [threading.Thread(target=work, args=(semaphore,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert not failures, failures
    print("done", flush=True)


def hammer(url: str, namespace: str, limit: int, name: str) -> None:
    client = redis.Redis.from_url(url)
    order, stop = f"{namespace}:test:order", f"{namespace}:test:stop"
    queue = f"{namespace}:semaphore:queue"
    with RedisSemaphore(url, limit, namespace=namespace) as semaphore:
        print("ready", flush=True)
        while not client.exists(stop):
            slot = semaphore.acquire(timeout=60)
            assert slot is not None, "no slot within 60 s"
            with slot:
                head = cast(list[bytes], client.zrange(queue, 0, 0))
                head_pid = head[0].decode().split(":")[-2] if head else "-"
                client.rpush(order, f"{name} {os.getpid()} {head_pid}")


def main(argv: list[str]) -> None:
    command, url, namespace, limit, *rest = argv
    if command == "hold":
        hold(url, namespace, int(limit), float(rest[0]))
    elif command == "contend":
        contend(url, namespace, int(limit), int(rest[0]), int(rest[1]), float(rest[2]))
    elif command == "hammer":
        hammer(url, namespace, int(limit), rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
