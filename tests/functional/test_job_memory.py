"""Issue 12: what a finished job keeps, object by object (benchmarks/run.py measures the
bytes): values equal to one the job keeps anyway are that same object, not a copy."""

from __future__ import annotations

from typing import Any

import transferqueue as tq
from tests.conftest import WAIT
from transferqueue._core.job import NEVER_SENT


def chunked(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    for part in range(1, 5):
        on_progress(file.size * part // 4)


def files(count: int) -> list[dict[str, Any]]:
    # Sizes above 256: CPython shares smaller ints anyway.
    return [
        {"source_path": f"src/{i}", "destination_path": f"dst/{i}", "size": 1000 + i}
        for i in range(count)
    ]


def test_a_finished_job_shares_what_it_can(queue: tq.TransferQueue) -> None:
    """Issue 12: in a finished job each completed file's bytes done are its size's int,
    the job's bytes done its total's; every job of a queue shares one speed-sample
    spacing; the job's last update time is dropped once its end was delivered."""
    first, second = (queue.queue_job("local-upload", files(3), chunked) for _ in range(2))
    ended = queue.wait(first, timeout=WAIT)
    queue.wait(second, timeout=WAIT)
    assert all(file.loaded is file.size for file in ended.files)
    assert ended.progress.loaded_bytes is ended.progress.total_bytes
    with queue._lock:
        jobs = [queue._jobs[first], queue._jobs[second]]
    assert jobs[0]._sample_spacing is jobs[1]._sample_spacing
    assert all(job.last_update_sent is NEVER_SENT for job in jobs)


def test_a_file_that_stopped_short_keeps_its_own_count(queue: tq.TransferQueue) -> None:
    """Issue 12: the sharing is for equal values only: a file that failed halfway keeps
    the bytes it had done."""

    def half_then_fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        raise PermissionError("refused")

    job = queue.wait(queue.queue_job("local-upload", files(1), half_then_fail), timeout=WAIT)
    assert job.files[0].loaded == 500
    assert job.progress.loaded_bytes == 500
    assert job.progress.loaded_bytes is not job.progress.total_bytes
