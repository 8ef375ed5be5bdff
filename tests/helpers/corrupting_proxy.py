"""A TCP proxy on 127.0.0.1 that corrupts one byte on the way, for the tests that prove a
copy is checked against its source: the server, or the network, changed
a byte that nothing else notices (the length stays right).

It forwards every connection both ways to ``upstream``, as
:class:`tests.helpers.stall_proxy.StallingProxy` does (whose sockets, threads and ``stop()`` it
uses), except for one HTTP message: the reply to the first request whose request line
starts with ``request`` (``b"GET /bucket/key"``, say), or that request's own body with
``in_request``. Its body's byte at ``offset`` is inverted, once; ``flipped`` is set then.
The client's HTTP library does not pipeline, so the bytes a connection carries back after
a request are that request's reply.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from tests.helpers.stall_proxy import StallingProxy

_CHUNK = 16 * 1024


class _Flip:
    """Finds the body of the HTTP message that a byte stream starts with and inverts its
    byte at ``offset`` as the stream passes, chunk by chunk."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self._head = b""  # the message's start, until its header ends
        self._target: int | None = None  # the stream position of the byte to invert
        self._fed = 0  # bytes of the stream seen before this chunk
        self.done = False

    def feed(self, data: bytes) -> bytes:
        start = self._fed
        self._fed += len(data)
        if self._target is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return data
            self._target = end + 4 + self.offset
            self._head = b""
        position = self._target - start
        if 0 <= position < len(data):
            changed = bytearray(data)
            changed[position] ^= 0xFF
            self.done = True
            return bytes(changed)
        return data


class ByteFlippingProxy(StallingProxy):
    """See the module. ``flipped`` is set once the byte was inverted."""

    def __init__(
        self, upstream: tuple[str, int], request: bytes, offset: int, *, in_request: bool
    ) -> None:
        self._request = request
        self._offset = offset
        self._in_request = in_request
        self._armed = True  # no message corrupted yet; guarded by _lock
        self._flips: dict[socket.socket, _Flip] = {}  # by the socket it goes to; under _lock
        self.flipped = threading.Event()
        super().__init__(upstream, after=0)

    def _pump(self, source: socket.socket, target: socket.socket, from_upstream: bool) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                with self._lock:
                    if not from_upstream and self._armed and data.startswith(self._request):
                        # Marked before the request goes on, so before any of its reply.
                        self._armed = False
                        self._flips[target if self._in_request else source] = _Flip(self._offset)
                    flip = self._flips.get(target)
                if flip is not None:
                    data = flip.feed(data)
                    if flip.done:
                        with self._lock:
                            del self._flips[target]
                        self.flipped.set()
                target.sendall(data)
        except OSError:
            pass  # a side went away (a killed client, stop())
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)


def byte_flipping_proxy(
    upstream_url: str, request: bytes, offset: int, *, in_request: bool = False
) -> Iterator[ByteFlippingProxy]:
    """A :class:`ByteFlippingProxy` in front of ``http://127.0.0.1:PORT`` for the duration
    of a fixture or a ``with`` (use with ``yield from`` or ``contextlib.contextmanager``)."""
    host, _, port = upstream_url.removeprefix("http://").partition(":")
    proxy = ByteFlippingProxy((host, int(port)), request, offset, in_request=in_request)
    try:
        yield proxy
    finally:
        proxy.stop()
