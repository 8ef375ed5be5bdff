"""Waiting, in a test, until a job reaches a state that its events announce."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import transferqueue as tq
from tests.helpers.bounds import WAIT


def wait_for_job(
    queue: tq.TransferQueue, job_id: str, predicate: Callable[[tq.TransferJob], bool]
) -> tq.TransferJob:
    """Block (at most WAIT) until the job, as it stands now or as an event reports it,
    satisfies ``predicate``; return that snapshot.

    A state reached later must be announced by a job-updated event (coalesced or not)
    to be seen here: so waiting on it also checks that the queue reports it."""
    cond = threading.Condition()
    seen: list[tq.TransferJob] = []

    def receiver(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.id == job_id:
            with cond:
                seen.append(job)
                cond.notify_all()

    def found() -> tq.TransferJob | None:
        return next((job for job in seen if predicate(job)), None)

    with tq.job_updated.connected_to(receiver, sender=queue):
        now = queue.get_job(job_id)
        assert now is not None
        with cond:
            seen.insert(0, now)
            assert cond.wait_for(lambda: found() is not None, WAIT), (
                f"no snapshot of the job got there; the last: {seen[-1]}"
            )
            result = found()
    assert result is not None
    return result
