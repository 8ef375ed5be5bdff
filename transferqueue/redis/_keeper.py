"""The thread that renews a semaphore's leases while it holds slots."""

from __future__ import annotations

from collections.abc import Callable

from ._daemon import DaemonLoop


class LeaseKeeper:
    """Calls ``renew()`` every ``interval`` seconds on a daemon thread of its own, for as
    long as ``has_work()`` is true.

    :meth:`wake` starts the thread when there is none; the thread ends by itself once
    ``has_work()`` is false, so that a semaphore holding nothing keeps no thread. It is a
    daemon thread: a process may exit while it holds slots (they then run out within one
    lease). :meth:`stop` ends it for good. What ``renew()`` raises is not a Redis fault
    (it handles those): it is logged, and the leases are still renewed rather than all
    left to run out.
    """

    def __init__(
        self, name: str, interval: float, renew: Callable[[], None], has_work: Callable[[], bool]
    ) -> None:
        self._loop = DaemonLoop(
            name,
            renew,
            f"renewing the leases of {name} failed",
            interval=interval,
            has_work=has_work,
        )

    def wake(self) -> None:
        """Make sure a thread renews the leases (call it after adding work); raises
        ``RuntimeError`` when no thread can start."""
        self._loop.wake()

    def stop(self) -> None:
        """End the thread (waiting for it, unless called from it) and start no other."""
        self._loop.stop()
