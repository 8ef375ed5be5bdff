"""Issue 14, part 1, with Redis: a clustered queue (its files reserved, then started under
a cluster-wide slot) never starts a skipped file, and another process reads the job back
from the registry with its skipped files and their count."""

from __future__ import annotations

import threading

import pytest

import transferqueue as tq
from tests.conftest import WAIT, make_files
from tests.helpers.redis_server import (  # noqa: F401
    MISSING,
    REQUIRED,
    redis_server,
    redis_url,
)

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

from transferqueue._cli.main import main
from transferqueue.redis import RedisBackend


def test_skipped_files_in_a_cluster(
    redis_url: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[str] = []
    lock = threading.Lock()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            started.append(file.source_path)

    files = make_files(5, size=10)
    for index in (0, 2, 4):
        files[index]["skip"] = True
    with tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace="skip")) as owner:
        job = owner.wait(owner.queue_job("s3-upload", files, executor), WAIT)
        with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="skip")) as other:
            seen = other.get_job(job.id)
        where = ["--redis", redis_url, "--namespace", "skip"]
        assert main(["watch", job.id, *where]) == 0
        summary = capsys.readouterr().out
        assert main(["jobs", *where]) == 0
        table = capsys.readouterr().out
    assert sorted(started) == ["src/file-1", "src/file-3"]
    assert job.status is tq.TransferStatus.COMPLETED
    assert seen == job
    assert [str(file.status) for file in seen.files] == [
        "skipped",
        "completed",
        "skipped",
        "completed",
        "skipped",
    ]
    assert (seen.progress.skipped_files, seen.progress.total_bytes) == (3, 20)
    assert summary.splitlines()[-1] == (
        f"job {job.id} completed: 2 of 5 files transferred (20 B), 3 up to date, 0 failed"
    )
    assert " 5/5 " in table.splitlines()[1]
