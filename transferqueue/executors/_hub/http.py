"""HTTP for the Hugging Face executor: GET with redirects, over sockets that wait for bytes
in short steps, so that a cancel is noticed while the server says nothing.

Design. A reply is read by ``http.client`` itself (``HTTPResponse`` over the socket's own
``makefile``), which knows every framing a server may use: a ``Content-Length`` on a
kept-alive connection, a body that ends when the server closes the connection (HTTP/1.0,
``Connection: close``, no length) and a chunked body. It also keeps the descriptor open
after handing the reply over, even when the connection object lets go of its socket at
once (as it does for a reply that ends with the connection): ``makefile`` holds a
reference. Only the socket below is ours, chosen through public API:

- the connection classes override :meth:`~http.client.HTTPConnection.connect`: after
  connecting (and the TLS handshake), both bounded by ``timeout``, the socket's timeout
  becomes ``POLL_INTERVAL``;
- that socket is of a ``socket.socket`` subclass (a plain one is re-made around the same
  descriptor with ``socket.socket(fileno=...)``) or, for TLS, of an ``ssl.SSLSocket``
  subclass, which ``SSLContext.sslsocket_class`` makes ``wrap_socket`` return; their
  ``recv_into`` turns each short timeout into a check: cancelled? (raise) silent for
  ``timeout`` in all? (``TimeoutError``) else wait again. ``sendall`` waits up to
  ``timeout``. ``ssl`` waits through TLS records that carry no data (TLS 1.3 session
  tickets) within one short timeout by itself.

A wait that ends in ``TimeoutError`` leaves ``makefile``'s reader unusable, which is
what it should be: the connection is given up. The socket is never read around
``http.client``, so no byte it buffered is lost.

The token goes only to the endpoint's origin: a redirect elsewhere (the hub's CDN, whose
links are signed) gets no ``Authorization`` header.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from .errors import (
    HubAuthError,
    HubCertificateError,
    HubError,
    HubNotFoundError,
    HubRequestError,
    HubUnavailableError,
)

MAX_REDIRECTS = 10
POLL_INTERVAL = 0.05  # seconds between cancellation checks while waiting for bytes
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@attrs.frozen
class _Watch:
    """What a socket's reads check while they wait: the silence allowed, and a cancel."""

    timeout: float
    check_cancelled: Callable[[], None]

    def recv(self, read: Callable[[], int]) -> int:
        """``read()`` (a socket read with a timeout of ``POLL_INTERVAL``), again after
        each timeout, until it gives bytes or the end, the download is cancelled, or
        ``timeout`` passed without a byte."""
        waited = 0.0
        while True:
            self.check_cancelled()
            try:
                return read()
            except TimeoutError:
                # Counted, not clocked: a frozen test clock must not make this wait forever.
                waited += POLL_INTERVAL
                if waited >= self.timeout:
                    raise TimeoutError(f"no data from the server for {self.timeout:g} s") from None

    def send(self, sock: socket.socket, send: Callable[[], None]) -> None:
        """``send()`` with the socket's timeout at ``timeout``: a request is not cut
        short by the read's short steps."""
        sock.settimeout(self.timeout)
        try:
            send()
        finally:
            sock.settimeout(POLL_INTERVAL)


class _PatientSocket(socket.socket):
    """A TCP socket whose reads wait in short steps (see the module's documentation)."""

    watch: _Watch  # set by _watched() as soon as connected, before any read or write

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        read = super().recv_into
        return self.watch.recv(lambda: read(buffer, nbytes, flags))

    def sendall(self, data: Any, flags: int = 0) -> None:
        send = super().sendall
        self.watch.send(self, lambda: send(data, flags))


class _PatientTLSSocket(ssl.SSLSocket):
    """A TLS socket whose reads wait in short steps (see the module's documentation)."""

    # Set by _watched() as soon as the handshake (which reads and writes below this
    # class) is done, before any read or write of ours.
    watch: _Watch

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        read = super().recv_into
        return self.watch.recv(lambda: read(buffer, nbytes, flags))

    def sendall(self, data: Any, flags: int = 0) -> None:
        send = super().sendall
        self.watch.send(self, lambda: send(data, flags))


def _watched(sock: _PatientSocket | _PatientTLSSocket, watch: _Watch) -> socket.socket:
    sock.watch = watch
    sock.settimeout(POLL_INTERVAL)
    return sock


class _Connection(http.client.HTTPConnection):
    """Plain HTTP over a :class:`_PatientSocket`."""

    def __init__(self, host: str, port: int | None, watch: _Watch) -> None:
        super().__init__(host, port, timeout=watch.timeout)
        self._watch = watch

    def connect(self) -> None:
        super().connect()  # bounded by timeout
        plain = self.sock
        patient = _PatientSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        self.sock = _watched(patient, self._watch)


# The TLS context of the trust store in use, made once: loading the CAs costs ~30 ms of
# CPU a context (the system's bundle), more than a small file's whole download. Rule of
# the lock: held only to read or replace _tls_context, never while a context is made.
_tls_lock = threading.Lock()
_tls_context: tuple[tuple[object, ...], ssl.SSLContext] | None = None


def _trust_store() -> tuple[object, ...]:
    """What a new default context would trust: the CA file and folder OpenSSL reads
    (``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or its built-in ones), with the file's identity
    and modification time, so that a changed setting or a replaced bundle is seen."""
    paths = ssl.get_default_verify_paths()
    try:
        info = os.stat(paths.cafile) if paths.cafile else None
    except OSError:
        info = None
    stamp = None if info is None else (info.st_ino, info.st_size, info.st_mtime_ns)
    return (paths.cafile, paths.capath, stamp)


def tls_context() -> ssl.SSLContext:
    """The context of every HTTPS connection to the hub: ``ssl.create_default_context()``
    (the system's CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once per trust
    store and shared by every connection and thread."""
    global _tls_context
    store = _trust_store()
    with _tls_lock:
        cached = _tls_context
    if cached is not None and cached[0] == store:
        return cached[1]
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    context.sslsocket_class = _PatientTLSSocket
    with _tls_lock:
        _tls_context = (store, context)
    return context


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS over a :class:`_PatientTLSSocket`, verified as ``http.client`` verifies
    (:func:`tls_context`: the system's CAs, or ``SSL_CERT_FILE``)."""

    def __init__(self, host: str, port: int | None, watch: _Watch) -> None:
        super().__init__(host, port, timeout=watch.timeout, context=tls_context())
        self._watch = watch

    def connect(self) -> None:
        super().connect()  # TCP and the TLS handshake, bounded by timeout
        assert isinstance(self.sock, _PatientTLSSocket)  # the context's sslsocket_class
        self.sock = _watched(self.sock, self._watch)


def _connection(url: str, watch: _Watch) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"cannot follow a link to {public_url(url)!r}: not an http(s) URL")
    conn_class = _TLSConnection if parts.scheme == "https" else _Connection
    conn = conn_class(parts.hostname, parts.port, watch)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return conn, target


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, parts.port or default


@attrs.frozen
class Reply:
    """The final response of a request, where it came from, and the hub's
    ``X-Linked-Etag`` seen on the way (the sha256 of an LFS file, on its redirect): only
    from a reply of ``auth_origin``, the hub, never from the CDN it sends the client to,
    whose bytes the sha256 is there to check."""

    response: http.client.HTTPResponse
    url: str
    linked_etag: str | None


@contextlib.contextmanager
def request(
    url: str,
    headers: dict[str, str],
    *,
    token: str | None,
    auth_origin: str,
    timeout: float,
    check_cancelled: Callable[[], None] = lambda: None,
) -> Iterator[Reply]:
    """GET ``url``, following up to ``MAX_REDIRECTS`` redirects; yield the final reply,
    whose body is read within the ``with`` block; the connection closes after it.

    ``timeout`` bounds connecting and each stretch without a byte; ``check_cancelled``
    is called every ``POLL_INTERVAL`` while waiting for bytes, and may raise. The token
    goes only to ``auth_origin``. Malformed replies become ``ConnectionError``.
    """
    origin = _origin(auth_origin)
    watch = _Watch(timeout, check_cancelled)
    linked_etag: str | None = None
    for _ in range(MAX_REDIRECTS + 1):
        conn, target = _connection(url, watch)
        sent = dict(headers)
        if token is not None and _origin(url) == origin:
            sent["Authorization"] = f"Bearer {token}"
        response: http.client.HTTPResponse | None = None
        try:
            try:
                conn.request("GET", target, headers=sent)
                response = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
                raise HubCertificateError(
                    f"cannot verify the TLS certificate of {host}: {exc.verify_message} "
                    "(a private CA can be trusted with SSL_CERT_FILE)"
                ) from exc
            except http.client.HTTPException as exc:
                raise ConnectionError(f"bad reply from {public_url(url)}: {exc!r}") from exc
            if _origin(url) == origin:  # the hub's word; a CDN's would vouch for itself
                linked_etag = response.getheader("X-Linked-Etag") or linked_etag
            if response.status in _REDIRECTS and response.getheader("Location"):
                url = urllib.parse.urljoin(url, response.getheader("Location", ""))
                continue
            yield Reply(response, url, linked_etag)
            return
        finally:
            # A reply that ends with the connection is no longer the connection's to close.
            if response is not None:
                response.close()
            conn.close()
    raise HubError(f"more than {MAX_REDIRECTS} redirects, last to {public_url(url)}")


def public_url(url: str) -> str:
    """``url`` as a message may show it: without its query (signed CDN links carry
    credentials there) and with ``***`` for a user name and password before the host
    (``https://user:secret@mirror/`` in ``HF_ENDPOINT``, or in a redirect's
    ``Location``)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def raise_for_status(
    response: http.client.HTTPResponse,
    url: str,
    what: str,
    *,
    token: str | None,
) -> None:
    """Raise the :class:`HubRequestError` that an HTTP error status means; the body of
    the error is not read (the connection is closed after it)."""
    status = response.status
    if status < 400:
        return
    code = response.getheader("X-Error-Code") or ""
    public = public_url(url)
    if status in (401, 403):
        why = (
            "the token was rejected"
            if token is not None
            else "no token was given (pass token= or set HF_TOKEN)"
        )
        raise HubAuthError(
            f"Hugging Face refused access to {what} (HTTP {status}): {why}; "
            f"a private or gated repository needs a token with access, and a repository "
            f"that does not exist is reported the same way",
            status=status,
            url=public,
        )
    if status == 404:
        detail = {
            "RepoNotFound": "repository not found",
            "RevisionNotFound": "revision not found",
            "EntryNotFound": "file not found",
        }.get(code, "not found")
        raise HubNotFoundError(
            f"Hugging Face has no {what} ({detail}, HTTP 404)", status=status, url=public
        )
    message = f"Hugging Face answered HTTP {status} {response.reason} for {what} ({public})"
    if status >= 500 or status == 429:
        raise HubUnavailableError(message, status=status, url=public)
    raise HubRequestError(message, status=status, url=public)
