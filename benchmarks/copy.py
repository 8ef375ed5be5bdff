"""Measure the local executor against its performance targets (issue #4).

Run ``python -m benchmarks.copy`` from the repository root. It needs about 2.1 GiB of free
disk space on the repository's file system, where it makes (and at the end removes) a
hidden temporary folder:

- one 1 GiB file of random bytes copied by :class:`~transferqueue.executors.LocalCopy`
  through a TransferQueue, against ``cp`` (and ``shutil.copyfile`` for reference):
  throughput at least 90% of ``cp``'s (issue #12);
- 10,000 files of 4 KiB copied folder to folder by the command line, ``transferqueue cp
  -j 8 --quiet`` (a new interpreter: start-up, listing and all), against ``cp -r``: at
  most 3x its time.

Each figure is the median of 5 rounds for the big file and the best of 3 for the small ones
(the contenders take turns, each round after an ``os.sync()`` so that neither pays for the
other's write-back), printed beside its target; the exit status is 1 if a target is
missed. The sources are read from the page cache, as in any repeated copy; the figures
vary with the machine and its disks, and README.rst records one run.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import transferqueue as tq
from transferqueue.executors import LocalCopy, list_local_files

BIG_ROUNDS = 5
SMALL_ROUNDS = 3
MiB = 1024 * 1024
BIG_SIZE = 1024 * MiB
SMALL_COUNT = 10_000
SMALL_SIZE = 4096
SMALL_LIMIT = 8


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _timed(run: Callable[[], None], cleanup: Path) -> float:
    """Seconds ``run`` takes, started from a synced disk, its output removed afterwards."""
    _remove(cleanup)
    os.sync()
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    _remove(cleanup)
    return elapsed


def _best_pair(
    first: Callable[[], None], second: Callable[[], None], cleanup: Path, rounds: int
) -> tuple[float, float]:
    """The best time of each of two runs over ``rounds`` rounds, taking turns."""
    times_first, times_second = [], []
    for _ in range(rounds):
        times_first.append(_timed(first, cleanup))
        times_second.append(_timed(second, cleanup))
    return min(times_first), min(times_second)


def _medians(runs: dict[str, Callable[[], None]], cleanup: Path, rounds: int) -> dict[str, float]:
    """The median time of each run over ``rounds`` rounds, the runs taking turns."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(_timed(run, cleanup))
    return {name: statistics.median(values) for name, values in times.items()}


def _queue_copy(files: list[dict[str, object]], limit: int) -> None:
    with tq.TransferQueue(limit) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, LocalCopy()))
    if job.status != "completed":
        raise RuntimeError(f"benchmark job ended {job.status}: {job.error}")


def _make_big_file(path: Path) -> None:
    block = 8 * MiB
    with path.open("wb") as stream:
        for _ in range(BIG_SIZE // block):
            stream.write(os.urandom(block))


def big_file(work: Path) -> dict[str, float]:
    """MB/s of LocalCopy through a queue, of ``cp`` and of shutil.copyfile, for one 1 GiB
    file (medians, the three taking turns)."""
    source, destination = work / "big.bin", work / "big.copy"
    _make_big_file(source)
    files = list_local_files(source, destination)

    def by_queue() -> None:
        _queue_copy(files, 1)

    def by_cp() -> None:
        subprocess.run(["cp", str(source), str(destination)], check=True)

    def by_shutil() -> None:
        shutil.copyfile(source, destination)

    runs = {"LocalCopy": by_queue, "cp": by_cp, "shutil.copyfile": by_shutil}
    seconds = _medians(runs, destination, BIG_ROUNDS)
    source.unlink()
    return {name: BIG_SIZE / value / 1e6 for name, value in seconds.items()}


def many_files(work: Path) -> tuple[float, float]:
    """Seconds to copy 10,000 files of 4 KiB folder to folder: the command line
    ``transferqueue cp -j 8 --quiet`` (a new interpreter, listing included) and ``cp -r``."""
    source, destination = work / "small", work / "small.copy"
    source.mkdir()
    data = os.urandom(SMALL_SIZE * SMALL_COUNT)
    for i in range(SMALL_COUNT):
        (source / f"file-{i:05d}.bin").write_bytes(data[i * SMALL_SIZE : (i + 1) * SMALL_SIZE])

    def by_queue() -> None:
        command = [sys.executable, "-m", "transferqueue", "cp", "-j", str(SMALL_LIMIT)]
        subprocess.run([*command, "--quiet", str(source), str(destination)], check=True)

    def by_cp() -> None:
        subprocess.run(["cp", "-r", str(source), str(destination)], check=True)

    t_queue, t_cp = _best_pair(by_queue, by_cp, destination, SMALL_ROUNDS)
    shutil.rmtree(source)
    return t_queue, t_cp


def main() -> int:
    """Run both benchmarks and print each figure beside its target."""
    print(
        f"transferqueue {tq.__version__} on Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    repository = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix=".bench-copy-", dir=repository))
    rows: list[tuple[str, str, str, bool]] = []
    try:
        speeds = big_file(work)
        ratio = speeds["LocalCopy"] / speeds["cp"]
        rows.append(
            (
                "1 GiB file: LocalCopy via queue vs cp",
                f"{ratio:.0%} ({speeds['LocalCopy']:.0f} vs {speeds['cp']:.0f} MB/s; "
                f"shutil.copyfile {speeds['shutil.copyfile']:.0f})",
                ">= 90%",
                ratio >= 0.90,
            )
        )
        t_queue, t_cp = many_files(work)
        ratio = t_queue / t_cp
        rows.append(
            (
                f"{SMALL_COUNT:,} x 4 KiB files, transferqueue cp -j {SMALL_LIMIT} vs cp -r",
                f"{ratio:.2f}x ({t_queue * 1000:.0f} ms vs {t_cp * 1000:.0f} ms)",
                "<= 3x",
                ratio <= 3,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(row[0]) for row in rows)
    for name, measured, target, ok in rows:
        print(f"{name:<{width}}  {measured:<32} target {target:<10} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
