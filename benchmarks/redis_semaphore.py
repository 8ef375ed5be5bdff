"""What a slot of :class:`~transferqueue.redis.RedisSemaphore` costs (issue #11, part 1).

Run ``python -m benchmarks.redis_semaphore`` from the repository root (needs
``transferqueue[redis]`` and a ``redis-server`` on PATH, which it starts on a free port of
127.0.0.1 without persistence; or pass ``--url redis://...`` to use a running server, whose
namespace ``transferqueue-bench`` it uses). It times one ``acquire()`` + ``release()``
round trip, each a single script call when a slot is free:

- one client alone, at a limit of 1;
- 4 processes at once, at a limit of 4: nobody waits, they only contend for the server;
- 4 processes at once, at a limit of 1: each cycle includes waiting for the other three
  (the hand-over through the wake-up lists), so its latency is mostly the queue's.

Latencies are per cycle, in every process, merged; p50 and p99 are printed with the
cycles per second of the whole run, beside two plain ``PING`` round trips of redis-py
(what the two script calls cost at the least). There is no target: the figures are
recorded in README.rst.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier

import redis

from transferqueue.redis import RedisSemaphore

NAMESPACE = "transferqueue-bench"
SINGLE_CYCLES = 5_000
PROCESSES = 4
CYCLES_PER_PROCESS = 2_000


@contextmanager
def _redis_server() -> Iterator[str]:
    """A redis-server of our own on a free port, stopped at the end; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH (apt-get install redis-server, or --url)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="transferqueue-bench-redis-") as folder:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]
        process = subprocess.Popen(
            [binary, "--port", str(port), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(400):
                try:
                    client.ping()
                    break
                except redis.exceptions.ConnectionError:
                    time.sleep(0.025)  # not listening yet
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _cycles(url: str, limit: int, cycles: int) -> list[float]:
    """Seconds of each of ``cycles`` acquire + release round trips."""
    timings = []
    with RedisSemaphore(url, limit, namespace=NAMESPACE) as semaphore:
        for _ in range(cycles):
            start = time.perf_counter()
            slot = semaphore.acquire(timeout=60)
            if slot is None:
                raise RuntimeError("no slot within 60 s")
            slot.release()
            timings.append(time.perf_counter() - start)
    return timings


def _pings(url: str, cycles: int) -> list[float]:
    """Seconds of each of ``cycles`` pairs of PING round trips: the floor of a cycle."""
    timings = []
    with redis.Redis.from_url(url) as client:
        for _ in range(cycles):
            start = time.perf_counter()
            client.ping()
            client.ping()
            timings.append(time.perf_counter() - start)
    return timings


def _contender(url: str, limit: int, start: Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with RedisSemaphore(url, limit, namespace=NAMESPACE) as warm_up:
        warm_up.try_acquire()  # connects and loads the scripts before the clock starts
    start.wait()
    results.put(_cycles(url, limit, CYCLES_PER_PROCESS))


def _reset(url: str, limit: int) -> None:
    with RedisSemaphore(url, limit, namespace=NAMESPACE) as semaphore:
        semaphore.set_limit(limit)
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(f"{NAMESPACE}:semaphore:*"):
            if not key.endswith(b":limit"):
                client.delete(key)


def _contended(url: str, limit: int) -> tuple[list[float], float]:
    """Latencies of every cycle of PROCESSES processes at once, and the run's seconds."""
    _reset(url, limit)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES + 1)
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    processes = [
        context.Process(target=_contender, args=(url, limit, start, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    timings: list[float] = []
    for _ in processes:
        timings.extend(results.get(timeout=600))
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(60)
    return timings, elapsed


def _row(name: str, timings: list[float], elapsed: float) -> str:
    cuts = statistics.quantiles(timings, n=100)
    return (
        f"{name:<34} p50 {cuts[49] * 1e3:6.3f} ms  p99 {cuts[98] * 1e3:6.3f} ms  "
        f"{len(timings) / elapsed:8,.0f} cycles/s"
    )


def _run(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        server = client.info("server")["redis_version"]
    print(
        f"Python {platform.python_version()}, redis-py {redis.__version__}, "
        f"redis-server {server}, {os.cpu_count()} CPUs ({platform.machine()})"
    )
    _reset(url, 1)
    _cycles(url, 1, 200)  # warm-up
    began = time.perf_counter()
    pings = _pings(url, SINGLE_CYCLES)
    print(_row("2 x PING, redis-py (the floor)", pings, time.perf_counter() - began))
    began = time.perf_counter()
    single = _cycles(url, 1, SINGLE_CYCLES)
    print(_row("1 client, limit 1", single, time.perf_counter() - began))
    for limit in (PROCESSES, 1):
        timings, elapsed = _contended(url, limit)
        print(_row(f"{PROCESSES} processes, limit {limit}", timings, elapsed))


def main() -> int:
    """Time the round trips on a server of our own, or on ``--url``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Redis to use instead of starting one")
    args = parser.parse_args()
    if args.url:
        _run(args.url)
    else:
        with _redis_server() as url:
            _run(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
