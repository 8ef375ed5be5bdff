"""One held slot of a Redis semaphore: the handle its holder keeps."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Protocol


class _Holdings(Protocol):
    """What a slot asks of the semaphore's holdings (``_holdings.Holdings``, which makes
    the slots and so imports this module)."""

    @property
    def lock(self) -> threading.Lock:
        """Guards every slot's state."""

    def lost_reason_locked(self, slot: Slot) -> str | None:
        """Why ``slot`` was lost, None while held; called with :attr:`lock` held."""

    def refresh(self, slot: Slot) -> None:
        """Renew ``slot``'s lease now."""

    def release(self, slot: Slot) -> bool:
        """Give ``slot`` back."""


class Slot:
    """One slot of a :class:`~transferqueue.redis.RedisSemaphore`, held until
    :meth:`release` (or the end of a ``with`` block).

    The semaphore's keeper thread renews its lease every third of the lease. A slot is
    lost when its lease ran out before a renewal reached Redis (the process was paused,
    or Redis could not be reached for a whole lease): :attr:`lost` then reads True,
    :meth:`refresh` raises :class:`~transferqueue.redis.SlotLostError`, and the
    semaphore's ``on_lost`` callback is called once for it.
    """

    __slots__ = ("_holdings", "_lost_reason", "_released", "_renewed_at", "holder_id")

    def __init__(self, holdings: _Holdings, holder_id: str, renewed_at: float) -> None:
        self._holdings = holdings
        self.holder_id = holder_id
        """The slot's id in Redis, ``host:pid:random``: unique across hosts and processes."""
        # Guarded by the holdings' lock:
        self._renewed_at = renewed_at  # time.monotonic() when the last renewal was sent
        self._released = False
        self._lost_reason: str | None = None

    @property
    def released(self) -> bool:
        """True once :meth:`release` was called."""
        with self._holdings.lock:
            return self._released

    @property
    def lost(self) -> bool:
        """True when the slot was not released but is not held any more: its lease ran out
        (by this process's clock, counted from the last renewal sent, which is never later
        than Redis's count) or Redis said so. Look at it before starting work that must
        not exceed the limit."""
        return self.lost_reason is not None

    @property
    def lost_reason(self) -> str | None:
        """Why the slot was lost; None while it is held, and once it is released."""
        with self._holdings.lock:
            return None if self._released else self._holdings.lost_reason_locked(self)

    def refresh(self) -> None:
        """Renew the lease now (the keeper does so by itself); raise
        :class:`~transferqueue.redis.SlotLostError` if the slot is released or lost."""
        self._holdings.refresh(self)

    def release(self) -> bool:
        """Give the slot back; True if Redis still counted it as held. Idempotent: later
        calls return False without asking Redis. When Redis cannot be reached this raises
        :class:`~transferqueue.redis.RedisUnavailableError`; the slot is released here all
        the same (no longer renewed) and runs out in Redis within one lease."""
        return self._holdings.release(self)

    def __enter__(self) -> Slot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Slot {self.holder_id}>"
