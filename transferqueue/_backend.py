"""What a :class:`~transferqueue.TransferQueue` asks of a backend that shares its state
with other processes (``TransferQueue(limit, backend=...)``).

The queue sees only this protocol, so that the embedded queue (no backend) imports
nothing more and pays nothing for it; :class:`transferqueue.redis.RedisBackend` is the one
implementation. The queue never calls a backend with its state lock held: every call
below may be a round trip to another server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class SlotBackend(Protocol):
    """The cluster-wide concurrency limit: slots shared by every process of the cluster."""

    @property
    def local_limit(self) -> int | None:
        """The most files this process runs at once, or None for the queue's limit."""

    def attach(self, limit: int) -> None:
        """Bind the backend to the queue being made, whose ``limit`` is stored as the
        cluster's limit unless one is stored already. Raises if the backend serves a
        queue already or cannot reach its server."""

    def acquire_slot(self, cancelled: Callable[[], bool]) -> object | None:
        """Wait for a slot and return it (to pass to :meth:`release_slot`), or None
        once ``cancelled()`` returns True. Raises
        :class:`~transferqueue.TransferQueueError` when the slot cannot be had now (the
        server is unreachable): the queue waits and tries again."""

    def release_slot(self, slot: object) -> None:
        """Give a slot back. Never raises: a slot that cannot be given back runs out
        by itself."""

    def set_limit(self, limit: int) -> None:
        """Change the limit for every process of the cluster."""

    def read_limit(self) -> int:
        """The cluster's limit as stored now."""

    def shutdown(self) -> None:
        """The queue has shut down and its workers ended: give back what is held and
        close idle connections (reads may reconnect)."""


Backend = SlotBackend
"""Everything a backend provides."""
