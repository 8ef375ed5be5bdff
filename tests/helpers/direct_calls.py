"""Calling an executor directly, as the queue would: the file it is given, and a stand-in
for the progress callback that records what it reports and can cancel it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

import transferqueue as tq


class FakeProgress:
    """Stands in for the queue's ProgressCallback in direct executor calls: records the
    values, and raises TransferCancelled once ``cancel()`` was called."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.threads: set[str] = set()
        self.saw_cancel = threading.Event()  # set once the executor learnt of the cancel
        self._cancel = threading.Event()

    def __call__(self, loaded: int) -> None:
        self.threads.add(threading.current_thread().name)
        self.values.append(loaded)
        self.raise_if_cancelled()

    @property
    def cancelled(self) -> bool:
        return self._seen(self._cancel.is_set())

    def raise_if_cancelled(self) -> None:
        if self._seen(self._cancel.is_set()):
            raise tq.TransferCancelled("cancelled by the test")

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        return self._seen(self._cancel.wait(timeout))

    def _seen(self, cancelled: bool) -> bool:
        if cancelled:
            self.saw_cancel.set()
        return cancelled

    def cancel(self) -> None:
        self._cancel.set()

    def as_callback(self) -> tq.ProgressCallback:
        return cast(tq.ProgressCallback, self)


def transfer_file(source: str | Path, destination: str | Path, size: int) -> tq.TransferFile:
    """The record of one file, as an executor is given it."""
    return tq.TransferFile(source_path=str(source), destination_path=str(destination), size=size)
