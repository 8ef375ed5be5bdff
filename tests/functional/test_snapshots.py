"""Functional tests of the immutable snapshots the queue hands out (contract S10)."""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, GatedExecutor, make_files, noop_executor


def assert_frozen(job: tq.TransferJob) -> None:
    """A job snapshot, its progress and its files are frozen attrs records in a tuple."""
    assert isinstance(job, tq.TransferJob)
    assert isinstance(job.files, tuple)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.status = tq.TransferStatus.FAILED  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.files = ()  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        job.progress.loaded_bytes = 1  # type: ignore[misc]
    for file in job.files:
        assert_file_frozen(file)


def assert_file_frozen(file: tq.TransferFile) -> None:
    assert isinstance(file, tq.TransferFile)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        file.loaded = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        file.status = tq.TransferFileStatus.COMPLETED  # type: ignore[misc]


def test_everything_handed_out_is_frozen(queue: tq.TransferQueue, recorder: EventRecorder) -> None:
    """S10: get_job, get_all_jobs, wait, event payloads and the executor's file are
    frozen attrs records; files is a tuple."""
    given: list[tq.TransferFile] = []

    def keeping(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        given.append(file)
        on_progress(50)

    job_id = queue.queue_job("s3-upload", make_files(2), keeping)
    final = queue.wait(job_id, timeout=WAIT)

    assert_frozen(final)
    fetched = queue.get_job(job_id)
    assert fetched is not None
    assert_frozen(fetched)
    all_jobs = queue.get_all_jobs()
    assert all_jobs
    for job in all_jobs:
        assert_frozen(job)
    events = recorder.for_job(job_id)
    assert len(events) >= 2
    for _, job in events:
        assert_frozen(job)
    assert len(given) == 2
    for file in given:
        assert_file_frozen(file)


def test_earlier_snapshots_do_not_change(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """S10: a snapshot taken (or an event payload or executor file received) earlier is
    unchanged after the job progressed and finished."""
    copies: list[tuple[Any, dict[str, Any]]] = []
    lock = threading.Lock()

    def keep(record: Any) -> None:
        with lock:
            copies.append((record, attrs.asdict(record)))

    def on_event(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        keep(job)

    def reporting(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        keep(file)
        on_progress(30)
        gate(file, on_progress)
        on_progress(70)

    with (
        tq.job_created.connected_to(on_event, sender=queue),
        tq.job_updated.connected_to(on_event, sender=queue),
    ):
        job_id = queue.queue_job("s3-upload", make_files(2, size=100), reporting)
        gate.wait_running(2)
        during = queue.get_job(job_id)
        assert during is not None
        assert during.status == "active"
        keep(during)
        keep(queue.get_all_jobs()[0])
        gate.release_all()
        final = queue.wait(job_id, timeout=WAIT)

    assert final.status == "completed"
    assert final.progress.loaded_bytes == 200
    assert during != final
    assert len(copies) >= 5
    for record, copy in copies:
        assert attrs.asdict(record) == copy


def test_executor_gets_the_file_transferring(queue: tq.TransferQueue) -> None:
    """S10: the file given to an executor is a snapshot of that file, with status
    "transferring", nothing loaded yet, and its paths and size."""
    given: list[tq.TransferFile] = []
    lock = threading.Lock()

    def keeping(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            given.append(file)

    files = [
        {"source_path": "bucket/a.bin", "destination_path": "/data/a.bin", "size": 10},
        {"source_path": "bucket/b.bin", "destination_path": "/data/b.bin", "size": 0},
    ]
    job_id = queue.queue_job("s3-download", files, keeping)
    queue.wait(job_id, timeout=WAIT)

    transferring = tq.TransferFileStatus.TRANSFERRING
    assert sorted(given, key=lambda f: f.source_path) == [
        tq.TransferFile("bucket/a.bin", "/data/a.bin", 10, 0, transferring, None, attempts=1),
        tq.TransferFile("bucket/b.bin", "/data/b.bin", 0, 0, transferring, None, attempts=1),
    ]
    assert all(f.status == "transferring" and f.error is None for f in given)


def test_get_all_jobs_is_oldest_first(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """S10: get_all_jobs lists every job, finished or not, oldest first."""
    ids = [
        queue.queue_job("s3-upload", make_files(1, prefix="a"), gate),
        queue.queue_job("s3-upload", [], noop_executor),
        queue.queue_job("s3-upload", make_files(1, prefix="c"), gate),
        queue.queue_job("s3-upload", make_files(1, prefix="d"), gate),
        queue.queue_job("s3-upload", [], noop_executor),
    ]
    assert [job.id for job in queue.get_all_jobs()] == ids
    gate.release_all()
    for job_id in ids:
        queue.wait(job_id, timeout=WAIT)
    assert [job.id for job in queue.get_all_jobs()] == ids


def test_get_active_job_ids_lists_queued_and_active_oldest_first(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """S10: get_active_job_ids lists the queued and active jobs only, oldest first, and
    drops jobs as they become terminal."""
    first = queue.queue_job("s3-upload", make_files(1, prefix="first"), gate)
    empty = queue.queue_job("s3-upload", [], noop_executor)
    second = queue.queue_job("s3-upload", make_files(1, prefix="second"), gate)
    third = queue.queue_job("s3-upload", make_files(1, prefix="third"), gate)
    gate.wait_running(2)  # the limit is 2: third waits for a slot

    statuses = {job.id: job.status for job in queue.get_all_jobs()}
    assert (statuses[first], statuses[second], statuses[third]) == ("active", "active", "queued")
    assert statuses[empty] == "completed"
    assert queue.get_active_job_ids() == [first, second, third]

    gate.release("src/first-0")
    assert queue.wait(first, timeout=WAIT).status == "completed"
    assert queue.get_active_job_ids() == [second, third]

    assert queue.cancel_job(second)
    gate.notify()
    assert queue.get_active_job_ids() == [third]

    gate.release_all()
    assert queue.wait(third, timeout=WAIT).status == "completed"
    assert queue.get_active_job_ids() == []
