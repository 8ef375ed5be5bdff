"""The ``on_progress`` callable handed to executors, with its cancellation checks (S7, S9)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import TransferCancelled

if TYPE_CHECKING:
    from ._core.job import Job


class ProgressCallback:
    """Passed to an executor as ``on_progress``; one per attempt of a file.

    Call it with the absolute number of bytes of this file done so far. Once the job is
    cancelled, the call raises :class:`TransferCancelled`. To check for cancellation
    without reporting progress, read :attr:`cancelled`, call :meth:`raise_if_cancelled`,
    or sleep with :meth:`wait_cancelled`, which returns early when the job is cancelled.

    It belongs to its attempt: once the executor it was given to has returned, a call
    (from a thread the executor left running, say) changes nothing and raises nothing,
    even while a later attempt of the same file runs with a callback of its own; only a
    cancelled job still makes it raise :class:`TransferCancelled`, which tells such a
    thread to stop.
    """

    __slots__ = ("_attempt", "_cancel_event", "_index", "_job", "_report")

    def __init__(
        self,
        report: Callable[[Job, int, int, int], bool],
        job: Job,
        index: int,
        attempt: int,
        cancel_event: threading.Event,
    ) -> None:
        self._report = report
        self._job = job
        self._index = index
        self._attempt = attempt
        self._cancel_event = cancel_event

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


def _as_int(loaded: object) -> int:
    """Accept an int subclass or a finite float (some libraries report floats)."""
    if isinstance(loaded, int) and not isinstance(loaded, bool):
        return int(loaded)
    if isinstance(loaded, float):
        if not math.isfinite(loaded):
            raise ValueError(f"on_progress takes a finite number of bytes, not {loaded}")
        return int(loaded)
    raise TypeError(f"on_progress takes a number of bytes, not {type(loaded).__name__}")
