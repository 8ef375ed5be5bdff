"""The thread that renews a semaphore's leases while it holds slots."""

from __future__ import annotations

import threading
from collections.abc import Callable

from transferqueue._log import logger


class LeaseKeeper:
    """Calls ``renew()`` every ``interval`` seconds on a daemon thread of its own, for as
    long as ``has_work()`` is true.

    :meth:`wake` starts the thread when there is none; the thread ends by itself once
    ``has_work()`` is false, so that a semaphore holding nothing keeps no thread. It is a
    daemon thread: a process may exit while it holds slots (they then run out within one
    lease). :meth:`stop` ends it for good.
    """

    def __init__(
        self, name: str, interval: float, renew: Callable[[], None], has_work: Callable[[], bool]
    ) -> None:
        self._name = name
        self._interval = interval
        self._renew = renew
        self._has_work = has_work
        # Guards _thread. has_work() is asked under it, so that a thread deciding to end
        # and a wake() for new work cannot miss each other; nothing else runs under it.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def wake(self) -> None:
        """Make sure a thread renews the leases (call it after adding work)."""
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the thread (waiting for it, unless called from it) and start no other."""
        self._stopped.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            with self._lock:
                if not self._has_work():
                    self._thread = None
                    return
            try:
                self._renew()
            except Exception:  # noqa: BLE001 - a bug: the leases must still be renewed
                # Not a Redis fault (renew() handles those): keep renewing rather than let
                # every lease run out.
                logger.exception("renewing the leases of %s failed", self._name)
        with self._lock:
            self._thread = None
