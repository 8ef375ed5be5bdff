"""Unit tests of the round-robin scheduler, transferqueue._core.scheduler.RoundRobin (S3)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import transferqueue as tq
from tests.conftest import noop_executor
from transferqueue._core.job import Job
from transferqueue._core.scheduler import RoundRobin

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_job(name: str, count: int) -> Job:
    files = [tq.TransferFile(f"{name}/{i}", f"dst/{name}/{i}", 1) for i in range(count)]
    return Job(tq.TransferType.S3_UPLOAD, files, noop_executor, NOW)


def take(ring: RoundRobin, picks: int) -> list[str]:
    """Pick ``picks`` times as the queue does (start the picked job's next file); return
    the source path of each file started, or "-" when nothing was picked."""
    started = []
    for _ in range(picks):
        job = ring.next_job()
        if job is None:
            started.append("-")
        else:
            started.append(job.start_next_file()[1].source_path)
    return started


@pytest.mark.parametrize("first_picks_before_others_join", [False, True])
def test_round_robin_across_jobs(first_picks_before_others_join: bool) -> None:
    """S3: jobs of 3, 1 and 2 files interleave one file each, in order within a job,
    also when the first job took a slot before the others were queued."""
    ring = RoundRobin()
    ring.add(make_job("a", 3))
    started = take(ring, 1) if first_picks_before_others_join else []
    ring.add(make_job("b", 1))
    ring.add(make_job("c", 2))
    started += take(ring, 7 - len(started))
    assert started == ["a/0", "b/0", "c/0", "a/1", "c/1", "a/2", "-"]
    assert ring.next_job() is None


def test_empty_ring_returns_none() -> None:
    """S3: with no waiting file, next_job returns None."""
    assert RoundRobin().next_job() is None


def test_cancelled_job_is_skipped() -> None:
    """S9/S3: a job cancelled while in the ring never gets another file started."""
    ring = RoundRobin()
    a, b, c = make_job("a", 3), make_job("b", 2), make_job("c", 2)
    for job in (a, b, c):
        ring.add(job)
    assert take(ring, 1) == ["a/0"]
    b.cancel("Cancelled by user")
    assert take(ring, 5) == ["c/0", "a/1", "c/1", "a/2", "-"]


@pytest.mark.parametrize("served_last", [False, True])
def test_cancelled_job_is_skipped_also_when_served_last(served_last: bool) -> None:
    """S9/S3: cancelling the job picked last, or one not yet picked, leaves only the other."""
    ring = RoundRobin()
    a, b = make_job("a", 3), make_job("b", 2)
    ring.add(a)
    ring.add(b)
    assert take(ring, 1) == ["a/0"]
    (a if served_last else b).cancel("Cancelled by user")
    expected = ["b/0", "b/1", "-"] if served_last else ["a/1", "a/2", "-"]
    assert take(ring, 3) == expected


def test_one_file_job_behind_a_big_one_gets_the_next_pick() -> None:
    """S3: a one-file job added behind a 1000-file job that already holds the slots is
    picked next (so certainly within the next two picks); then the big job resumes."""
    ring = RoundRobin()
    ring.add(make_job("big", 1000))
    assert take(ring, 10) == [f"big/{i}" for i in range(10)]
    ring.add(make_job("small", 1))
    assert take(ring, 4) == ["small/0", "big/10", "big/11", "big/12"]
