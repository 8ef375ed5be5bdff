"""A receiver of both job signals that records what one queue sent, and from which thread."""

from __future__ import annotations

import threading
from typing import Any

import transferqueue as tq


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
