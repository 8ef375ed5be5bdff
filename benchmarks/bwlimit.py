"""The bandwidth cap (issue 14): three executors under one cap of 20 MiB/s.

Run ``python -m benchmarks.bwlimit`` from the repository root (the S3 part needs
``transferqueue[s3]`` and ``moto[server]``; it is skipped, and said so, without them).
Three files of 96 MiB go at once through a ``TransferQueue(3, bandwidth_limit=20 MiB)``:
local copies (:class:`~transferqueue.executors.LocalCopy`, on tmpfs when there is one),
then uploads to and downloads from a moto server on 127.0.0.1
(:class:`~transferqueue.executors.S3Transfer`, multipart). The bytes the job reports are
read after a second of warm-up and again five seconds later; their rate over those five
seconds must lie between 18 and 22 MiB/s (within 10% of the cap). Then the cap is raised
to 40 MiB/s while the files move, and the rate is measured over the two seconds that
follow the change's first second: it must lie within 10% of the new cap, which shows the
change taking effect within a second. The exit status is 1 if a figure misses its range.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import transferqueue as tq
from transferqueue.executors import LocalCopy

MiB = 1024 * 1024
CAP = 20 * MiB
RAISED = 40 * MiB
FILES = 3
SIZE = 96 * MiB
WARM_UP = 1.0
WINDOW = 5.0
AFTER_CHANGE = 1.0  # the change must have taken effect by then
CHANGED_WINDOW = 2.0
TOLERANCE = 0.10
BUCKET = "bwlimit"


def _loaded(queue: tq.TransferQueue, job_id: str) -> tuple[float, int]:
    job = queue.get_job(job_id)
    assert job is not None
    return time.monotonic(), job.progress.loaded_bytes


def _rate_over(queue: tq.TransferQueue, job_id: str, seconds: float) -> float:
    """Bytes per second the job moved over the next ``seconds``."""
    start, before = _loaded(queue, job_id)
    time.sleep(seconds)  # a benchmark samples the wall clock; tests never do this
    end, after = _loaded(queue, job_id)
    return (after - before) / (end - start)


def _measure(kind: str, files: list[dict[str, Any]], executor: tq.Executor) -> tuple[float, float]:
    """The job's rate under the cap, and under the raised cap (bytes per second)."""
    with tq.TransferQueue(FILES, bandwidth_limit=CAP) as queue:
        job_id = queue.queue_job(kind, files, executor)
        try:
            time.sleep(WARM_UP)
            capped = _rate_over(queue, job_id, WINDOW)
            queue.update_bandwidth_limit(RAISED)
            time.sleep(AFTER_CHANGE)
            raised = _rate_over(queue, job_id, CHANGED_WINDOW)
            job = queue.get_job(job_id)
            assert job is not None
            if job.status.is_terminal:
                raise RuntimeError(f"{kind}: the job ended before the measurement did")
        finally:
            queue.cancel_job(job_id)
    return capped, raised


def _sources(root: Path) -> list[Path]:
    paths = []
    for index in range(FILES):
        path = root / f"source-{index}.bin"
        with open(path, "wb") as stream:
            for _ in range(SIZE // MiB):
                stream.write(os.urandom(MiB))
        paths.append(path)
    return paths


def _local(root: Path, sources: list[Path]) -> tuple[float, float]:
    files = [
        {"source_path": str(path), "destination_path": str(root / "copy" / path.name), "size": SIZE}
        for path in sources
    ]
    return _measure("local-upload", files, LocalCopy())


@contextmanager
def _moto(root: Path) -> Iterator[Any]:
    from tests.helpers.s3_server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer

    server = MotoServer(root / "moto.log")
    try:
        server.wait_ready()
        os.environ.update(
            AWS_ENDPOINT_URL=server.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        yield server
    finally:
        server.stop()


def _s3(root: Path, sources: list[Path]) -> dict[str, tuple[float, float]]:
    from transferqueue.executors import S3Transfer, make_s3_client

    with _moto(root), S3Transfer(overwrite=True) as executor:
        make_s3_client().create_bucket(Bucket=BUCKET)
        uploads = [
            {
                "source_path": str(path),
                "destination_path": f"s3://{BUCKET}/{path.name}",
                "size": SIZE,
            }
            for path in sources
        ]
        results = {"S3 upload": _measure("s3-upload", uploads, executor)}
        with tq.TransferQueue(FILES) as queue:  # whole objects to download, uncapped
            done = queue.wait(queue.queue_job("s3-upload", uploads, executor))
            if done.status != "completed":
                raise RuntimeError(f"uploading the objects to download failed: {done.error}")
        downloads = [
            {
                "source_path": f"s3://{BUCKET}/{path.name}",
                "destination_path": str(root / "down" / path.name),
                "size": SIZE,
            }
            for path in sources
        ]
        results["S3 download"] = _measure("s3-download", downloads, executor)
    return results


def _within(rate: float, cap: float) -> bool:
    return abs(rate - cap) <= TOLERANCE * cap


def main(argv: list[str] | None = None) -> int:
    """Measure each kind of transfer under the cap; print the rates; 1 if one misses."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bwlimit")
    parser.add_argument("--only", choices=("local", "s3"), default=None)
    args = parser.parse_args(argv)
    shm = Path("/dev/shm")
    place = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    results: dict[str, tuple[float, float]] = {}
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=place)))
        sources = _sources(root)
        runs: dict[str, Callable[[], dict[str, tuple[float, float]]]] = {}
        if args.only in (None, "local"):
            runs["local"] = lambda: {"local copy": _local(root, sources)}
        if args.only in (None, "s3"):
            try:
                import boto3  # noqa: F401
                import moto  # noqa: F401
            except ImportError:
                print("  S3: boto3 or moto not installed, skipped")
            else:
                runs["s3"] = lambda: _s3(root, sources)
        for run in runs.values():
            results.update(run())
    print(
        f"{FILES} files of {SIZE // MiB} MiB at once, cap {CAP // MiB} MiB/s, then "
        f"{RAISED // MiB} MiB/s (Python {platform.python_version()}, {os.cpu_count()} CPUs)"
    )
    missed = False
    for name, (capped, raised) in results.items():
        ok = _within(capped, CAP) and _within(raised, RAISED)
        missed |= not ok
        print(
            f"  {name:<12} {capped / MiB:6.2f} MiB/s over {WINDOW:g} s (target 18-22), "
            f"raised: {raised / MiB:6.2f} MiB/s (target 36-44)  {'ok' if ok else 'MISSED'}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
