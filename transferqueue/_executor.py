"""What an executor is, and the ``on_progress`` callable handed to it with its
cancellation and pause checks."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Protocol

from ._errors import TransferCancelled, TransferPaused
from ._records import TransferFile, TransferStatus

# What the queue's report of a progress call answers: go on, or stop and why.
GO_ON = 0
STOP_CANCELLED = 1
STOP_PAUSED = 2

_PAUSED = TransferStatus.PAUSED


class _JobState(Protocol):
    """What a callback reads of its job (the queue's ``Job``, which this module does not
    import: the job imports what an executor is from here)."""

    @property
    def id(self) -> str:
        """The job's id."""

    @property
    def status(self) -> TransferStatus:
        """The job's status now."""


class ProgressCallback:
    """Passed to an executor as ``on_progress``; one per attempt of a file.

    Call it with the absolute number of bytes of this file done so far. Once the job is
    cancelled, the call raises :class:`TransferCancelled`. To check for cancellation
    without reporting progress, read :attr:`cancelled`, call :meth:`raise_if_cancelled`,
    or sleep with :meth:`wait_cancelled`, which returns early when the job is cancelled.

    It belongs to its attempt: once the executor it was given to has returned, a call
    (from a thread the executor left running, say) changes nothing and raises nothing,
    even while a later attempt of the same file runs with a callback of its own; only a
    cancelled job still makes it raise :class:`TransferCancelled` (and a paused one
    :class:`TransferPaused`), which tells such a thread to stop.

    Once the job is paused, the call raises :class:`TransferPaused` instead: the
    executor should stop there, keeping what it has if it can resume from it. Read
    :attr:`paused` or call :meth:`raise_if_paused` to check without reporting, and sleep
    with :meth:`wait_stopped` to wake at a pause as well as at a cancel.
    """

    __slots__ = (
        "_attempt",
        "_cancel_event",
        "_index",
        "_job",
        "_report",
        "_stop_event",
        "told_to_pause",
    )

    def __init__(
        self,
        report: Callable[[int, int, int], int],
        job: _JobState,
        index: int,
        attempt: int,
        cancel_event: threading.Event,
        stop_event: Callable[[], threading.Event | None],
    ) -> None:
        # ``report(index, attempt, loaded)`` records progress for the job and answers
        # GO_ON, STOP_CANCELLED or STOP_PAUSED.
        self._report = report
        self._job = job
        self._index = index
        self._attempt = attempt
        self._cancel_event = cancel_event
        # The queue's: the job's stop event (set while it is paused or once it is
        # cancelled), made on first use; None once the job is finished.
        self._stop_event = stop_event
        # Set once this callback raised TransferPaused: whatever the executor raises
        # afterwards is read as the pause, not as a failure of the file.
        self.told_to_pause = False

    def __call__(self, loaded: int) -> None:
        """Report ``loaded`` bytes done; values outside 0..size are clamped.

        Raises :class:`TransferCancelled` when the job has been cancelled, and
        :class:`TransferPaused` when it has been paused.
        """
        if type(loaded) is not int:  # the fast path: an int, as documented
            loaded = _as_int(loaded)
        outcome = self._report(self._index, self._attempt, loaded)
        if outcome:
            if outcome == STOP_CANCELLED:
                raise TransferCancelled(f"transfer job {self._job.id} was cancelled")
            self._pause()

    @property
    def cancelled(self) -> bool:
        """True once the job is cancelled; reading it reports nothing."""
        return self._cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`TransferCancelled` if the job is cancelled."""
        if self._cancel_event.is_set():
            raise TransferCancelled(f"transfer job {self._job.id} was cancelled")

    @property
    def paused(self) -> bool:
        """True while the job is paused; reading it reports nothing."""
        return self._job.status is _PAUSED

    def raise_if_paused(self) -> None:
        """Raise :class:`TransferPaused` if the job is paused."""
        if self._job.status is _PAUSED:
            self._pause()

    def raise_if_stopped(self) -> None:
        """Raise :class:`TransferCancelled` if the job is cancelled, else
        :class:`TransferPaused` if it is paused: the check for an executor waiting on
        something it can abandon either way."""
        self.raise_if_cancelled()
        self.raise_if_paused()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the job is cancelled or paused, or ``timeout`` seconds passed.

        Returns True if the job is cancelled or paused (then call
        :meth:`raise_if_stopped`): :meth:`wait_cancelled` for an executor that would
        rather stop at a pause too than sleep through it.
        """
        stop = self._stop_event()
        return True if stop is None else stop.wait(timeout)  # None: finished, so stopped

    def _pause(self) -> None:
        self.told_to_pause = True
        raise TransferPaused(f"transfer job {self._job.id} was paused")

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


Executor = Callable[[TransferFile, ProgressCallback], object]
"""``executor(file, on_progress)``: transfers one file, blocking; raises to fail it."""
