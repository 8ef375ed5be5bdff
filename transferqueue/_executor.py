"""What an executor is, and the ``on_progress`` callable handed to it with its
cancellation and pause checks and the queue's bandwidth cap."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import TransferCancelled, TransferPaused
from ._records import TransferFile, TransferStatus

if TYPE_CHECKING:
    from ._core.bandwidth import TokenBucket

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
    Under the queue's bandwidth cap, call :meth:`throttle` with the bytes of each chunk.

    It belongs to its attempt: once the executor it was given to has returned, a call
    (from a thread the executor left running, say) changes nothing and raises nothing,
    even while a later attempt of the same file runs with a callback of its own; only a
    cancelled job still makes it raise :class:`TransferCancelled` (and a paused one
    :class:`TransferPaused`), which tells such a thread to stop.

    Once the job is paused, the call raises :class:`TransferPaused` instead: the
    executor should stop there, keeping what it has if it can resume from it. Read
    :attr:`paused` or call :meth:`raise_if_paused` to check without reporting, and sleep
    with :meth:`wait_stopped` to wake at a pause as well as at a cancel. An executor that
    keeps something at a pause (a partial file to resume from) registers with
    :meth:`call_on_cancel` what removes it, should the job be cancelled instead of
    resumed; :attr:`job_id` tells the jobs apart.
    """

    __slots__ = (
        "_attempt",
        "_bandwidth",
        "_cancel_event",
        "_cancel_hooks",
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
        bandwidth: TokenBucket | None = None,
        cancel_hooks: Callable[[Callable[[], object]], Callable[[], None]] = (
            lambda hook: _unregistered
        ),
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
        self._bandwidth = bandwidth  # the queue's cap, shared by all its executors
        # The queue's: registers a hook run once the job is cancelled (by default, for
        # a callback made without a queue, none is ever run).
        self._cancel_hooks = cancel_hooks

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
    def job_id(self) -> str:
        """The id of the job this file belongs to: what tells apart two jobs that
        transfer the same file (to key what an executor keeps for a paused file by)."""
        return self._job.id

    def call_on_cancel(self, hook: Callable[[], object]) -> Callable[[], None]:
        """Call ``hook()`` once the job is cancelled; return a function that unregisters
        it.

        For an executor that keeps something when its job is paused (a partial file to
        resume from) and must remove it should the job be cancelled instead of resumed,
        which no later attempt would then do: register the removal as it stops at the
        pause, and unregister it when the resumed file takes the partial back. A hook
        may be registered after the executor returned (the point of it) and from any
        thread.

        The hook runs once, in the thread that cancels the job (``cancel_job``,
        ``shutdown``, ...), after the queue released its lock, so it may take its time
        and call the queue; an exception it raises is logged and goes no further. It
        runs as well when the whole job fails at once (its process declared lost by its
        cluster), never when the job ends otherwise (its hooks are then dropped). A hook
        registered once the job has ended runs at once, in the registering thread.
        """
        return self._cancel_hooks(hook)

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
        :class:`TransferCancelled` as soon as the job is cancelled, and
        :class:`TransferPaused` as soon as it is paused, waiting or not.
        """
        if type(amount) is not int:
            amount = _as_int(amount, "throttle")
        if amount < 0:
            raise ValueError(f"throttle takes a number of bytes >= 0, not {amount}")
        bandwidth = self._bandwidth
        if bandwidth is not None and bandwidth.rate is not None:
            # The wait ends at a pause as at a cancel: both set the stop event. A finished
            # job has none left; its cancel event is the one that can still be set.
            while not bandwidth.take(amount, self._stop_event() or self._cancel_event):
                self.raise_if_stopped()
                # Set by a pause the job has left already: the bytes were given back, so
                # they are asked for again.
        self.raise_if_stopped()


# The queue's on_progress of the attempt each worker thread runs (set by the worker
# around the executor's call).
_running = threading.local()


def running_callback() -> ProgressCallback | None:
    """The queue's :class:`ProgressCallback` of the attempt this thread runs, if it runs
    one: what tells a ready-made executor its job when it was handed a wrapper of it (an
    application's function that logs, say, and passes the bytes on)."""
    callback: ProgressCallback | None = getattr(_running, "callback", None)
    return callback


def cap_carrier(on_progress: object) -> Any:
    """What carries the queue's bandwidth cap and stop checks for a ready-made executor
    handed ``on_progress``: ``on_progress`` itself when it offers ``throttle`` (the
    queue's callback, or a stand-in that wraps it whole), else the queue's callback of
    the attempt this thread runs (``on_progress`` is then a plain function around it),
    else ``on_progress`` (called directly, without a queue: no cap)."""
    if hasattr(on_progress, "throttle"):
        return on_progress
    return running_callback() or on_progress


def set_running_callback(callback: ProgressCallback | None) -> None:
    """Record the attempt this thread runs from now on (None: none)."""
    _running.callback = callback


def _unregistered() -> None:
    """Unregisters a cancel hook that was never registered."""


def _as_int(loaded: object, what: str = "on_progress") -> int:
    """Accept an int subclass or a finite float (some libraries report floats)."""
    if isinstance(loaded, int) and not isinstance(loaded, bool):
        return int(loaded)
    if isinstance(loaded, float):
        if not math.isfinite(loaded):
            raise ValueError(f"{what} takes a finite number of bytes, not {loaded}")
        return int(loaded)
    raise TypeError(f"{what} takes a number of bytes, not {type(loaded).__name__}")


Executor = Callable[[TransferFile, ProgressCallback], object]
"""``executor(file, on_progress)``: transfers one file, blocking; raises to fail it."""
