"""A queue's bandwidth cap: a token bucket, counted in bytes, shared by every executor the
queue runs.

Executors draw from it through their ``on_progress`` (:meth:`ProgressCallback.throttle
<transferqueue.ProgressCallback.throttle>`): each asks for the bytes it is about to move,
or has just moved, and is held back until the cap allows them. The bucket is cumulative:
``_granted`` counts the bytes asked for, ``_allowed`` the bytes the cap has allowed so far
(it grows at the cap's rate, and stops growing a short burst ahead of what was asked for,
so that an idle spell does not save up a flood). A request is let through once
``_allowed`` reaches the total asked for up to and including it: requests go in the order
they came, and a change of the rate applies to everyone waiting, from the moment it is
made (what was allowed until then stays allowed).

A waiter waits on its job's stop ``Event`` (set when the job is cancelled or paused), in
slices of at most :data:`WAIT_SLICE`, and looks at the bucket again after each: a cancel
or a pause wakes it at once, a change of the cap is seen within a slice.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "WAIT_SLICE",
    "Pace",
    "TokenBucket",
    "check_bandwidth_limit",
    "parse_bandwidth",
    "step_size",
]

WAIT_SLICE = 0.2
"""The longest a waiter waits before it looks at the cap again (seconds): a change of the
cap reaches the executors held back by the old one within this."""

_BURST_SECONDS = 0.05
"""After an idle spell, this long at the cap's rate may go at once."""

_STEP_SECONDS = 0.05
"""Executors that choose their step size move this long at the cap's rate per step (see
:func:`step_size`), so that the rate measured over a second stays close to the cap."""

_MIN_STEP = 16 * 1024
"""The smallest step :func:`step_size` suggests: below it, system calls cost more than the
smoothness is worth."""


def check_bandwidth_limit(value: object, name: str = "bandwidth_limit") -> float | None:
    """Return a bandwidth cap in bytes per second (a finite number > 0), or None for no
    cap; ``TypeError`` / ``ValueError`` naming ``name`` and the problem otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number of bytes per second or None (no limit), "
            f"not {type(value).__name__}"
        )
    rate = float(value)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(
            f"{name} must be a finite number of bytes per second > 0 "
            f"(None for no limit), got {value!r}"
        )
    return rate


_RATE = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([KMGT]?)(I?B)?(?:/S)?")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bandwidth(text: str) -> float:
    """Read a bandwidth such as ``20M``, ``20MiB``, ``20MB/s``, ``1.5G`` or ``500000``
    (bytes per second) as bytes per second. Units are binary whatever their spelling, as
    rclone's ``--bwlimit`` and aws-cli's ``max_bandwidth`` read them: K, KB and KiB are
    1024 bytes, M 1024 K, G 1024 M, T 1024 G; case does not matter. ``ValueError`` naming
    the text for anything else, or for 0."""
    match = _RATE.fullmatch(text.strip().upper())
    if match is None:
        raise ValueError(
            f"not a bandwidth: {text!r} (a number of bytes per second, optionally with a "
            "unit: 20M, 20MiB, 512K, 1.5G)"
        )
    rate = float(match.group(1)) * _UNITS[match.group(2)]
    if match.group(3) == "IB" and not match.group(2):
        raise ValueError(f"not a bandwidth: {text!r} (iB needs a K, M, G or T before it)")
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"the bandwidth must be more than 0 and finite, got {text!r}")
    return rate


def step_size(chunk_size: int, rate: float | None) -> int:
    """The bytes an executor should move per step under the cap ``rate`` (None: no cap),
    when it would otherwise move ``chunk_size``: no more than the cap allows in
    :data:`_STEP_SECONDS`, nor less than 16 KiB (or ``chunk_size``, if smaller)."""
    if rate is None:
        return chunk_size
    return min(chunk_size, max(_MIN_STEP, int(rate * _STEP_SECONDS)))


class TokenBucket:
    """A thread-safe token bucket of bytes at ``rate`` bytes per second (None: unlimited);
    see the module. ``clock`` (seconds, monotonic) is injected by tests."""

    __slots__ = ("_allowed", "_clock", "_granted", "_lock", "_never", "_rate", "_stamp")

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Guards _rate, _granted, _allowed and _stamp; held for arithmetic only, never
        # while a caller waits.
        self._lock = threading.Lock()
        self._rate = check_bandwidth_limit(rate)
        self._granted = 0.0  # bytes asked for, in all
        self._allowed = self._burst()  # bytes the cap allowed, in all: it starts full
        self._stamp = clock()  # when _allowed was last brought up to date
        self._never = threading.Event()  # waited on by a caller without a stop event

    @property
    def rate(self) -> float | None:
        """The cap in bytes per second, None when there is none."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the cap (validated as :func:`check_bandwidth_limit`); None lifts it.

        Bytes already allowed stay allowed; those still waiting are allowed at the new
        rate from now on. A bucket that had no cap starts full.
        """
        new = check_bandwidth_limit(rate)
        with self._lock:
            previous = self._rate
            if previous is not None:
                self._refill_locked()  # what the old rate allowed until now stays allowed
            self._rate = new
            if previous is None and new is not None:
                self._allowed = max(self._allowed, self._granted + self._burst())
                self._stamp = self._clock()

    def reserve(self, amount: int) -> float | None:
        """Ask for ``amount`` bytes; return the ticket to wait for with :meth:`delay`, or
        None when there is no cap (nothing to wait for)."""
        with self._lock:
            if self._rate is None:
                return None
            self._refill_locked()
            self._granted += amount
            return self._granted

    def delay(self, ticket: float) -> float:
        """Seconds until the bytes of ``ticket`` are allowed at the present rate; 0 once
        they are (or once there is no cap)."""
        with self._lock:
            rate = self._rate
            if rate is None:
                return 0.0
            self._refill_locked()
            short = ticket - self._allowed
        return short / rate if short > 0 else 0.0

    def refund(self, amount: int) -> None:
        """Give back ``amount`` bytes reserved but never moved (a wait stopped early), so
        that those waiting behind them need not wait for them.

        Never beyond the burst ahead of what is granted: bytes the cap had allowed already
        while the wait went on were spent by the wait, and giving them back as well would
        let the next requests through at once, far above the cap."""
        with self._lock:
            self._allowed = min(self._allowed + amount, self._granted + self._burst())

    def take(self, amount: int, stop: threading.Event | None = None) -> bool:
        """Block until ``amount`` bytes may move; True then, False as soon as
        ``stop`` is set (the bytes are given back). Returns at once without a cap."""
        # Read without the lock: a None that is stale by a moment only lets bytes pass.
        if amount <= 0 or self._rate is None:
            return True
        ticket = self.reserve(amount)
        if ticket is None:
            return True
        event = self._never if stop is None else stop
        while True:
            wait = self.delay(ticket)
            if wait <= 0:
                return True
            if event.wait(min(wait, WAIT_SLICE)):
                self.refund(amount)
                return False

    def _burst(self) -> float:
        return 0.0 if self._rate is None else self._rate * _BURST_SECONDS

    def _refill_locked(self) -> None:
        """Bring ``_allowed`` up to now (the lock held, a cap set)."""
        assert self._rate is not None
        now = self._clock()
        elapsed = now - self._stamp
        self._stamp = now
        if elapsed > 0:
            ceiling = self._granted + self._burst()
            if self._allowed < ceiling:
                self._allowed = min(self._allowed + elapsed * self._rate, ceiling)


class Pace:
    """The steps of an executor's copy loop under its queue's cap: how many bytes the next
    step should move (:meth:`step`), and the wait for the bytes a step moved
    (:meth:`moved`).

    ``on_progress`` is the executor's: the queue's :class:`~transferqueue.ProgressCallback`
    carries the cap; any other callable (an executor called directly) has none, and then
    every step is ``chunk_size`` and nothing waits.
    """

    __slots__ = ("_chunk_size", "_on_progress", "_throttle")

    def __init__(self, on_progress: Any, chunk_size: int) -> None:
        self._on_progress = on_progress
        self._chunk_size = chunk_size
        self._throttle: Callable[[int], None] | None = getattr(on_progress, "throttle", None)

    def step(self) -> int:
        """The bytes the next step should move: ``chunk_size``, or less under a cap (read
        each time: the cap may change while a file is copied)."""
        if self._throttle is None:
            return self._chunk_size
        return step_size(self._chunk_size, self._on_progress.bandwidth_limit)

    def moved(self, count: int) -> None:
        """Wait until the cap allows the ``count`` bytes a step moved (raises
        ``TransferCancelled`` when the job is cancelled meanwhile, ``TransferPaused`` when it
        is paused)."""
        if self._throttle is not None:
            self._throttle(count)
