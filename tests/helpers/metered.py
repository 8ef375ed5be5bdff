"""An executor wrapper that records what an executor draws from its queue's bandwidth cap
(``on_progress.throttle``), for the tests of the cap."""

from __future__ import annotations

import threading
from typing import Any, cast

import transferqueue as tq


class Metered:
    """Runs ``executor`` with an ``on_progress`` that records every ``throttle`` call
    (from any thread) and sets ``throttling`` at the first."""

    def __init__(self, executor: tq.Executor) -> None:
        self.executor = executor
        self.amounts: list[int] = []
        self.throttling = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        self.executor(file, cast(tq.ProgressCallback, _MeteredProgress(self, on_progress)))

    def record(self, amount: int) -> None:
        with self._lock:
            self.amounts.append(amount)
        self.throttling.set()


class _MeteredProgress:
    def __init__(self, meter: Metered, real: tq.ProgressCallback) -> None:
        self._meter = meter
        self._real = real

    def __call__(self, loaded: int) -> None:
        self._real(loaded)

    def throttle(self, amount: int) -> None:
        self._meter.record(amount)
        self._real.throttle(amount)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)
