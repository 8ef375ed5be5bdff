"""The queue's internal job state (transferqueue._core.job.Job), built for a test of it
without a queue."""

from __future__ import annotations

from datetime import datetime, timezone

import transferqueue as tq
from tests.helpers.executors import noop_executor
from transferqueue._core.job import Job

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_job(*sizes: int) -> Job:
    """A job of one file per size (``src/i`` to ``dst/i``), created at NOW."""
    files = [tq.TransferFile(f"src/{i}", f"dst/{i}", size) for i, size in enumerate(sizes)]
    return Job(tq.TransferType.S3_UPLOAD, files, noop_executor, NOW)
