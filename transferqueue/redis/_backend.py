"""The Redis backend of a :class:`~transferqueue.TransferQueue`: what several processes
share through one Redis server and namespace."""

from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

import attrs

from transferqueue._errors import JobNotFoundError, JobStateError
from transferqueue._log import log_in_queue_thread, logger
from transferqueue._records import TransferJob
from transferqueue._records.enums import TransferStatus

from ._cancels import CANCEL, CancelListener, CancelRequests, requester
from ._connection import RedisConnection
from ._errors import RedisBackendError
from ._heartbeat import Heartbeat
from ._keys import HOST as _HOST
from ._owners import LOST_TYPE, Beat, Owners, lost_message
from ._registry import NO_RETENTION, TERMINAL_STATUSES, JobRegistry, Published, Retention
from ._semaphore import RedisSemaphore
from ._settings import (
    DEFAULT_LEASE,
    DEFAULT_NAMESPACE,
    DEFAULT_SLOT_KEEP,
    check_cluster_limit,
    check_heartbeat,
    check_lease,
    check_namespace,
    check_slot_keep,
)
from ._slot import Slot
from ._watch import ClusterEvents, StreamWatch

# A job's stream keeps about this many events, and lives this long after the job ended.
STREAM_LENGTH = 1000
STREAM_TTL = 300.0
_PAUSED = frozenset({TransferStatus.PAUSED.value})
_RUNNING = frozenset({TransferStatus.QUEUED.value, TransferStatus.ACTIVE.value})

# How long cancel_job waits for another process to confirm it cancelled its job.
CANCEL_TIMEOUT = 5.0


class RedisBackend:
    """Makes a :class:`~transferqueue.TransferQueue` one member of a cluster of queues
    that share the Redis server at ``url`` and the ``namespace``::

        queue = TransferQueue(4, backend=RedisBackend("redis://localhost:6379/0"))

    The queue's limit is then cluster-wide: at most ``limit`` executors run at once across
    every process of the cluster, each file holding a slot of a
    :class:`~transferqueue.redis.RedisSemaphore` (leased for ``lease`` seconds, renewed
    while it runs) from just before its executor starts until it returns.
    ``update_concurrency_limit`` changes the limit for every process. ``local_limit``
    bounds how many files this process runs at once (default: the queue's limit, so that
    one process alone may use the whole cluster's limit).

    A worker that ends a file and has the next one of this process to run keeps its slot
    for it, without giving it back to Redis, within ``slot_keep`` seconds (default 0.05)
    of taking it: small files then cost no round trip each. The cluster's waiters see the
    slot again within ``slot_keep`` plus one file's run, and a limit lowered by another
    process stops this one's new files within the same bound (one lowered by this process,
    at once). ``slot_keep=0`` makes every file take and give back a slot of its own.

    Every job's snapshot is written to Redis by the process that owns it, as its events
    are delivered, and ``get_job``, ``get_all_jobs``, ``get_active_job_ids`` and ``wait``
    of any queue of the cluster see every job of the cluster. ``cancel_job`` of another
    process's job asks its owner, whose listener thread cancels it at once.

    Each process that has queued a job sends a heartbeat every ``heartbeat`` seconds (a
    third of ``lease`` by default) from a thread of its own, and is declared lost by the
    cluster once it sent none for its lease and a further lease: any live process that
    notices (its heartbeat, or a read) fails the lost owner's unfinished jobs, naming it.
    A process that finds itself declared lost (it was paused past its lease) fails its
    own unfinished jobs too, stopping their executors, and goes on under a new name.

    One backend serves one queue. In a child made by ``fork`` it starts afresh with
    connections, slots and a process identity of its own (the queue's fork hooks call
    :meth:`after_fork_in_child`).
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease: float | timedelta = DEFAULT_LEASE,
        heartbeat: float | timedelta | None = None,
        local_limit: int | None = None,
        slot_keep: float | timedelta = DEFAULT_SLOT_KEEP,
    ) -> None:
        self.namespace = check_namespace(namespace)
        """The namespace every key of this backend starts with."""
        self._lease = check_lease(lease)
        self._heartbeat_interval = check_heartbeat(heartbeat, self._lease)
        self._local_limit = None if local_limit is None else _check_local_limit(local_limit)
        self._slot_keep = check_slot_keep(slot_keep, self._lease)
        self._url = url  # may hold a password: shown only through RedisConnection.url
        self._connect()  # checks the URL; connects on first use
        self._listener: CancelListener | None = None  # made by attach()
        self._on_cancel_request: Callable[[str, str], None] | None = None
        self._on_pause_request: Callable[[str, str, str], None] | None = None
        self._has_unfinished_jobs: Callable[[], bool] | None = None
        self._heartbeat = Heartbeat(self._heartbeat_interval, self._beat)
        self._on_owner_lost: Callable[[Collection[str], str, str], None] | None = None
        self._current_jobs: Callable[[], list[tuple[TransferJob, int]]] | None = None
        # Guards _semaphore, _pid, _owner, _owned, _epoch, _last_sweep, _beat_failing,
        # _limit, _retention and _attached. No Redis call is made under it but the one
        # that makes a forked child's semaphore, and no callback of the queue.
        self._lock = threading.Lock()
        self._semaphore: RedisSemaphore | None = None
        self._pid = os.getpid()
        self._owner = ProcessIdentity.new()
        # The unfinished jobs written under the name in _owner: those to fail here should
        # the cluster declare this process lost.
        self._owned: set[str] = set()
        self._epoch: str | None = None  # the server's epoch at the last heartbeat
        self._last_sweep = -math.inf  # time.monotonic() of the last look for lost owners
        self._beat_failing = False
        self._limit = 0  # the limit this process last stored or was made with
        self._retention = NO_RETENTION
        self._attached = False
        self._limit_changed_at = time.monotonic()

    @property
    def url(self) -> str:
        """The server's URL, with any password replaced by ``***``."""
        return self._connection.url

    @property
    def lease(self) -> float:
        """Seconds a slot stays held without a renewal."""
        return self._lease

    @property
    def slot_keep(self) -> float:
        """Seconds after taking a slot during which it may serve this process's next file
        without a round trip; 0: each file takes a slot of its own."""
        return self._slot_keep

    @property
    def heartbeat(self) -> float:
        """Seconds between two heartbeats of this process."""
        return self._heartbeat_interval

    @property
    def local_limit(self) -> int | None:
        """The most files this process runs at once; None: the queue's limit."""
        return self._local_limit

    @property
    def owner_id(self) -> str:
        """This process as the owner of its jobs: ``host:pid:token``."""
        with self._lock:
            return self._owner.name

    def __repr__(self) -> str:
        return f"<RedisBackend {self.namespace!r} at {self.url}>"

    def close(self) -> None:
        """Close the idle connections of a backend that serves no queue (one that only
        reads the cluster, as ``transferqueue jobs`` does); reads reconnect."""
        self._connection.close()

    # -- called by the queue (never with its state lock held) ---------------------------

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
        """Serve the queue being made: store ``limit`` as the cluster's limit unless one
        is stored; apply the queue's retention to the registry; pass the cancel requests
        of other processes to ``on_cancel_request(job_id, requester)`` while
        ``has_unfinished_jobs()``, and their pause and resume requests to
        ``on_pause_request(job_id, requester, action)``; should the cluster declare
        this process lost, have ``on_owner_lost(job_ids, message, error_type)`` fail
        the jobs it owned; write
        ``current_jobs()`` (each job with its last event's number) again should Redis
        lose its data. Raises RuntimeError if this backend serves a queue already, and
        :class:`~transferqueue.redis.RedisUnavailableError` if Redis cannot be reached."""
        limit = check_cluster_limit(limit)
        with self._lock:
            if self._attached:
                raise RuntimeError("this RedisBackend serves a queue already: make one per queue")
            self._attached = True
        try:
            semaphore = self._new_semaphore(limit)
        except BaseException:
            with self._lock:
                self._attached = False
            raise
        with self._lock:
            self._semaphore, self._limit = semaphore, limit
            self._retention = Retention(max_finished_jobs, max_finished_age)
            self._on_owner_lost, self._current_jobs = on_owner_lost, current_jobs
            self._on_cancel_request = on_cancel_request
            self._on_pause_request = on_pause_request
            self._has_unfinished_jobs = has_unfinished_jobs
            self._listener = self._new_listener()

    def job_id_suffix(self) -> str:
        """What makes this process's job ids unique in the cluster: ``-<token>``."""
        with self._lock:
            return "-" + self._owner.token

    # -- slots -----------------------------------------------------------------------------

    def acquire_slot(self, stopped: Callable[[], bool]) -> Slot | None:
        """Wait for a cluster-wide slot; None once ``stopped()`` (the file's job was
        cancelled or paused)."""
        return self._in_this_process().acquire(cancel=stopped)

    def may_reuse(self, slot: object, taken_at: float) -> bool:
        """Whether ``slot`` may serve this process's next file: taken less than
        ``slot_keep`` seconds ago, after this process last changed the limit, and held
        still by this process's count of its lease (no round trip)."""
        assert isinstance(slot, Slot)
        with self._lock:
            limit_changed_at = self._limit_changed_at
        return (
            taken_at > limit_changed_at
            and time.monotonic() - taken_at < self._slot_keep
            and not slot.lost
        )

    def release_slot(self, slot: object) -> None:
        """Give ``slot`` back; a failure is logged (the slot runs out within its lease)."""
        assert isinstance(slot, Slot)
        try:
            slot.release()
        except RedisBackendError as exc:
            logger.warning(
                "could not give slot %s of %s back (it runs out within %g s): %s",
                slot.holder_id,
                self.namespace,
                self._lease,
                exc,
            )

    def set_limit(self, limit: int) -> None:
        """Store ``limit`` as the cluster's limit (for every process)."""
        limit = check_cluster_limit(limit)
        # Kept slots go back: stamped before the write (no slot taken earlier is reused
        # while it goes on) and after it (nor one taken under the old limit meanwhile).
        with self._lock:
            self._limit_changed_at = time.monotonic()
        self._in_this_process().set_limit(limit)
        with self._lock:
            self._limit = limit
            self._limit_changed_at = time.monotonic()

    def read_limit(self) -> int:
        """The cluster's limit as Redis has it now."""
        return self._in_this_process().limit

    # -- the registry ----------------------------------------------------------------------

    def publish(self, events: Sequence[tuple[TransferJob, int, Collection[int] | None]]) -> None:
        """Write this process's job events to the registry (from its event thread, in
        order, one round trip). Never raises.

        Should the cluster have declared this process lost, nothing is written: the
        jobs it owned are failed (see :meth:`_declared_lost`), and the events are
        written under its new name (a job that has ended in the registry, failed by
        another process, is not written again)."""
        published = [Published(job, seq, changed) for job, seq, changed in events]
        with self._lock:
            identity, retention = self._owner, self._retention
            # Before the write: a job written is one to fail should this name be lost.
            self._track_locked(published)
        if self._registry.publish(published, identity.name, retention):
            self._declared_lost(identity)
            with self._lock:
                identity = self._owner
            self._registry.publish([], identity.name, retention)

    def _track_locked(self, events: Sequence[Published]) -> None:
        for event in events:
            if event.job.status.is_terminal:
                self._owned.discard(event.job.id)
            else:
                self._owned.add(event.job.id)

    def read_job(self, job_id: str) -> TransferJob | None:
        """Any process's job as the registry has it, or None."""
        self._sweep_if_due()
        return self._registry.read_job(job_id, self._current_retention())

    def read_jobs(self, skip: Collection[str]) -> list[TransferJob]:
        """Every job of the registry but those in ``skip``, oldest first."""
        self._sweep_if_due()
        return self._registry.read_jobs(skip, self._current_retention())

    def read_active(self) -> list[tuple[str, int]]:
        """The registry's unfinished jobs: (id, creation in ms), oldest first."""
        self._sweep_if_due()
        return self._registry.read_active()

    def wait(self, job_id: str, seconds: float | None) -> TransferJob:
        """Block until another process's job is terminal; see :meth:`JobRegistry.wait`
        (looking for lost owners at each step)."""
        return self._registry.wait(job_id, seconds, self._sweep_if_due)

    def watch(self, job_id: str, timeout: float | None, keepalive: float | None) -> StreamWatch:
        """A watch of another process's job, read from its event stream; raises
        JobNotFoundError if the registry has no such job."""
        self._sweep_if_due()
        job, seq, tail = self._registry.read_job_and_tail(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return StreamWatch(
            self._registry,
            job,
            seq,
            tail,
            timeout=timeout,
            keepalive=keepalive,
            between_reads=self._sweep_if_due,
        )

    def follow_all(self, keepalive: float, known: set[str]) -> ClusterEvents:
        """Every job's news in the cluster from now on (see :class:`ClusterEvents`);
        ``known`` are the jobs the follower has seen already."""
        return ClusterEvents(self._registry, keepalive, known, self._sweep_if_due)

    # -- liveness --------------------------------------------------------------------------

    def _beat(self) -> None:
        """The heartbeat thread's beat: renew this process's lease, write again what
        Redis lost or what could not be written, fail the jobs of lost owners."""
        with self._lock:
            identity, known_epoch, retention = self._owner, self._epoch, self._retention
            self._last_sweep = time.monotonic()
        try:
            beat = self._owners.beat(identity.name, self._lease, secrets.token_hex(8))
        except RedisBackendError as exc:
            with self._lock:
                first, self._beat_failing = not self._beat_failing, True
            if first:
                log_in_queue_thread(
                    logging.WARNING,
                    "could not send a heartbeat to Redis (trying again every %g s): %s",
                    self._heartbeat_interval,
                    exc,
                )
            return
        with self._lock:
            recovered, self._beat_failing = self._beat_failing, False
            self._epoch = beat.epoch
        if recovered:
            log_in_queue_thread(logging.INFO, "heartbeats reach Redis at %s again", self.url)
        if not beat.alive:
            self._declared_lost(identity)
            return
        if known_epoch is not None and beat.epoch != known_epoch:
            self._write_all_again(identity, retention)
        elif self._registry.has_unpublished():
            self._registry.publish([], identity.name, retention)
        self._reap(beat)

    def _write_all_again(self, identity: ProcessIdentity, retention: Retention) -> None:
        """Redis lost its data (restarted without it): write every job of this process
        again, whole, from what it holds."""
        assert self._current_jobs is not None, "attach() comes first"
        jobs = self._current_jobs()
        log_in_queue_thread(
            logging.WARNING,
            "Redis at %s lost its data (restarted without it?): writing this process's "
            "%d jobs again",
            self.url,
            len(jobs),
        )
        events = [Published(job, seq, None) for job, seq in jobs]
        with self._lock:
            self._track_locked(events)
        self._registry.write_again(events, identity.name, retention)

    def _sweep_if_due(self) -> None:
        """Look for lost owners and fail their jobs, at most once per heartbeat interval
        of this process (a reader calls it; so does each heartbeat)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_sweep < self._heartbeat_interval:
                return
            self._last_sweep = now
        self._reap(self._owners.beat(None, self._lease, secrets.token_hex(8)))

    def _reap(self, beat: Beat) -> None:
        """Log the owners ``beat`` declared lost; fail the jobs of lost owners it found."""
        for owner, jobs in beat.declared:
            log_in_queue_thread(
                logging.WARNING if jobs else logging.INFO,
                "owner %s was lost (no heartbeat within its lease): %d unfinished jobs of it "
                "are failed",
                owner,
                jobs,
            )
        for owner, job_id in beat.orphans:
            try:
                failed = self._registry.fail_orphan(job_id, owner)
            except RedisBackendError as exc:  # Redis went away: the next beat lists them again
                log_in_queue_thread(
                    logging.WARNING, "could not fail the jobs of lost owners yet: %s", exc
                )
                return
            if failed is not None:
                log_in_queue_thread(logging.WARNING, "job %s failed here: %s", job_id, failed.error)

    def _declared_lost(self, identity: ProcessIdentity) -> None:
        """The cluster declared this process lost under ``identity``: go on under a new
        name, and fail the jobs written under the lost one, as other processes fail them
        in the registry. Only those: a job queued just now, whose creation no write
        brought to Redis yet, is not in Redis under the lost name (its write will be
        refused, and made under the new name), so it goes on. Decided with no write in
        flight, so that none lands meanwhile."""
        with self._registry.writes_held(), self._lock:
            if self._owner is not identity:  # another thread saw to it
                return
            lost = self._registry.in_redis(self._owned)
            self._owned -= lost
            self._owner = ProcessIdentity.new()
            renamed = self._owner.name
        log_in_queue_thread(
            logging.ERROR,
            "this process, %s, was declared lost by its cluster (no heartbeat reached Redis "
            "within the lease of %g s: was it paused?); it goes on as %s, and fails the %d "
            "unfinished jobs it owned",
            identity.name,
            self._lease,
            renamed,
            len(lost),
        )
        assert self._on_owner_lost is not None, "attach() comes first"
        self._on_owner_lost(lost, lost_message(identity.name), LOST_TYPE)
        self._heartbeat.beat_soon()

    # -- cancel requests --------------------------------------------------------------------

    def listen_for_cancels(self) -> None:
        """Make sure this process reads the cancel requests sent to it (the queue has
        unfinished jobs)."""
        with self._lock:
            listener = self._listener
        assert listener is not None
        listener.wake()
        self._heartbeat.start()

    def request_cancel(self, job_id: str) -> bool:
        """Ask the owner of another process's job to cancel it, and wait (at most
        :data:`CANCEL_TIMEOUT`) until it is terminal; True if it ended cancelled.

        False when the registry has no such unfinished job (or only a malformed one).
        Raises TimeoutError, naming the owner, when the owner does not confirm in time
        (the request still waits for it for a minute).
        """
        self._sweep_if_due()
        state = self._registry.read_state(job_id)
        if state is None:
            return False
        status, owner = state
        if status is None or status in TERMINAL_STATUSES or owner is None:
            return False
        if owner == self.owner_id:  # ours, yet not running here: nothing to ask
            return False
        self._cancels.send(owner, job_id, requester())
        logger.info("job %s cancel requested from this process of its owner %s", job_id, owner)
        try:
            job = self._registry.wait(job_id, CANCEL_TIMEOUT, self._sweep_if_due)
        except JobNotFoundError:  # forgotten meanwhile: it had ended
            return False
        except TimeoutError:
            raise TimeoutError(
                f"the owner {owner} of transfer job {job_id} did not confirm the cancel "
                f"within {CANCEL_TIMEOUT:g} s (the request waits for it for a minute)"
            ) from None
        return job.status is TransferStatus.CANCELLED

    def request_pause(self, job_id: str, action: str) -> None:
        """Ask the owner of another process's job to pause it (``action`` "pause") or
        resume it ("resume"), and wait (at most :data:`CANCEL_TIMEOUT`) until the
        registry shows it so.

        Done means that an event of the job written after the request says so, even if
        the job has moved on since (a resumed job that completed before this looked, a
        paused one that another process resumed at once).

        Raises JobNotFoundError when the registry has no such job, JobStateError when
        its status does not allow it (it is finished, paused already, or not paused) or
        it ends first, and TimeoutError, naming the owner, when the owner does not
        confirm in time.
        """
        self._sweep_if_due()
        since = self._registry.stream_tail(job_id)  # first: no later event is missed
        state = self._registry.read_state(job_id)
        if state is None:
            raise JobNotFoundError(job_id)
        status, owner = state
        pausing = action == "pause"
        if status is None:  # malformed, as read_job() logs: no such job for us
            raise JobNotFoundError(job_id)
        if status in TERMINAL_STATUSES or (status == "paused") is pausing or owner is None:
            raise JobStateError(job_id, status, action)
        if owner == self.owner_id:  # ours, yet not running here: nothing to ask
            raise JobStateError(job_id, status, action, "but no longer run by this process")
        self._cancels.send(owner, job_id, requester(), action)
        logger.info("job %s %s requested from this process of its owner %s", job_id, action, owner)
        wanted = _PAUSED if pausing else _RUNNING
        try:
            reached = self._registry.wait_for_status(
                job_id, since, wanted, CANCEL_TIMEOUT, self._sweep_if_due
            )
        except TimeoutError:
            raise TimeoutError(
                f"the owner {owner} of transfer job {job_id} did not confirm the {action} "
                f"within {CANCEL_TIMEOUT:g} s (the request waits for it for a minute)"
            ) from None
        if reached not in wanted:  # it ended first
            raise JobStateError(job_id, reached, action)

    def forget_ended_before(self, cutoff: datetime | None) -> list[str]:
        """Forget the registry's jobs that ended at or before ``cutoff`` (None: all)."""
        return self._registry.forget_ended_before(
            None if cutoff is None else int(cutoff.timestamp() * 1000)
        )

    def shutdown(self) -> None:
        """Release what is still held, stop the lease thread, close idle connections
        (reads reconnect)."""
        with self._lock:
            semaphore = self._semaphore if self._pid == os.getpid() else None
            listener = self._listener
        assert listener is not None, "attach() comes first"
        listener.stop()
        if self._heartbeat.started:
            self._heartbeat.stop()
            self._retire()
        if semaphore is not None:
            # Holds no slot by now (the queue's workers have ended): nothing to give back
            # that could fail, only the lease thread to stop and connections to close.
            semaphore.close()
        self._connection.close()

    # -- internals -----------------------------------------------------------------------

    def _retire(self) -> None:
        """Leave the cluster's live owners (the queue has no unfinished job left), so
        that nobody declares this process lost once it has gone. Never raises."""
        with self._lock:
            name = self._owner.name
        client = self._connection.client
        try:
            self._connection.call(
                "leaving the cluster", lambda: client.zrem(self._owners.owners_key, name)
            )
        except RedisBackendError as exc:
            logger.warning("could not leave the cluster (its lease runs out by itself): %s", exc)

    def _current_retention(self) -> Retention:
        with self._lock:
            return self._retention

    def _new_semaphore(self, limit: int) -> RedisSemaphore:
        # A lost slot is logged by the semaphore; its executor runs on (nothing can stop
        # it from here), and every later file takes a slot of its own first.
        return RedisSemaphore(self._url, limit, namespace=self.namespace, lease=self._lease)

    def _connect(self) -> None:
        """Make the connection and what uses it (no Redis call)."""
        self._connection = RedisConnection(self._url)
        self._owners = Owners(self._connection, self.namespace)
        self._registry = JobRegistry(
            self._connection, self.namespace, STREAM_LENGTH, STREAM_TTL, self._owners, self._lease
        )
        self._cancels = CancelRequests(self._connection, self.namespace)

    def _new_listener(self) -> CancelListener:
        assert self._has_unfinished_jobs is not None
        return CancelListener(
            self._cancels, lambda: self.owner_id, self._on_request, self._has_unfinished_jobs
        )

    def _on_request(self, job_id: str, by: str, action: str) -> None:
        """A request read by the listener: to the queue's callback for its action (a
        pause or resume for a queue that takes none is logged and dropped)."""
        if action == CANCEL:
            assert self._on_cancel_request is not None
            self._on_cancel_request(job_id, by)
        elif self._on_pause_request is not None:
            self._on_pause_request(job_id, by, action)
        else:
            log_in_queue_thread(
                logging.WARNING,
                "job %s: %s requested by %s, but this queue takes none",
                job_id,
                action,
                by,
            )

    def after_fork_in_child(self) -> None:
        """Called by the queue in a forked child (no Redis call): new locks (a thread of
        the parent may have held one), an identity of its own, none of the parent's
        unwritten events or threads. Its semaphore is made on first use.

        Its connection pool is new too: redis-py's own reset of a pool in a child takes
        the pool's lock, which a thread of the parent may have held at the fork (the
        heartbeat, a cancel listener), and would then wait for ever."""
        self._connect()
        self._heartbeat = Heartbeat(self._heartbeat_interval, self._beat)
        self._listener = self._new_listener()
        self._lock = threading.Lock()
        self._owner = ProcessIdentity.new()
        self._owned = set()
        self._epoch = None
        self._last_sweep = -math.inf
        self._beat_failing = False

    def _in_this_process(self) -> RedisSemaphore:
        """This process's semaphore: after a fork the child makes one of its own (the
        parent's slots stay the parent's)."""
        with self._lock:
            semaphore = self._semaphore
            assert semaphore is not None, "attach() comes first"
            if self._pid != os.getpid():
                # Once per child, so made under the lock (a round trip to store the limit,
                # should it be missing): the queue's state lock is not held here.
                semaphore = self._semaphore = self._new_semaphore(self._limit)
                self._pid = os.getpid()
            return semaphore


@attrs.frozen
class ProcessIdentity:
    """Who owns a job: ``host:pid:token``; the token also ends the process's job ids."""

    name: str
    token: str

    @classmethod
    def new(cls) -> ProcessIdentity:
        """This process's identity, with a new random token."""
        token = secrets.token_hex(6)
        return cls(f"{_HOST}:{os.getpid()}:{token}", token)


def _check_local_limit(value: object) -> int:
    try:
        return check_cluster_limit(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("concurrency limit", "local_limit")) from None
