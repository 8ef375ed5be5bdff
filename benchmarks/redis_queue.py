"""What the Redis backend costs a queue (issue #11, "Performance").

Run ``python -m benchmarks.redis_queue`` from the repository root (needs
``transferqueue[redis]`` and a ``redis-server`` on PATH, which it starts on a free port of
127.0.0.1 without persistence; or pass ``--url redis://...`` to use a running server, whose
namespace ``transferqueue-bench-queue`` it uses and clears). ``--rounds N`` sets the
rounds of the interleaved comparison (default 3; the median is printed).

- **The coordination tax.** 4 processes each queue 50 jobs of 100 one-chunk no-op files
  (each executor reports its one chunk once): on one Redis-backed queue at a cluster limit of
  16, and, interleaved with it, on an embedded queue per process at a limit of 4 each (the
  same 16 executors at once). Printed: files per second of the whole run (from the
  processes' common start to the last one's end), their ratio (target: at least 0.70), and
  the CPU seconds Redis spent on the clustered run (its ``INFO cpu``).
- **Round trips on the hot path.** One process runs 2,000 no-op files (one job) on a
  Redis-backed queue at a limit of 4: the commands Redis counted (``INFO commandstats``,
  every command including those a script runs counted once per call from a client) per
  file, from the queue's creation to its shutdown (target: at most 3).
- **Progress coalescing.** One 10,000-file job whose executors report 100 chunks each, on a
  Redis-backed queue at a limit of 8: the client commands per second Redis received while
  it ran, against the calls of ``on_progress`` per second (the writes follow the event
  thread's coalescing, not the call rate).

Figures vary with the machine; README.rst records one run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from typing import Any

import redis

import transferqueue as tq
from benchmarks.redis_semaphore import _redis_server
from transferqueue.redis import RedisBackend

NAMESPACE = "transferqueue-bench-queue"
PROCESSES = 4
JOBS_PER_PROCESS = 50
FILES_PER_JOB = 100
CLUSTER_LIMIT = 16
TAX_TARGET = 0.70
START_TIMEOUT = 120.0
ROUND_TRIP_TARGET = 3.0


def _files(count: int, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"source_path": f"src/{prefix}{i}", "destination_path": f"dst/{prefix}{i}", "size": 1}
        for i in range(count)
    ]


def _one_chunk(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    on_progress(file.size)


def _hundred_chunks(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    for step in range(1, 101):
        on_progress(file.size * step // 100)


def _clear(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(f"{NAMESPACE}:*", count=1000):
            client.delete(key)


def _run_jobs(queue: tq.TransferQueue, prefix: str) -> None:
    ids = [
        queue.queue_job("local-upload", _files(FILES_PER_JOB, f"{prefix}-{j}-"), _one_chunk)
        for j in range(JOBS_PER_PROCESS)
    ]
    for job_id in ids:
        job = queue.wait(job_id, 600)
        if job.status is not tq.TransferStatus.COMPLETED:
            raise RuntimeError(f"job {job_id} ended {job.status}: {job.error}")


def _worker(
    url: str | None, local_limit: int | None, start: Barrier, results: Any, number: int
) -> None:
    """One process of the tax measurement: its jobs on a clustered or embedded queue."""
    if url is None:
        queue = tq.TransferQueue(CLUSTER_LIMIT // PROCESSES)
    else:
        backend = RedisBackend(url, namespace=NAMESPACE, local_limit=local_limit)
        queue = tq.TransferQueue(CLUSTER_LIMIT, backend=backend)
    with queue:
        queue.wait(queue.queue_job("local-upload", _files(20, "warm-"), _one_chunk), 60)
        start.wait(START_TIMEOUT)
        _run_jobs(queue, str(number))
        results.put(time.perf_counter())


def _tax_round(url: str | None, local_limit: int | None = None) -> float:
    """Files per second of PROCESSES processes at once; clustered on ``url`` if given."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(url, local_limit, start, results, n)) for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    start.wait(START_TIMEOUT)  # a process that failed breaks it: no endless wait
    began = time.perf_counter()
    ends = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise RuntimeError(f"a benchmark process exited {process.exitcode}")
    return PROCESSES * JOBS_PER_PROCESS * FILES_PER_JOB / (float(max(ends)) - began)


def _redis_cpu(url: str) -> float:
    with redis.Redis.from_url(url) as client:
        info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _commands(url: str) -> int:
    """Calls Redis counted so far, less the INFO and CONFIG calls of this script."""
    with redis.Redis.from_url(url) as client:
        stats = client.info("commandstats")
    return sum(
        int(entry["calls"])
        for name, entry in stats.items()
        if name not in ("cmdstat_info", "cmdstat_config|resetstat", "cmdstat_config")
    )


def _reset_stats(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.config_resetstat()


def coordination_tax(url: str, rounds: int) -> None:
    clustered, embedded, cpu = [], [], []
    for _ in range(rounds):
        _clear(url)
        before = _redis_cpu(url)
        clustered.append(_tax_round(url))
        cpu.append(_redis_cpu(url) - before)
        embedded.append(_tax_round(None))
    files = PROCESSES * JOBS_PER_PROCESS * FILES_PER_JOB
    ratio = statistics.median(clustered) / statistics.median(embedded)
    print(
        f"{PROCESSES} processes x {JOBS_PER_PROCESS * FILES_PER_JOB:,} no-op files, "
        f"limit {CLUSTER_LIMIT} in all (median of {rounds}):"
    )
    print(f"  embedded queue per process   {statistics.median(embedded):10,.0f} files/s")
    print(f"  one Redis-backed queue       {statistics.median(clustered):10,.0f} files/s")
    verdict = "ok" if ratio >= TAX_TARGET else "MISSED"
    print(f"  clustered / embedded         {ratio:10.2f}   (target >= {TAX_TARGET}: {verdict})")
    print(
        f"  Redis CPU for the {files:,} clustered files: {statistics.median(cpu):.2f} s "
        f"({statistics.median(cpu) / files * 1e6:.0f} us per file)"
    )


def _measured(url: str, work: Callable[[tq.TransferQueue], None]) -> tuple[int, float]:
    """Commands Redis received and seconds taken by ``work`` on a new clustered queue."""
    _clear(url)
    _reset_stats(url)
    began = time.perf_counter()
    with tq.TransferQueue(4, backend=RedisBackend(url, namespace=NAMESPACE)) as queue:
        work(queue)
    return _commands(url), time.perf_counter() - began


def round_trips(url: str) -> None:
    count = 2_000

    def run(queue: tq.TransferQueue) -> None:
        queue.wait(queue.queue_job("local-upload", _files(count), _one_chunk), 600)

    commands, _ = _measured(url, run)
    per_file = commands / count
    verdict = "ok" if per_file <= ROUND_TRIP_TARGET else "MISSED"
    print(
        f"Redis commands per no-op file ({count:,} files, queue made to shut down): "
        f"{per_file:.2f}   (target <= {ROUND_TRIP_TARGET:g}: {verdict})"
    )


def progress_coalescing(url: str) -> None:
    count = 10_000

    def run(queue: tq.TransferQueue) -> None:
        queue.update_concurrency_limit(8)
        job_id = queue.queue_job("local-upload", _files(count), _hundred_chunks)
        queue.wait(job_id, 900)

    commands, seconds = _measured(url, run)
    calls = count * 100
    print(
        f"One {count:,}-file job, 100 progress calls per file: {calls / seconds:,.0f} "
        f"on_progress calls/s, {commands / seconds:,.0f} Redis commands/s "
        f"({commands / count:.2f} per file, {seconds:.1f} s)"
    )


def _run(url: str, rounds: int) -> None:
    with redis.Redis.from_url(url) as client:
        server = client.info("server")["redis_version"]
    print(
        f"Python {platform.python_version()}, redis-py {redis.__version__}, "
        f"redis-server {server}, {os.cpu_count()} CPUs ({platform.machine()})"
    )
    coordination_tax(url, rounds)
    round_trips(url)
    progress_coalescing(url)
    _clear(url)


def main() -> int:
    """Measure on a server of our own, or on ``--url``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Redis to use instead of starting one")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the interleaved part")
    args = parser.parse_args()
    if args.url:
        _run(args.url, args.rounds)
    else:
        with _redis_server() as url:
            _run(url, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
