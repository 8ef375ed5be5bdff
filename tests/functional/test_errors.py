"""The exception hierarchy (contract "Names")."""

from __future__ import annotations

import pytest

import transferqueue as tq


@pytest.mark.parametrize(
    ("exc", "bases"),
    [
        (tq.JobNotFoundError, (tq.TransferQueueError, KeyError)),
        (tq.QueueShutdownError, (tq.TransferQueueError, RuntimeError)),
        (tq.TransferCancelled, (tq.TransferQueueError,)),
        (tq.TransferQueueError, (Exception,)),
    ],
)
def test_hierarchy(exc: type[Exception], bases: tuple[type[Exception], ...]) -> None:
    """Names: each exception subclasses what the contract lists."""
    for base in bases:
        assert issubclass(exc, base)


def test_job_not_found_message_and_job_id() -> None:
    """Names: JobNotFoundError carries ``job_id`` and a readable message naming it."""
    error = tq.JobNotFoundError("transfer-1-2")
    assert error.job_id == "transfer-1-2"
    assert str(error) == "no transfer job with id 'transfer-1-2'"
    assert error.args == ("transfer-1-2",)


def test_job_not_found_is_caught_as_key_error(queue: tq.TransferQueue) -> None:
    """Names: ``wait`` on an unknown id raises JobNotFoundError, catchable as KeyError."""
    with pytest.raises(KeyError) as info:
        queue.wait("transfer-0-0", timeout=0)
    assert isinstance(info.value, tq.JobNotFoundError)
    assert info.value.job_id == "transfer-0-0"
    assert "transfer-0-0" in str(info.value)


def test_queue_shutdown_error_is_caught_as_runtime_error() -> None:
    """S15: queue_job after shutdown raises QueueShutdownError, catchable as RuntimeError."""
    q = tq.TransferQueue(1)
    q.shutdown()
    with pytest.raises(RuntimeError) as info:
        q.queue_job("s3-upload", [], lambda file, on_progress: None)
    assert isinstance(info.value, tq.QueueShutdownError)
    assert q.get_all_jobs() == []
