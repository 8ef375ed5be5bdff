"""Measure what many SSE viewers of one big job cost the server (issue #5's streams).

Run ``python -m benchmarks.web`` from the repository root (needs no web framework: it
reads the streams of :class:`~transferqueue.web.TransferEndpoints` directly, as a WSGI
server would). ``VIEWERS`` threads each stream one job of ``FILES`` files while the job
makes ``STEPS`` progress steps; the figure is the process's CPU time per step, with each
snapshot's SSE message encoded once for every stream (as shipped) and once per stream
(as before). The exit status is 1 if the target is missed.
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from typing import Any

import transferqueue as tq
from transferqueue.web import TransferEndpoints, _endpoints

VIEWERS = 50
FILES = 1_000
STEPS = 40
STEP_SECONDS = 0.025  # a little above update_interval, so that most steps are their own event


def _files() -> list[dict[str, Any]]:
    return [
        {"source_path": f"src/{i}", "destination_path": f"dst/{i}", "size": STEPS}
        for i in range(FILES)
    ]


def _stepping(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    if file.source_path != "src/0":
        return  # one file moves, the others complete at once: the job stays big and active
    for step in range(1, STEPS + 1):
        on_progress.wait_cancelled(STEP_SECONDS)
        on_progress(step)


def cpu_per_step(*, shared_encoding: bool, dashboards: int = 0) -> tuple[float, int]:
    """CPU seconds per progress step with ``VIEWERS`` streams, and the chunks they read;
    ``dashboards`` of them are all-jobs streams, the others job streams."""
    original = _endpoints._MessageCache.message
    if not shared_encoding:

        def encode_each_time(
            self: Any, job: Any, event: Any, encode: Any, event_id: Any = None
        ) -> str:
            text: str = encode()
            return text if event_id is None else f"id: {event_id}\n{text}"

        _endpoints._MessageCache.message = encode_each_time  # type: ignore[method-assign]
    try:
        with tq.TransferQueue(2, update_interval=0.02) as queue:
            endpoints = TransferEndpoints[object](queue, keepalive=60)
            job_id = queue.queue_job("local-upload", _files(), _stepping)
            chunks = [0] * VIEWERS
            ready = threading.Barrier(VIEWERS + 1)

            def view(index: int) -> None:
                if index < dashboards:
                    view_all(index)
                    return
                stream = endpoints.job_events(object(), job_id)
                assert not isinstance(stream, _endpoints.Reply)
                ready.wait()
                for _ in stream:
                    chunks[index] += 1

            def view_all(index: int) -> None:
                stream = endpoints.all_events(object())
                assert not isinstance(stream, _endpoints.Reply)
                next(stream)  # subscribed, with the list
                ready.wait()
                for chunk in stream:
                    chunks[index] += 1
                    if '"status":"completed"' in chunk[:200]:
                        stream.close()
                        return

            threads = [threading.Thread(target=view, args=(i,)) for i in range(VIEWERS)]
            for thread in threads:
                thread.start()
            ready.wait()
            started = time.process_time()
            queue.wait(job_id, timeout=120)
            for thread in threads:
                thread.join(120)
            cpu = time.process_time() - started
    finally:
        _endpoints._MessageCache.message = original  # type: ignore[method-assign]
    return cpu / STEPS, sum(chunks)


def main() -> int:
    """Print the CPU cost per step, shared and per-stream encoding, beside the target."""
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}")
    print(f"{VIEWERS} job streams of a {FILES:,}-file job, {STEPS} progress steps")
    shared, shared_chunks = min(cpu_per_step(shared_encoding=True) for _ in range(3))
    each, each_chunks = min(cpu_per_step(shared_encoding=False) for _ in range(3))
    print(
        f"encoded once per snapshot:  {shared * 1000:7.1f} ms CPU per step ({shared_chunks} chunks)"
    )
    print(f"encoded once per stream:    {each * 1000:7.1f} ms CPU per step ({each_chunks} chunks)")
    half = VIEWERS // 2
    mixed, mixed_chunks = min(cpu_per_step(shared_encoding=True, dashboards=half) for _ in range(3))
    print(f"once, {half} of them all-jobs: {mixed * 1000:5.1f} ms CPU per step ({mixed_chunks})")
    ratio = each / shared
    ok = ratio >= 5
    print(f"saving {ratio:.1f}x  target >= 5x  {'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
