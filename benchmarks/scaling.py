"""Measure that big jobs cost in proportion to their size (issue #10, "Quadratic paths").

Run ``python -m benchmarks.scaling`` from the repository root (``--quick`` for smaller
sizes, ``--rounds N`` for another number of rounds, ``--only cli`` or ``--only cancel``
for one part). Each figure is measured at two sizes of the job and printed with the ratio
of the larger to the smaller: a cost linear in the size grows by the size ratio (4x and 2x
here), a quadratic one by its square (16x and 4x). The exit status is 1 if a ratio
exceeds its target, 1.5 times the size ratio. Times are CPU times, the best of a few
rounds (wall-clock times are printed beside them): on a shared machine, wall-clock time
says more about the neighbours.

- ``transferqueue cp -j 2`` of N empty files (in folders of 1,000), folder to folder, as a
  new interpreter (start-up, listing and all), with ``--json``, with the plain display
  (stdout not a terminal) and with ``-q``: the child's user CPU time and the bytes written
  to stdout (into a file), for N = 10,000 and 40,000. User time is what the Python code
  costs; the system time, spent in the file system and in lock waits, varied from 2 to 20
  seconds between identical runs of 10,000 files on the shared machine measured.
- Cancelling N jobs one by one, each with a file waiting an hour to be retried, and
  ``shutdown(cancel_jobs=True)`` of a queue holding as many: the CPU time of the calling
  thread, for N = 10,000 and 20,000.

It makes (and at the end removes) a hidden temporary folder in the repository; figures
vary with the machine; README.rst records one run.
"""

from __future__ import annotations

import functools
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import transferqueue as tq

CLI_SIZES = (10_000, 40_000)
CANCEL_SIZES = (10_000, 20_000)
QUICK_CLI_SIZES = (2_000, 8_000)
QUICK_CANCEL_SIZES = (2_000, 4_000)
MODES = {"--json": ["--json"], "plain": [], "-q": ["-q"]}
CONCURRENCY = 2
FOLDER_SIZE = 1000
HOUR = 3600.0
CLI_ROUNDS = 2
CANCEL_ROUNDS = 3


class Run(NamedTuple):
    """One ``cp`` run: user CPU seconds, wall-clock seconds, bytes written to stdout."""

    cpu: float
    wall: float
    output: int


def _children_user_cpu() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime


def _cp(source: Path, destination: Path, options: list[str], output: Path) -> Run:
    """User CPU seconds, wall-clock seconds and stdout bytes of ``transferqueue cp -j 2
    OPTIONS SOURCE DESTINATION``."""
    command = [sys.executable, "-m", "transferqueue", "cp", "-j", str(CONCURRENCY), *options]
    with output.open("wb") as stdout:
        before, start = _children_user_cpu(), time.perf_counter()
        subprocess.run([*command, str(source), str(destination)], stdout=stdout, check=True)
        wall = time.perf_counter() - start
        cpu = _children_user_cpu() - before
    size = output.stat().st_size
    output.unlink()
    shutil.rmtree(destination)
    return Run(cpu, wall, size)


def cli(work: Path, sizes: tuple[int, int], rounds: int) -> dict[str, list[Run]]:
    """For each output mode, the best run (by CPU time) of copying each number of empty
    files; the modes take turns in each round."""
    results: dict[str, list[Run]] = {mode: [] for mode in MODES}
    for count in sizes:
        source = work / f"src-{count}"
        for i in range(count):
            # In folders of 1,000: a file system's cost per file can grow with the size
            # of its folder, which is not what is measured here.
            folder = source / f"folder-{i // FOLDER_SIZE:03d}"
            if i % FOLDER_SIZE == 0:
                folder.mkdir(parents=True)
            (folder / f"file-{i:06d}.bin").touch()
        runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
        for _ in range(rounds):
            for mode, options in MODES.items():
                runs[mode].append(_cp(source, work / "out", options, work / "stdout"))
        for mode, measured in runs.items():
            results[mode].append(min(measured))
        shutil.rmtree(source)
    return results


def _failing(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    raise OSError("down")  # transient: the file waits an hour to be retried


def _queue_of_waiting_jobs(count: int) -> tuple[tq.TransferQueue, list[str]]:
    """A queue with ``count`` one-file jobs, every file waiting an hour for its retry."""
    policy = tq.RetryPolicy(max_attempts=2, initial_delay=HOUR, max_delay=HOUR, jitter=0)
    queue = tq.TransferQueue(4, retry=policy)
    changed = threading.Condition()
    waiting: set[str] = set()

    def on_updated(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if job.files[0].retry_at is not None:
            with changed:
                waiting.add(job.id)
                changed.notify_all()

    tq.job_updated.connect(on_updated, sender=queue)
    try:
        job_ids = [
            queue.queue_job(
                "local-upload",
                [{"source_path": f"s/{i}", "destination_path": f"d/{i}", "size": 1}],
                _failing,
            )
            for i in range(count)
        ]
        with changed:
            if not changed.wait_for(lambda: len(waiting) == count, timeout=300):
                raise RuntimeError("the files did not all come to wait for their retry")
    finally:
        tq.job_updated.disconnect(on_updated)
    return queue, job_ids


def _cpu(run: Callable[[], None]) -> float:
    """CPU seconds the calling thread spends in ``run``: the caller's own cost (a cancel
    does its work there, under the queue's lock), whatever else the machine runs."""
    start = time.thread_time()
    run()
    return time.thread_time() - start


def _cancel_all(queue: tq.TransferQueue, job_ids: list[str]) -> None:
    for job_id in job_ids:
        queue.cancel_job(job_id)


def cancels(sizes: tuple[int, int], rounds: int) -> dict[str, list[float]]:
    """Best CPU seconds to cancel every job one by one, and to shut down cancelling them."""
    results: dict[str, list[float]] = {"cancel_job": [], "shutdown(cancel_jobs=True)": []}
    for count in sizes:
        by_cancel, by_shutdown = [], []
        for _ in range(rounds):
            queue, job_ids = _queue_of_waiting_jobs(count)

            by_cancel.append(_cpu(functools.partial(_cancel_all, queue, job_ids)))
            queue.shutdown(wait=True)
            queue, _ = _queue_of_waiting_jobs(count)
            by_shutdown.append(_cpu(functools.partial(queue.shutdown, True, cancel_jobs=True)))
        results["cancel_job"].append(min(by_cancel))
        results["shutdown(cancel_jobs=True)"].append(min(by_shutdown))
    return results


def main(argv: list[str]) -> int:
    """Measure both at two sizes; print each figure, its growth and its target."""
    quick = "--quick" in argv
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else None
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    cli_sizes = QUICK_CLI_SIZES if quick else CLI_SIZES
    cancel_sizes = QUICK_CANCEL_SIZES if quick else CANCEL_SIZES
    print(
        f"transferqueue {tq.__version__} on Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    repository = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix=".bench-scaling-", dir=repository))
    rows: list[tuple[str, str, str, bool]] = []
    try:
        small, large = cli_sizes
        growth = large / small
        measured = cli(work, cli_sizes, rounds or CLI_ROUNDS) if only != "cancel" else {}
        for mode, (at_small, at_large) in measured.items():
            time_ratio = at_large.cpu / at_small.cpu
            rows.append(
                (
                    f"cp {mode}: {small:,} -> {large:,} empty files, user CPU",
                    f"{time_ratio:.2f}x ({at_small.cpu:.1f} -> {at_large.cpu:.1f} s; "
                    f"wall {at_small.wall:.0f} -> {at_large.wall:.0f} s)",
                    f"<= {growth * 1.5:g}x",
                    time_ratio <= growth * 1.5,
                )
            )
            if at_large.output:
                byte_ratio = at_large.output / max(at_small.output, 1)
                rows.append(
                    (
                        f"cp {mode}: {small:,} -> {large:,} empty files, stdout",
                        f"{byte_ratio:.2f}x ({at_small.output / 1e6:.1f} -> "
                        f"{at_large.output / 1e6:.1f} MB)",
                        f"<= {growth * 1.5:g}x",
                        byte_ratio <= growth * 1.5,
                    )
                )
        small, large = cancel_sizes
        growth = large / small
        timed = cancels(cancel_sizes, rounds or CANCEL_ROUNDS) if only != "cli" else {}
        for name, (t_small, t_large) in timed.items():
            ratio = t_large / t_small
            rows.append(
                (
                    f"{name}: {small:,} -> {large:,} jobs waiting to retry, CPU",
                    f"{ratio:.2f}x ({t_small * 1000:.0f} -> {t_large * 1000:.0f} ms)",
                    f"<= {growth * 1.5:g}x",
                    ratio <= growth * 1.5,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(row[0]) for row in rows)
    for name, figure, target, ok in rows:
        print(f"{name:<{width}}  {figure:<44} target {target:<8} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
