"""The callables an executor left to run should its job be cancelled: see
:meth:`~transferqueue.ProgressCallback.call_on_cancel`."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from transferqueue._log import logger


class CancelHooks:
    """One job's cancel hooks, from registration until the job ends.

    A cancel (or a failure of the whole job, which stops it as a cancel does) runs them
    once, in the thread that ended the job, after it released the queue's lock: they are
    the application's code. A job that ends otherwise drops them unrun. A hook added
    once the job ended runs at once, in the thread adding it.

    Rule of ``_lock``: held only to read and change ``_hooks``, never while a hook runs.
    """

    __slots__ = ("_hooks", "_lock", "_numbers")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # None once the job ended: its hooks ran or were dropped.
        self._hooks: dict[int, Callable[[], object]] | None = {}
        self._numbers = itertools.count()

    def add(self, hook: Callable[[], object]) -> Callable[[], None]:
        """Run ``hook()`` once the job is cancelled; return what unregisters it."""
        with self._lock:
            hooks = self._hooks
            if hooks is not None:
                number = next(self._numbers)
                hooks[number] = hook
        if hooks is None:  # ended already: cancelled, or nothing could resume it now
            _run(hook)
            return _nothing
        return lambda: self._remove(number)

    def _remove(self, number: int) -> None:
        with self._lock:
            if self._hooks is not None:
                self._hooks.pop(number, None)

    def drop(self) -> None:
        """The job ended without a cancel: forget the hooks unrun."""
        self._take()

    def run(self) -> None:
        """The job was cancelled: run every hook (call without the queue's lock)."""
        for hook in self._take():
            _run(hook)

    def _take(self) -> list[Callable[[], object]]:
        with self._lock:
            hooks, self._hooks = self._hooks, None
        return [] if hooks is None else list(hooks.values())


def _run(hook: Callable[[], object]) -> None:
    """Run one hook; what it raises is logged, and the others still run."""
    try:
        hook()
    except Exception:  # noqa: BLE001 - an executor's cleanup must not fail the cancel
        logger.exception("a cancel hook (%r) failed", hook)


def _nothing() -> None:
    """What unregisters a hook that ran already."""
