"""The eager acquire of the state lock on the hot paths."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import WAIT
from transferqueue._core.eager_lock import EagerLock


def test_takes_and_releases_a_free_lock() -> None:
    lock = threading.Lock()
    with EagerLock(lock):
        assert lock.locked()
    assert not lock.locked()


def test_releases_the_lock_when_the_block_raises() -> None:
    lock = threading.Lock()
    with pytest.raises(ValueError, match="inside"), EagerLock(lock):
        raise ValueError("inside")
    assert not lock.locked()


def test_waits_for_a_holder_and_then_takes_the_lock() -> None:
    """Mutual exclusion: past its yields it blocks until the holder releases."""
    lock = threading.Lock()
    lock.acquire()
    entered = threading.Event()

    def take() -> None:
        with EagerLock(lock):
            entered.set()

    taker = threading.Thread(target=take)
    taker.start()
    try:
        # Absence is checked with a short bounded wait: the holder never lets go here.
        assert not entered.wait(0.1)
    finally:
        lock.release()
    assert entered.wait(WAIT)
    taker.join(WAIT)
    assert not lock.locked()
