"""Consuming a JobWatch from a test: its changed files read afresh, bounded iteration, and a
check that the consumer sees freezegun's clock."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from tests.helpers.bounds import WAIT
from transferqueue import JobWatch


def changes_of(watch: JobWatch[Any]) -> tuple[int, ...] | None:
    """``watch.changed_files``, read afresh (mypy would keep an earlier check's answer)."""
    return watch.changed_files


@contextlib.contextmanager
def closed_after(watch: JobWatch[Any], seconds: float) -> Iterator[None]:
    """Close ``watch`` from a timer thread if the block takes ``seconds``: a consumer
    that would block forever gets StopIteration instead, and the test fails."""
    timer = threading.Timer(seconds, watch.close)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


FROZEN = "2030-01-01T00:00:00Z"


def assert_clock_frozen() -> None:
    """The caller sees freezegun's clock (not the real one it gives near ``threading``)."""
    assert time.time() == datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    assert time.monotonic() == time.monotonic()


def drain_until_timeout(watch: JobWatch[Any], limit: int = 10) -> list[object]:
    """Iterate ``watch``: its items, then "timeout" if it raised TimeoutError; stop at
    ``limit`` items (keep-alives that never end would mean the timeout was reset)."""
    items: list[object] = []
    with closed_after(watch, WAIT):
        try:
            for item in watch:
                items.append(item)
                if len(items) >= limit:
                    return items
        except TimeoutError:
            items.append("timeout")
    return items
