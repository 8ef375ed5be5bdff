"""A sketch, for measurement only, of job streams on one event loop (an ASGI app under
uvicorn) rather than a thread per stream, which ``python -m benchmarks.web`` measures
beside the library's streams (issue 12). It is not part of the library, and not complete:
it serves only the job stream, to clients that keep up (see :class:`_Hub`). The library's
own event-loop streams are Django's under ASGI (``transferqueue/web/django/_async_stream.py``,
the "Django ASGI" row); this sketch stays as the lower bound of what such a design costs
when it writes one shared message per stream with nothing else per chunk.

The design measured: one :class:`~transferqueue.JobWatch` per job, in one thread (not one
per client), turns each snapshot into its message once (the code of
:class:`~transferqueue.web.TransferEndpoints`), and hands it to the loop with one
``call_soon_threadsafe``; the loop then writes it to every stream of the job. A client
costs a task's wake-up and a socket write per message, with no thread and no GIL hand-off
of its own.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import transferqueue as tq
from transferqueue.web import TransferEndpoints

from .web import FILES, STEPS, _cpu, _files, _no_copy, _Stepper

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class _Hub:
    """The streams of one job on one loop, fed by one watch in one thread.

    Each stream has the latest message not yet written to it, and an ``asyncio.Event``.
    A client slower than the events would be sent the latest message only, which, being
    the changes since the snapshot before, would miss the files of those it skipped: the
    real thing would keep, per stream, the changes it is due (as a watch's feed does) and
    encode the message for them (cached, as now, for all streams at the same point).
    """

    def __init__(self, endpoints: TransferEndpoints[object], job_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.streams: dict[asyncio.Event, list[bytes]] = {}
        self.watch = endpoints.queue.watch(job_id)
        self.whole = endpoints._message(next(self.watch), event_id=self.watch.event_id)
        self.endpoints = endpoints
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        for job in self.watch:
            assert job is not None
            message = self.endpoints._message(
                job, changes=self.watch.changed_files, event_id=self.watch.event_id
            ).encode()
            if job.status.is_terminal:
                message += b'id: end\nevent: end\ndata: {"status":"completed"}\n\n'
            self.loop.call_soon_threadsafe(self._broadcast, message, job.status.is_terminal)

    def _broadcast(self, message: bytes, last: bool) -> None:
        for ready, due in self.streams.items():
            due.append(message)
            if last:
                due.append(b"")
            ready.set()


async def _json(send: Send, body: Any) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def bench_asgi() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The server's app (``uvicorn --factory benchmarks.web_asgi:bench_asgi``): the routes
    of :func:`benchmarks.web.bench_app`, the job stream served by :class:`_Hub`."""
    queue = tq.TransferQueue(4)
    stepper = _Stepper()
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=60)
    hubs: dict[str, _Hub] = {}

    def start() -> str:
        job_id = queue.queue_job("local-upload", _files(FILES, size=STEPS), stepper)
        with queue.watch(job_id) as watch:  # until every other file is done
            next(job for job in watch if job.progress.completed_files == FILES - 1)
        queue.wait(queue.queue_job("local-upload", _files(1), _no_copy))
        return job_id

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/bench/job":
            job_id = await asyncio.get_running_loop().run_in_executor(None, start)
            hubs[job_id] = _Hub(endpoints, job_id)
            await _json(send, {"id": job_id})
        elif path == "/bench/go":
            stepper.go()
            await _json(send, _cpu())
        elif path == "/bench/state":
            await _json(send, {"sent": stepper.sent} | _cpu())
        else:  # /transfers/<id>/events
            hub = hubs[path.split("/")[2]]
            ready = asyncio.Event()
            due: list[bytes] = []
            hub.streams[ready] = due
            try:
                await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
                first = hub.whole.encode()
                await send({"type": "http.response.body", "body": first, "more_body": True})
                while True:
                    await ready.wait()
                    ready.clear()
                    messages, due[:] = list(due), []
                    for message in messages:
                        body = {"type": "http.response.body", "body": message}
                        await send(body | {"more_body": bool(message)})
                        if not message:
                            return
            finally:
                del hub.streams[ready]

    return app
