"""Files queued as ``skipped`` (``"skip": True``: their destination was
already up to date). They are in the job, never reach the executor, count as done in the
progress, move no byte, and come through JSON, Redis's records and watch() as such."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor
from tests.helpers.file_lists import make_files
from transferqueue.redis import _wire
from transferqueue.redis._owners import fail_lost_job

SKIPPED = tq.TransferFileStatus.SKIPPED


def skip(files: list[dict[str, Any]], *indexes: int) -> list[dict[str, Any]]:
    for index in indexes:
        files[index]["skip"] = True
    return files


class Recording:
    """An executor that records the files it was given."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self.lock:
            self.sources.append(file.source_path)
        on_progress(file.size)


def test_a_job_of_skipped_files_only_completes_at_once_moving_nothing(
    queue: tq.TransferQueue,
) -> None:
    executor = Recording()
    job_id = queue.queue_job("local-upload", skip(make_files(3), 0, 1, 2), executor)
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.COMPLETED
    assert job.started_at == job.created_at
    assert [file.status for file in job.files] == [SKIPPED] * 3
    assert [file.loaded for file in job.files] == [0, 0, 0]
    assert job.progress == tq.TransferProgress(
        total_files=3,
        completed_files=0,
        failed_files=0,
        total_bytes=0,
        loaded_bytes=0,
        percentage=100,
        skipped_files=3,
    )
    assert executor.sources == []


def test_skipped_files_are_never_started_and_count_as_done(queue: tq.TransferQueue) -> None:
    """Skipped files first, between and last: the others run in order, the job completes
    with the skipped ones still skipped; their bytes are not the job's."""
    executor = Recording()
    files = skip(make_files(6, size=10), 0, 2, 3, 5)
    job = queue.wait(queue.queue_job("local-upload", files, executor), WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert sorted(executor.sources) == ["src/file-1", "src/file-4"]
    assert [str(file.status) for file in job.files] == [
        "skipped",
        "completed",
        "skipped",
        "skipped",
        "completed",
        "skipped",
    ]
    progress = job.progress
    assert (progress.completed_files, progress.skipped_files, progress.failed_files) == (2, 4, 0)
    assert (progress.total_bytes, progress.loaded_bytes, progress.percentage) == (20, 20, 100)


def test_progress_while_running_measures_what_is_to_move(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    files = skip(make_files(3, size=10), 0)
    job_id = queue.queue_job("local-upload", files, gate)
    gate.wait_running(2)
    running = queue.get_job(job_id)
    assert running is not None
    assert running.progress.total_bytes == 20
    assert running.progress.percentage == 0
    assert running.progress.skipped_files == 1
    gate.release_all()
    assert queue.wait(job_id, WAIT).progress.percentage == 100


def test_empty_files_to_move_are_counted_in_files(queue: tq.TransferQueue) -> None:
    """With 0 bytes to move, the percentage is in files: those to transfer only."""
    files = skip(make_files(3, size=0), 0)
    started = threading.Event()
    release = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path == "src/file-2":
            started.set()
            assert release.wait(WAIT)

    single = tq.TransferQueue(1)
    try:
        job_id = single.queue_job("local-upload", files, executor)
        assert started.wait(WAIT)
        job = single.get_job(job_id)
        assert job is not None
        assert (job.progress.completed_files, job.progress.percentage) == (1, 50)
        release.set()
        assert single.wait(job_id, WAIT).progress.percentage == 100
    finally:
        release.set()
        single.shutdown(wait=True, cancel_jobs=True)


def test_a_cancelled_or_failed_job_leaves_skipped_files_skipped(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    job_id = queue.queue_job("local-upload", skip(make_files(3), 1), gate)
    gate.wait_running(2)
    queue.cancel_job(job_id)
    gate.notify()  # the gated executors see the cancel and return
    job = queue.wait(job_id, WAIT)
    assert [str(file.status) for file in job.files] == ["error", "skipped", "error"]
    assert (job.progress.failed_files, job.progress.skipped_files) == (2, 1)

    def fail(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        raise OSError("disk on fire")

    failed = queue.wait(queue.queue_job("local-upload", skip(make_files(2), 0), fail), WAIT)
    assert failed.status is tq.TransferStatus.FAILED
    assert failed.error == "1 of 2 files failed"
    assert [str(file.status) for file in failed.files] == ["skipped", "error"]


def test_a_retried_file_beside_skipped_ones(queue: tq.TransferQueue) -> None:
    attempts: list[str] = []

    def flaky(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        attempts.append(file.source_path)
        if attempts.count(file.source_path) == 1:
            raise TimeoutError("once")

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0.001, jitter=0)
    files = skip(make_files(3), 0, 2)
    job = queue.wait(queue.queue_job("local-upload", files, flaky, retry=policy), WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert attempts == ["src/file-1", "src/file-1"]
    assert [file.attempts for file in job.files] == [0, 2, 0]


def test_skip_must_be_a_bool_and_is_the_only_extra_key(queue: tq.TransferQueue) -> None:
    files = make_files(1)
    files[0]["skip"] = "yes"
    with pytest.raises(TypeError, match=r"files\[0\]\['skip'\] must be a bool, not str"):
        queue.queue_job("local-upload", files, Recording())
    files[0]["skip"] = False
    job = queue.wait(queue.queue_job("local-upload", files, Recording()), WAIT)
    assert job.files[0].status is tq.TransferFileStatus.COMPLETED
    files[0]["mtime"] = 1
    with pytest.raises(ValueError, match=r"unknown key.*mtime.*optionally skip"):
        queue.queue_job("local-upload", files, Recording())


def test_json_watch_and_redis_records_carry_skipped_files(queue: tq.TransferQueue) -> None:
    job_id = queue.queue_job("s3-upload", skip(make_files(2, size=5), 1), Recording())
    with queue.watch(job_id, timeout=WAIT) as snapshots:
        seen = [job for job in snapshots if job is not None]
    final = seen[-1]
    assert final.status is tq.TransferStatus.COMPLETED
    assert all(job.files[1].status is SKIPPED for job in seen)
    data = final.to_dict()
    assert data["files"][1]["status"] == "skipped"
    assert data["progress"]["skipped_files"] == 1
    assert tq.TransferJob.from_dict(json.loads(json.dumps(data))) == final
    camel = final.to_dict(camel_case=True)
    assert camel["progress"]["skippedFiles"] == 1
    assert camel["files"][1]["status"] == "skipped"
    # Redis's records: each file's JSON read back, every status checked.
    fields = {_wire.HEAD: _wire.encode_head(final).encode()}
    for index, file in enumerate(final.files):
        fields[f"{_wire.FILE_PREFIX}{index}".encode()] = _wire.encode_file(file).encode()
    assert _wire.decode_job(final.id, fields) == final


def test_a_lost_owner_fails_only_what_had_not_ended() -> None:
    """A job whose owner process was lost: its skipped files stay skipped."""
    files = (
        tq.TransferFile("a", "b", 3, status=SKIPPED),
        tq.TransferFile("c", "d", 4, 2, tq.TransferFileStatus.TRANSFERRING, attempts=1),
    )
    job = tq.TransferJob(
        id="transfer-1-1",
        type=tq.TransferType.LOCAL_UPLOAD,
        status=tq.TransferStatus.ACTIVE,
        files=files,
        progress=tq.TransferProgress(2, 0, 0, 4, 2, 50, skipped_files=1),
        created_at=datetime.now(timezone.utc),
    )
    ended, changed = fail_lost_job(job, "lost")
    assert changed == [1]
    assert [str(file.status) for file in ended.files] == ["skipped", "error"]
    assert (ended.progress.failed_files, ended.progress.skipped_files) == (1, 1)
