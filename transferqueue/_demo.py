"""``python -m transferqueue``: a demo of the queue on built-in defaults.

Three jobs of simulated transfers share a limit of 3: one completes, one has a failing
file, and one is cancelled part-way. Live progress comes from the ``job-updated`` events;
a table of the final snapshots ends the run.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from ._enums import TransferStatus, TransferType
from ._progress import ProgressCallback
from ._queue import TransferQueue
from ._records import TransferFile, TransferJob
from ._signals import job_created, job_updated

_CHUNKS = 10
_CHUNK_SECONDS = 0.03
_CANCEL_AT_PERCENT = 30


def simulated_transfer(file: TransferFile, on_progress: ProgressCallback) -> None:
    """Pretend to copy ``file`` in chunks; fail any file whose name contains "corrupt"."""
    for chunk in range(1, _CHUNKS + 1):
        # wait_cancelled() is an interruptible sleep: a cancel ends it at once.
        if on_progress.wait_cancelled(_CHUNK_SECONDS):
            on_progress.raise_if_cancelled()
        on_progress(file.size * chunk // _CHUNKS)
        if "corrupt" in file.source_path and chunk == _CHUNKS // 2:
            raise OSError(f"checksum mismatch in {file.source_path}")


def _files(prefix: str, sizes: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "source_path": f"{prefix}/{name}",
            "destination_path": f"/tmp/demo/{prefix}/{name}",
            "size": size,
        }
        for name, size in ((f"part-{i:02}.bin", size) for i, size in enumerate(sizes))
    ]


class _LiveReport:
    """Prints a line whenever a job changes status or passes another 20%."""

    def __init__(self, out: TextIO, started: float) -> None:
        self._out = out
        self._started = started
        self._shown: dict[str, tuple[TransferStatus, int]] = {}
        self.reached_cancel_point = threading.Event()
        self.job_to_cancel = ""

    def created(self, sender: Any, *, job: TransferJob, **extra: Any) -> None:
        self._print(job, "queued")

    def updated(self, sender: Any, *, job: TransferJob, **extra: Any) -> None:
        step = job.progress.percentage // 20 * 20
        if self._shown.get(job.id) != (job.status, step):
            self._shown[job.id] = (job.status, step)
            self._print(job, str(job.status))
        if job.id == self.job_to_cancel and job.progress.percentage >= _CANCEL_AT_PERCENT:
            self.reached_cancel_point.set()

    def _print(self, job: TransferJob, status: str) -> None:
        progress = job.progress
        print(
            f"[{time.monotonic() - self._started:5.2f}s] {job.id:<28} {job.type:<13} "
            f"{status:<9} {progress.percentage:3}%  "
            f"{progress.completed_files}/{progress.total_files} files",
            file=self._out,
            flush=True,
        )


def _print_table(jobs: list[TransferJob], out: TextIO) -> None:
    header = f"{'job':<28} {'type':<13} {'status':<9} {'files ok/failed/all':>19} {'bytes':>15}"
    print("\n" + header + "\n" + "-" * len(header), file=out)
    for job in jobs:
        progress = job.progress
        counts = f"{progress.completed_files}/{progress.failed_files}/{progress.total_files}"
        loaded = f"{progress.loaded_bytes}/{progress.total_bytes}"
        print(
            f"{job.id:<28} {job.type:<13} {job.status:<9} {counts:>19} {loaded:>15}",
            file=out,
        )
        if job.error:
            print(f"{'':<28} error: {job.error}", file=out)
        for file in job.files:
            if file.error and file.error != job.error:
                print(f"{'':<28}   {file.source_path}: {file.error}", file=out)


def run_demo(out: TextIO) -> list[TransferJob]:
    """Run the demo, writing to ``out``; return the final snapshots."""
    started = time.monotonic()
    report = _LiveReport(out, started)
    with (
        TransferQueue(3, update_interval=0.05) as queue,
        job_created.connected_to(report.created, sender=queue),
        job_updated.connected_to(report.updated, sender=queue),
    ):
        print(f"Three jobs share one queue with a limit of {queue.concurrency_limit}.", file=out)
        ids = [
            queue.queue_job(
                TransferType.S3_UPLOAD, _files("uploads", [4_000_000] * 5), simulated_transfer
            ),
            queue.queue_job(
                TransferType.LOCAL_UPLOAD,
                _files("backup", [2_000_000, 1_000_000]) + _files("backup-corrupt", [500_000]),
                simulated_transfer,
            ),
            queue.queue_job(
                TransferType.HUGGINGFACE, _files("model", [8_000_000] * 6), simulated_transfer
            ),
        ]
        report.job_to_cancel = ids[2]
        if report.reached_cancel_point.wait(timeout=30):
            print(f"Cancelling {ids[2]} at {_CANCEL_AT_PERCENT}%.", file=out, flush=True)
            queue.cancel_job(ids[2])
        final = [queue.wait(job_id, timeout=60) for job_id in ids]
    _print_table(final, out)
    return final


def main() -> int:
    """Entry point of ``python -m transferqueue``; returns the exit status."""
    final = run_demo(sys.stdout)
    expected = [TransferStatus.COMPLETED, TransferStatus.FAILED, TransferStatus.CANCELLED]
    return 0 if [job.status for job in final] == expected else 1
