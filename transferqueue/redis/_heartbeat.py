"""The thread that keeps a process alive in its cluster's eyes: one beat every
``interval`` seconds, from the first job it queues until its queue shuts down."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from transferqueue._log import log_in_queue_thread


class Heartbeat:
    """Calls ``beat()`` every ``interval`` seconds on a daemon thread of its own.

    :meth:`start` starts the thread (once; a process limit that refuses it is logged and
    the next start tries again); :meth:`beat_soon` ends the current wait at once;
    :meth:`stop` ends it for good. ``beat()`` handles its own Redis failures; anything
    else it raises is logged and the beats go on. A daemon thread: a process may exit
    without stopping it (its lease then runs out, and its jobs are failed as lost).
    """

    def __init__(self, interval: float, beat: Callable[[], None]) -> None:
        self._interval = interval
        self._beat = beat
        # Guards _thread; held for nothing else.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._soon = threading.Event()

    def start(self) -> None:
        """Make sure the thread runs."""
        with self._lock:
            if self._thread is not None or self._stopped.is_set():
                return
            thread = threading.Thread(target=self._run, name="transferqueue-heartbeat", daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:
                log_in_queue_thread(logging.ERROR, "no thread to send heartbeats: %s", exc)
                return
            self._thread = thread

    @property
    def started(self) -> bool:
        """True once a thread has been started (in this process)."""
        with self._lock:
            return self._thread is not None

    def beat_soon(self) -> None:
        """Have the thread beat now rather than at the end of its interval."""
        self._soon.set()

    def stop(self) -> None:
        """End the thread (waiting for its beat going on, if any) and start no other."""
        self._stopped.set()
        self._soon.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._beat()
            except Exception as exc:  # noqa: BLE001 - a bug: the beats must go on
                log_in_queue_thread(logging.ERROR, "a heartbeat failed", exc_info=exc)
            self._soon.wait(self._interval)
            self._soon.clear()
