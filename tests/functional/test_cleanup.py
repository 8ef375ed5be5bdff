"""Functional tests of cleanup, timestamps and waiting under a frozen clock (contract S11).

Every queue here is created inside ``freeze_time`` and shut down (its jobs finished)
before the freeze ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def failing(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    raise OSError("unreachable")


def assert_utc(moment: datetime | None, expected: datetime) -> None:
    assert moment is not None
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert moment == expected


def test_cleanup_removes_jobs_completed_at_least_max_age_ago() -> None:
    """S11: a job finished at T stays at T+59 min and is removed at T+60 min by
    cleanup_old_jobs(3600), which returns how many it removed."""
    with freeze_time(T) as frozen, tq.TransferQueue(2) as q:
        ids = [
            q.queue_job("s3-upload", make_files(2), noop_executor),
            q.queue_job("s3-upload", make_files(1), failing),
            q.queue_job("s3-upload", [], noop_executor),
        ]
        for job_id in ids:
            assert_utc(q.wait(job_id, timeout=WAIT).completed_at, T)

        frozen.move_to(T + timedelta(minutes=59))
        assert q.cleanup_old_jobs(3600) == 0
        assert q.cleanup_old_jobs() == 0  # the default is 3600 s
        assert [job.id for job in q.get_all_jobs()] == ids

        frozen.move_to(T + timedelta(minutes=60))
        assert q.cleanup_old_jobs(3600) == 3
        assert q.get_all_jobs() == []
        assert all(q.get_job(job_id) is None for job_id in ids)
        assert q.cleanup_old_jobs(3600) == 0


def test_cleanup_keeps_queued_and_active_jobs() -> None:
    """S11: queued and active jobs stay, even with max_age=0 a day later; only the
    terminal job goes."""
    gate = GatedExecutor()
    with freeze_time(T) as frozen, tq.TransferQueue(2) as q:
        try:
            done = q.queue_job("s3-upload", make_files(1, prefix="done"), noop_executor)
            q.wait(done, timeout=WAIT)
            unfinished = [
                q.queue_job("s3-upload", make_files(1, prefix=f"gated{n}"), gate) for n in range(3)
            ]
            gate.wait_running(2)
            statuses = [job.status for job in q.get_all_jobs()]
            assert statuses == ["completed", "active", "active", "queued"]

            frozen.tick(timedelta(days=1))
            assert q.cleanup_old_jobs(0) == 1
            assert q.get_job(done) is None
            assert [job.id for job in q.get_all_jobs()] == unfinished
            assert q.get_active_job_ids() == unfinished
        finally:
            gate.release_all()
        for job_id in unfinished:
            assert q.wait(job_id, timeout=WAIT).status == "completed"
        assert q.cleanup_old_jobs(3600) == 0
        assert q.cleanup_old_jobs(0) == 3


def test_cleanup_zero_removes_every_terminal_job() -> None:
    """S11: cleanup_old_jobs(0) removes every terminal job (completed, failed, cancelled),
    even at the instant it finished."""
    gate = GatedExecutor()
    with freeze_time(T), tq.TransferQueue(2) as q:
        try:
            completed = q.queue_job("s3-upload", make_files(1), noop_executor)
            failed = q.queue_job("s3-upload", make_files(1), failing)
            cancelled = q.queue_job("s3-upload", make_files(1, prefix="gated"), gate)
            gate.wait_started(1)
            assert q.cancel_job(cancelled)
            gate.notify()
        finally:
            gate.release_all()
        finals = [q.wait(job_id, timeout=WAIT) for job_id in (completed, failed, cancelled)]
        assert [job.status for job in finals] == ["completed", "failed", "cancelled"]
        assert q.cleanup_old_jobs(0) == 3
        assert q.get_all_jobs() == []


def test_cleanup_accepts_a_timedelta() -> None:
    """S11: max_age may be a timedelta."""
    with freeze_time(T) as frozen, tq.TransferQueue(2) as q:
        job_id = q.queue_job("s3-upload", make_files(1), noop_executor)
        q.wait(job_id, timeout=WAIT)
        frozen.tick(timedelta(minutes=29, seconds=59))
        assert q.cleanup_old_jobs(timedelta(minutes=30)) == 0
        frozen.tick(timedelta(seconds=1))
        assert q.cleanup_old_jobs(timedelta(minutes=30)) == 1
        assert q.get_job(job_id) is None


def test_timestamps_are_aware_utc_and_follow_the_frozen_clock() -> None:
    """S11/S4: created_at, started_at and completed_at are timezone-aware UTC and read
    from the (frozen) clock at the moment of each change."""
    gate = GatedExecutor()
    with freeze_time(T) as frozen, tq.TransferQueue(1) as q:
        try:
            first = q.queue_job("s3-upload", make_files(1, prefix="first"), gate)
            second = q.queue_job("s3-upload", make_files(1, prefix="second"), gate)
            gate.wait_running(1)
            waiting = q.get_job(second)
            assert waiting is not None
            assert_utc(waiting.created_at, T)
            assert waiting.started_at is None
            assert waiting.completed_at is None

            frozen.move_to(T + timedelta(seconds=10))
            gate.release("src/first-0")
            gate.wait_started(2)  # the second job starts in the slot the first freed

            frozen.move_to(T + timedelta(seconds=25))
            gate.release("src/second-0")
            done_first = q.wait(first, timeout=WAIT)
            done_second = q.wait(second, timeout=WAIT)
        finally:
            gate.release_all()

    assert_utc(done_first.created_at, T)
    assert_utc(done_first.started_at, T)
    assert_utc(done_first.completed_at, T + timedelta(seconds=10))
    assert_utc(done_second.created_at, T)
    assert_utc(done_second.started_at, T + timedelta(seconds=10))
    assert_utc(done_second.completed_at, T + timedelta(seconds=25))


def test_wait_times_out_while_the_clock_is_frozen() -> None:
    """S11: wait(timeout=...) still times out while time is frozen (internal waits do not
    use the frozen clock), and returns once the job finishes."""
    gate = GatedExecutor()
    with freeze_time(T), tq.TransferQueue(1) as q:
        try:
            job_id = q.queue_job("s3-upload", make_files(1), gate)
            gate.wait_running(1)
            with pytest.raises(TimeoutError):
                q.wait(job_id, timeout=0.05)
            with pytest.raises(TimeoutError):
                q.wait(job_id, timeout=timedelta(milliseconds=50))
        finally:
            gate.release_all()
        assert q.wait(job_id, timeout=WAIT).status == "completed"


def test_wait_on_an_unknown_id_raises_job_not_found() -> None:
    """S11: wait() on an id never queued, or removed by cleanup, raises JobNotFoundError
    (a KeyError)."""
    with freeze_time(T), tq.TransferQueue(1) as q:
        with pytest.raises(tq.JobNotFoundError):
            q.wait("transfer-0-nonexistent", timeout=WAIT)
        job_id = q.queue_job("s3-upload", make_files(1), noop_executor)
        q.wait(job_id, timeout=WAIT)
        assert q.cleanup_old_jobs(0) == 1
        with pytest.raises(KeyError):
            q.wait(job_id, timeout=WAIT)
        with pytest.raises(tq.JobNotFoundError):
            q.wait(job_id)


def test_cleanup_zero_removes_jobs_even_after_the_clock_went_back() -> None:
    """S11: 0 removes every terminal job, also one whose completed_at lies ahead of a
    clock that was set back since."""
    with freeze_time(T) as frozen, tq.TransferQueue(1) as q:
        q.wait(q.queue_job("s3-upload", make_files(1), noop_executor), timeout=WAIT)
        frozen.move_to(T - timedelta(hours=1))
        assert q.cleanup_old_jobs(0) == 1
        assert q.get_all_jobs() == []
