"""Functional tests of job ids (contract S1)."""

from __future__ import annotations

import threading

from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import WAIT, make_files, noop_executor

THREADS = 10
JOBS_PER_THREAD = 20


def queue_from_many_threads(queues: list[tq.TransferQueue]) -> list[str]:
    """Queue THREADS x JOBS_PER_THREAD jobs at once, spread over ``queues``; return the ids."""
    start = threading.Barrier(THREADS, timeout=WAIT)
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def producer(n: int) -> None:
        try:
            start.wait()
            mine = []
            for i in range(JOBS_PER_THREAD):
                q = queues[(n + i) % len(queues)]
                files = make_files(i % 2, prefix=f"t{n}-{i}")  # empty and one-file jobs
                mine.append(q.queue_job("s3-upload", files, noop_executor))
            with lock:
                ids.extend(mine)
        except Exception as exc:  # noqa: BLE001 - recorded for the test to assert
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return ids


def check_ids(queues: list[tq.TransferQueue], ids: list[str]) -> None:
    assert len(ids) == THREADS * JOBS_PER_THREAD
    assert all(type(job_id) is str and job_id.startswith("transfer-") for job_id in ids)
    assert len(set(ids)) == len(ids)
    for q in queues:
        for job in q.get_all_jobs():
            assert q.wait(job.id, timeout=WAIT).status == "completed"
    # Every id names exactly one job, in the queue that returned it.
    registered = [job.id for q in queues for job in q.get_all_jobs()]
    assert sorted(registered) == sorted(ids)


def test_ids_are_unique_across_queues_and_threads() -> None:
    """S1: ids are str starting with "transfer-", unique across two queues fed by ten
    threads at once."""
    with tq.TransferQueue(2) as first, tq.TransferQueue(3) as second:
        ids = queue_from_many_threads([first, second])
        check_ids([first, second], ids)


def test_ids_are_unique_under_a_frozen_clock() -> None:
    """S1: ids stay unique when every job is created at the same (frozen) instant."""
    with freeze_time("2026-01-01"), tq.TransferQueue(2) as first, tq.TransferQueue(2) as second:
        ids = queue_from_many_threads([first, second])
        check_ids([first, second], ids)
        created = {job.created_at for q in (first, second) for job in q.get_all_jobs()}
        assert len(created) == 1  # the clock really stood still
