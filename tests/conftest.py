"""Shared fixtures: a queue that always shuts down, a recorder of its events, and an
executor that blocks on Events. The helpers they use live in tests/helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import transferqueue as tq
from tests.helpers.event_recorder import EventRecorder
from tests.helpers.executors import GatedExecutor


@pytest.fixture
def queue() -> Iterator[tq.TransferQueue]:
    """A queue with limit 2 that is shut down (jobs cancelled, threads joined) after the test."""
    q = tq.TransferQueue(2)
    try:
        yield q
    finally:
        q.shutdown(wait=True, cancel_jobs=True)


@pytest.fixture
def recorder(queue: tq.TransferQueue) -> Iterator[EventRecorder]:
    """An EventRecorder connected to both signals for ``queue`` during the test."""
    rec = EventRecorder(queue)
    with (
        tq.job_created.connected_to(rec.created, sender=queue),
        tq.job_updated.connected_to(rec.updated, sender=queue),
    ):
        yield rec


@pytest.fixture
def gate(queue: tq.TransferQueue) -> Iterator[GatedExecutor]:
    """A GatedExecutor released at the end of the test, before ``queue`` shuts down."""
    executor = GatedExecutor()
    yield executor
    executor.release_all()
