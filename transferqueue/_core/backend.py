"""What a :class:`~transferqueue.TransferQueue` asks of a backend that shares its state
with other processes (``TransferQueue(limit, backend=...)``).

The queue sees only this protocol, so that the embedded queue (no backend) imports
nothing more and pays nothing for it; :class:`transferqueue.redis.RedisBackend` is the one
implementation. The queue never calls a backend with its state lock held: every call
below may be a round trip to another server.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from transferqueue._events.watch import JobWatch
    from transferqueue._records import TransferJob


class SlotBackend(Protocol):
    """The cluster-wide concurrency limit: slots shared by every process of the cluster."""

    @property
    def local_limit(self) -> int | None:
        """The most files this process runs at once, or None for the queue's limit."""

    def attach(
        self,
        limit: int,
        max_finished_jobs: int | None,
        max_finished_age: float | None,
        *,
        on_cancel_request: Callable[[str, str], None],
        has_unfinished_jobs: Callable[[], bool],
        on_owner_lost: Callable[[Collection[str], str, str], None],
        current_jobs: Callable[[], list[tuple[TransferJob, int]]],
        on_pause_request: Callable[[str, str, str], None] | None = None,
    ) -> None:
        """Bind the backend to the queue being made, whose ``limit`` is stored as the
        cluster's limit unless one is stored already, and whose retention (seconds for
        the age) applies to the shared registry. Other processes' requests to cancel
        this process's jobs go to ``on_cancel_request(job_id, requester)`` (called
        without any lock held) while ``has_unfinished_jobs()``, and their requests to
        pause or resume them to ``on_pause_request(job_id, requester, action)``. Should the cluster
        declare this process lost (it was paused too long), ``on_owner_lost(job_ids,
        message, error_type)`` fails the jobs it owned (no lock held); should the server
        lose its data, ``current_jobs()`` gives every job of the queue with the number of
        its last event, to write again. Raises if the backend serves a queue already or
        cannot reach its server."""

    def job_id_suffix(self) -> str:
        """What this process appends to its job ids to keep them unique in the cluster."""

    def acquire_slot(self, stopped: Callable[[], bool]) -> object | None:
        """Wait for a slot and return it (to pass to :meth:`release_slot`), or None
        once ``stopped()`` returns True (the file's job was cancelled or paused). Raises
        :class:`~transferqueue.TransferQueueError` when the slot cannot be had now (the
        server is unreachable): the queue waits and tries again."""

    def may_reuse(self, slot: object, taken_at: float) -> bool:
        """Whether ``slot``, taken at ``taken_at`` (``time.monotonic()``), may serve this
        process's next file without being given back first. Never raises."""

    def release_slot(self, slot: object) -> None:
        """Give a slot back. Never raises: a slot that cannot be given back runs out
        by itself."""

    def set_limit(self, limit: int) -> None:
        """Change the limit for every process of the cluster."""

    def read_limit(self) -> int:
        """The cluster's limit as stored now."""

    def after_fork_in_child(self) -> None:
        """In a child made by ``fork`` (from the queue's fork hook, so without any
        network call): start afresh, the parent's slots, threads and events left to it."""

    def shutdown(self) -> None:
        """The queue has shut down and its workers ended: give back what is held and
        close idle connections (reads may reconnect)."""


class RegistryBackend(Protocol):
    """The shared registry: every job's snapshot, written by its owner, read by all."""

    def publish(self, events: Sequence[tuple[TransferJob, int, Collection[int] | None]]) -> None:
        """Write this process's events, in order: each job's snapshot, the event's number
        in the job's sequence (0 for its creation) and the files it changed since the
        job's previous event (None: every file). Called from the event thread. Never
        raises (what fails is written again later)."""

    def read_job(self, job_id: str) -> TransferJob | None:
        """Any process's job, or None if the registry has none by that id."""

    def read_jobs(self, skip: Collection[str]) -> list[TransferJob]:
        """Every job of the registry but those in ``skip``, oldest first."""

    def read_active(self) -> list[tuple[str, int]]:
        """The registry's unfinished jobs as (id, creation in ms), oldest first."""

    def wait(self, job_id: str, seconds: float | None) -> TransferJob:
        """Block until another process's job is terminal; return it. Raises
        :class:`~transferqueue.JobNotFoundError` or ``TimeoutError``."""

    def forget_ended_before(self, cutoff: datetime | None) -> list[str]:
        """Forget the registry's finished jobs that ended at or before ``cutoff`` (None:
        every finished job); return their ids."""


class JobNews(Iterator["tuple[str, TransferJob] | None"], Protocol):
    """What :meth:`EventsBackend.follow_all` returns: an endless iterator with ``close()``."""

    def close(self) -> None:
        """Stop following."""


class EventsBackend(Protocol):
    """Other processes' jobs followed as they change."""

    def watch(self, job_id: str, timeout: float | None, keepalive: float | None) -> JobWatch[Any]:
        """A watch of another process's job (as ``TransferQueue.watch`` describes);
        raises :class:`~transferqueue.JobNotFoundError` for an unknown id."""

    def follow_all(self, keepalive: float, known: set[str]) -> JobNews:
        """Every job's news in the cluster from now on: ``("created", job)`` for a job
        not in ``known`` (which it adds), ``("updated", job)`` after; ``None`` after
        ``keepalive`` quiet seconds. Never ends; has ``close()``."""


class CancelBackend(Protocol):
    """Cancel requests between processes."""

    def listen_for_cancels(self) -> None:
        """Make sure the requests of other processes to cancel this process's jobs are
        read (call it after queueing a job)."""

    def request_cancel(self, job_id: str) -> bool:
        """Ask the process that owns ``job_id`` to cancel it; True once it is
        ``cancelled``, False if there is no such unfinished job. Raises ``TimeoutError``
        when the owner does not confirm in time."""


class PauseBackend(Protocol):
    """Pause and resume requests between processes."""

    def request_pause(self, job_id: str, action: str) -> None:
        """Ask the process that owns ``job_id`` to pause it (``action`` ``"pause"``) or
        resume it (``"resume"``), and wait until it has. Raises
        :class:`~transferqueue.JobNotFoundError`, :class:`~transferqueue.JobStateError`
        when its status does not allow it, and ``TimeoutError`` when the owner does not
        confirm in time."""


class Backend(SlotBackend, RegistryBackend, EventsBackend, CancelBackend, PauseBackend, Protocol):
    """Everything a backend provides."""
