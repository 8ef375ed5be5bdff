"""Measure transferqueue against its four performance targets (issue #2).

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


def retained_memory_per_job(jobs: int = 200) -> float:
    """Bytes a finished 10-file job keeps (tracemalloc), averaged over ``jobs`` jobs."""
    file_lists = [_files(10) for _ in range(jobs + 1)]  # allocated before measuring
    with tq.TransferQueue(4) as queue:
        queue.wait(queue.queue_job("local-upload", file_lists[-1], _ten_reports))  # warm-up
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for files in file_lists[:jobs]:
            queue.wait(queue.queue_job("local-upload", files, _ten_reports))
        del files
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        if len(queue.get_all_jobs()) != jobs + 1:
            raise RuntimeError("the queue lost finished jobs")
    return retained / jobs


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
    rows.append(
        (
            "memory kept by a finished 10-file job",
            f"{per_job:.0f} B",
            "<= 3,072 B",
            per_job <= 3072,
        )
    )

    width = max(len(row[0]) for row in rows)
    for name, measured, target, ok in rows:
        print(f"{name:<{width}}  {measured:<32} target {target:<10} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
