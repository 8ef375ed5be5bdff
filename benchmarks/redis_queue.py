"""What the Redis backend costs a queue (issue #11, "Performance").

Run ``python -m benchmarks.redis_queue`` from the repository root (needs
``transferqueue[redis]`` and a ``redis-server`` on PATH, which it starts on a free port of
127.0.0.1 without persistence; or pass ``--url redis://...`` to use a running server, whose
namespace ``transferqueue-bench-queue`` it uses and clears). ``--rounds N`` sets the
rounds of the interleaved comparison (default 3; the median is printed).

- **The coordination tax.** 4 processes each queue 10 jobs of 500 one-chunk no-op files
  (each executor reports its one chunk once), in three modes run one after another in each
  round: an embedded queue per process at a limit of 4 (16 executors at once in all); one
  Redis-backed queue per process at a cluster limit of 16 (each process may run 16); the
  same with ``local_limit=4``. Printed: files per second of the whole run (from the
  processes' common start to the last one's end), the clustered modes' ratio to the
  embedded one (target: at least 0.70), the median time of a ``queue_job`` (a clustered
  one writes the job to Redis before it returns), and the CPU the processes and Redis
  spent per file, with the embedded CPU per file over this mode's (the ratio a machine
  whose CPUs are all busy with this work would see, less swayed by other load).
- **Round trips on the hot path.** One process runs 2,000 no-op files (one job) on a
  Redis-backed queue at a limit of 4, with the default ``slot_keep`` and with 0: what the
  process sent to Redis per file (counted in redis-py's connection; a pipeline counts
  once; target: at most 3), and the commands Redis ran per file, scripts' included
  (``INFO commandstats``).
- **Progress coalescing.** One 10,000-file job whose executors report 100 chunks each, on a
  Redis-backed queue at a limit of 8: round trips to Redis per second against calls of
  ``on_progress`` per second (the writes follow the event thread's coalescing, not the
  call rate).

Figures vary with the machine; README.rst records one run.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from typing import Any, NamedTuple

import redis
from redis.connection import AbstractConnection

import transferqueue as tq
from benchmarks.redis_semaphore import _redis_server
from transferqueue.redis import RedisBackend
from transferqueue.redis._settings import DEFAULT_SLOT_KEEP

NAMESPACE = "transferqueue-bench-queue"
PROCESSES = 4
JOBS_PER_PROCESS = 10
FILES_PER_JOB = 500
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


def _run_jobs(queue: tq.TransferQueue, prefix: str) -> list[float]:
    """Queue this process's jobs and wait for them; the seconds each queue_job took."""
    ids, latencies = [], []
    for j in range(JOBS_PER_PROCESS):
        began = time.perf_counter()
        ids.append(
            queue.queue_job("local-upload", _files(FILES_PER_JOB, f"{prefix}-{j}-"), _one_chunk)
        )
        latencies.append(time.perf_counter() - began)
    for job_id in ids:
        job = queue.wait(job_id, 600)
        if job.status is not tq.TransferStatus.COMPLETED:
            raise RuntimeError(f"job {job_id} ended {job.status}: {job.error}")
    return latencies


class _Mode(NamedTuple):
    """How the processes of one tax round make their queues."""

    name: str
    clustered: bool
    local_limit: int | None = None


EMBEDDED = _Mode(f"embedded queue per process, limit {CLUSTER_LIMIT // PROCESSES}", False)
CLUSTERED = _Mode(f"Redis-backed, cluster limit {CLUSTER_LIMIT}", True)
CLUSTERED_SHARE = _Mode(
    f"Redis-backed, local_limit {CLUSTER_LIMIT // PROCESSES}", True, CLUSTER_LIMIT // PROCESSES
)


def _worker(url: str, mode: _Mode, start: Barrier, results: Any, number: int) -> None:
    """One process of the tax measurement: its jobs on a queue made as ``mode`` says."""
    if mode.clustered:
        backend = RedisBackend(url, namespace=NAMESPACE, local_limit=mode.local_limit)
        queue = tq.TransferQueue(CLUSTER_LIMIT, backend=backend)
    else:
        queue = tq.TransferQueue(CLUSTER_LIMIT // PROCESSES)
    with queue:
        queue.wait(queue.queue_job("local-upload", _files(20, "warm-"), _one_chunk), 60)
        start.wait(START_TIMEOUT)
        cpu = time.process_time()
        latencies = _run_jobs(queue, str(number))
        results.put((time.perf_counter(), latencies, time.process_time() - cpu))


def _tax_round(url: str, mode: _Mode) -> tuple[float, list[float], float]:
    """Files per second of PROCESSES processes at once, every queue_job's seconds, and
    the CPU seconds the processes spent (all their threads, from the common start to
    each one's end)."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(url, mode, start, results, n))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    start.wait(START_TIMEOUT)  # a process that failed breaks it: no endless wait
    began = time.perf_counter()
    ends, latencies, cpu = [], [], 0.0
    for _ in processes:
        end, queued, spent = results.get(timeout=900)
        ends.append(float(end))
        latencies.extend(queued)
        cpu += float(spent)
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise RuntimeError(f"a benchmark process exited {process.exitcode}")
    files = PROCESSES * JOBS_PER_PROCESS * FILES_PER_JOB
    return files / (max(ends) - began), latencies, cpu


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
    modes = (EMBEDDED, CLUSTERED, CLUSTERED_SHARE)
    rates: dict[_Mode, list[float]] = {mode: [] for mode in modes}
    queueing: dict[_Mode, list[float]] = {mode: [] for mode in modes}
    cpu: dict[_Mode, list[float]] = {mode: [] for mode in modes}
    process_cpu: dict[_Mode, list[float]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode in modes:  # interleaved: each round runs every mode once
            _clear(url)
            before = _redis_cpu(url)
            rate, latencies, spent = _tax_round(url, mode)
            cpu[mode].append(_redis_cpu(url) - before)
            process_cpu[mode].append(spent)
            rates[mode].append(rate)
            queueing[mode].extend(latencies)
    files = PROCESSES * JOBS_PER_PROCESS * FILES_PER_JOB
    embedded = statistics.median(rates[EMBEDDED])
    print(
        f"{PROCESSES} processes x {JOBS_PER_PROCESS} jobs x {FILES_PER_JOB} no-op files "
        f"(median of {rounds}; queue_job p50 of a {FILES_PER_JOB}-file job; CPU per file "
        "of the processes and of Redis):"
    )
    embedded_cpu = statistics.median(process_cpu[EMBEDDED]) / files
    for mode in modes:
        rate = statistics.median(rates[mode])
        ratio = rate / embedded
        verdict = (
            ""
            if not mode.clustered
            else (
                f"  throughput ratio {ratio:.2f} (target >= {TAX_TARGET}: "
                f"{'ok' if ratio >= TAX_TARGET else 'MISSED'})"
            )
        )
        spent = statistics.median(process_cpu[mode]) / files
        redis_spent = statistics.median(cpu[mode]) / files if mode.clustered else 0.0
        against = (
            f" (CPU ratio {embedded_cpu / (spent + redis_spent):.2f})" if mode.clustered else ""
        )
        print(
            f"  {mode.name:<38} {rate:9,.0f} files/s  queue_job "
            f"{statistics.median(queueing[mode]) * 1e3:6.1f} ms  CPU {spent * 1e6:3.0f} + "
            f"{redis_spent * 1e6:2.0f} us/file{against}{verdict}"
        )


class _Measure(NamedTuple):
    round_trips: int  # what this process sent to Redis (a pipeline counts once)
    commands: int  # what Redis ran, those of scripts included
    seconds: float


def _measured(url: str, work: Callable[[tq.TransferQueue], None], slot_keep: float) -> _Measure:
    """What ``work`` on a new clustered queue (limit 4) cost Redis, from the queue's
    creation to its shutdown."""
    _clear(url)
    _reset_stats(url)
    sent = itertools.count()
    real_send: Callable[..., None] = AbstractConnection.send_packed_command

    def counting_send(connection: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        next(sent)
        real_send(connection, *args, **kwargs)

    began = time.perf_counter()
    setattr(AbstractConnection, "send_packed_command", counting_send)  # noqa: B010
    try:
        backend = RedisBackend(url, namespace=NAMESPACE, slot_keep=slot_keep)
        with tq.TransferQueue(4, backend=backend) as queue:
            work(queue)
    finally:
        setattr(AbstractConnection, "send_packed_command", real_send)  # noqa: B010
    seconds = time.perf_counter() - began
    return _Measure(next(sent), _commands(url), seconds)


def round_trips(url: str) -> None:
    count = 2_000

    def run(queue: tq.TransferQueue) -> None:
        queue.wait(queue.queue_job("local-upload", _files(count), _one_chunk), 600)

    print(f"Redis per no-op file ({count:,} files in one job, queue made to shut down):")
    for slot_keep in (DEFAULT_SLOT_KEEP, 0.0):
        cost = _measured(url, run, slot_keep)
        per_file = cost.round_trips / count
        verdict = "ok" if per_file <= ROUND_TRIP_TARGET else "MISSED"
        print(
            f"  slot_keep {slot_keep:<5g} {per_file:5.2f} round trips (target <= "
            f"{ROUND_TRIP_TARGET:g}: {verdict}), {cost.commands / count:5.2f} commands run"
        )


def progress_coalescing(url: str) -> None:
    count = 10_000

    def run(queue: tq.TransferQueue) -> None:
        queue.update_concurrency_limit(8)
        job_id = queue.queue_job("local-upload", _files(count), _hundred_chunks)
        queue.wait(job_id, 900)

    cost = _measured(url, run, DEFAULT_SLOT_KEEP)
    calls = count * 100
    print(
        f"One {count:,}-file job, 100 progress calls per file, limit 8: "
        f"{calls / cost.seconds:,.0f} on_progress calls/s, "
        f"{cost.round_trips / cost.seconds:,.0f} round trips/s to Redis "
        f"({cost.round_trips:,} in {cost.seconds:.1f} s)"
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
