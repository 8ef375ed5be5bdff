"""The one shape of the Redis backend's threads (heartbeat, cancel listener, lease
keeper): a daemon thread of steps, stopped for good by stop(), even from a step of its
own; one that cannot start is started by the next wake()."""

from __future__ import annotations

import logging
import threading

import pytest

from tests.helpers.bounds import WAIT
from transferqueue.redis._daemon import DaemonLoop


def _refuse(thread: threading.Thread) -> None:
    raise RuntimeError("can't start new thread")


def test_a_step_that_stops_its_loop_ends_the_thread_without_waiting_for_itself() -> None:
    steps: list[int] = []
    ended = threading.Event()
    loop: DaemonLoop

    def step() -> None:
        steps.append(1)
        loop.stop()
        ended.set()

    loop = DaemonLoop("test-daemon", step, "the step failed", interval=0.01, at_once=True)
    loop.wake()
    assert ended.wait(WAIT)
    for thread in threading.enumerate():
        if thread.name == "test-daemon":
            thread.join(WAIT)
    assert steps == [1]
    assert not any(t.name == "test-daemon" for t in threading.enumerate())
    loop.wake()  # stopped for good
    assert not any(t.name == "test-daemon" for t in threading.enumerate())
    assert loop.started


def test_a_thread_that_cannot_start_raises_and_the_next_wake_starts_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stepped = threading.Event()
    loop = DaemonLoop("test-daemon", stepped.set, "the step failed", interval=0.01)
    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", _refuse)
        with pytest.raises(RuntimeError, match="can't start new thread"):
            loop.wake()
    assert not loop.started
    loop.wake()
    try:
        assert stepped.wait(WAIT)
    finally:
        loop.stop()
    assert not any(t.name == "test-daemon" for t in threading.enumerate())


class _SoonAsTheWaitRunsOut(threading.Event):
    """A ``soon()`` from another thread that comes just as a wait runs out."""

    def wait(self, timeout: float | None = None) -> bool:
        woken = super().wait(timeout)
        if not woken:
            self.set()
        return woken


def test_a_soon_as_a_rest_runs_out_ends_the_next_rest() -> None:
    loop = DaemonLoop("test-daemon", lambda: None, "the step failed", interval=1.0)
    loop._soon = _SoonAsTheWaitRunsOut()
    loop.rest(0.0)
    assert loop._soon.is_set()  # kept: the next rest ends at once
    loop._soon = threading.Event()
    loop.soon()
    loop.rest(WAIT)  # ended by the soon, which it takes back
    assert not loop._soon.is_set()


def test_a_has_work_that_raises_is_logged_and_the_next_wake_starts_a_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stepped = threading.Event()
    asked: list[int] = []

    def has_work() -> bool:
        asked.append(1)
        if len(asked) == 1:
            raise RuntimeError("broken")
        return not stepped.is_set()

    loop = DaemonLoop("test-daemon", stepped.set, "the loop failed", has_work=has_work)
    try:
        with caplog.at_level(logging.ERROR, logger="transferqueue"):
            loop.wake()
            for thread in threading.enumerate():
                if thread.name == "test-daemon":
                    thread.join(WAIT)
        assert [r.getMessage() for r in caplog.records] == ["the loop failed"]
        assert not stepped.is_set()
        loop.wake()
        assert stepped.wait(WAIT)
    finally:
        loop.stop()
