"""The thread that keeps a process alive in its cluster's eyes: one beat every
``interval`` seconds, from the first job it queues until its queue shuts down."""

from __future__ import annotations

import logging
from collections.abc import Callable

from transferqueue._log import log_in_queue_thread

from ._daemon import DaemonLoop


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds on a daemon thread of its own.

    :meth:`start` starts the thread (once; a process limit that refuses it is logged and
    the next start tries again); :meth:`beat_soon` ends the current wait at once;
    :meth:`stop` ends it for good. ``beat()`` handles its own Redis failures; anything
    else it raises is logged and the beats go on. A daemon thread: a process may exit
    without stopping it (its lease then runs out, and its jobs are failed as lost).
    """

    def __init__(self, interval: float, beat: Callable[[], None]) -> None:
        self._loop = DaemonLoop(
            "transferqueue-heartbeat", beat, "a heartbeat failed", interval=interval, at_once=True
        )

    def start(self) -> None:
        """Make sure the thread runs."""
        try:
            self._loop.wake()
        except RuntimeError as exc:
            log_in_queue_thread(logging.ERROR, "no thread to send heartbeats: %s", exc)

    @property
    def started(self) -> bool:
        """True once a thread has been started (in this process)."""
        return self._loop.started

    def beat_soon(self) -> None:
        """Have the thread beat now rather than at the end of its interval."""
        self._loop.soon()

    def stop(self) -> None:
        """End the thread (waiting for its beat going on, if any) and start no other."""
        self._loop.stop()
