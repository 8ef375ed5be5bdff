"""Measure transferqueue against its performance targets (issues #2 and #3).

Run ``python -m benchmarks.run`` from the repository root. Each figure is the best of a
few rounds, printed beside its target; the exit status is 1 if a target is missed.
Timings are wall-clock and vary with the machine; README.rst records one run.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import transferqueue as tq

ROUNDS = 5


def _files(count: int, size: int = 1000) -> list[dict[str, Any]]:
    return [
        {"source_path": f"src/{i}", "destination_path": f"dst/{i}", "size": size}
        for i in range(count)
    ]


def _noop(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    pass


def _ten_reports(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    for step in range(1, 11):
        on_progress(file.size * step // 10)


def _best(measure: Callable[[], float], rounds: int = ROUNDS) -> float:
    """The best of ``rounds`` runs, each started from a collected heap."""
    timings = []
    for _ in range(rounds):
        gc.collect()
        timings.append(measure())
    return min(timings)


def _time_job(
    limit: int,
    files: list[dict[str, Any]],
    executor: tq.Executor,
    receiver: Callable[..., None] | None = None,
) -> float:
    with tq.TransferQueue(limit) as queue:
        if receiver is not None:
            tq.job_updated.connect(receiver, sender=queue)
        start = time.perf_counter()
        job_id = queue.queue_job("local-upload", files, executor)
        job = queue.wait(job_id)
        elapsed = time.perf_counter() - start
        if receiver is not None:
            tq.job_updated.disconnect(receiver, sender=queue)
    if job.status != "completed":
        raise RuntimeError(f"benchmark job ended {job.status}: {job.error}")
    return elapsed


def progress_scaling() -> tuple[float, float, float]:
    """Seconds for 1,000 and 4,000 files with 10 on_progress calls each, and their ratio."""
    small, large = _files(1_000), _files(4_000)
    t_small = _best(lambda: _time_job(4, small, _ten_reports))
    t_large = _best(lambda: _time_job(4, large, _ten_reports))
    return t_small, t_large, t_large / t_small


def noop_overhead() -> tuple[float, float, float]:
    """Seconds for a 20,000-file no-op job (one receiver) and for a bare pool(4); ratio."""
    files = _files(20_000)
    events = []

    def receiver(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        events.append(job.progress.percentage)

    def bare_pool() -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            for _ in range(20_000):
                pool.submit(_noop_callable)
        return time.perf_counter() - start

    t_queue = _best(lambda: _time_job(4, files, _noop, receiver))
    t_pool = _best(bare_pool)
    if not events or events[-1] != 100:
        raise RuntimeError("the receiver did not see the job reach 100%")
    return t_queue, t_pool, t_queue / t_pool


def _noop_callable() -> None:
    pass


def sleeping_files() -> float:
    """Seconds for 200 files that each sleep 10 ms, at limit 20 (ideal: 0.100)."""

    def sleep_10ms(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        time.sleep(0.010)

    files = _files(200)
    return _best(lambda: _time_job(20, files, sleep_10ms))


def retained_memory_per_job(jobs: int = 200, *, names: bool = True) -> float:
    """Bytes a finished 10-file job keeps (tracemalloc), averaged over ``jobs`` jobs.

    With ``names``, each job's file list is made while measuring and dropped once queued,
    as a caller that lists a folder does: the names the queue keeps count. Without, the
    lists are made before measuring, and the names are the caller's."""
    made = [] if names else [_files(10) for _ in range(jobs)]
    with tq.TransferQueue(4) as queue:
        queue.wait(queue.queue_job("local-upload", _files(10), _ten_reports))  # warm-up
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for index in range(jobs):
            files = _files(10) if names else made[index]
            queue.wait(queue.queue_job("local-upload", files, _ten_reports))
        del files
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        if len(queue.get_all_jobs()) != jobs + 1:
            raise RuntimeError("the queue lost finished jobs")
    return retained / jobs


def _busy_job_seconds(consumers: int) -> float:
    """Seconds one busy job takes with ``consumers`` threads iterating ``watch()`` on it.

    The job: 1,000 files of 4 chunks, each chunk 1 ms of sleep and an on_progress call,
    at limit 10 and update_interval 0.01 s (about 100 snapshots a second). It starts
    only once every consumer has its first snapshot, so thread start-up is not counted.
    """
    go = threading.Event()

    def chunked(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        go.wait()
        for step in range(1, 5):
            time.sleep(0.001)
            on_progress(file.size * step // 4)

    seen: list[int] = []
    ready = threading.Barrier(consumers + 1)

    def consume(watch: tq.JobWatch[tq.TransferJob]) -> None:
        count = 0
        for count, snapshot in enumerate(watch, 1):
            if count == 1:
                ready.wait()
            _ = snapshot.progress.percentage
        seen.append(count)

    with tq.TransferQueue(10, update_interval=0.01) as queue:
        job_id = queue.queue_job("local-upload", _files(1_000), chunked)
        threads = [
            threading.Thread(target=consume, args=(queue.watch(job_id),)) for _ in range(consumers)
        ]
        for thread in threads:
            thread.start()
        ready.wait()
        start = time.perf_counter()
        go.set()
        job = queue.wait(job_id)
        elapsed = time.perf_counter() - start
        for thread in threads:
            thread.join()
    if job.status != "completed" or len(seen) != consumers or min(seen, default=2) < 2:
        raise RuntimeError("a consumer missed the job's end")
    return elapsed


def watch_overhead() -> tuple[float, float, float]:
    """Seconds for the busy job with no consumer and with 100; the ratio."""
    alone = _best(lambda: _busy_job_seconds(0), rounds=3)
    watched = _best(lambda: _busy_job_seconds(100), rounds=3)
    return alone, watched, watched / alone


def retention_memory(jobs: int, keep: int = 1_000) -> int:
    """Bytes a queue holds (tracemalloc) after running ``jobs`` one-file jobs while
    keeping at most ``keep`` finished ones, 1,000 jobs in flight at a time."""
    gc.collect()
    tracemalloc.start()
    queue = tq.TransferQueue(4, max_finished_jobs=keep)
    for first in range(0, jobs, 1_000):
        batch = [
            queue.queue_job("local-upload", _files(1), _noop)
            for _ in range(first, min(jobs, first + 1_000))
        ]
        for job_id in batch:
            queue.wait(job_id)
    queue.shutdown()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    if len(queue.get_all_jobs()) != min(jobs, keep):
        raise RuntimeError("retention kept the wrong number of jobs")
    return held


def main() -> int:
    """Run every benchmark and print each figure beside its target."""
    print(
        f"transferqueue {tq.__version__} on Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    rows: list[tuple[str, str, str, bool]] = []

    t_small, t_large, ratio = progress_scaling()
    rows.append(
        (
            "progress: 4,000 vs 1,000 files x 10 on_progress",
            f"{ratio:.2f}x ({t_small * 1000:.0f} ms -> {t_large * 1000:.0f} ms)",
            "<= 4.5x",
            ratio <= 4.5,
        )
    )
    t_queue, t_pool, ratio = noop_overhead()
    rows.append(
        (
            "20,000 no-op files + 1 receiver vs bare ThreadPoolExecutor(4)",
            f"{ratio:.2f}x ({t_queue * 1000:.0f} ms vs {t_pool * 1000:.0f} ms)",
            "<= 2x",
            ratio <= 2,
        )
    )
    elapsed = sleeping_files()
    rows.append(
        (
            "200 files x 10 ms sleep at limit 20",
            f"{elapsed * 1000:.1f} ms",
            "<= 120 ms",
            elapsed <= 0.120,
        )
    )
    per_job = statistics.fmean([retained_memory_per_job() for _ in range(3)])
    without_names = statistics.fmean([retained_memory_per_job(names=False) for _ in range(3)])
    rows.append(
        (
            "memory kept by a finished 10-file job, its file names included",
            f"{per_job:,.0f} B ({without_names:,.0f} B without the names)",
            "<= 2,560 B",
            per_job <= 2560,
        )
    )

    alone, watched, ratio = watch_overhead()
    rows.append(
        (
            "busy job watched by 100 consumers vs none",
            f"{ratio:.2f}x ({alone * 1000:.0f} ms -> {watched * 1000:.0f} ms)",
            "<= 1.25x",
            ratio <= 1.25,
        )
    )
    small, large = retention_memory(1_000), retention_memory(100_000)
    rows.append(
        (
            "memory after 100,000 vs 1,000 one-file jobs (keep 1,000)",
            f"{large / small:.2f}x ({small / 1024:.0f} KiB -> {large / 1024:.0f} KiB)",
            "< 2x",
            large < 2 * small,
        )
    )

    width = max(len(row[0]) for row in rows)
    for name, measured, target, ok in rows:
        print(f"{name:<{width}}  {measured:<32} target {target:<10} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
