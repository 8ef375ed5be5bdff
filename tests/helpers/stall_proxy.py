"""TCP proxies on 127.0.0.1 that hold a reply back half-way, for tests that must catch a
process in the middle of a download (the moto server sends a body all at once).

Every connection is forwarded both ways to ``upstream``. Once one connection has carried
more than ``after`` bytes from the upstream, the proxy stops forwarding that direction,
sets ``reached`` and waits for ``release`` (bounded by ``WAIT``). ``stop()`` releases
everything, closes every socket and joins every thread. :class:`ReplyDroppingProxy`
instead loses the reply to one request (the server did it, the client retries).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from tests.helpers.bounds import WAIT

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


class ReplyDroppingProxy(StallingProxy):
    """Forwards like :class:`StallingProxy` (without holding anything back), except that
    the final reply to the first request whose method is ``method`` is read from the
    upstream and thrown away, and that connection closed: the server did the request,
    the client never hears of it (and retries). ``dropped`` is set once that happened.
    Interim replies (``100 Continue``) still pass.
    """

    def __init__(self, upstream: tuple[str, int], method: str) -> None:
        self._method = method.encode() + b" "
        self._armed = True  # no request dropped yet; guarded by _lock
        self._dropping: set[socket.socket] = set()  # clients whose reply goes; under _lock
        self.dropped = threading.Event()
        super().__init__(upstream, after=0)

    def _pump(self, source: socket.socket, target: socket.socket, from_upstream: bool) -> None:
        pending = b""  # the start of a reply being dropped
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                if not from_upstream:
                    with self._lock:
                        if self._armed and data.startswith(self._method):
                            # Marked before the request goes on, so before any reply.
                            self._armed = False
                            self._dropping.add(source)
                    target.sendall(data)
                    continue
                with self._lock:
                    dropping = target in self._dropping
                if not dropping:
                    target.sendall(data)
                    continue
                pending += data
                while pending.startswith(b"HTTP/1.1 100") and b"\r\n\r\n" in pending:
                    interim, _, pending = pending.partition(b"\r\n\r\n")
                    target.sendall(interim + b"\r\n\r\n")
                if b"\r\n" in pending and not pending.startswith(b"HTTP/1.1 100"):
                    # The final status line came: the request was done. Its reply goes.
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_RDWR)
                    self.dropped.set()
                    return
        except OSError:
            pass  # a side went away (a killed client, stop())
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def reply_dropping_proxy(upstream_url: str, method: str) -> Iterator[ReplyDroppingProxy]:
    """A :class:`ReplyDroppingProxy` in front of ``http://127.0.0.1:PORT`` for the duration
    of a fixture (use with ``yield from``)."""
    host, _, port = upstream_url.removeprefix("http://").partition(":")
    proxy = ReplyDroppingProxy((host, int(port)), method)
    try:
        yield proxy
    finally:
        proxy.stop()


class BodyCuttingProxy(StallingProxy):
    """Forwards like :class:`StallingProxy` (without holding anything back), except that
    the first connection to carry more than ``after`` bytes from the upstream is closed
    once it has passed ``after`` of them: a reply cut short, as by a lost connection.
    ``cut`` is set once that happened; later connections pass whole."""

    def __init__(self, upstream: tuple[str, int], after: int) -> None:
        self.cut = threading.Event()
        super().__init__(upstream, after)

    def _pump(self, source: socket.socket, target: socket.socket, from_upstream: bool) -> None:
        carried = 0
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                with self._lock:
                    cutting = (
                        from_upstream and carried + len(data) > self.after and not self.cut.is_set()
                    )
                    if cutting:
                        self.cut.set()
                if cutting:
                    target.sendall(data[: self.after - carried])
                    for side in (target, source):
                        with contextlib.suppress(OSError):
                            side.shutdown(socket.SHUT_RDWR)
                    return
                target.sendall(data)
                carried += len(data)
        except OSError:
            pass  # a side went away (a killed client, stop())
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def body_cutting_proxy(upstream_url: str, after: int) -> Iterator[BodyCuttingProxy]:
    """A :class:`BodyCuttingProxy` in front of ``http://127.0.0.1:PORT`` for the duration
    of a fixture (use with ``yield from``)."""
    host, _, port = upstream_url.removeprefix("http://").partition(":")
    proxy = BodyCuttingProxy((host, int(port)), after)
    try:
        yield proxy
    finally:
        proxy.stop()
