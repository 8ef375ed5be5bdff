"""An SSE stream for Django's ASGI handler: the blocking stream read in a thread of its own.

Under ASGI, Django sends a ``StreamingHttpResponse`` chunk by chunk only if its content is
an asynchronous iterator; a synchronous one it reads to its end first (with a warning), so
a job's events would arrive together when the job ends, and the all-jobs stream never.
:class:`AsyncEventStream` is that asynchronous iterator around an :class:`EventStream`,
whose ``next()`` blocks until the next event or keep-alive.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from transferqueue.web._endpoints import EventStream


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
