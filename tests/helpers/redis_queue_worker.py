"""Processes that run a Redis-backed TransferQueue: ``python -m tests.helpers.redis_queue_worker``.

Each command makes its own queue with its own :class:`RedisBackend`, and its executors
record what they saw in Redis themselves (keys under ``<namespace>:test:``), so that the
tests check facts gathered in every process:

``count URL NAMESPACE LIMIT LOCAL_LIMIT JOBS``
    queue JOBS one-file jobs at the cluster limit LIMIT, at most LOCAL_LIMIT at once in
    this process. Each executor counts itself in ``test:running`` while it runs (keeping
    the highest count of the cluster in ``test:max`` and of this process in
    ``test:max:<pid>``) and adds one to ``test:ran``. The executors that start before the
    cluster's count first reached LIMIT wait for that moment, so that the limit is
    reached by executors of several processes at once. Prints ``done`` once every job
    completed.
``own URL NAMESPACE JOBS FILES [LEASE]``
    queue JOBS jobs of FILES files of 10 bytes (at the queue's limit of 2, with a lease
    of LEASE seconds, 10 by default), printing ``job <id>`` for each. Each executor
    reports 5 bytes, then waits until the key ``test:go`` exists, reports 10 and
    returns; should its job be cancelled first, its next report raises
    TransferCancelled, which it notes in the list ``test:cancelled``
    (``<source path> <time.time()>``) before it lets it go. Should ``test:go`` hold
    ``fail``, each executor raises ValueError instead of reporting 10. Then prints
    ``ended <to_dict() JSON>`` for each job as it ends, in the order queued, and exits.
    The queue's log goes to stderr from INFO up.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import redis

import transferqueue as tq
from transferqueue.redis import RedisBackend

# Counts an executor in (KEYS[1]), keeping the highest count of the cluster (KEYS[2]) and
# of the process (KEYS[3]) seen, atomically; KEYS[4] counts this process's running ones.
COUNT_IN = """
local running = redis.call('INCR', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
local mine = redis.call('INCR', KEYS[4])
if mine > tonumber(redis.call('GET', KEYS[3]) or '0') then
  redis.call('SET', KEYS[3], mine)
end
return running
"""

DEADLINE = 30.0  # seconds any executor waits for the other processes at most


def count(url: str, namespace: str, limit: int, local_limit: int, jobs: int) -> None:
    client = redis.Redis.from_url(url)
    count_in = client.register_script(COUNT_IN)
    test = f"{namespace}:test:"
    pid = os.getpid()
    keys = [test + "running", test + "max", f"{test}max:{pid}", f"{test}running:{pid}"]

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        count_in(keys=keys)
        try:
            deadline = time.monotonic() + DEADLINE
            # Until the cluster first ran LIMIT at once, hold on: polled, since the other
            # processes' executors can signal this one only through Redis.
            while int(client.get(test + "max") or 0) < limit:
                assert time.monotonic() < deadline, "the cluster never reached its limit"
                time.sleep(0.005)
            client.incr(test + "ran")
        finally:
            client.decr(keys[3])
            client.decr(keys[0])

    backend = RedisBackend(url, namespace=namespace, local_limit=local_limit)
    with tq.TransferQueue(limit, backend=backend) as queue:
        ids = [
            queue.queue_job(
                "s3-upload",
                [{"source_path": f"{pid}-{n}", "destination_path": "d", "size": 1}],
                executor,
            )
            for n in range(jobs)
        ]
        for job_id in ids:
            assert queue.wait(job_id, timeout=DEADLINE).status is tq.TransferStatus.COMPLETED
    print("done", flush=True)


def own(url: str, namespace: str, jobs: int, files: int, lease: float) -> None:
    client = redis.Redis.from_url(url)
    go = f"{namespace}:test:go"

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(5)
        deadline = time.monotonic() + DEADLINE
        # Polled: the test starts the files' end from its own process, through Redis.
        while not client.exists(go):
            assert time.monotonic() < deadline, "never told to go on"
            if on_progress.wait_cancelled(0.005):
                try:
                    on_progress(5)
                except tq.TransferCancelled:
                    client.rpush(f"{namespace}:test:cancelled", f"{file.source_path} {time.time()}")
                    raise
        if client.get(go) == b"fail":
            raise ValueError(f"{file.source_path} was told to fail")
        on_progress(10)

    listed = [
        {"source_path": f"src/{n}", "destination_path": f"dst/{n}", "size": 10}
        for n in range(files)
    ]
    backend = RedisBackend(url, namespace=namespace, lease=lease)
    with tq.TransferQueue(2, backend=backend) as queue:
        ids = [queue.queue_job("s3-upload", listed, executor) for _ in range(jobs)]
        for job_id in ids:
            print("job", job_id, flush=True)
        for job_id in ids:
            print("ended", json.dumps(queue.wait(job_id, timeout=DEADLINE).to_dict()), flush=True)


def main(argv: list[str]) -> None:
    command, url, namespace, *rest = argv
    if command == "count":
        limit, local_limit, jobs = map(int, rest)
        count(url, namespace, limit, local_limit, jobs)
    elif command == "own":
        jobs, files = int(rest[0]), int(rest[1])
        lease = float(rest[2]) if len(rest) > 2 else 10.0
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        own(url, namespace, jobs, files, lease)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
