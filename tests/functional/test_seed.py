"""The seed's eight unit tests (phase-1.1, "Step 4"), ported to the Python contract.

Each test keeps the intent of its TypeScript original, but synchronises on the queue's own
``wait()`` and on Events instead of fixed sleeps, and runs the real worker threads.
"""

from __future__ import annotations

import threading

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, make_files, noop_executor


def _one_file() -> list[dict[str, object]]:
    return [{"source_path": "source1.txt", "destination_path": "dest1.txt", "size": 1024}]


def test_create_job(queue: tq.TransferQueue) -> None:
    """S1: queue_job returns an id starting with "transfer-"; the job has its one file."""
    job_id = queue.queue_job("local-upload", _one_file(), noop_executor)

    assert isinstance(job_id, str)
    assert job_id.startswith("transfer-")
    job = queue.get_job(job_id)
    assert job is not None
    assert job.id == job_id
    assert len(job.files) == 1
    assert job.files[0].source_path == "source1.txt"
    assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED


def test_process_files_with_concurrency_limit(queue: tq.TransferQueue) -> None:
    """S2, S4, S6: three files under limit 2 run at most two at once, all complete, 100%."""
    files = [
        {"source_path": "file1.txt", "destination_path": "dest1.txt", "size": 1024},
        {"source_path": "file2.txt", "destination_path": "dest2.txt", "size": 2048},
        {"source_path": "file3.txt", "destination_path": "dest3.txt", "size": 512},
    ]
    lock = threading.Lock()
    two_running = threading.Event()
    active = 0
    max_active = 0
    calls: list[str] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        nonlocal active, max_active
        with lock:
            active += 1
            max_active = max(max_active, active)
            calls.append(file.source_path)
            if active == 2:
                two_running.set()
        try:
            on_progress(file.size // 2)
            # The first two files overlap for sure: each waits until two run at once.
            assert two_running.wait(WAIT), "two files never ran at once"
            on_progress(file.size)
        finally:
            with lock:
                active -= 1

    job_id = queue.queue_job("cross-storage", files, executor)
    job = queue.wait(job_id, timeout=WAIT)

    assert max_active == 2
    assert sorted(calls) == ["file1.txt", "file2.txt", "file3.txt"]
    assert job.status == tq.TransferStatus.COMPLETED
    assert job.progress.completed_files == 3
    assert job.progress.loaded_bytes == job.progress.total_bytes == 1024 + 2048 + 512
    assert job.progress.percentage == 100
    assert all(f.status == tq.TransferFileStatus.COMPLETED for f in job.files)


def test_handle_transfer_errors(queue: tq.TransferQueue) -> None:
    """S16, S4: an executor that raises fails its file with the message; the job fails."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        raise RuntimeError("Transfer failed")

    job_id = queue.queue_job("s3-upload", _one_file(), executor)
    job = queue.wait(job_id, timeout=WAIT)

    assert job.status == tq.TransferStatus.FAILED
    assert job.files[0].status == tq.TransferFileStatus.ERROR
    assert job.files[0].error == "Transfer failed"
    assert queue.get_job(job_id) == job


def test_cancel_active_job(queue: tq.TransferQueue) -> None:
    """S9, S4: right after cancel_job returns True the job is cancelled, and stays so.

    The seed's direct port fails here (its updateJob turned the cancelled job into failed).
    """
    started = threading.Event()
    returned = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        started.set()
        try:
            on_progress.wait_cancelled(WAIT)
        finally:
            returned.set()

    job_id = queue.queue_job("s3-download", _one_file(), executor)
    assert started.wait(WAIT)  # active: its executor runs

    assert queue.cancel_job(job_id) is True
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status == tq.TransferStatus.CANCELLED
    assert job.completed_at is not None

    final = queue.wait(job_id, timeout=WAIT)
    assert final.status == tq.TransferStatus.CANCELLED
    assert returned.wait(WAIT)
    # Wait for the queue to have processed the executor's return: shutdown joins workers.
    queue.shutdown(wait=True)
    assert queue.get_job(job_id) == final


def test_emit_job_created_and_job_updated_events(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S8: job-created comes first, job-updated follows, and a completed update arrives."""
    job_id = queue.queue_job("local-upload", _one_file(), noop_executor)
    final = queue.wait(job_id, timeout=WAIT)  # returns after the terminal event was sent

    events = recorder.for_job(job_id)
    names = [name for name, _ in events]
    assert names[0] == "job-created"
    assert names.count("job-created") == 1
    assert events[0][1].id.startswith("transfer-")
    assert "job-updated" in names[1:]
    completed = [
        job
        for name, job in events
        if name == "job-updated" and job.status == tq.TransferStatus.COMPLETED
    ]
    assert completed == [final]
    assert events[-1] == ("job-updated", final)


def test_calculate_progress_correctly(queue: tq.TransferQueue) -> None:
    """S6: two files of 1000 and 2000 bytes report 2 files, 3000 of 3000 bytes, 100%."""
    files = [
        {"source_path": "file1.txt", "destination_path": "dest1.txt", "size": 1000},
        {"source_path": "file2.txt", "destination_path": "dest2.txt", "size": 2000},
    ]

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        on_progress(file.size)

    job_id = queue.queue_job("cross-storage", files, executor)
    job = queue.wait(job_id, timeout=WAIT)

    assert job.progress.total_files == 2
    assert job.progress.completed_files == 2
    assert job.progress.failed_files == 0
    assert job.progress.total_bytes == 3000
    assert job.progress.loaded_bytes == 3000
    assert job.progress.percentage == 100
    assert [f.loaded for f in job.files] == [1000, 2000]


def test_track_active_job_ids(queue: tq.TransferQueue) -> None:
    """get_active_job_ids lists both unfinished jobs, oldest first, and drops finished ones."""
    release = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        assert release.wait(WAIT)

    try:
        job_id1 = queue.queue_job("s3-upload", make_files(1), executor)
        job_id2 = queue.queue_job("s3-download", make_files(1), executor)

        assert queue.get_active_job_ids() == [job_id1, job_id2]
    finally:
        release.set()
    queue.wait(job_id1, timeout=WAIT)
    queue.wait(job_id2, timeout=WAIT)
    assert queue.get_active_job_ids() == []


def test_cleanup_old_completed_jobs(queue: tq.TransferQueue) -> None:
    """S11: cleanup_old_jobs(0) removes the finished job; get_job then returns None."""
    job_id = queue.queue_job("local-upload", _one_file(), noop_executor)
    queue.wait(job_id, timeout=WAIT)

    assert queue.get_job(job_id) is not None
    assert queue.cleanup_old_jobs(0) == 1
    assert queue.get_job(job_id) is None
    assert queue.get_all_jobs() == []
