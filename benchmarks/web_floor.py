"""The floor of each way of serving many streams of one job, without a server or any
work of the streams (docs/performance.rst, "Many viewers of one big job").

Run ``python -m benchmarks.web_floor`` (Linux: the reader is a forked process). ``STREAMS``
streams each get an event every ``PERIOD`` seconds and write ``MESSAGE`` bytes to a socket
pair whose other end a separate process reads, three ways, interleaved for ``ROUNDS``:

* ``all at once``: a thread per stream, each waiting on a condition of its own, all
  notified by the event's thread (as the watches were woken before);
* ``in turn``: the same threads, the event's thread waking the first one waiting, each
  woken one waking the next before it writes (as ``wake_in_turn`` does);
* ``one event loop``: a task per stream on one asyncio loop, the event handed to the loop
  with one ``call_soon_threadsafe`` and written through each stream's transport.

It prints this process's CPU seconds per second (and of them in the kernel), medians.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable

STREAMS = 200
EVENTS = 60
PERIOD = 0.05
MESSAGE = b"x" * 560
ROUNDS = 3


def _reader(pairs: list[tuple[socket.socket, socket.socket]]) -> int:
    """Fork a process that reads the far ends until they close; its pid."""
    pid = os.fork()
    if pid:
        for _, far in pairs:
            far.close()
        return pid
    try:  # pragma: no cover - the child
        for near, _ in pairs:
            near.close()
        selector = selectors.DefaultSelector()
        for _, far in pairs:
            selector.register(far, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                if not key.fileobj.recv(65536):  # type: ignore[union-attr]
                    selector.unregister(key.fileobj)
    finally:
        os._exit(0)


def _measure(
    run_events: Callable[[Callable[[int], None]], None], post: Callable[[int], None]
) -> tuple[float, float]:
    """CPU seconds per second (and in the kernel) while ``EVENTS`` events are posted."""
    before, started = os.times(), time.monotonic()
    run_events(post)
    after, ended = os.times(), time.monotonic()
    seconds = ended - started
    user, system = after.user - before.user, after.system - before.system
    return (user + system) / seconds, system / seconds


def _post_events(post: Callable[[int], None]) -> None:
    for event in range(1, EVENTS + 1):
        post(event)
        time.sleep(PERIOD)


def threads(in_turn: bool) -> tuple[float, float]:
    """A thread per stream, woken all at once or in turn."""
    pairs = [socket.socketpair() for _ in range(STREAMS)]
    conditions = [threading.Condition() for _ in range(STREAMS)]
    due = [0] * STREAMS  # the event each stream is to write; guarded by its condition
    waiting = [False] * STREAMS
    latest = [0]

    def wake_from(index: int) -> None:
        for at in range(index, STREAMS):
            with conditions[at]:
                due[at] = latest[0]
                if waiting[at]:
                    conditions[at].notify()
                    return

    def stream(index: int) -> None:
        seen = 0
        near = pairs[index][0]
        while True:
            with conditions[index]:
                while due[index] == seen:
                    waiting[index] = True
                    conditions[index].wait()
                    waiting[index] = False
                seen = due[index]
            if in_turn:
                wake_from(index + 1)
            if seen < 0:
                near.close()
                return
            near.sendall(MESSAGE)

    def post(event: int) -> None:
        latest[0] = event
        if in_turn:
            wake_from(0)
            return
        for index, condition in enumerate(conditions):
            with condition:
                due[index] = event
                condition.notify()

    workers = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
    for worker in workers:
        worker.start()
    pid = _reader(pairs)
    time.sleep(0.3)  # every thread waiting
    figures = _measure(_post_events, post)
    post(-1)
    for worker in workers:
        worker.join()
    os.waitpid(pid, 0)
    return figures


def event_loop() -> tuple[float, float]:
    """A task per stream on one asyncio loop."""
    pairs = [socket.socketpair() for _ in range(STREAMS)]
    pid = _reader(pairs)

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        ready = [asyncio.Event() for _ in range(STREAMS)]
        latest = [0]

        async def stream(index: int) -> None:
            _, writer = await asyncio.open_connection(sock=pairs[index][0])
            while True:
                await ready[index].wait()
                ready[index].clear()
                if latest[0] < 0:
                    writer.close()
                    return
                writer.write(MESSAGE)
                await writer.drain()

        def fan_out(event: int) -> None:
            latest[0] = event
            for flag in ready:
                flag.set()

        tasks = [asyncio.create_task(stream(i)) for i in range(STREAMS)]
        await asyncio.sleep(0.3)

        def post(event: int) -> None:
            loop.call_soon_threadsafe(fan_out, event)

        figures = await asyncio.to_thread(_measure, _post_events, post)
        post(-1)
        await asyncio.gather(*tasks)
        return figures

    figures = asyncio.run(main())
    os.waitpid(pid, 0)
    return figures


def main() -> int:
    """Print each way's CPU per second, medians of interleaved rounds."""
    ways: dict[str, Callable[[], tuple[float, float]]] = {
        "threads, all at once": lambda: threads(in_turn=False),
        "threads, in turn": lambda: threads(in_turn=True),
        "one event loop": event_loop,
    }
    runs: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    for _ in range(ROUNDS):
        for way, run in ways.items():
            runs[way].append(run())
    print(
        f"{STREAMS} streams, {EVENTS} events every {PERIOD * 1000:.0f} ms, "
        f"{len(MESSAGE)} B each, medians of {ROUNDS} (interleaved):"
    )
    for way, figures in runs.items():
        cpu = statistics.median(f[0] for f in figures)
        system = statistics.median(f[1] for f in figures)
        print(f"  {way:<22} CPU {cpu:.3f} s/s (kernel {system:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
