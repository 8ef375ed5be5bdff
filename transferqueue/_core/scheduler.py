"""Which job's file starts next: round-robin across jobs with waiting files (contract S3)."""

from __future__ import annotations

from collections import deque

from .job import Job


class RoundRobin:
    """A ring of the jobs that have waiting files.

    Called with the queue's state lock held. The job served last rejoins the ring only at
    the next pick, behind any job queued meanwhile: a one-file job queued while a
    thousand-file job holds the slots gets the next free slot. A job that became terminal
    meanwhile (cancelled) is dropped when reached, so picking stays O(1) amortised.
    """

    def __init__(self) -> None:
        self._ring: deque[Job] = deque()
        self._last_served: Job | None = None
        self._members: set[Job] = set()  # the jobs in the ring, and the one served last

    def add(self, job: Job) -> None:
        """Put a job with waiting files at the back of the ring, unless it is there."""
        if job not in self._members:
            self._members.add(job)
            self._ring.append(job)

    def next_job(self) -> Job | None:
        """Return the job whose next file should start, or None when no file waits."""
        if self._last_served is not None:
            if self._last_served.waiting_files:
                self._ring.append(self._last_served)
            else:
                self._members.discard(self._last_served)
            self._last_served = None
        while self._ring:
            job = self._ring.popleft()
            if job.waiting_files:
                self._last_served = job
                return job
            self._members.discard(job)
        return None
