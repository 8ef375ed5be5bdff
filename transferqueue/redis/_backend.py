"""The Redis backend of a :class:`~transferqueue.TransferQueue`: what several processes
share through one Redis server and namespace."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import timedelta

from transferqueue._log import logger

from ._connection import RedisConnection
from ._errors import RedisBackendError
from ._semaphore import RedisSemaphore
from ._settings import (
    DEFAULT_LEASE,
    DEFAULT_NAMESPACE,
    check_cluster_limit,
    check_lease,
    check_namespace,
)
from ._slot import Slot


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

    One backend serves one queue. It belongs to the process that made it: in a forked
    child it starts afresh with connections and slots of the child's own.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease: float | timedelta = DEFAULT_LEASE,
        local_limit: int | None = None,
    ) -> None:
        self.namespace = check_namespace(namespace)
        """The namespace every key of this backend starts with."""
        self._lease = check_lease(lease)
        self._local_limit = None if local_limit is None else _check_local_limit(local_limit)
        self._url = url  # may hold a password: shown only through RedisConnection.url
        self._connection = RedisConnection(url)  # checks the URL; connects on first use
        # Guards _semaphore, _pid, _limit and _attached. No Redis call is made under it but
        # the one that makes a forked child's semaphore.
        self._lock = threading.Lock()
        self._semaphore: RedisSemaphore | None = None
        self._pid = os.getpid()
        self._limit = 0  # the limit this process last stored or was made with
        self._attached = False

    @property
    def url(self) -> str:
        """The server's URL, with any password replaced by ``***``."""
        return self._connection.url

    @property
    def lease(self) -> float:
        """Seconds a slot stays held without a renewal."""
        return self._lease

    @property
    def local_limit(self) -> int | None:
        """The most files this process runs at once; None: the queue's limit."""
        return self._local_limit

    def __repr__(self) -> str:
        return f"<RedisBackend {self.namespace!r} at {self.url}>"

    # -- called by the queue (never with its state lock held) ---------------------------

    def attach(self, limit: int) -> None:
        """Serve the queue being made: store ``limit`` as the cluster's limit unless one
        is stored. Raises RuntimeError if this backend serves a queue already, and
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

    def acquire_slot(self, cancelled: Callable[[], bool]) -> Slot | None:
        """Wait for a cluster-wide slot; None once ``cancelled()``."""
        return self._current_semaphore().acquire(cancel=cancelled)

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
        self._current_semaphore().set_limit(limit)
        with self._lock:
            self._limit = limit

    def read_limit(self) -> int:
        """The cluster's limit as Redis has it now."""
        return self._current_semaphore().limit

    def shutdown(self) -> None:
        """Release what is still held, stop the lease thread, close idle connections."""
        with self._lock:
            semaphore = self._semaphore if self._pid == os.getpid() else None
        if semaphore is not None:
            # Holds no slot by now (the queue's workers have ended): nothing to give back
            # that could fail, only the lease thread to stop and connections to close.
            semaphore.close()
        self._connection.close()

    # -- internals -----------------------------------------------------------------------

    def _new_semaphore(self, limit: int) -> RedisSemaphore:
        # A lost slot is logged by the semaphore; its executor runs on (nothing can stop
        # it from here), and every later file takes a slot of its own first.
        return RedisSemaphore(self._url, limit, namespace=self.namespace, lease=self._lease)

    def _current_semaphore(self) -> RedisSemaphore:
        """This process's semaphore: after a fork, the child makes one of its own (the
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


def _check_local_limit(value: object) -> int:
    try:
        return check_cluster_limit(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("concurrency limit", "local_limit")) from None
