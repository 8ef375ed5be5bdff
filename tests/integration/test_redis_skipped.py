"""Skipped files with Redis: a clustered queue (its files reserved, then started under
a cluster-wide slot) never starts a skipped file, and another process reads the job back
from the registry with its skipped files and their count, also while another queue of
the cluster has it paused."""

from __future__ import annotations

import threading

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

from transferqueue._cli.main import main
from transferqueue.redis import RedisBackend


def test_skipped_files_in_a_cluster(
    redis_url: str,
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


def test_a_job_with_skipped_files_paused_and_resumed_from_another_queue(
    redis_url: str,
) -> None:
    """Another queue of the cluster pauses the job through Redis: the registry shows it
    paused with its skipped files and their count; the file that was running ends, no
    other starts until the other queue resumes it, and the skipped ones never start."""
    gate = GatedExecutor()
    files = make_files(4, size=10)
    for index in (0, 2):
        files[index]["skip"] = True
    try:
        with (
            tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="pause")) as owner,
            tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="pause")) as other,
        ):
            job_id = owner.queue_job("local-upload", files, gate)
            gate.wait_running(1)
            other.pause_job(job_id)
            paused = other.get_job(job_id)
            assert paused is not None
            assert paused.status is tq.TransferStatus.PAUSED
            assert [str(file.status) for file in paused.files] == [
                "skipped",
                "transferring",
                "skipped",
                "queued",
            ]
            assert (paused.progress.skipped_files, paused.progress.total_bytes) == (2, 20)
            gate.release("src/file-1")  # it ends; the paused job starts no other

            def first_done() -> bool:
                job = other.get_job(job_id)
                return job is not None and job.progress.completed_files == 1

            wait_until(first_done, "the running file completed")
            held = other.get_job(job_id)
            assert held is not None
            assert held.status is tq.TransferStatus.PAUSED
            assert [str(file.status) for file in held.files] == [
                "skipped",
                "completed",
                "skipped",
                "queued",
            ]
            assert held.progress.percentage == 50
            assert gate.started == ["src/file-1"]
            # Its last file held at its start: the registry shows the job running again
            # (a job that ended before the asker saw it resumed would be refused).
            other.resume_job(job_id)
            gate.wait_started(2)
            gate.release_all()
            done = owner.wait(job_id, WAIT)
            assert other.wait(job_id, WAIT) == done
    finally:
        gate.release_all()
    assert gate.started == ["src/file-1", "src/file-3"]
    assert done.status is tq.TransferStatus.COMPLETED
    assert (done.progress.completed_files, done.progress.skipped_files) == (2, 2)
    assert done.progress.percentage == 100
