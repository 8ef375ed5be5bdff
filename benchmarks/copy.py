"""Local copies against the tools people would use instead (issues #4 and #12).

Run ``python -m benchmarks.copy`` from the repository root. The contenders run in this
one script, taking turns round after round (each run starts from an ``os.sync()`` with
its destination removed, so none pays for another's write-back), and each figure is the
median of the rounds; a reader reproduces the ratios on their own machine. A contender
that is not installed (``rsync``, ``rclone``) is skipped, and the script says so.
Beside each median wall time of the 1 GiB file and of the 10,000 small files the script
prints the median CPU time (user + system) of the contender's process, which other work
on the machine inflates less than wall time (for the contenders run in this process,
the whole process's).

- one 1 GiB file of random bytes: :class:`~transferqueue.executors.LocalCopy` through a
  TransferQueue against ``cp`` and ``shutil.copyfile``; target: at least 90% of
  ``cp``'s throughput;
- 1,000 files of 1 MiB, folder to folder: ``transferqueue cp --quiet`` at its default
  concurrency against ``cp -r``, ``rsync -a`` and ``rclone copy``; target: faster than
  each of them;
- 10,000 files of 4 KiB, folder to folder: ``transferqueue cp --quiet`` (a new
  interpreter: start-up, listing and all) at its default concurrency, ``-j 1`` and
  ``-j 8``, against ``cp -r``, ``rsync -a``, ``rclone copy``, ``shutil.copytree`` and a
  bare ``ThreadPoolExecutor(8)`` running ``shutil.copyfile`` over the listed files (the
  last two in this process); targets: the default within 2x of ``cp -r`` on tmpfs and no
  slower than ``cp -r`` on disk, and ``-j 8`` no slower than ``-j 1``.

Each runs on tmpfs (``/dev/shm``, when there is one) and on the repository's file system
(about 2.2 GiB free needed there; a hidden temporary folder, removed at the end). The
sources are read from the page cache, as in any repeated copy. The exit status is 1 if a
target is missed. ``--only big``, ``--only medium`` or ``--only small`` runs one part,
``--on tmpfs`` or ``--on disk`` one place, ``--rounds N`` another number of rounds
(default 5).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import transferqueue as tq
from transferqueue._core.config import get_max_concurrent_transfers
from transferqueue.executors import LocalCopy, list_local_files

MiB = 1024 * 1024
BIG_SIZE = 1024 * MiB
MEDIUM_COUNT = 1_000
MEDIUM_SIZE = MiB
SMALL_COUNT = 10_000
SMALL_SIZE = 4096
POOL_THREADS = 8

Row = tuple[str, str, str, bool]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(run: Callable[[], None], cleanup: Path) -> tuple[float, float]:
    """Seconds ``run`` takes, wall and CPU, started from a synced disk, its output
    removed afterwards."""
    _remove(cleanup)
    os.sync()
    cpu = _cpu()
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    cpu = _cpu() - cpu
    _remove(cleanup)
    return elapsed, cpu


_cpu_medians: dict[str, float] = {}  # the CPU seconds of the last _medians, by run


def _medians(runs: dict[str, Callable[[], None]], cleanup: Path, rounds: int) -> dict[str, float]:
    """The median wall time of each run over ``rounds`` rounds, the runs taking turns
    (their median CPU times go to ``_cpu_medians``)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = _timed(run, cleanup)
            times[name].append(wall)
            cpus[name].append(cpu)
    _cpu_medians.clear()
    _cpu_medians.update({name: statistics.median(values) for name, values in cpus.items()})
    return {name: statistics.median(values) for name, values in times.items()}


def _command(*argv: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

    return run


def _installed(names: list[str]) -> list[str]:
    """Those of ``names`` found on PATH; the others are reported as skipped."""
    found = [name for name in names if shutil.which(name)]
    for name in names:
        if name not in found:
            print(f"  {name}: not installed, skipped")
    return found


def _queue_copy(files: list[dict[str, object]], limit: int) -> None:
    with tq.TransferQueue(limit) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, LocalCopy()))
    if job.status != "completed":
        raise RuntimeError(f"benchmark job ended {job.status}: {job.error}")


def big_file(work: Path, place: str, rounds: int) -> list[Row]:
    """One 1 GiB file: LocalCopy through a queue, ``cp`` and shutil.copyfile, in MB/s."""
    source, destination = work / "big.bin", work / "big.copy"
    block = 8 * MiB
    with source.open("wb") as stream:
        for _ in range(BIG_SIZE // block):
            stream.write(os.urandom(block))
    files = list_local_files(source, destination)

    def by_shutil() -> None:
        shutil.copyfile(source, destination)

    runs = {
        "LocalCopy in TransferQueue(1)": lambda: _queue_copy(files, 1),
        "cp": _command("cp", str(source), str(destination)),
        "shutil.copyfile": by_shutil,
    }
    seconds = _medians(runs, destination, rounds)
    source.unlink()
    speed = {name: BIG_SIZE / value / 1e6 for name, value in seconds.items()}
    for name, value in seconds.items():
        print(
            f"  1 GiB on {place}: {name:<32} {value:6.3f} s  {speed[name]:6.0f} MB/s"
            f"  (CPU {_cpu_medians[name]:6.3f} s)"
        )
    ratio = speed["LocalCopy in TransferQueue(1)"] / speed["cp"]
    name = f"1 GiB on {place}: LocalCopy / cp throughput"
    return [(name, f"{ratio:.0%}", ">= 90%", ratio >= 0.9)]


def _folder_of_files(source: Path, count: int, size: int) -> None:
    """``count`` files of ``size`` random bytes in the new folder ``source``."""
    source.mkdir()
    data = os.urandom(size * min(count, 64))  # distinct enough, without count x size of it
    for i in range(count):
        start = (i % 64) * size
        (source / f"file-{i:05d}.bin").write_bytes(data[start : start + size])


def _cli(*options: str) -> list[str]:
    """The command line of ``transferqueue cp --quiet`` with ``options``, in a new
    interpreter: start-up, listing and all."""
    return [sys.executable, "-m", "transferqueue", "cp", "--quiet", *options]


def _folder_tools(source: Path, destination: Path) -> dict[str, Callable[[], None]]:
    """``cp -r``, and ``rsync -a`` and ``rclone copy`` where installed, copying the folder
    ``source`` to ``destination``."""
    runs = {"cp -r": _command("cp", "-r", str(source), str(destination))}
    tools = _installed(["rsync", "rclone"])
    if "rsync" in tools:
        runs["rsync -a"] = _command("rsync", "-a", f"{source}/", f"{destination}/")
    if "rclone" in tools:
        runs["rclone copy"] = _command("rclone", "copy", "-q", str(source), str(destination))
    return runs


def medium_files(work: Path, place: str, rounds: int) -> list[Row]:
    """1,000 files of 1 MiB: ``transferqueue cp`` against ``cp -r``, rsync and rclone."""
    source, destination = work / "medium", work / "medium.copy"
    _folder_of_files(source, MEDIUM_COUNT, MEDIUM_SIZE)
    default = get_max_concurrent_transfers()
    ours = f"transferqueue cp (default -j {default})"
    runs: dict[str, Callable[[], None]] = {
        ours: _command(*_cli(str(source), str(destination))),
        **_folder_tools(source, destination),
    }
    seconds = _medians(runs, destination, rounds)
    shutil.rmtree(source)
    for name, value in seconds.items():
        print(f"  1,000 x 1 MiB on {place}: {name:<36} {value:6.3f} s")
    fastest = min((name for name in seconds if name != ours), key=seconds.__getitem__)
    ratio = seconds[ours] / seconds[fastest]
    return [
        (
            f"1,000 x 1 MiB on {place}: cp (-j {default}) / {fastest}",
            f"{ratio:.2f}x",
            "< 1x",
            ratio < 1,
        )
    ]


def many_files(work: Path, place: str, rounds: int) -> list[Row]:
    """10,000 files of 4 KiB: every contender, in seconds."""
    source, destination = work / "small", work / "small.copy"
    _folder_of_files(source, SMALL_COUNT, SMALL_SIZE)
    default = get_max_concurrent_transfers()
    runs: dict[str, Callable[[], None]] = {
        f"transferqueue cp (default -j {default})": _command(*_cli(str(source), str(destination))),
        "transferqueue cp -j 1": _command(*_cli("-j", "1", str(source), str(destination))),
        "transferqueue cp -j 8": _command(*_cli("-j", "8", str(source), str(destination))),
        **_folder_tools(source, destination),
    }

    def tree() -> None:
        shutil.copytree(source, destination)

    runs["shutil.copytree (in process)"] = tree
    names = sorted(os.listdir(source))

    def pool() -> None:
        destination.mkdir()
        with ThreadPoolExecutor(POOL_THREADS) as executor:
            for _ in executor.map(
                lambda name: shutil.copyfile(source / name, destination / name), names
            ):
                pass

    runs[f"ThreadPoolExecutor({POOL_THREADS}) + copyfile"] = pool
    seconds = _medians(runs, destination, rounds)
    shutil.rmtree(source)
    for name, value in seconds.items():
        cpu = _cpu_medians[name]
        print(f"  10,000 x 4 KiB on {place}: {name:<36} {value:6.3f} s  (CPU {cpu:6.3f} s)")
    ours = seconds[f"transferqueue cp (default -j {default})"]
    one, eight = seconds["transferqueue cp -j 1"], seconds["transferqueue cp -j 8"]
    cp = seconds["cp -r"]
    limit = 2.0 if place == "tmpfs" else 1.0
    return [
        (
            f"10,000 x 4 KiB on {place}: cp (-j {default}) / cp -r",
            f"{ours / cp:.2f}x",
            f"<= {limit:g}x",
            ours / cp <= limit,
        ),
        (
            f"10,000 x 4 KiB on {place}: cp -j 8 / cp -j 1",
            f"{eight / one:.2f}x",
            "<= 1x",
            eight <= one,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts on the chosen places and print each figure beside its target."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.copy")
    parser.add_argument("--only", choices=["big", "medium", "small"])
    parser.add_argument("--on", choices=["tmpfs", "disk"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        f"transferqueue {tq.__version__} on Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; medians of "
        f"{args.rounds} rounds"
    )
    places = {"disk": Path(__file__).resolve().parent.parent}
    if Path("/dev/shm").is_dir():
        places["tmpfs"] = Path("/dev/shm")
    else:
        print("  tmpfs: no /dev/shm, skipped")
    rows: list[Row] = []
    for place, root in sorted(places.items(), reverse=True):
        if args.on not in (None, place):
            continue
        work = Path(tempfile.mkdtemp(prefix=".bench-copy-", dir=root))
        try:
            if args.only in (None, "big"):
                rows += big_file(work, place, args.rounds)
            if args.only in (None, "medium"):
                rows += medium_files(work, place, args.rounds)
            if args.only in (None, "small"):
                rows += many_files(work, place, args.rounds)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(row[0]) for row in rows)
    for name, measured, target, ok in rows:
        print(f"{name:<{width}}  {measured:<8} target {target:<7} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
