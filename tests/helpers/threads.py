"""Threads in the tests: the ones transferqueue started, and a call run in a thread of its
own, bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.helpers.bounds import WAIT


def queue_threads() -> set[threading.Thread]:
    """The live threads started by transferqueue (worker and event threads)."""
    return {t for t in threading.enumerate() if t.name.startswith("transferqueue-")}


def in_thread(target: Callable[[], object]) -> list[object]:
    """Run ``target`` in a thread, bounded by WAIT; return [its result or exception].

    Not for code that must see freezegun's clock: freezegun gives real time to callers
    within a few frames of ``threading``.
    """
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "still blocked after WAIT seconds"
    return outcome
