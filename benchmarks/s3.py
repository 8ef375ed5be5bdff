"""S3 upload throughput against a local moto server (issue #4): transferqueue's
:class:`~transferqueue.executors.S3Transfer` under a queue of limit 8, beside a plain loop
of boto3's own ``upload_file`` on the same server.

Run ``python -m benchmarks.s3`` from the repository root (needs ``transferqueue[s3]`` and
``moto[server]``). It starts its own moto server on 127.0.0.1, uploads 1 x 256 MiB and
1,000 x 64 KiB each way, and prints MB/s (10^6 bytes per second), best of a few rounds.
There is no target: moto, a Python server, is the bottleneck, so the figures compare the
two clients more than they measure S3.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

import transferqueue as tq
from transferqueue.executors._s3 import S3Transfer

MiB = 1 << 20
LIMIT = 8
BIG = 256 * MiB
SMALL = 64 * 1024
SMALL_COUNT = 1_000
ROUNDS = 3


def _start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                return process, endpoint
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("moto server did not start")


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(endpoint + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass


def _client() -> S3Client:
    return boto3.session.Session().client("s3", config=Config(max_pool_connections=20))


def _best(measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(ROUNDS))


def _queue_upload(files: list[dict[str, Any]], overwrite: bool) -> float:
    with (
        S3Transfer(client=_client(), overwrite=overwrite) as executor,
        tq.TransferQueue(LIMIT) as queue,
    ):
        start = time.perf_counter()
        job = queue.wait(queue.queue_job("s3-upload", files, executor))
        elapsed = time.perf_counter() - start
    if job.status != "completed":
        errors = {f.error for f in job.files if f.error}
        raise RuntimeError(f"benchmark job ended {job.status}: {sorted(errors)[:3]}")
    return elapsed


def _boto3_loop(files: list[dict[str, Any]]) -> float:
    client = _client()
    config = TransferConfig()
    start = time.perf_counter()
    for file in files:
        bucket, _, key = file["destination_path"][len("s3://") :].partition("/")
        client.upload_file(str(file["source_path"]), bucket, key, Config=config)
    return time.perf_counter() - start


def main() -> int:
    """Start moto, run each upload both ways, print MB/s."""
    with tempfile.TemporaryDirectory(prefix="transferqueue-bench-s3-") as folder:
        root = Path(folder)
        process, endpoint = _start_moto(root / "moto.log")
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        try:
            big = root / "big.bin"
            big.write_bytes(os.urandom(BIG))
            small_dir = root / "small"
            small_dir.mkdir()
            for i in range(SMALL_COUNT):
                (small_dir / f"{i:04d}").write_bytes(os.urandom(SMALL))

            def setup() -> None:
                _reset(endpoint)
                _client().create_bucket(Bucket="bench")

            big_files = [{"source_path": big, "destination_path": "s3://bench/big", "size": BIG}]
            small_files = [
                {
                    "source_path": small_dir / f"{i:04d}",
                    "destination_path": f"s3://bench/small/{i:04d}",
                    "size": SMALL,
                }
                for i in range(SMALL_COUNT)
            ]

            def run(measure: Callable[[], float]) -> Callable[[], float]:
                def measured() -> float:
                    setup()
                    return measure()

                return measured

            rows = [
                (
                    "1 x 256 MiB, S3Transfer in TransferQueue(8)",
                    BIG,
                    _best(run(lambda: _queue_upload(big_files, overwrite=True))),
                ),
                ("1 x 256 MiB, boto3 upload_file", BIG, _best(run(lambda: _boto3_loop(big_files)))),
                (
                    "1,000 x 64 KiB, S3Transfer in TransferQueue(8)",
                    SMALL * SMALL_COUNT,
                    _best(run(lambda: _queue_upload(small_files, overwrite=True))),
                ),
                (
                    "1,000 x 64 KiB, same, overwrite=False (HEAD each)",
                    SMALL * SMALL_COUNT,
                    _best(run(lambda: _queue_upload(small_files, overwrite=False))),
                ),
                (
                    "1,000 x 64 KiB, boto3 upload_file loop",
                    SMALL * SMALL_COUNT,
                    _best(run(lambda: _boto3_loop(small_files))),
                ),
            ]
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(
        f"S3 uploads to a local moto server, best of {ROUNDS} "
        f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)"
    )
    width = max(len(name) for name, _, _ in rows)
    for name, size, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.2f} s  {size / seconds / 1e6:8.1f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
