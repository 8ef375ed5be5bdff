"""Shared fixtures and helpers: queues that always shut down, event recorders, executors
that block on Events and count how many run at once."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import transferqueue as tq

# Every blocking wait in a test helper is bounded, so that a bug fails the test with a
# message instead of hanging until pytest-timeout dumps the threads.
WAIT = 10.0


def queue_threads() -> set[threading.Thread]:
    """The live threads started by transferqueue (worker and event threads)."""
    return {t for t in threading.enumerate() if t.name.startswith("transferqueue-")}


def make_files(count: int, size: int = 100, prefix: str = "file") -> list[dict[str, Any]]:
    """Return ``count`` file mappings of ``size`` bytes each."""
    return [
        {
            "source_path": f"src/{prefix}-{i}",
            "destination_path": f"dst/{prefix}-{i}",
            "size": size,
        }
        for i in range(count)
    ]


def noop_executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    """An executor that succeeds at once."""


@pytest.fixture
def queue() -> Iterator[tq.TransferQueue]:
    """A queue with limit 2 that is shut down (jobs cancelled, threads joined) after the test."""
    q = tq.TransferQueue(2)
    try:
        yield q
    finally:
        q.shutdown(wait=True, cancel_jobs=True)


class EventRecorder:
    """Collects ``(signal name, snapshot)`` for one sender, thread-safely, in arrival order."""

    def __init__(self, sender: tq.TransferQueue) -> None:
        self.sender = sender
        self.events: list[tuple[str, tq.TransferJob]] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def created(self, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        self._add("job-created", job)

    def updated(self, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        self._add("job-updated", job)

    def _add(self, name: str, job: tq.TransferJob) -> None:
        with self._lock:
            self.events.append((name, job))
            self.threads.add(threading.current_thread().name)

    def for_job(self, job_id: str) -> list[tuple[str, tq.TransferJob]]:
        with self._lock:
            return [(name, job) for name, job in self.events if job.id == job_id]


@pytest.fixture
def recorder(queue: tq.TransferQueue) -> Iterator[EventRecorder]:
    """An EventRecorder connected to both signals for ``queue`` during the test."""
    rec = EventRecorder(queue)
    with (
        tq.job_created.connected_to(rec.created, sender=queue),
        tq.job_updated.connected_to(rec.updated, sender=queue),
    ):
        yield rec


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


@pytest.fixture
def gate(queue: tq.TransferQueue) -> Iterator[GatedExecutor]:
    """A GatedExecutor released at the end of the test, before ``queue`` shuts down."""
    executor = GatedExecutor()
    yield executor
    executor.release_all()


Receiver = Callable[..., None]


class FullDisk:
    """A file opened for writing that holds only ``room`` bytes, then raises ENOSPC."""

    def __init__(self, real: IO[bytes], room: int) -> None:
        self.real = real
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.real.close()


def refuse_scandir(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """Make ``os.scandir`` of ``folders`` fail as an unreadable folder does. Injected, so
    that a test runs as root too, where ``chmod 000`` refuses nothing."""
    real = os.scandir
    refused = {str(folder) for folder in folders}

    def scandir(path: Any = ".") -> Any:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) in refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
