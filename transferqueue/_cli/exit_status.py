"""How a command of the command line ends: its exit statuses, and the signals that end
it as Ctrl-C does (README.rst, "The command line", has the table)."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

EXIT_OK = 0
EXIT_FAILED = 1  # cp: a file failed or something was skipped; watch: the job did not complete
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3  # watch, cancel: no such job in the cluster
EXIT_UNAVAILABLE = 4  # jobs, watch, cancel: Redis cannot be used, or an owner did not answer
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a process Ctrl-C ended


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that it takes Ctrl-C's path (``cp``
    cancels its job, waits for the transfers and leaves no partial file; ``watch`` stops
    watching); the exit status is 128 + ``signum``, as for a process the signal killed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# Handled like Ctrl-C: a service manager's stop (SIGTERM), a closed terminal (SIGHUP).
_CANCELLING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _cancelling_signals() -> Iterator[None]:
    """Turn the first SIGTERM or SIGHUP into :class:`_Signalled` in the main thread, for
    the duration of the block; later ones are ignored, so that they cannot cut the
    clean-up short. The previous handlers come back afterwards. A signal that was
    ignored when the block began (``nohup`` ignores SIGHUP) stays ignored, and one whose
    handler was not set from Python (which could not be put back) is left alone; off the
    main thread, where Python cannot set handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise _Signalled(signum)

    previous = {}
    for number in _CANCELLING_SIGNALS:
        old = signal.getsignal(number)
        if old is not None and old is not signal.SIG_IGN:
            previous[number] = old
    try:
        for number in previous:
            signal.signal(number, handler)
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Ignore Ctrl-C, SIGTERM and SIGHUP for the duration of the block (a clean-up that
    must not be cut short), then put their handlers back; as in
    :func:`_cancelling_signals`, one whose handler was not set from Python is left alone.
    Main thread only."""
    previous = {}
    for number in (signal.SIGINT, *_CANCELLING_SIGNALS):
        old = signal.getsignal(number)
        if old is not None:
            previous[number] = old
    try:
        for number in previous:
            signal.signal(number, signal.SIG_IGN)
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _interrupted_status(interrupt: KeyboardInterrupt) -> int:
    """The exit status after Ctrl-C (130) or a cancelling signal (128 + its number)."""
    if isinstance(interrupt, _Signalled):
        return 128 + interrupt.signum
    return EXIT_INTERRUPTED
