"""SSE streams for Django's ASGI handler: driven by the event loop, or read in a thread.

Under ASGI, Django sends a ``StreamingHttpResponse`` chunk by chunk only if its content is
an asynchronous iterator; a synchronous one it reads to its end first (with a warning), so
a job's events would arrive together when the job ends, and the all-jobs stream never.
:func:`async_event_stream` makes that asynchronous iterator around an
:class:`EventStream`:

- :class:`LoopEventStream` for a stream that can be polled (a job of this process's
  queue): no thread of its own. The queue's event thread tells the loop's
  :class:`LoopHub` that the stream's watch took a snapshot; the hub wakes the stream's
  task, which polls the chunk then due and sends it. Many streams of one job cost a task
  wake-up and a socket write each per event, and the loop one ``call_soon_threadsafe``.
- :class:`AsyncEventStream` for the others (a job of another process read from Redis, the
  all-jobs stream), whose ``next()`` blocks: a thread per stream.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from transferqueue.web._endpoints import KEEPALIVE, EventStream


def async_event_stream(stream: EventStream) -> AsyncIterator[str] | AsyncIterator[bytes]:
    """``stream``'s chunks for ``async for``: driven by the running event loop where the
    stream can be polled, else read in a thread of its own."""
    if stream.can_poll:
        return LoopEventStream(stream)
    return AsyncEventStream(stream)


class LoopHub:
    """The wake-ups of one event loop's streams, from the queue's event thread.

    An event of a job with 200 streams on this loop calls :meth:`notify` 200 times in
    the event thread (a listener per stream); the first schedules one
    :meth:`_dispatch` on the loop (``call_soon_threadsafe``, a write to the loop's self-
    pipe), the others only add their stream to the due set: one cross-thread wake-up per
    loop per event, not one per stream. :meth:`_dispatch` then sets each due stream's
    ``asyncio.Event`` in the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak where it can be: _HUBS keeps the hub as long as the loop lives, no longer.
        self._loop: Callable[[], asyncio.AbstractEventLoop | None]
        try:
            self._loop = weakref.ref(loop)
        except TypeError:
            self._loop = lambda: loop
        # _lock guards _due and _scheduled: notify() (the event thread) adds, _dispatch
        # (the loop) takes. Held only to touch them; nothing is called under it.
        self._lock = threading.Lock()
        self._due: set[asyncio.Event] = set()
        self._scheduled = False  # a _dispatch is scheduled and has not taken _due yet
        self.wakeups = 0  # call_soon_threadsafe calls made (for tests and benchmarks)

    @classmethod
    def of_running_loop(cls) -> LoopHub:
        """The hub of the running loop, made at its first stream."""
        loop = asyncio.get_running_loop()
        try:
            hub = _HUBS.get(loop)
            if hub is None:
                hub = _HUBS[loop] = cls(loop)
        except TypeError:  # a loop that cannot be referred to weakly: kept for good
            hub = _LASTING_HUBS.get(loop)
            if hub is None:
                hub = _LASTING_HUBS[loop] = cls(loop)
        return hub

    def notify(self, ready: asyncio.Event) -> None:
        """Have ``ready`` set in the loop soon; from any thread, never blocking."""
        with self._lock:
            self._due.add(ready)
            if self._scheduled:
                return
            self._scheduled = True
            self.wakeups += 1
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._dispatch)
        except RuntimeError:  # the loop is closed: its streams are gone with it
            with self._lock:
                self._due.clear()
                self._scheduled = False

    def _dispatch(self) -> None:
        with self._lock:
            due, self._due = self._due, set()
            self._scheduled = False
        for ready in due:
            ready.set()


_KEEPALIVE_BYTES = KEEPALIVE.encode()

# The hub of each loop, forgotten with it. Touched only from the loops' own threads.
_HUBS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopHub] = weakref.WeakKeyDictionary()
_LASTING_HUBS: dict[asyncio.AbstractEventLoop, LoopHub] = {}  # loops without weak references


class LoopEventStream(AsyncIterator[bytes]):
    """``stream``'s chunks for ``async for``, polled in the event loop: no thread.

    Its first ``__anext__`` (in the loop) makes the stream's listener wake this stream's
    ``asyncio.Event`` through the loop's :class:`LoopHub`. Each ``__anext__`` polls the
    stream; when nothing is due it waits for that event. A keep-alive comment goes out
    once ``stream.keepalive`` seconds passed without a chunk: one timer of the loop per
    stream, armed when it waits and none is, and left to run out (not one armed and
    cancelled per chunk, which cost more than the rest of the wait). Chunks are bytes,
    encoded once here, which Django sends as they are.

    :meth:`close` (Django calls it when the response is done with, client gone or not,
    from a thread of its own) closes the stream at once, which unsubscribes its watch: a
    poll never runs beside it, being synchronous code of the loop that a closing waits
    for or follows.
    """

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream
        # Made in the loop, at the first chunk; then only set by the hub and the timer.
        self._ready: asyncio.Event | None = None
        self._hub: LoopHub | None = None
        self._closed = False  # set once, by close(), in whatever thread
        # Only touched in the loop: when the last chunk went out (loop time), and the
        # keep-alive timer if one is armed.
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def __aiter__(self) -> LoopEventStream:
        return self

    async def __anext__(self) -> bytes:
        loop = asyncio.get_running_loop()
        ready = self._ready
        if ready is None:
            ready = self._ready = asyncio.Event()
            hub = self._hub = LoopHub.of_running_loop()
            # Strong references from the watch's feed to the event and hub only: the
            # feed drops its listener when closed.
            self._stream.listen(lambda: hub.notify(ready))
            self._since = loop.time()
        keepalive = self._stream.keepalive
        while True:
            if self._closed:
                self._disarm()
                raise StopAsyncIteration
            ready.clear()  # before the poll: a snapshot taken after it sets it again
            try:
                chunk = self._stream.poll()
            except StopIteration:
                self.close()
                self._disarm()
                raise StopAsyncIteration from None
            if chunk is not None:
                self._since = loop.time()
                return chunk.encode()
            if keepalive is not None:
                now = loop.time()
                if now >= self._since + keepalive:
                    self._since = now
                    return _KEEPALIVE_BYTES
                if self._timer is None:
                    self._timer = loop.call_later(self._since + keepalive - now, self._ring)
            await ready.wait()

    def _ring(self) -> None:
        # The keep-alive timer ran out: __anext__ sees whether one is due (a chunk sent
        # since moved the time on; it then arms a timer for the rest).
        self._timer = None
        if self._ready is not None:
            self._ready.set()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Close the stream, which unsubscribes it at once; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        ready, hub = self._ready, self._hub
        if ready is not None and hub is not None:
            # A task waiting in __anext__, if any, is woken in its loop to see it closed
            # (Django cancels it before closing; this covers any other closer).
            hub.notify(ready)

    async def aclose(self) -> None:
        """:meth:`close`, for ``contextlib.aclosing`` and async generator protocols."""
        self.close()


class AsyncEventStream(AsyncIterator[str]):
    """``stream``'s chunks for ``async for``, each ``next()`` run in the stream's own thread.

    One thread per open stream, as a threaded WSGI server gives each response: the event
    loop's default executor has a handful of threads (``min(32, CPUs + 4)``), which a few
    quiet streams, each blocked up to a keep-alive interval, would take from every other
    ``sync_to_async`` call of the site. The stream is only ever touched from that thread,
    ``close()`` included (:meth:`EventStream.close` must run where the stream is iterated).

    :meth:`close` is what Django calls when the response is done with, the client gone
    or not: the stream is closed in its thread once a ``next()`` running there returns
    (at the latest after one keep-alive interval), which ends its subscription, and the
    thread then ends.
    """

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transferqueue-sse")
        # _lock guards _closed and the submissions to _thread: close() may come from
        # Django's closing thread while the loop asks for a chunk. Nothing waits under it.
        self._lock = threading.Lock()
        self._closed = False

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> str:
        with self._lock:
            if self._closed:
                raise StopAsyncIteration
            # next() with a default: a StopIteration cannot travel through a future.
            taken = self._thread.submit(next, self._stream, None)
        chunk = await asyncio.wrap_future(taken)
        if chunk is None:
            self.close()
            raise StopAsyncIteration
        return chunk

    def close(self) -> None:
        """Close the stream in its thread after any ``next()`` running there; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._thread.submit(self._stream.close)
            self._thread.shutdown(wait=False)

    async def aclose(self) -> None:
        """:meth:`close`, for ``contextlib.aclosing`` and async generator protocols."""
        self.close()
