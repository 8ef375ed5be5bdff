"""Watching one job from a blocking caller: an iterator of its snapshots.

Two objects per watch: the :class:`WatchFeed`, which the event thread fills and the queue
keeps subscribed, and the :class:`JobWatch` the caller iterates, which owns the feed. The
queue never refers to the ``JobWatch``, so a caller that drops it (a WSGI server closing a
streaming response, a generator left unfinished) lets it be collected, and its finaliser
unsubscribes the feed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Generic, TypeVar

from transferqueue._records import TransferJob

SnapshotT = TypeVar("SnapshotT", TransferJob, "TransferJob | None")

# What JobWatch._take answers when it was woken only to pass other watches' wake-ups on.
_LOOK_AGAIN = object()
# What it answers to JobWatch.poll when no snapshot is due.
_NOTHING_DUE = object()


class WatchFeed:
    """The newest snapshot of a job that its watch has not yielded yet, and which files
    changed since the snapshot it yielded before."""

    __slots__ = (
        "_last_offered",
        "_relays",
        "_sequence",
        "changes",
        "closed",
        "latest",
        "listener",
        "ready",
        "waiting",
    )

    def __init__(self, first: TransferJob, sequence: int, *, subscribed: bool) -> None:
        # ready guards the fields below; the event thread offers under it, the consumer
        # waits on it. Neither holds it while calling anything else. Reentrant: a JobWatch
        # finaliser closing this feed may run in a thread that holds it already.
        self.ready = threading.Condition(threading.RLock())
        self.latest: TransferJob | None = first  # the newest snapshot not yet yielded
        # The indexes of the files whose records in ``latest`` may differ from those of the
        # snapshot yielded before it: an event's own tuple, the union of several events'
        # once the consumer skipped some, or None for "every file" (the first snapshot).
        self.changes: tuple[int, ...] | set[int] | None = None
        self.closed = not subscribed  # no more snapshots will come
        self._last_offered = first
        self._sequence = sequence  # of the newest job-updated event taken into account
        # The consumer is in ready.wait(): set and cleared by it, under ready.
        self.waiting = False
        # The wake-ups this feed's consumer passes on once woken (see wake_in_turn).
        self._relays: list[_Relay] = []
        # Called by the event thread after each snapshot this feed took (see offer), for a
        # consumer that does not wait on ``ready`` (a stream of an event loop). Set by the
        # consumer before it first looks at ``latest``; a plain attribute, read once.
        self.listener: Callable[[], None] | None = None

    def offer(
        self,
        snapshot: TransferJob,
        sequence: int,
        changed_files: tuple[int, ...] | None = None,
        *,
        notify: bool = True,
    ) -> None:
        """Take a snapshot the event thread delivers; ignored if older than one seen.

        With ``notify=False`` the consumer is not woken: the caller wakes the feeds of
        the event afterwards, with :func:`wake_in_turn`.

        ``changed_files`` are the files its event says changed since the job's previous
        event (None: unknown, every file). Events are offered in order and each after the
        ones before it, so when the consumer skips a snapshot its changes join the next
        one's: what the consumer is told changed covers everything since it last looked.

        Then, the feed's lock released, its :attr:`listener` (if any) is called. The rule
        for a listener: it is our own code, cheap, and never blocks nor raises, since it
        runs in the event thread, between the feeds of an event; it is never called
        holding the queue's lock or this feed's.
        """
        with self.ready:
            if self.closed or sequence <= self._sequence or snapshot is self._last_offered:
                return
            self._sequence = sequence
            pending = self.changes
            if self.latest is None:  # the consumer took the one before: this event's news
                self.changes = changed_files
            elif pending is not None:  # the one before is skipped: its changes stay due
                if changed_files is None:
                    self.changes = None
                else:
                    merged = pending if isinstance(pending, set) else set(pending)
                    merged.update(changed_files)
                    self.changes = merged
            self.latest = self._last_offered = snapshot
            if snapshot.status.is_terminal:
                self.closed = True  # the event thread forgets this feed with the job
            if notify:
                self.ready.notify()
        listener = self.listener
        if listener is not None:
            listener()

    def take_relays(self) -> list[_Relay]:
        """The wake-ups to pass on, taken by the consumer once out of its wait (under
        ready)."""
        relays, self._relays = self._relays, []
        return relays

    def close(self) -> None:
        """Stop the feed: nothing more is taken, nothing left is yielded."""
        with self.ready:
            self.closed = True
            self.latest = None
            self.listener = None  # nothing more to tell; drop what it refers to
            self.ready.notify_all()

    def end_after_fork(self) -> None:
        """In a forked child: this job does not exist here; end once what is due is out."""
        self.ready = threading.Condition(threading.RLock())
        self.closed = True
        self.waiting = False
        self._relays = []
        self.listener = None  # its event loop is the parent's


# The feeds of one event and the position from which those still to wake start.
_Relay = tuple[Sequence[WatchFeed], int]


def wake_in_turn(feeds: Sequence[WatchFeed], start: int = 0) -> None:
    """Wake the consumers of ``feeds[start:]``, one after the other: the first one
    waiting is woken here, and passes the rest on as soon as it is out of its wait.

    Many watches of one job (a web page's viewers, a stream each) each have a thread;
    woken all at once by an event, those threads would all contend for the GIL at once,
    and that contention, more than the work each does, is what a message cost them.
    Woken in turn, about one thread at a time wants the GIL. A consumer that is not
    waiting is skipped: it is busy, and takes the snapshot at its next ``next()``; so is
    one with a listener (a polled watch, which its listener told already).
    Call it holding no feed's lock.
    """
    for index in range(start, len(feeds)):
        feed = feeds[index]
        if feed.listener is not None:  # told by its listener; it never waits on ready
            continue
        with feed.ready:
            if feed.waiting and feed.latest is not None:
                feed._relays.append((feeds, index + 1))
                feed.ready.notify()
                return


# unsubscribe(feed, blocking): takes the queue's lock (blocking or not) and removes the
# feed from its job's feeds.
Unsubscribe = Callable[[WatchFeed, bool], None]


class JobWatch(Generic[SnapshotT], Iterator[SnapshotT]):
    """A blocking iterator over one job's snapshots, made by :meth:`TransferQueue.watch`.

    It yields the job as it stands at once, then every newer snapshot as the queue's
    events report it; when the consumer is slower than the events, it skips to the
    latest, never past the terminal snapshot, after which it stops. With a ``keepalive``
    it yields ``None`` whenever that many seconds passed without a new snapshot. After
    each snapshot, :attr:`changed_files` says which files changed since the one before.

    Close it (``close()``, a ``with`` block, or simply dropping it) to stop early: it
    then unsubscribes at once, and leaves no receiver, thread or reference behind.
    """

    def __init__(
        self,
        job_id: str,
        feed: WatchFeed,
        unsubscribe: Unsubscribe | None,
        *,
        timeout: float | None,
        keepalive: float | None,
        in_feeding_thread: Callable[[], bool] = lambda: False,
    ) -> None:
        self.job_id = job_id
        self._feed = feed
        self._in_feeding_thread = in_feeding_thread
        self._unsubscribe = unsubscribe  # None once unsubscribed (or never subscribed)
        self._ended = False  # the terminal snapshot was yielded, or close() was called
        self._remaining = math.inf if timeout is None else timeout  # only the consumer's
        self._keepalive = keepalive
        self._changed_files: tuple[int, ...] | None = None  # see changed_files
        self._event: int | None = None  # see event_id

    @property
    def closed(self) -> bool:
        """True once the watch was closed or has yielded the terminal snapshot."""
        return self._ended

    def __iter__(self) -> JobWatch[SnapshotT]:
        return self

    @property
    def changed_files(self) -> tuple[int, ...] | None:
        """Which files changed between the snapshot last yielded and the one yielded
        before it: their indexes in ``job.files``, ascending.

        Every file not listed has the very same record (``is``) in both snapshots, so a
        consumer of a job of many files can follow it by these alone, even when it skipped
        snapshots (the changes of those it skipped are included). A listed file may have
        changed and changed back. ``None`` for the first snapshot (and before it): every
        file is new to the consumer. ``()`` after a keep-alive ``None``.
        """
        return self._changed_files

    @property
    def event_id(self) -> str | None:
        """The number, as text, of the job's last event that the snapshot last yielded
        includes (``"0"``: its creation; None before the first snapshot): the same in
        every process of a cluster, so that a stream can be resumed elsewhere (the SSE
        ``id``)."""
        return None if self._event is None else str(self._event)

    def __next__(self) -> SnapshotT:
        while True:
            relays: list[_Relay] = []
            try:
                taken = self._take(relays)
            finally:
                # The other watches' turn (see wake_in_turn), this feed's lock released,
                # before any work of this consumer's.
                for feeds, start in relays:
                    wake_in_turn(feeds, start)
            if taken is not _LOOK_AGAIN:
                return taken  # type: ignore[return-value]

    def poll(self) -> TransferJob | None:
        """The next snapshot if one is due, else None at once: ``next()`` without the
        wait, for a consumer that learns of new snapshots from :meth:`listen`'s callback
        (and keeps its own keep-alive timer: ``poll()`` never answers a keep-alive).

        Raises ``StopIteration`` once the watch has ended, as ``next()`` does. Call it
        from one thread at a time, and not beside ``next()``.
        """
        taken = self._take([], block=False)
        return None if taken is _NOTHING_DUE else taken  # type: ignore[return-value]

    def listen(self, callback: Callable[[], None] | None) -> None:
        """Have the event thread call ``callback()`` after each snapshot it gives this
        watch (None: no more). ``callback`` must be cheap and never block nor raise; it
        is called with no lock held (see ``WatchFeed.offer``). Call :meth:`poll`
        after setting it: a snapshot given before was not announced."""
        self._feed.listener = callback

    def _take(self, relays: list[_Relay], *, block: bool = True) -> SnapshotT | object:
        """The next snapshot (or keep-alive None), or :data:`_LOOK_AGAIN` after a wait
        that brought wake-ups to pass on and nothing to take; those wake-ups go into
        ``relays``, for the caller to pass on once this feed's lock is released. Without
        ``block``, :data:`_NOTHING_DUE` rather than a wait."""
        feed = self._feed
        with feed.ready:
            while True:
                latest = feed.latest
                if latest is not None:
                    feed.latest = None
                    self._event = feed._sequence
                    changes, feed.changes = feed.changes, ()
                    if latest.status.is_terminal:
                        self._ended = True
                    break
                if feed.closed or self._ended:
                    self._ended = True
                    raise StopIteration
                if not block:
                    return _NOTHING_DUE
                if relays:  # never wait holding them: pass them on first
                    return _LOOK_AGAIN
                if self._remaining <= 0:
                    raise TimeoutError(
                        f"transfer job {self.job_id} did not finish within the watch's timeout"
                    )
                if self._in_feeding_thread():
                    raise RuntimeError(
                        "a watch cannot wait in a receiver of its queue: the event thread "
                        "that would feed it is the one waiting; iterate it in another thread"
                    )
                wait = min(self._remaining, self._keepalive or math.inf)
                started = time.monotonic()
                feed.waiting = True
                try:
                    woken = feed.ready.wait(None if wait == math.inf else wait)
                finally:
                    feed.waiting = False
                    relays.extend(feed.take_relays())
                # A wait that timed out used up its time even where the clock stands still
                # (freezegun); an early wake-up used what the clock says.
                self._remaining -= wait if not woken else max(0.0, time.monotonic() - started)
                if not woken and self._keepalive is not None and self._remaining > 0:
                    self._changed_files = ()
                    return None
        # Sorted here, in the consumer's thread, only when snapshots were skipped.
        self._changed_files = tuple(sorted(changes)) if isinstance(changes, set) else changes
        return latest

    def close(self) -> None:
        """Stop watching; the iterator ends. Idempotent, and safe from any thread."""
        self._close(blocking=True)

    def _close(self, *, blocking: bool) -> None:
        self._ended = True
        self._feed.close()
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe(self._feed, blocking)

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
        # block on it. If the lock is busy, the event thread drops the closed feed with
        # the job's next event.
        if getattr(self, "_unsubscribe", None) is not None:
            self._close(blocking=False)
