"""Watching one job from a blocking caller: an iterator of its snapshots."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

from ._records import TransferJob

SnapshotT = TypeVar("SnapshotT", TransferJob, "TransferJob | None")

# unsubscribe(watch, blocking) -> None: takes the queue's lock (blocking or not) and
# removes the watch from the job's watchers.
Unsubscribe = Callable[["JobWatch[TransferJob | None]", bool], None]


class JobWatch(Generic[SnapshotT], Iterator[SnapshotT]):
    """A blocking iterator over one job's snapshots, made by :meth:`TransferQueue.watch`.

    It yields the job as it stands at once, then every newer snapshot as the queue's
    events report it; when the consumer is slower than the events, it skips to the
    latest, never past the terminal snapshot, after which it stops. With a ``keepalive``
    it yields ``None`` whenever that many seconds passed without a new snapshot.

    Close it (``close()``, a ``with`` block, or simply dropping it) to stop early: it
    then unsubscribes at once, and leaves no receiver, thread or reference behind.
    """

    def __init__(
        self,
        job_id: str,
        first: TransferJob,
        sequence: int,
        unsubscribe: Unsubscribe | None,
        *,
        timeout: float | None,
        keepalive: float | None,
    ) -> None:
        self.job_id = job_id
        # _ready guards the fields below; the event thread offers under it, the consumer
        # waits on it. Neither holds it while calling anything else.
        self._ready = threading.Condition(threading.Lock())
        self._latest: TransferJob | None = first  # the newest snapshot not yet yielded
        self._last_offered = first
        self._sequence = sequence  # of the newest job-updated event taken into account
        self._closed = unsubscribe is None  # nothing to wait for once terminal
        self._ended = False  # the terminal snapshot was yielded, or close() was called
        self._unsubscribe = unsubscribe
        self._remaining = math.inf if timeout is None else timeout
        self._keepalive = keepalive

    @property
    def closed(self) -> bool:
        """True once the watch was closed or has yielded the terminal snapshot."""
        return self._ended

    # -- fed by the event thread ------------------------------------------------------

    def offer(self, snapshot: TransferJob, sequence: int) -> None:
        """Take a snapshot the event thread delivers; ignored if older than one seen."""
        with self._ready:
            if self._closed or sequence <= self._sequence or snapshot is self._last_offered:
                return
            self._sequence = sequence
            self._latest = self._last_offered = snapshot
            if snapshot.status.is_terminal:
                self._closed = True  # the event thread forgets this watch with the job
                self._unsubscribe = None
            self._ready.notify()

    def end_after_fork(self) -> None:
        """In a forked child: this job does not exist here; end once what is due is out."""
        self._ready = threading.Condition(threading.Lock())
        self._closed = True
        self._unsubscribe = None

    # -- the consumer side ------------------------------------------------------------

    def __iter__(self) -> JobWatch[SnapshotT]:
        return self

    def __next__(self) -> SnapshotT:
        with self._ready:
            while True:
                latest = self._latest
                if latest is not None:
                    self._latest = None
                    if latest.status.is_terminal:
                        self._ended = True
                    return latest
                if self._closed or self._ended:
                    self._ended = True
                    raise StopIteration
                if self._remaining <= 0:
                    raise TimeoutError(
                        f"transfer job {self.job_id} did not finish within the watch's timeout"
                    )
                wait = min(self._remaining, self._keepalive or math.inf)
                started = time.monotonic()
                woken = self._ready.wait(None if wait == math.inf else wait)
                # A wait that timed out used up its time even where the clock stands still
                # (freezegun); an early wake-up used what the clock says.
                self._remaining -= wait if not woken else max(0.0, time.monotonic() - started)
                if not woken and self._keepalive is not None and self._remaining > 0:
                    return None  # type: ignore[return-value]

    def close(self) -> None:
        """Stop watching; the iterator ends. Idempotent, and safe from any thread."""
        self._close(blocking=True)

    def _close(self, *, blocking: bool) -> None:
        with self._ready:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            self._closed = self._ended = True
            self._latest = None
            self._ready.notify_all()
        if unsubscribe is not None:
            unsubscribe(self, blocking)  # type: ignore[arg-type]

    def __enter__(self) -> JobWatch[SnapshotT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A finaliser may run in any thread, even one holding the queue's lock: never
        # block on it here. If the lock is busy, the event thread drops this watch later.
        if getattr(self, "_unsubscribe", None) is not None:
            self._close(blocking=False)
