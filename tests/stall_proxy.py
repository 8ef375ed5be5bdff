"""A TCP proxy on 127.0.0.1 that holds a reply back half-way, for tests that must catch a
process in the middle of a download (the moto server sends a body all at once).

Every connection is forwarded both ways to ``upstream``. Once one connection has carried
more than ``after`` bytes from the upstream, the proxy stops forwarding that direction,
sets ``reached`` and waits for ``release`` (bounded by ``WAIT``). ``stop()`` releases
everything, closes every socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from tests.conftest import WAIT

_CHUNK = 16 * 1024


class StallingProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream`` (``host``, ``port``); see the module."""

    def __init__(self, upstream: tuple[str, int], after: int) -> None:
        self.upstream = upstream
        self.after = after
        self.reached = threading.Event()
        self.release = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()  # guards _sockets and _threads
        self._sockets: list[socket.socket] = [self._listener]
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            try:
                server = socket.create_connection(self.upstream, timeout=WAIT)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            self._start(self._pump, client, server, False)
            self._start(self._pump, server, client, True)

    def _pump(self, source: socket.socket, target: socket.socket, from_upstream: bool) -> None:
        carried = 0
        stalled = False
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                target.sendall(data)
                carried += len(data)
                if from_upstream and carried > self.after and not stalled:
                    stalled = True
                    self.reached.set()
                    self.release.wait(WAIT)
        except OSError:
            pass  # a side went away (a killed client, stop())
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Release any held reply, close every socket and join every thread."""
        self.release.set()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(WAIT)
            assert not thread.is_alive(), "stalling proxy did not stop"


def stalling_proxy(upstream_url: str, after: int) -> Iterator[StallingProxy]:
    """A :class:`StallingProxy` in front of ``http://127.0.0.1:PORT`` for the duration of a
    fixture (use with ``yield from``)."""
    host, _, port = upstream_url.removeprefix("http://").partition(":")
    proxy = StallingProxy((host, int(port)), after)
    try:
        yield proxy
    finally:
        proxy.stop()
