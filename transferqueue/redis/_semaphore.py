"""A fair, leased, counting semaphore in Redis: at most ``limit`` slots held at once by
every process, on every host, that shares the server and the namespace."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType

from transferqueue._log import logger

from ._commands import SemaphoreCommands
from ._connection import RedisConnection
from ._errors import RedisBackendError
from ._holdings import Holdings
from ._keys import SemaphoreKeys, new_holder_id
from ._records import SemaphoreState
from ._settings import (
    DEFAULT_LEASE,
    DEFAULT_NAMESPACE,
    check_cluster_limit,
    check_lease,
    check_namespace,
    check_timeout,
)
from ._slot import Slot

Cancel = threading.Event | Callable[[], bool]
"""What cancels a wait: an Event that gets set, or a callable that returns True."""

# How often a wait with a ``cancel`` looks at it: the longest delay before a cancelled
# wait returns.
CANCEL_CHECK = 0.25
# A waiter keeps its place in the queue this long after its last attempt (it tries again
# every third of it), so a waiter that died holds up the head of the queue that long.
MAX_WAITER_LEASE = 2.0
# Redis reads a blocking timeout of 0 as "for ever": shorter waits are not made.
_MIN_BLOCK = 0.001


def _cancel_test(cancel: Cancel | None) -> Callable[[], bool] | None:
    if cancel is None:
        return None
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError(f"cancel must be a threading.Event or a callable, not {type(cancel).__name__}")


class RedisSemaphore:
    """At most ``limit`` slots held at once across every process, on every host, that
    uses the same Redis server (``url``) and ``namespace``.

    Each slot has a lease of ``lease`` seconds (10 by default) that a thread of this
    object renews every third of it; a holder that dies frees its slot when its lease
    ends. Waiters queue in order of arrival, across processes: one that releases and
    asks again waits behind those already waiting. ``limit`` is stored in Redis unless a
    limit is stored already; the stored value wins (another process set it, or
    :meth:`set_limit` changed it for everyone), and this object stores its last known
    limit again should Redis lose it. ``on_lost(slot, reason)`` is called once for each
    slot lost rather than released, from the keeper's thread (or from the thread whose
    :meth:`Slot.refresh` found out).

    The constructor connects: an unreachable server raises
    :class:`~transferqueue.redis.RedisUnavailableError`, which names the URL without its
    password. One object serves many threads; it belongs to the process that made it
    (after ``fork``, make a new one in the child).
    """

    def __init__(
        self,
        url: str,
        limit: int,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease: float | timedelta = DEFAULT_LEASE,
        on_lost: Callable[[Slot, str], None] | None = None,
    ) -> None:
        initial_limit = check_cluster_limit(limit)
        self._lease = check_lease(lease)
        self._waiter_lease = min(self._lease, MAX_WAITER_LEASE)
        self.namespace = check_namespace(namespace)
        """The namespace the semaphore's keys start with."""
        if on_lost is not None and not callable(on_lost):
            raise TypeError(f"on_lost must be callable, not {type(on_lost).__name__}")
        self._commands = SemaphoreCommands(
            RedisConnection(url),
            SemaphoreKeys.for_namespace(self.namespace),
            self._lease,
            self._waiter_lease,
            initial_limit,
        )
        self._holdings = Holdings(self._commands, self._lease, self.namespace, on_lost)
        self._commands.store_limit_if_missing()

    @property
    def url(self) -> str:
        """The server's URL, with any password replaced by ``***``."""
        return self._commands.connection.url

    @property
    def lease(self) -> float:
        """Seconds a slot stays held without a renewal."""
        return self._lease

    def acquire(
        self, timeout: float | timedelta | None = None, cancel: Cancel | None = None
    ) -> Slot | None:
        """Wait for a slot and return it; None when ``timeout`` passed (in seconds, counted
        on the Redis server's clock) or ``cancel`` was set first.

        ``timeout=None`` waits for as long as it takes; 0 tries once without queueing.
        ``cancel`` (a ``threading.Event``, or a callable returning True to stop) is looked
        at every quarter of a second. The wait blocks in Redis on a wake-up list, pushed
        when a slot is released or the limit raised, and tries again when the first lease
        ends. Raises :class:`~transferqueue.redis.RedisUnavailableError` when Redis cannot
        be reached and :class:`~transferqueue.redis.RedisDataError` when the namespace
        holds something unexpected (a limit that is not an integer, say).
        """
        seconds = check_timeout(timeout)
        cancelled = _cancel_test(cancel)
        self._holdings.check_open()
        holder_id = new_holder_id()
        join = seconds != 0
        started: int | None = None
        try:
            while True:
                sent_at = time.monotonic()
                admitted, now, until_first = self._commands.attempt(holder_id, join)
                if admitted:
                    return self._holdings.add(holder_id, sent_at)
                if self._holdings.closed:
                    raise RuntimeError("this RedisSemaphore was closed while waiting")
                started = now if started is None else started
                waited = (now - started) / 1000
                if (seconds is not None and waited >= seconds) or (cancelled and cancelled()):
                    break
                budget = self._waiter_lease / 3
                if seconds is not None:
                    budget = min(budget, seconds - waited)
                if until_first >= 0:
                    budget = min(budget, (until_first + 1) / 1000)
                if not self._block(holder_id, budget, cancelled):
                    break
        except BaseException:
            # Interrupted, or Redis failed: leave the queue (or the slot, should the
            # answer that admitted us have been lost) as far as Redis can still be told.
            self._drop_quietly(holder_id)
            raise
        if join:
            self._commands.drop(holder_id)
        return None

    def try_acquire(self) -> Slot | None:
        """A slot if one is free for a newcomer now (nobody queued before it), else None."""
        return self.acquire(timeout=0)

    def held(self) -> tuple[Slot, ...]:
        """The slots this object holds now (neither released nor known to be lost)."""
        return self._holdings.held()

    def state(self) -> SemaphoreState:
        """The cluster's limit, live holders and waiters, as Redis has them now."""
        return self._commands.state()

    @property
    def limit(self) -> int:
        """The cluster-wide limit stored in Redis."""
        return self.state().limit

    def set_limit(self, limit: int) -> None:
        """Change the limit for every process. Raising it admits waiters at once; lowering
        it interrupts no holder: nobody is admitted until fewer than the new limit hold
        slots. Replaces whatever the key held, a malformed value included."""
        new = check_cluster_limit(limit)
        previous = self._commands.set_limit(new)
        shown = "nothing" if previous is None else repr(previous.decode("utf-8", "replace"))
        logger.info("cluster limit of %s changed from %s to %d", self.namespace, shown, new)

    def close(self) -> None:
        """Release every slot still held, stop the keeper thread and close the
        connections. Idempotent; the semaphore cannot acquire afterwards, and a wait going
        on in another thread raises RuntimeError at its next try."""
        try:
            self._holdings.close()
        finally:
            self._commands.connection.close()

    def __enter__(self) -> RedisSemaphore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisSemaphore {self.namespace!r} at {self.url}>"

    def _block(self, holder_id: str, budget: float, cancelled: Callable[[], bool] | None) -> bool:
        """Wait up to ``budget`` seconds for a wake-up; False if cancelled meanwhile."""
        blocked = 0.0
        while budget - blocked >= _MIN_BLOCK:
            if cancelled is not None and cancelled():
                return False
            step = budget - blocked
            if cancelled is not None:
                step = min(step, CANCEL_CHECK)
            if self._commands.wait_for_wake_up(holder_id, step):
                break
            blocked += step
        return not (cancelled is not None and cancelled())

    def _drop_quietly(self, holder_id: str) -> None:
        try:
            self._commands.drop(holder_id)
        except RedisBackendError as exc:
            logger.warning(
                "could not tell Redis that %s of %s left (its place runs out by itself): %s",
                holder_id,
                self.namespace,
                exc,
            )
