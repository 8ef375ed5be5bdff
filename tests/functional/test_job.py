"""Unit tests of the internal job state, transferqueue._core.job.Job (contract S4-S7, S1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import noop_executor
from transferqueue._core.failure import Failure
from transferqueue._core.job import Job, new_job_id

COMPLETED = tq.TransferFileStatus.COMPLETED
ERROR = tq.TransferFileStatus.ERROR
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_job(*sizes: int) -> Job:
    files = [tq.TransferFile(f"src/{i}", f"dst/{i}", size) for i, size in enumerate(sizes)]
    return Job(tq.TransferType.S3_UPLOAD, files, noop_executor, NOW)


def start(job: Job, count: int) -> None:
    for _ in range(count):
        job.start_next_file()


def snap(job: Job) -> tq.TransferJob:
    """The job's snapshot, checked for internal consistency of its progress (S6)."""
    snapshot = job.snapshot()
    files, progress = snapshot.files, snapshot.progress
    assert progress.total_files == len(files)
    assert progress.total_bytes == sum(record.size for record in files)
    assert progress.loaded_bytes == sum(record.loaded for record in files)
    assert progress.completed_files == sum(record.status == COMPLETED for record in files)
    assert progress.failed_files == sum(record.status == ERROR for record in files)
    assert 0 <= progress.percentage <= 100
    assert (progress.percentage == 100) == (progress.completed_files == len(files))
    return snapshot


def test_start_next_file_in_order_and_becomes_active() -> None:
    """S4: the first started file makes the job active; files start in the given order."""
    job = make_job(10, 20)
    assert snap(job).status == tq.TransferStatus.QUEUED
    assert job.waiting_files == 2
    index, record, attempt, became_active = job.start_next_file()
    assert (index, record.source_path, attempt, became_active) == (0, "src/0", 1, True)
    snapshot = snap(job)
    assert snapshot.status == tq.TransferStatus.ACTIVE
    assert snapshot.started_at is not None
    assert [record.status for record in snapshot.files] == ["transferring", "queued"]
    index, record, attempt, became_active = job.start_next_file()
    assert (index, record.source_path, attempt, became_active) == (1, "src/1", 1, False)
    assert job.waiting_files == 0
    assert [record.status for record in snap(job).files] == ["transferring", "transferring"]


def test_progress_is_accounted() -> None:
    """S6: loaded_bytes sums the files' loaded as progress is reported."""
    job = make_job(100, 200)
    start(job, 2)
    assert job.report_progress(0, 1, 40) is True
    assert job.report_progress(1, 1, 110) is True
    snapshot = snap(job)
    assert [record.loaded for record in snapshot.files] == [40, 110]
    assert snapshot.progress.loaded_bytes == 150
    assert snapshot.progress.percentage == 50


@pytest.mark.parametrize(
    ("reported", "loaded"), [(-5, 0), (-(10**30), 0), (101, 100), (10**30, 100)]
)
def test_progress_is_clamped(reported: int, loaded: int) -> None:
    """S7: values below 0 count as 0, values above the size count as the size."""
    job = make_job(100, 50)
    start(job, 1)
    job.report_progress(0, 1, 30)
    job.report_progress(0, 1, reported)
    snapshot = snap(job)
    assert snapshot.files[0].loaded == loaded
    assert snapshot.progress.loaded_bytes == loaded


def test_smaller_value_is_a_restart() -> None:
    """S7: a smaller value than before is accepted and loaded_bytes follows it."""
    job = make_job(100, 100)
    start(job, 2)
    job.report_progress(1, 1, 10)
    job.report_progress(0, 1, 80)
    assert job.report_progress(0, 1, 30) is True
    snapshot = snap(job)
    assert snapshot.files[0].loaded == 30
    assert snapshot.progress.loaded_bytes == 40


def test_report_for_a_file_not_transferring_changes_nothing() -> None:
    """S4/S6: a late report after the file finished, or one for a queued file, is ignored."""
    job = make_job(100, 100, 100)
    start(job, 2)
    job.report_progress(0, 1, 10)
    job.finish_file(0, None)
    job.report_progress(1, 1, 20)
    job.finish_file(1, Failure("boom", "ValueError"))
    before = snap(job)
    assert job.report_progress(0, 1, 5) is False
    assert job.report_progress(1, 1, 90) is False
    assert job.report_progress(2, 1, 50) is False  # never started
    assert job.snapshot() is before
    assert [record.loaded for record in before.files] == [100, 20, 0]


def test_completed_file_counts_its_full_size() -> None:
    """S6: a file that completes counts its size, whatever it reported before."""
    job = make_job(100, 100)
    start(job, 1)
    job.report_progress(0, 1, 10)
    assert job.finish_file(0, None) is False
    snapshot = snap(job)
    assert snapshot.files[0].loaded == 100
    assert snapshot.files[0].status == COMPLETED
    assert snapshot.progress.loaded_bytes == 100
    assert snapshot.progress.completed_files == 1
    assert snapshot.progress.percentage == 50


def test_percentage_floors_and_reaches_100_only_when_all_completed() -> None:
    """S6: percentage is floored and is at most 99 until every file completed."""
    job = make_job(3)
    start(job, 1)
    percentages = []
    for loaded in (1, 2, 3):
        job.report_progress(0, 1, loaded)
        percentages.append(snap(job).progress.percentage)
    assert percentages == [33, 66, 99]  # every byte reported, but not finished: 99
    job.finish_file(0, None)
    assert snap(job).progress.percentage == 100


def test_percentage_stays_below_100_with_a_file_left() -> None:
    """S6: one unfinished file of 1 in 1000 bytes keeps the job below 100."""
    job = make_job(999, 1)
    start(job, 2)
    job.finish_file(0, None)
    job.report_progress(1, 1, 1)
    assert snap(job).progress.percentage == 99


def test_zero_byte_job_is_measured_by_files() -> None:
    """S6: a job whose files total 0 bytes measures its percentage in files."""
    job = make_job(0, 0, 0, 0)
    start(job, 4)
    assert snap(job).progress.percentage == 0
    percentages = []
    for index in range(4):
        job.finish_file(index, None)
        percentages.append(snap(job).progress.percentage)
    assert percentages == [25, 50, 75, 100]
    assert snap(job).status == tq.TransferStatus.COMPLETED


def test_empty_job_completes_at_once() -> None:
    """S5: a job with no files is completed with percentage 100 and started_at set."""
    job = make_job()
    assert job.finish_if_done() is True
    snapshot = snap(job)
    assert snapshot.status == tq.TransferStatus.COMPLETED
    assert snapshot.files == ()
    assert snapshot.progress.percentage == 100
    assert snapshot.started_at is not None
    assert snapshot.completed_at is not None
    assert snapshot.error is None


def test_finish_if_done_is_false_while_files_remain() -> None:
    """S4: a job with unfinished files does not end."""
    job = make_job(1, 1)
    start(job, 1)
    job.finish_file(0, None)
    assert job.finish_if_done() is False
    assert snap(job).status == tq.TransferStatus.ACTIVE


def test_failed_job_summarises_the_failures() -> None:
    """S4: every file finished and one failed: the job is failed, "1 of 3 files failed"."""
    job = make_job(10, 10, 10)
    start(job, 3)
    job.report_progress(1, 1, 4)
    assert job.finish_file(0, None) is False
    assert job.finish_file(1, Failure("disk full", "OSError")) is False
    assert job.finish_file(2, None) is True
    snapshot = snap(job)
    assert snapshot.status == tq.TransferStatus.FAILED
    assert snapshot.error == "1 of 3 files failed"
    assert snapshot.files[1].status == ERROR
    assert snapshot.files[1].error == "disk full"
    assert snapshot.files[1].loaded == 4
    assert snapshot.progress.failed_files == 1
    assert snapshot.progress.completed_files == 2
    assert snapshot.progress.percentage == 80
    assert snapshot.completed_at is not None


def test_cancel_marks_unfinished_files_and_keeps_completed_ones() -> None:
    """S9: cancel errors every file not completed with the reason; completed files stay."""
    job = make_job(10, 10, 10)
    start(job, 2)
    job.finish_file(0, None)
    job.report_progress(1, 1, 6)
    cancel_event = job.cancel_event
    assert cancel_event is not None
    job.cancel("Cancelled by user")
    assert cancel_event.is_set()
    snapshot = snap(job)
    assert snapshot.status == tq.TransferStatus.CANCELLED
    assert snapshot.error == "Cancelled by user"
    assert snapshot.completed_at is not None
    assert [(record.status, record.loaded, record.error) for record in snapshot.files] == [
        (COMPLETED, 10, None),
        (ERROR, 6, "Cancelled by user"),
        (ERROR, 0, "Cancelled by user"),
    ]
    assert snapshot.progress.failed_files == 2
    assert snapshot.progress.percentage < 100


@pytest.mark.parametrize("ending", ["completed", "failed", "cancelled"])
def test_terminal_job_is_final(ending: str) -> None:
    """S4: once terminal, the snapshot is stable and every state change raises RuntimeError."""
    job = make_job(10, 10)
    start(job, 1)
    if ending == "cancelled":
        job.cancel("Cancelled by user")
    else:
        job.start_next_file()
        job.finish_file(0, None)
        job.finish_file(1, None if ending == "completed" else Failure("boom", "ValueError"))
    final = snap(job)
    assert final.status == ending
    assert job.is_finished
    assert job.waiting_files == 0
    changes: list[Callable[[], object]] = [
        job.start_next_file,
        lambda: job.report_progress(0, 1, 5),
        lambda: job.finish_file(1, None),
        job.finish_if_done,
        lambda: job.cancel("again"),
    ]
    for change in changes:
        with pytest.raises(RuntimeError, match="terminal"):
            change()
    assert job.snapshot() is final
    assert job.status == ending


def test_snapshot_is_reused_until_something_changes() -> None:
    """S10: snapshot() returns the same object while unchanged and a new one after a change."""
    job = make_job(10, 10)
    first = job.snapshot()
    assert job.snapshot() is first
    start(job, 1)
    second = job.snapshot()
    assert second is not first
    assert first.status == tq.TransferStatus.QUEUED  # the old snapshot did not change
    job.report_progress(0, 1, 5)
    third = job.snapshot()
    assert third is not second
    assert job.report_progress(0, 1, 5) is False  # the same value: no change
    assert job.snapshot() is third
    assert second.files[0].loaded == 0


def test_new_job_id_format_and_uniqueness() -> None:
    """S1: ids are ``transfer-<digits>-<digits>`` and unique, even at the same instant."""
    ids = [new_job_id(NOW) for _ in range(1000)]
    assert all(re.fullmatch(r"transfer-\d+-\d+", job_id) for job_id in ids)
    assert len(set(ids)) == len(ids)
    assert make_job().id != make_job().id


def test_timestamps_are_utc_and_follow_the_frozen_clock() -> None:
    """S4/S11: created/started/completed are timezone-aware UTC, read from the frozen clock."""
    with freeze_time("2024-05-01 12:00:00") as frozen:
        created = datetime.now(timezone.utc)
        job = Job(
            tq.TransferType.S3_UPLOAD, [tq.TransferFile("a", "b", 1)] * 2, noop_executor, created
        )
        frozen.tick(5)
        job.start_next_file()
        frozen.tick(3)
        job.start_next_file()  # a later file does not move started_at
        job.finish_file(0, None)
        frozen.tick(2)
        job.finish_file(1, None)
        snapshot = snap(job)
    start_time = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert snapshot.created_at == start_time
    assert snapshot.started_at == start_time + timedelta(seconds=5)
    assert snapshot.completed_at == start_time + timedelta(seconds=10)
    for stamp in (snapshot.created_at, snapshot.started_at, snapshot.completed_at):
        assert stamp is not None
        assert stamp.utcoffset() == timedelta(0)
