"""Unit tests of the event-loop hub of Django's ASGI streams: the wake-ups of a loop's
streams from another thread, coalesced into one ``call_soon_threadsafe``."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

from tests.helpers.bounds import WAIT
from transferqueue.web.django import _async_stream
from transferqueue.web.django._async_stream import LoopHub


def test_many_notifies_cost_the_loop_one_wakeup() -> None:
    """200 notifies from another thread before the loop runs again schedule one
    dispatch, which sets every notified event (and only those)."""

    async def main() -> tuple[int, list[bool]]:
        hub = LoopHub.of_running_loop()
        assert LoopHub.of_running_loop() is hub  # one per loop
        events = [asyncio.Event() for _ in range(201)]
        notifier = threading.Thread(target=_notify_all, args=(hub, events[:200]))
        notifier.start()
        await asyncio.to_thread(notifier.join, WAIT)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events[:200])), WAIT)
        return hub.wakeups, [e.is_set() for e in events]

    wakeups, set_ = asyncio.run(main())
    assert set_ == [True] * 200 + [False]
    # The loop may have dispatched while the thread was notifying (to_thread's own
    # wake-ups run the loop): still far fewer than one per notify.
    assert 1 <= wakeups < 200


def test_notifies_held_back_coalesce_exactly() -> None:
    """While the loop is busy (its thread in a callback), notifies from another thread
    all join the one dispatch scheduled by the first."""

    async def main() -> int:
        hub = LoopHub.of_running_loop()
        events = [asyncio.Event() for _ in range(50)]
        # Synchronous, in the loop's thread: no dispatch can run until it returns.
        notifier = threading.Thread(target=_notify_all, args=(hub, events))
        notifier.start()
        notifier.join(WAIT)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), WAIT)
        return hub.wakeups

    assert asyncio.run(main()) == 1


def test_hubs_are_per_loop_and_a_closed_loop_is_ignored() -> None:
    """Each loop has its own hub; a notify once its loop is closed does nothing (its
    streams are gone with it) and raises nothing, and the next one is harmless too."""

    async def hub_of_loop() -> tuple[LoopHub, asyncio.Event]:
        return LoopHub.of_running_loop(), asyncio.Event()

    first, event = asyncio.run(hub_of_loop())
    second, _ = asyncio.run(hub_of_loop())
    assert first is not second
    first.notify(event)
    first.notify(event)
    assert not event.is_set()


def test_a_loop_gone_takes_its_hub_with_it() -> None:
    """The hub refers to its loop weakly: a loop collected leaves no hub behind."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_make_hub())
    finally:
        loop.close()
    assert loop in _async_stream._HUBS
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None, "the hub kept its loop alive"


async def _make_hub() -> None:
    LoopHub.of_running_loop()


def _notify_all(hub: LoopHub, events: list[asyncio.Event]) -> None:
    for event in events:
        hub.notify(event)
