"""Executors of the tests: one that succeeds at once, and one whose calls block until the
test releases them, counting how many run at once."""

from __future__ import annotations

import threading

import transferqueue as tq
from tests.helpers.bounds import WAIT


def noop_executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    """An executor that succeeds at once."""


class GatedExecutor:
    """An executor whose calls block until released; it tracks how many run at once.

    ``started`` receives the source path of every file as its executor starts, and
    ``wait_running(n)`` blocks until ``n`` executors are inside the gate.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.running = 0
        self.max_running = 0
        self.started: list[str] = []
        self._released: set[str] = set()
        self._release_all = False

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._cond:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.started.append(file.source_path)
            self._cond.notify_all()
            try:
                released = self._cond.wait_for(
                    lambda: (
                        self._release_all
                        or file.source_path in self._released
                        or on_progress.cancelled
                    ),
                    WAIT,
                )
                if not released:
                    raise AssertionError(f"{file.source_path} was never released")
            finally:
                self.running -= 1
                self._cond.notify_all()

    def wait_running(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.running == count, WAIT), (
                f"expected {count} running, have {self.running}"
            )

    def wait_started(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.started) >= count, WAIT), (
                f"expected {count} started, have {len(self.started)}"
            )

    def release(self, source_path: str) -> None:
        with self._cond:
            self._released.add(source_path)
            self._cond.notify_all()

    def release_all(self) -> None:
        with self._cond:
            self._release_all = True
            self._cond.notify_all()

    def notify(self) -> None:
        """Wake blocked executors so they re-check cancellation."""
        with self._cond:
            self._cond.notify_all()


class SlowToStop:
    """An executor whose first call, told to pause, is slow to stop: it waits for the
    pause (``started`` set once it runs), then on hearing it (``told``) waits for
    ``go_on`` before it lets ``TransferPaused`` out. Every later call completes its file.
    ``attempts`` and ``threads`` record each call's ``file.attempts`` and thread."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.told = threading.Event()
        self.go_on = threading.Event()
        self.attempts: list[int] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        self.attempts.append(file.attempts)
        self.threads.append(threading.current_thread())
        if len(self.attempts) == 1:
            self.started.set()
            try:
                assert on_progress.wait_stopped(WAIT)
                on_progress(1)
            except tq.TransferPaused:
                self.told.set()
                assert self.go_on.wait(WAIT)
                raise
        on_progress(file.size)
