"""A job's cancel hooks (``on_progress.call_on_cancel``), on their own."""

from __future__ import annotations

import logging
import threading

import pytest

import transferqueue as tq
from transferqueue._core.cancel_hooks import CancelHooks


def test_the_hooks_run_once_at_the_cancel_in_order() -> None:
    hooks = CancelHooks()
    ran: list[str] = []
    hooks.add(lambda: ran.append("one"))
    hooks.add(lambda: ran.append("two"))
    assert ran == []
    hooks.run()
    hooks.run()
    assert ran == ["one", "two"]


def test_an_unregistered_hook_never_runs() -> None:
    hooks = CancelHooks()
    ran: list[str] = []
    unregister = hooks.add(lambda: ran.append("gone"))
    hooks.add(lambda: ran.append("kept"))
    unregister()
    unregister()  # twice: nothing more
    hooks.run()
    unregister()  # after the end: nothing
    assert ran == ["kept"]


def test_a_job_ended_otherwise_drops_its_hooks_unrun() -> None:
    hooks = CancelHooks()
    ran: list[str] = []
    hooks.add(lambda: ran.append("dropped"))
    hooks.drop()
    hooks.run()
    assert ran == []


def test_a_hook_added_once_the_job_ended_runs_at_once() -> None:
    """Registered after the cancel ran the hooks (a race the executor cannot see): the
    hook runs in the registering thread, and unregistering it afterwards does nothing."""
    hooks = CancelHooks()
    hooks.run()
    ran: list[int] = []
    unregister = hooks.add(lambda: ran.append(threading.get_ident()))
    assert ran == [threading.get_ident()]
    unregister()


def test_a_failing_hook_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = CancelHooks()
    ran: list[str] = []

    def fails() -> None:
        raise OSError("cannot remove")

    hooks.add(fails)
    hooks.add(lambda: ran.append("after"))
    with caplog.at_level(logging.ERROR, logger="transferqueue"):
        hooks.run()
    assert ran == ["after"]
    (record,) = caplog.records
    assert "a cancel hook" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], OSError)


def test_a_callback_made_without_a_queue_runs_no_hook() -> None:
    """A ProgressCallback built by hand (a test's, an adapter's) has no queue to cancel
    its job: a hook is accepted and never run."""

    class Job:
        id = "job-1"
        status = tq.TransferStatus.ACTIVE

    callback = tq.ProgressCallback(
        lambda index, attempt, loaded: 0, Job(), 0, 1, threading.Event(), threading.Event
    )
    ran: list[str] = []
    unregister = callback.call_on_cancel(lambda: ran.append("never"))
    unregister()
    assert ran == []
    assert callback.job_id == "job-1"
