"""Retention of finished jobs (issue 3, part 5): ``max_finished_jobs`` and ``max_finished_age``.

Finished jobs beyond the newest ``max_finished_jobs`` (in the order they ended), or that
ended ``max_finished_age`` ago or earlier, are forgotten, oldest first, as jobs are queued
and end and when ``get_job``/``get_all_jobs`` look; unfinished jobs are never dropped. No
thread does it: a queue that runs for weeks stays bounded without ``cleanup_old_jobs``.

Some tests read the queue's private registries (``_jobs``, ``_finished``, …) to prove that
a job was forgotten at the moment claimed, before any getter could have dropped it.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import (
    WAIT,
    EventRecorder,
    GatedExecutor,
    make_files,
    noop_executor,
    queue_threads,
)
from transferqueue._core.job import Job

T = datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc)


def run_job(q: tq.TransferQueue, prefix: str = "file") -> str:
    """Queue a one-file job that succeeds at once, wait for it, return its id."""
    job_id = q.queue_job("s3-upload", make_files(1, prefix=prefix), noop_executor)
    assert q.wait(job_id, timeout=WAIT).status == "completed"
    return job_id


def ids(q: tq.TransferQueue) -> list[str]:
    return [job.id for job in q.get_all_jobs()]


class LookupSpy(dict[str, Job]):
    """Stands in for a queue's job registry and tells when one thread looked one id up.

    ``wait()`` looks its job up with the state lock held and keeps holding it until it
    waits on the condition, so once ``looked_up`` is set no job can end before that
    ``wait()`` call waits for it.
    """

    def __init__(self, jobs: dict[str, Job]) -> None:
        super().__init__(jobs)
        self.key: str | None = None
        self.thread_name: str | None = None
        self.looked_up = threading.Event()

    def get(self, key: str, default: Any = None) -> Any:
        found = super().get(key, default)
        if key == self.key and threading.current_thread().name == self.thread_name:
            self.looked_up.set()
        return found


# -- max_finished_jobs ----------------------------------------------------------------------


def test_count_keeps_the_newest_finished_jobs() -> None:
    """S21: with max_finished_jobs=3, each job that ends beyond the third makes the
    oldest finished one forgotten at once (before any getter looks): get_job gives None
    and wait raises JobNotFoundError for it."""
    with tq.TransferQueue(1, max_finished_jobs=3) as q:
        done: list[str] = []
        for n in range(7):
            done.append(run_job(q, prefix=f"job{n}"))
            assert list(q._jobs) == done[-3:]  # dropped as the job ended
            assert ids(q) == done[-3:]
        for dropped in done[:-3]:
            assert q.get_job(dropped) is None
            with pytest.raises(tq.JobNotFoundError):
                q.wait(dropped, timeout=WAIT)
        assert q.cleanup_old_jobs(0) == 3


def test_count_drops_in_the_order_jobs_ended() -> None:
    """S21: 'newest' is the order in which jobs ended: a job queued first that ends
    last is kept over a later job that ended before it."""
    gate = GatedExecutor()
    with tq.TransferQueue(2, max_finished_jobs=1) as q:
        try:
            slow = q.queue_job("s3-upload", make_files(1, prefix="slow"), gate)
            gate.wait_running(1)
            quick = run_job(q, prefix="quick")
            assert ids(q) == [slow, quick]
        finally:
            gate.release_all()
        q.wait(slow, timeout=WAIT)
        assert ids(q) == [slow]
        assert q.get_job(quick) is None


def test_unfinished_jobs_are_never_dropped() -> None:
    """S21: a long-running job queued first survives twenty finished jobs under
    max_finished_jobs=2, and a queued one behind it too; both are kept once they end."""
    gate = GatedExecutor()
    with tq.TransferQueue(2, max_finished_jobs=2) as q:
        try:
            running = q.queue_job("s3-upload", make_files(1, prefix="long"), gate)
            gate.wait_running(1)
            finished = [run_job(q, prefix=f"short{n}") for n in range(20)]
            assert ids(q) == [running, *finished[-2:]]
            assert q.get_active_job_ids() == [running]
            job = q.get_job(running)
            assert job is not None
            assert job.status == "active"
        finally:
            gate.release_all()
        q.wait(running, timeout=WAIT)
        assert ids(q) == [running, finished[-1]]


def test_zero_count_drops_each_job_as_it_ends_but_wait_still_returns() -> None:
    """S21 with S8: max_finished_jobs=0 forgets each job as it ends, yet a wait() that
    was called before the end returns the terminal snapshot, and the terminal event is
    still delivered; wait() after the end finds no job."""
    gate = GatedExecutor()
    with tq.TransferQueue(1, max_finished_jobs=0) as q:
        spy = LookupSpy(q._jobs)
        q._jobs = spy
        recorder = EventRecorder(q)
        results: list[tq.TransferJob | BaseException] = []

        def waiter(job_id: str) -> None:
            try:
                results.append(q.wait(job_id, timeout=WAIT))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

        with tq.job_updated.connected_to(recorder.updated, sender=q):
            try:
                job_id = q.queue_job("s3-upload", make_files(2), gate)
                gate.wait_running(1)
                spy.key, spy.thread_name = job_id, "retention-waiter"
                thread = threading.Thread(target=waiter, args=(job_id,), name="retention-waiter")
                thread.start()
                assert spy.looked_up.wait(WAIT)
            finally:
                gate.release_all()
            thread.join(WAIT)
            assert not thread.is_alive()
        assert len(results) == 1
        final = results[0]
        assert isinstance(final, tq.TransferJob), final
        assert final.id == job_id
        assert final.status == "completed"
        assert [f.status for f in final.files] == ["completed", "completed"]
        assert recorder.for_job(job_id)[-1][1] == final
        assert q.get_job(job_id) is None
        assert q.get_all_jobs() == []
        assert len(q._jobs) == 0
        with pytest.raises(tq.JobNotFoundError):
            q.wait(job_id, timeout=WAIT)


# -- max_finished_age ------------------------------------------------------------------------


@pytest.mark.parametrize("age", [60, 60.0, timedelta(minutes=1)])
def test_age_drops_jobs_that_ended_that_long_ago(age: float | timedelta) -> None:
    """S21: with max_finished_age=60 s (seconds or timedelta), a job that ended at T is
    kept until T+60 s and forgotten from then ('ended that long ago or earlier'); one
    that ended at T+30 s goes at T+90 s."""
    with freeze_time(T) as frozen, tq.TransferQueue(1, max_finished_age=age) as q:
        first = run_job(q, prefix="first")
        frozen.tick(30)
        second = run_job(q, prefix="second")
        frozen.tick(timedelta(seconds=29, microseconds=999_999))
        assert ids(q) == [first, second]
        frozen.tick(timedelta(microseconds=1))
        assert ids(q) == [second]
        assert q.get_job(first) is None
        frozen.tick(29)
        assert q.get_job(second) is not None
        frozen.tick(1)
        assert q.get_job(second) is None
        assert q.get_all_jobs() == []


@pytest.mark.parametrize("trigger", ["get_job", "get_all_jobs", "queue_job", "job_end"])
def test_age_is_applied_when_jobs_come_and_go_and_when_looked_up(trigger: str) -> None:
    """S21: no thread forgets expired jobs; each of these does, at once: get_job,
    get_all_jobs, queueing a job, and a job ending."""
    gate = GatedExecutor()
    with freeze_time(T) as frozen, tq.TransferQueue(2, max_finished_age=60) as q:
        try:
            old = run_job(q, prefix="old")
            running = q.queue_job("s3-upload", make_files(1, prefix="running"), gate)
            gate.wait_running(1)
            frozen.tick(3600)
            assert old in q._jobs  # expired, but nothing has looked yet
            if trigger == "get_job":
                assert q.get_job(running) is not None
            elif trigger == "get_all_jobs":
                assert [job.id for job in q.get_all_jobs()] == [running]
            elif trigger == "queue_job":
                q.queue_job("s3-upload", make_files(1, prefix="new"), gate)
            else:
                gate.release("src/running-0")
                q.wait(running, timeout=WAIT)
            assert old not in q._jobs
            assert running in q._jobs  # unfinished, or ended just now
        finally:
            gate.release_all()


def test_age_counts_from_the_end_and_spares_unfinished_jobs() -> None:
    """S21: a job running for two hours outlives a 60 s max_finished_age while other
    jobs come and go; its age counts from when it ended."""
    gate = GatedExecutor()
    with freeze_time(T) as frozen, tq.TransferQueue(2, max_finished_age=60) as q:
        try:
            long = q.queue_job("s3-upload", make_files(1, prefix="long"), gate)
            gate.wait_running(1)
            for n in range(4):
                frozen.tick(1800)
                short = run_job(q, prefix=f"short{n}")
                assert ids(q) == [long, short]
        finally:
            gate.release_all()
        assert q.wait(long, timeout=WAIT).completed_at == T + timedelta(hours=2)
        frozen.tick(59)
        assert ids(q) == [long, short]
        frozen.tick(1)
        assert ids(q) == []


def test_count_and_age_together() -> None:
    """S21: with both options the stricter one wins: at most 2 kept, and none older
    than 60 s."""
    with (
        freeze_time(T) as frozen,
        tq.TransferQueue(1, max_finished_jobs=2, max_finished_age=60) as q,
    ):
        jobs = []
        for n in range(4):
            jobs.append(run_job(q, prefix=f"job{n}"))
            frozen.tick(20)
        # Ended at T, T+20, T+40, T+60; now T+80: the count keeps the last two.
        assert ids(q) == jobs[2:]
        frozen.tick(20)  # T+100: the one that ended at T+40 is 60 s old
        assert ids(q) == jobs[3:]


def test_zero_age_forgets_every_job_as_it_ends() -> None:
    """S21: max_finished_age=0 keeps no finished job ('ended 0 s ago or earlier')."""
    with tq.TransferQueue(1, max_finished_age=0) as q:
        job_id = q.queue_job("s3-upload", make_files(1), noop_executor)
        q.shutdown(wait=True)
        assert q.get_job(job_id) is None
        assert len(q._jobs) == 0


# -- alongside cleanup_old_jobs -----------------------------------------------------------------


def test_cleanup_old_jobs_works_alongside_the_count() -> None:
    """S21 with S11: cleanup_old_jobs counts only jobs still kept, and retention keeps
    working after it (no job forgotten twice, no KeyError in a worker)."""
    with tq.TransferQueue(1, max_finished_jobs=3) as q:
        for n in range(5):
            run_job(q, prefix=f"a{n}")
        assert q.cleanup_old_jobs(0) == 3
        assert q.get_all_jobs() == []
        later = [run_job(q, prefix=f"b{n}") for n in range(2)]
        assert ids(q) == later
        assert q.cleanup_old_jobs(0) == 2
        again = [run_job(q, prefix=f"c{n}") for n in range(5)]
        assert ids(q) == again[-3:]
        assert len(q._finished) == 3


def test_cleanup_old_jobs_works_alongside_the_age() -> None:
    """S21 with S11: cleanup_old_jobs with a shorter age than the queue's removes what
    it says and the age retention then drops the rest without error."""
    with freeze_time(T) as frozen, tq.TransferQueue(1, max_finished_age=600) as q:
        early = [run_job(q, prefix=f"early{n}") for n in range(3)]
        frozen.tick(300)
        late = [run_job(q, prefix=f"late{n}") for n in range(2)]
        frozen.tick(100)
        assert q.cleanup_old_jobs(400) == 3  # the early ones are 400 s old
        assert ids(q) == late
        frozen.tick(200)  # T+600: the late ones are 300 s old: kept
        assert q.cleanup_old_jobs(400) == 0
        assert ids(q) == late
        frozen.tick(300)  # the late ones are 600 s old: the queue drops them
        assert ids(q) == []
        assert q.cleanup_old_jobs(0) == 0
        assert all(q.get_job(job_id) is None for job_id in early + late)


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_finished_jobs": -1}, ValueError),
        ({"max_finished_jobs": True}, TypeError),
        ({"max_finished_jobs": 1.0}, TypeError),
        ({"max_finished_jobs": "10"}, TypeError),
        ({"max_finished_age": -1}, ValueError),
        ({"max_finished_age": timedelta(seconds=-1)}, ValueError),
        ({"max_finished_age": math.inf}, ValueError),
        ({"max_finished_age": math.nan}, ValueError),
        ({"max_finished_age": "60"}, TypeError),
        ({"max_finished_age": True}, TypeError),
    ],
)
def test_retention_options_are_validated(options: dict[str, Any], error: type[Exception]) -> None:
    """S21 (S12 style): max_finished_jobs is an int >= 0 (not a bool or float);
    max_finished_age a finite duration >= 0 in seconds or a timedelta; the error names
    the option."""
    (name,) = options
    with pytest.raises(error, match=name):
        tq.TransferQueue(1, **options)


@pytest.mark.parametrize(
    "options",
    [{"max_finished_jobs": 0}, {"max_finished_jobs": 10**6}, {"max_finished_age": 0}],
)
def test_retention_option_edges_are_accepted(options: dict[str, Any]) -> None:
    """S21: 0 is a valid count and a valid age."""
    with tq.TransferQueue(1, **options) as q:
        assert q.get_all_jobs() == []


# -- bounded memory ----------------------------------------------------------------------------


def test_memory_stays_bounded_over_five_thousand_jobs() -> None:
    """S21: 5,000 one-file jobs through a queue with max_finished_jobs=100 leave 100
    jobs and no other trace in any registry, round after round, with no thread but the
    workers and the event thread."""
    with tq.TransferQueue(1, max_finished_jobs=100) as q:
        for round_ in range(5):
            batch = [
                q.queue_job("s3-upload", make_files(1, prefix=f"r{round_}-{n}"), noop_executor)
                for n in range(1000)
            ]
            # Limit 1 and one file each: the jobs end in the order queued, so the last one
            # ends last and is still kept when wait() looks it up.
            assert q.wait(batch[-1], timeout=WAIT).status == "completed"
            assert len(q._jobs) == 100
            assert list(q._finished) == batch[-100:]
            assert len(q._unfinished) == 0
            assert len(q._scheduler._members) <= 1
            assert len(q._scheduler._ring) <= 1
            assert len(q._delivery._feeds) == 0
            assert len(q._delivery._pending) <= 1
            assert len(q._delivery._outbox) <= 1
            assert ids(q) == batch[-100:]
            assert {t.name.split("_")[0] for t in queue_threads()} <= {
                "transferqueue-worker",
                "transferqueue-events",
            }
        assert len(q.get_all_jobs()) == 100
