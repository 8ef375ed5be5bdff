"""The ``on_progress`` callable handed to executors, with its cancellation checks (S7, S9)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import TransferCancelled

if TYPE_CHECKING:
    from ._core.bandwidth import TokenBucket
    from ._core.job import Job


class ProgressCallback:
    """Passed to an executor as ``on_progress``; one per attempt of a file.

    Call it with the absolute number of bytes of this file done so far. Once the job is
    cancelled, the call raises :class:`TransferCancelled`. To check for cancellation
    without reporting progress, read :attr:`cancelled`, call :meth:`raise_if_cancelled`,
    or sleep with :meth:`wait_cancelled`, which returns early when the job is cancelled.
    Under the queue's bandwidth cap, call :meth:`throttle` with the bytes of each chunk.

    It belongs to its attempt: once the executor it was given to has returned, a call
    (from a thread the executor left running, say) changes nothing and raises nothing,
    even while a later attempt of the same file runs with a callback of its own; only a
    cancelled job still makes it raise :class:`TransferCancelled`, which tells such a
    thread to stop.
    """

    __slots__ = ("_attempt", "_bandwidth", "_cancel_event", "_index", "_job", "_report")

    def __init__(
        self,
        report: Callable[[Job, int, int, int], bool],
        job: Job,
        index: int,
        attempt: int,
        cancel_event: threading.Event,
        bandwidth: TokenBucket | None = None,
    ) -> None:
        self._report = report
        self._job = job
        self._index = index
        self._attempt = attempt
        self._cancel_event = cancel_event
        self._bandwidth = bandwidth  # the queue's cap, shared by all its executors

    def __call__(self, loaded: int) -> None:
        """Report ``loaded`` bytes done; values outside 0..size are clamped.

        Raises :class:`TransferCancelled` when the job has been cancelled.
        """
        if type(loaded) is not int:  # the fast path: an int, as documented
            loaded = _as_int(loaded)
        if not self._report(self._job, self._index, self._attempt, loaded):
            raise TransferCancelled(f"transfer job {self._job.id} was cancelled")

    @property
    def cancelled(self) -> bool:
        """True once the job is cancelled; reading it reports nothing."""
        return self._cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`TransferCancelled` if the job is cancelled."""
        if self._cancel_event.is_set():
            raise TransferCancelled(f"transfer job {self._job.id} was cancelled")

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block until the job is cancelled or ``timeout`` seconds passed.

        Returns True if the job is cancelled: an interruptible ``time.sleep`` for
        executors that poll or back off.
        """
        return self._cancel_event.wait(timeout)

    @property
    def bandwidth_limit(self) -> float | None:
        """The queue's bandwidth cap in bytes per second now, or None when it has none
        (it may change while the executor runs)."""
        return None if self._bandwidth is None else self._bandwidth.rate

    def throttle(self, amount: int) -> None:
        """Wait until the queue's bandwidth cap allows ``amount`` more bytes; at once when
        it has none.

        Call it with the size of each chunk the executor moves, just before or just after
        moving it, from any thread; the executors of a queue share its cap, first come
        first served. Chunks of a twentieth of the cap's bytes per second or less keep the
        rate smooth. A change of the cap applies to a waiting call within 0.2 s. Raises
        :class:`TransferCancelled` as soon as the job is cancelled, waiting or not.
        """
        if type(amount) is not int:
            amount = _as_int(amount, "throttle")
        if amount < 0:
            raise ValueError(f"throttle takes a number of bytes >= 0, not {amount}")
        bandwidth = self._bandwidth
        if bandwidth is not None and not bandwidth.take(amount, self._cancel_event):
            raise TransferCancelled(f"transfer job {self._job.id} was cancelled")
        self.raise_if_cancelled()


def _as_int(loaded: object, what: str = "on_progress") -> int:
    """Accept an int subclass or a finite float (some libraries report floats)."""
    if isinstance(loaded, int) and not isinstance(loaded, bool):
        return int(loaded)
    if isinstance(loaded, float):
        if not math.isfinite(loaded):
            raise ValueError(f"{what} takes a finite number of bytes, not {loaded}")
        return int(loaded)
    raise TypeError(f"{what} takes a number of bytes, not {type(loaded).__name__}")
