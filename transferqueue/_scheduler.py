"""Which job's file starts next: round-robin across jobs with waiting files (contract S3)."""

from __future__ import annotations

from collections import deque

from ._job import Job


class RoundRobin:
    """A ring of the jobs that have waiting files.

    Called with the queue's state lock held. A job leaves the ring when its last file is
    taken; a job that became terminal meanwhile (cancelled) is dropped when reached, so
    taking stays O(1) amortised.
    """

    def __init__(self) -> None:
        self._jobs: deque[Job] = deque()

    def add(self, job: Job) -> None:
        """Put a job with waiting files at the back of the ring."""
        self._jobs.append(job)

    def next_job(self) -> Job | None:
        """Return the job whose file should start next, or None when no file waits."""
        jobs = self._jobs
        while jobs:
            job = jobs.popleft()
            waiting = job.waiting_files
            if waiting:
                if waiting > 1:
                    jobs.append(job)  # it has more after this one: back of the ring
                return job
        return None

    def __len__(self) -> int:
        return len(self._jobs)
