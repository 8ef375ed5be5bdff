"""The one shape of this package's background threads (the heartbeat, the cancel
listener, a semaphore's lease keeper): a daemon thread that runs one step after another
until stopped, or until it has no more work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from transferqueue._log import log_in_queue_thread


class DaemonLoop:
    """Calls ``step()`` over and over on a daemon thread named ``name``.

    With ``interval``, the thread waits that many seconds before each step (but the
    first, when ``at_once``); :meth:`soon` ends the current wait. With ``has_work``, the
    thread ends by itself once ``has_work()`` is false before a step, and :meth:`wake`
    starts a new one: call it after adding work. ``has_work()`` is never asked under this
    object's lock (it may take the caller's); a thread that found no work ends only if no
    :meth:`wake` came since it asked, so that the two cannot miss each other. Without
    ``has_work`` the thread runs until :meth:`stop`.

    What ``step()`` raises is logged as ``failure`` (an ERROR with the traceback) and the
    steps go on: a bug in one must not end the thread's work for good. What
    ``has_work()`` raises is logged so too, and ends the thread as if it had no work: the
    next :meth:`wake` starts another. A daemon thread: a process may exit without
    stopping it.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        failure: str,
        *,
        interval: float | None = None,
        at_once: bool = False,
        has_work: Callable[[], bool] | None = None,
    ) -> None:
        self._name = name
        self._step = step
        self._failure = failure
        self._interval = interval
        self._at_once = at_once
        self._has_work = has_work
        # Guards _thread, _started and _woken; held for nothing else (no call out).
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = False  # a thread was started once
        self._woken = False  # a wake() came since the thread last asked has_work()
        self._stopped = threading.Event()
        self._soon = threading.Event()

    @property
    def started(self) -> bool:
        """True once a thread has been started."""
        with self._lock:
            return self._started

    def wake(self) -> None:
        """Make sure a thread runs, unless stopped. Raises ``RuntimeError`` when no
        thread can start (a process limit, or the interpreter exiting): the next wake
        tries again."""
        with self._lock:
            self._woken = True
            if self._thread is not None or self._stopped.is_set():
                return
            thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            thread.start()
            self._thread, self._started = thread, True

    def soon(self) -> None:
        """End the thread's current wait (or its next one): its next step comes now."""
        self._soon.set()

    def rest(self, seconds: float) -> None:
        """Wait up to ``seconds``, less once :meth:`stop` or :meth:`soon` was called (for
        a step that waits before trying again).

        Only a wait that a :meth:`soon` ended takes it back: one that comes as the wait
        runs out is kept for the next wait, which then ends at once.
        """
        if self._soon.wait(seconds):
            self._soon.clear()

    def stop(self, interrupt: Callable[[], None] | None = None) -> None:
        """End the thread and start no other: call ``interrupt()`` to end a step that
        blocks (if a thread runs), then wait for the thread, unless called from it."""
        self._stopped.set()
        self._soon.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            if interrupt is not None:
                interrupt()
            thread.join()

    def _run(self) -> None:
        try:
            self._steps()
        finally:
            # However the thread ends, the next wake() must be free to start another.
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _steps(self) -> None:
        wait = not self._at_once
        while not self._stopped.is_set():
            if wait and self._interval is not None:
                self.rest(self._interval)
                if self._stopped.is_set():
                    return
            wait = True
            if self._has_work is not None:
                with self._lock:
                    self._woken = False
                try:
                    has_work = self._has_work()
                except Exception as exc:  # noqa: BLE001 - a bug: logged, the next wake() retries
                    log_in_queue_thread(logging.ERROR, self._failure, exc_info=exc)
                    return
                if not has_work:
                    with self._lock:
                        if not self._woken:
                            self._thread = None
                            return
                    wait = False  # woken meanwhile: ask again at once
                    continue
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - a bug: the steps must go on
                log_in_queue_thread(logging.ERROR, self._failure, exc_info=exc)
