"""S3 against a local moto server: transferqueue beside s3transfer and rclone (issues #4,
#12).

Run ``python -m benchmarks.s3`` from the repository root (needs ``transferqueue[s3]`` and
``moto[server]``). It starts its own moto server on 127.0.0.1 and moves 200 files of
256 KiB each way, at one concurrency (8) for every contender, which take turns round
after round; each figure is the median of the rounds:

- ``transferqueue cp -j 8 --quiet`` (a new interpreter: start-up, listing and all), with
  and without ``--overwrite`` for uploads, its bytecode cached as an installed package's
  is (after one untimed run each way);
- :class:`~transferqueue.executors.S3Transfer` in a ``TransferQueue(8)`` (the API, in
  this process);
- s3transfer's own ``TransferManager`` with ``max_concurrency=8``, the same files
  submitted at once (in this process);
- ``rclone copy --transfers 8`` (a process of its own), when installed (skipped, and said
  so, otherwise).

It also counts the requests each transfer sends per object, from the server's log. The
target (issue #12): ``cp`` with its defaults within 1.15x of the TransferManager, and one
request per object each way. Every contender's client is made by ``make_s3_client``, so
each computes the same CRC32 of every upload (botocore's default) and signs the same
payload hash; ``cp`` without ``--overwrite`` adds ``If-None-Match: *`` to each PUT (the
server then checks that the key is free), which ``--overwrite`` and the
TransferManager do not. moto is a Python server on the same 2 CPUs, so it bounds
every figure; the ratios compare the clients' costs.
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
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from s3transfer.manager import TransferManager

import transferqueue as tq
from tests.helpers.s3_server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer
from transferqueue.executors import S3Transfer, list_s3_objects, make_s3_client

LIMIT = 8
SIZE = 256 * 1024
COUNT = 200
BUCKET = "bench"


# The environment of every ``transferqueue cp``: its bytecode cached in the benchmark's
# folder (set in _measure), as pip leaves an installed package. Without a cache (an
# editable install run with PYTHONDONTWRITEBYTECODE=1, as on our CI machines) each run
# compiles the package's ~70 modules again, some 0.1-0.3 s that the contenders running
# in this process pay once.
_CLI_ENV: dict[str, str] = {}


def _cli(*argv: str) -> None:
    command = [sys.executable, "-m", "transferqueue", "cp", "-q", "-j", str(LIMIT), *argv]
    subprocess.run(command, check=True, env=_CLI_ENV or None)


def _api(files: list[dict[str, Any]], kind: str) -> None:
    with (
        S3Transfer(overwrite=True) as executor,
        tq.TransferQueue(LIMIT) as queue,
    ):
        job = queue.wait(queue.queue_job(kind, files, executor))
    if job.status != "completed":
        raise RuntimeError(f"benchmark job ended {job.status}: {job.error}")


def _manager(files: list[dict[str, Any]], upload: bool) -> None:
    config = TransferConfig(max_concurrency=LIMIT)
    with TransferManager(make_s3_client(config), config) as manager:
        futures = []
        for file in files:
            if upload:
                key = file["destination_path"][len(f"s3://{BUCKET}/") :]
                futures.append(manager.upload(file["source_path"], BUCKET, key))
            else:
                key = file["source_path"][len(f"s3://{BUCKET}/") :]
                Path(file["destination_path"]).parent.mkdir(parents=True, exist_ok=True)
                futures.append(manager.download(BUCKET, key, file["destination_path"]))
        for future in futures:
            future.result()


def _rclone(endpoint: str, source: str, destination: str) -> None:
    remote = (
        f":s3,provider=Other,endpoint='{endpoint}',access_key_id={ACCESS_KEY},"
        f"secret_access_key={SECRET_KEY},region={REGION}:"
    )
    source = remote + source[len("s3://") :] if source.startswith("s3://") else source
    if destination.startswith("s3://"):
        destination = remote + destination[len("s3://") :]
    command = ["rclone", "copy", "-q", "--config", os.devnull, "--transfers", str(LIMIT)]
    # rclone refuses to talk plain HTTP with a CA bundle set (its "unsupported transport").
    env = {name: value for name, value in os.environ.items() if name != "AWS_CA_BUNDLE"}
    subprocess.run([*command, source, destination], check=True, env=env)


def main(argv: list[str] | None = None) -> int:
    """Start moto, run every contender each way, print medians and requests per object."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.s3")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="transferqueue-bench-s3-") as folder:
        root = Path(folder)
        server = MotoServer(root / "moto.log")
        try:
            server.wait_ready()
            return _measure(server, root, args.rounds)
        finally:
            server.stop()


def _measure(server: MotoServer, root: Path, rounds: int) -> int:
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
    _CLI_ENV.clear()
    _CLI_ENV.update(os.environ, PYTHONPYCACHEPREFIX=str(root / "bytecode"))
    _CLI_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    source = root / "small"
    source.mkdir()
    for index in range(COUNT):
        (source / f"{index:04d}").write_bytes(os.urandom(SIZE))
    up = f"s3://{BUCKET}/small"
    uploads = [
        {"source_path": str(source / name), "destination_path": f"{up}/{name}", "size": SIZE}
        for name in sorted(os.listdir(source))
    ]
    down = root / "down"

    def fresh_bucket() -> None:
        server.reset()
        make_s3_client().create_bucket(Bucket=BUCKET)

    def with_objects() -> None:
        fresh_bucket()
        _api(uploads, "s3-upload")
        shutil.rmtree(down, ignore_errors=True)

    downloads: list[dict[str, Any]] = []

    def listed() -> list[dict[str, Any]]:
        if not downloads:
            with_objects()
            downloads.extend(list_s3_objects(up, down))
        return downloads

    upload_runs: dict[str, Callable[[], None]] = {
        f"transferqueue cp -j {LIMIT}": lambda: _cli(str(source), up),
        f"transferqueue cp -j {LIMIT} --overwrite": lambda: _cli("--overwrite", str(source), up),
        f"S3Transfer in TransferQueue({LIMIT})": lambda: _api(uploads, "s3-upload"),
        f"TransferManager(max_concurrency={LIMIT})": lambda: _manager(uploads, True),
    }
    download_runs: dict[str, Callable[[], None]] = {
        f"transferqueue cp -j {LIMIT}": lambda: _cli(up, str(down)),
        f"S3Transfer in TransferQueue({LIMIT})": lambda: _api(listed(), "s3-download"),
        f"TransferManager(max_concurrency={LIMIT})": lambda: _manager(listed(), False),
    }
    if shutil.which("rclone"):
        upload_runs[f"rclone copy --transfers {LIMIT}"] = lambda: _rclone(
            server.endpoint, str(source), up
        )
        download_runs[f"rclone copy --transfers {LIMIT}"] = lambda: _rclone(
            server.endpoint, up, str(down)
        )
    else:
        print("  rclone: not installed, skipped")

    # One untimed run each way writes the command's bytecode cache (and warms the page
    # cache of the sources).
    fresh_bucket()
    _cli(str(source), up)
    _cli(up, str(root / "warm"))

    upload_times = _medians(upload_runs, fresh_bucket, rounds, "upload")
    listed()  # the objects uploaded and listed once, before the timed runs
    download_times = _medians(
        download_runs, lambda: shutil.rmtree(down, ignore_errors=True), rounds, "download"
    )

    fresh_bucket()
    put = server.requests_during(lambda: _cli(str(source), up))
    get = server.requests_during(lambda: _cli(up, str(root / "counted")))
    per_upload = sum(1 for line in put if line.startswith(("PUT /", "HEAD /"))) / COUNT
    per_download = sum(1 for line in get if not line.startswith(f"GET /{BUCKET}?")) / COUNT

    print(
        f"S3 on a local moto server, {COUNT} x {SIZE // 1024} KiB each way, concurrency "
        f"{LIMIT}, medians of {rounds} (Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs)"
    )
    for title, times in (("upload", upload_times), ("download", download_times)):
        for name, seconds in times.items():
            speed = COUNT * SIZE / seconds / 1e6
            cpu = _CPU[f"{title}: {name}"]
            print(
                f"  {title:<8} {name:<40} {seconds:6.2f} s  {speed:6.1f} MB/s  "
                f"client CPU {cpu:5.2f} s"
            )
    rows = []
    for title, times in (("upload", upload_times), ("download", download_times)):
        ratio = (
            times[f"transferqueue cp -j {LIMIT}"]
            / times[f"TransferManager(max_concurrency={LIMIT})"]
        )
        rows.append(
            (
                f"{title}: cp -j {LIMIT} / TransferManager",
                f"{ratio:.2f}x",
                "<= 1.15x",
                ratio <= 1.15,
            )
        )
    rows.append(("requests per uploaded object (cp)", f"{per_upload:g}", "1", per_upload == 1))
    rows.append(
        ("requests per downloaded object (cp)", f"{per_download:g}", "1", per_download == 1)
    )
    width = max(len(row[0]) for row in rows)
    for name, measured, target, ok in rows:
        print(f"{name:<{width}}  {measured:<8} target {target:<9} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for *_, ok in rows) else 1


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its children that ended: the
    client's side of a run, in process or in a ``cp`` or ``rclone`` (the moto server, a
    child still running, is not counted)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


_CPU: dict[str, float] = {}  # the median CPU seconds of each run, by "direction: name"


def _medians(
    runs: dict[str, Callable[[], None]], setup: Callable[[], None], rounds: int, title: str = ""
) -> dict[str, float]:
    """The median time of each run over ``rounds`` rounds, taking turns, each after
    ``setup`` (not timed); the median CPU seconds of each go into ``_CPU``."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            setup()
            cpu_start = _cpu()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_cpu() - cpu_start)
    _CPU.update({f"{title}: {name}": statistics.median(values) for name, values in cpu.items()})
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    sys.exit(main())
