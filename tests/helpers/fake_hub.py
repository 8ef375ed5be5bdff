"""A fake Hugging Face hub on 127.0.0.1, in the hub's URL layout, for the executor tests.

Two servers share one :class:`FakeHub`: the hub itself (``/{[datasets/]}owner/repo/resolve/
{rev}/{path}`` and ``/api/{models|datasets}/owner/repo/tree/{rev}``) and a "CDN" on another
port, to which files in ``FakeHub.redirected`` are sent with a 302, as the hub does for LFS
files. Every request is recorded (server, path, Range and Authorization headers). Test hooks
break a connection after N bytes once, fail a request once with a given status, ignore Range,
or stall a reply until an Event is set. The 302 carries ``X-Linked-Etag`` (the file's sha256),
as the hub's does for LFS files.

Framings and validators: replies to file and tree requests are framed as ``FakeHub.framing``
says (a ``Content-Length`` on a kept-alive connection, the same with ``Connection: close``, an
HTTP/1.0 body that ends with the connection, or chunked), optionally in ``pieces`` writes
spaced by ``pause`` seconds (pacing, so that a body arrives in several reads: no test waits on
it). Files carry the validators ``FakeHub.validators`` names, and a Range request with an
``If-Range`` that does not match them is answered 200 with the whole file, as RFC 9110 says.

Hostile behaviours: a file body that goes on past the file (``endless``: chunked, or
ending with the connection under the ``http10`` framing), a tree whose body the test
chooses (``tree_body``), whose ``next`` links loop or never end (``tree_links``, their
pages of ``tree_filler``),
or whose page never ends (``endless_tree``), and a chunked body that breaks
(``break_chunks``), a reply that is no HTTP (``garbage``), a Content-Range for other bytes
(``shift_range``), a redirect to itself (``redirect_loop``) and a CDN that serves bytes
of its own with their sha256 (``cdn_swap``). Each is bounded here (``ENDLESS_BYTES``,
``ENDLESS_PAGES``), so that a client without limits ends too, in failure.

What ``huggingface_hub`` needs besides: ``HEAD`` on a file (the reply of a ``GET``
without its body; the one-shot hooks, ``break_after``, ``fail_once`` and ``stall``, wait
for a ``GET``), the repository's info (``/api/{models|datasets|spaces}/owner/repo/
revision/{rev}``: its ``sha``, the commit ``FakeHub.commit``, and its ``siblings``),
``X-Repo-Commit`` on every reply for a file, and ``X-Linked-Size`` on the hub's 302.
``FakeHub.connections`` counts the connections each server accepted (a client that
reuses its connections opens fewer). The digests of the files (their sha256 and the
``ETag``'s sha1) are worked out once per ``bytes`` object, so that a benchmark's big
file is not hashed on every request.

Either server may speak TLS instead of plain HTTP: pass an ``ssl.SSLContext`` holding its
certificate to :func:`start_hub` (``hub_tls=``, ``cdn_tls=``); its URL then starts with
``https://``. The handshake runs in the request's own thread, bounded by ``WAIT``, and a
handshake the client aborts (say, because it does not trust the certificate) is recorded
in ``FakeHub.tls_failures`` and sets ``FakeHub.tls_failed``.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, cast

import transferqueue as tq
from transferqueue.executors import HuggingFaceDownload

WAIT = 10.0
WRITE_SLICE = 1 << 20  # the most bytes of a body written in one call
ENDLESS_BYTES = 64 << 20  # where an "endless" body or tree page stops after all
ENDLESS_PAGES = 200  # where an endless chain of tree pages stops after all

Framing = Literal["length", "close", "http10", "chunked"]
Validators = Literal["etag", "weak-etag", "last-modified", "none"]
TreeLinks = Literal["self", "cycle", "endless"]

# --- the sample repositories' files, shared by the hub tests -------------------------------

WEIGHTS = os.urandom(300_000)  # served through the CDN redirect, sha256-checked
CONFIG = b'{"hidden_size": 8}\n'
TRAIN = b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(5000))
SECRET = os.urandom(70_000)
SUB_A = b"alpha\n" * 100
SUB_B = b"beta\n" * 200
TOKEN = "hf_SeCrEt-token-1234"  # the private model's token in sample_hub()
COMMIT = "c0ffee" + "0" * 34  # the revision every repository is at (X-Repo-Commit, "sha")


@dataclass(frozen=True)
class Request:
    """One request as a server saw it."""

    server: str  # "hub" or "cdn"
    path: str
    range: str | None
    authorization: str | None
    if_range: str | None = None
    method: str = "GET"


@dataclass
class Stall:
    """Stall the reply for ``path`` after ``after`` bytes of its body, until ``release``."""

    path: str
    after: int
    before_headers: bool = False  # stall before the status line instead (after the request)
    resume: bool = False  # once released, send the rest (else hang up)
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeHub:
    """The repositories, their access rules, the request log and the test hooks."""

    repos: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    private: dict[str, str] = field(default_factory=dict)  # repo id -> the accepted token
    redirected: set[str] = field(default_factory=set)  # file paths served by the CDN
    page_size: int = 1000  # tree API entries per page
    break_after: dict[str, int] = field(default_factory=dict)  # path -> bytes, once
    ignore_range: bool = False
    fail_once: dict[str, int] = field(default_factory=dict)  # path -> HTTP status, once
    stall: Stall | None = None
    framing: Framing = "length"
    pieces: int = 1  # writes per body (file or tree page)
    pause: float = 0.0  # seconds between those writes: pacing only
    validators: Validators = "etag"
    endless: set[str] = field(default_factory=set)  # file paths whose body never ends
    tree_body: bytes | None = None  # served as the tree's only page instead of the files'
    tree_links: TreeLinks | None = None  # next links that loop or never end
    tree_filler: list[object] = field(default_factory=list)  # each later page's, with them
    endless_tree: bool = False  # a tree page whose body never ends
    break_chunks: bool = False  # a chunked body's first chunk header is garbage
    garbage: set[str] = field(default_factory=set)  # file paths answered with no HTTP at all
    redirect_loop: set[str] = field(default_factory=set)  # file paths redirected to themselves
    shift_range: int = 0  # added to the first byte a 206's Content-Range names
    # Served by the CDN for every blob, with an X-Linked-Etag naming its own sha256: a
    # CDN that vouches for bytes of its choosing.
    cdn_swap: bytes | None = None
    requests: list[Request] = field(default_factory=list)
    hub_url: str = ""
    cdn_url: str = ""
    tls_failures: list[tuple[str, str]] = field(default_factory=list)  # (server, error)
    tls_failed: threading.Event = field(default_factory=threading.Event)
    commit: str = COMMIT
    connections: dict[str, int] = field(default_factory=dict)  # accepted, by server
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The digests of each file's bytes, by the id of the bytes object (kept here, so that
    # the id is not reused): (the bytes, their sha256, their sha1). Rule of the lock:
    # held only to read and change the dict, never while hashing.
    _digests: dict[int, tuple[bytes, str, str]] = field(
        default_factory=dict, init=False, repr=False
    )

    def log(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)

    def connected(self, server: str) -> None:
        with self.lock:
            self.connections[server] = self.connections.get(server, 0) + 1

    def tls_failure(self, server: str, error: str) -> None:
        with self.lock:
            self.tls_failures.append((server, error))
        self.tls_failed.set()

    def seen(self, server: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if server is None or r.server == server]

    def blob(self, digest: str) -> tuple[str, bytes] | None:
        for files in self.repos.values():
            for path, content in files.items():
                if self.sha256(content) == digest:
                    return path, content
        return None

    def sha256(self, content: bytes) -> str:
        """The sha256 of ``content``, hashed once per bytes object."""
        return self._digests_of(content)[0]

    def sha1(self, content: bytes) -> str:
        """The sha1 of ``content`` (the files' ``ETag``), hashed once per bytes object."""
        return self._digests_of(content)[1]

    def _digests_of(self, content: bytes) -> tuple[str, str]:
        with self.lock:
            known = self._digests.get(id(content))
        if known is None or known[0] is not content:
            known = (
                content,
                hashlib.sha256(content).hexdigest(),
                hashlib.sha1(content).hexdigest(),
            )
            with self.lock:
                self._digests[id(content)] = known
        return known[1], known[2]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: FakeHub, name: str, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hub = hub
        self.name = name
        self.tls = tls

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        self.hub.connected(self.name)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # Here, in the request's thread, not in accept(): a client that stalls or aborts
        # the handshake must not hold up serve_forever().
        assert isinstance(request, socket.socket)
        request.settimeout(WAIT)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except OSError as exc:  # ssl.SSLError included; wrap_socket closed the socket
            self.hub.tls_failure(self.name, str(exc))
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            # The caller's shutdown_request() gets the plain socket, detached by
            # wrap_socket(): the TLS socket is ours to close, FIN first as it does.
            with contextlib.suppress(OSError):
                wrapped.shutdown(socket.SHUT_WR)
            wrapped.close()


_RESOLVE = re.compile(r"/(?:(datasets|spaces)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)")
_TREE = re.compile(r"/api/(models|datasets|spaces)/([^/]+/[^/]+)/tree/([^/]+)")
_INFO = re.compile(r"/api/(models|datasets|spaces)/([^/]+/[^/]+)/revision/([^/]+)")
_BLOB = re.compile(r"/blobs/([0-9a-f]{64})")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    head_only = False  # a HEAD request: headers as a GET's, no body

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _allowed(self, repo: str) -> bool:
        need = self.server.hub.private.get(repo)
        if need is None or self.headers.get("Authorization") == f"Bearer {need}":
            return True
        self._reply(401, b'{"error":"Invalid credentials"}', {"X-Error-Code": "RepoNotFound"})
        return False

    def do_HEAD(self) -> None:
        self.head_only = True
        try:
            self.do_GET()
        finally:
            self.head_only = False

    def do_GET(self) -> None:
        hub = self.server.hub
        hub.log(
            Request(
                self.server.name,
                self.path,
                self.headers.get("Range"),
                self.headers.get("Authorization"),
                self.headers.get("If-Range"),
                "HEAD" if self.head_only else "GET",
            )
        )
        parts = urllib.parse.urlsplit(self.path)
        # Matched as sent, then each part decoded: a revision may hold a "%2F".
        path = parts.path
        if self.server.name == "cdn":
            match = _BLOB.fullmatch(path)
            found = hub.blob(match.group(1)) if match else None
            if found is None:
                self._reply(404)
                return
            if hub.cdn_swap is not None:
                own = {"X-Linked-Etag": f'"{hashlib.sha256(hub.cdn_swap).hexdigest()}"'}
                self._reply(200, hub.cdn_swap, own)
                return
            self._serve(*found)
            return
        match = _INFO.fullmatch(path)
        if match:
            kind, repo, _rev = match.groups()
            files = hub.repos.get((kind[:-1], repo))
            if files is None:
                self._reply(404, b"{}", {"X-Error-Code": "RepoNotFound"})
                return
            if not self._allowed(repo):
                return
            info = {
                "id": repo,
                "sha": hub.commit,
                "private": repo in hub.private,
                "siblings": [{"rfilename": name} for name in sorted(files)],
            }
            self._reply(200, json.dumps(info).encode(), {"Content-Type": "application/json"})
            return
        match = _TREE.fullmatch(path)
        if match:
            kind, repo, _rev = match.groups()
            files = hub.repos.get((kind[:-1], repo))
            if files is None:
                self._reply(404, b"{}", {"X-Error-Code": "RepoNotFound"})
                return
            if not self._allowed(repo):
                return
            self._tree(files, urllib.parse.parse_qs(parts.query))
            return
        match = _RESOLVE.fullmatch(path)
        if match:
            kind, repo, _rev, quoted_name = match.groups()
            name = urllib.parse.unquote(quoted_name)
            files = hub.repos.get(((kind or "models")[:-1], repo))
            if files is None:
                self._reply(404, b"", {"X-Error-Code": "RepoNotFound"})
                return
            if not self._allowed(repo):
                return
            if name not in files:
                self._reply(404, b"", {"X-Error-Code": "EntryNotFound"})
                return
            content = files[name]
            commit = {"X-Repo-Commit": hub.commit}
            if name in hub.garbage:
                self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
                self.close_connection = True
                return
            if name in hub.redirect_loop:
                self._reply(302, b"", {"Location": self.path, **commit})
                return
            if name in hub.redirected:
                digest = hub.sha256(content)
                redirect = {
                    "Location": f"{hub.cdn_url}/blobs/{digest}",
                    "X-Linked-Etag": f'"{digest}"',
                    "X-Linked-Size": str(len(content)),
                    **commit,
                }
                self._reply(302, b"", redirect)
                return
            self._serve(name, content, commit)
            return
        self._reply(404)
        return

    def _tree(self, files: dict[str, bytes], query: dict[str, list[str]]) -> None:
        hub = self.server.hub
        headers = {"Content-Type": "application/json"}
        if hub.endless_tree:
            self._send(200, headers, b"[", _endless_entries())
            return
        if hub.tree_links is not None:
            self._hostile_pages(files, query, headers)
            return
        if hub.tree_body is not None:
            self._send(200, headers, hub.tree_body)
            return
        entries = tree_entries(files, hub.redirected)
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start : start + hub.page_size]
        if start + hub.page_size < len(entries):
            rest = urllib.parse.urlencode({"recursive": "true", "cursor": start + hub.page_size})
            headers["Link"] = (
                f'<{hub.hub_url}{urllib.parse.urlsplit(self.path).path}?{rest}>; rel="next"'
            )
        self._send(200, headers, json.dumps(page).encode())

    def _hostile_pages(
        self, files: dict[str, bytes], query: dict[str, list[str]], headers: dict[str, str]
    ) -> None:
        """The repository's entries on the first page, then pages of ``tree_filler``
        (empty by default) whose ``next`` links point back to the page itself ("self"),
        go round two pages ("cycle") or on to a new page every time ("endless", up to
        ``ENDLESS_PAGES``)."""
        hub = self.server.hub
        cursor = query.get("cursor", [""])[0]
        base = f"{hub.hub_url}{urllib.parse.urlsplit(self.path).path}?recursive=true&cursor="
        following: str | None
        if len([r for r in hub.seen("hub") if "/tree/" in r.path]) >= ENDLESS_PAGES:
            following = None  # the end after all, for a client that would never stop
        elif hub.tree_links == "self":
            following = f"{hub.hub_url}{self.path}"
        elif hub.tree_links == "cycle":
            following = base + ("c" if cursor == "b" else "b")
        else:
            following = base + str(int(cursor or "0") + 1)
        if following is not None:
            headers["Link"] = f'<{following}>; rel="next"'
        page = tree_entries(files) if not cursor else hub.tree_filler
        self._send(200, headers, json.dumps(page).encode())

    def _send(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        endless: Iterable[bytes] | None = None,
    ) -> None:
        """A reply framed as ``FakeHub.framing`` says, its body in ``pieces`` writes;
        ``endless`` goes on after ``body`` until the client hangs up or ``ENDLESS_BYTES``
        were sent, chunked unless the framing is ``http10`` (a body that ends with the
        connection): no length can be announced for it."""
        hub = self.server.hub
        framing: Framing = hub.framing
        if endless is not None and framing != "http10":
            framing = "chunked"
        self._head(status, headers, len(body), framing)
        if self.head_only:
            return
        size = max(1, -(-len(body) // hub.pieces))
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        try:
            for number, piece in enumerate(pieces):
                if number and hub.pause:
                    time.sleep(hub.pause)  # pacing: the body comes in several reads
                self._write(piece, chunked=framing == "chunked")
            if endless is not None:
                sent = len(body)
                for piece in endless:
                    self._write(piece, chunked=framing == "chunked")
                    sent += len(piece)
                    if sent >= ENDLESS_BYTES:
                        break
            if framing == "chunked":
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client hung up (as it should on an endless body)
            self.close_connection = True

    def _head(self, status: int, headers: dict[str, str], length: int, framing: Framing) -> None:
        """The status line and headers of a reply framed as ``framing`` says."""
        if framing == "http10":
            self.protocol_version = "HTTP/1.0"  # this reply only: the instance's own
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif framing != "http10":
            self.send_header("Content-Length", str(length))
        if framing in ("close", "http10"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _write(self, piece: bytes, *, chunked: bool) -> None:
        if not piece:
            return
        if chunked:
            size = b"zz" if self.server.hub.break_chunks else b"%x" % len(piece)
            self.wfile.write(size + b"\r\n" + piece + b"\r\n")
        else:
            # In slices: a TLS socket's timeout (WAIT) bounds each whole write, which a
            # big body sent at once to a slow reader would exceed.
            view = memoryview(piece)
            for start in range(0, len(view), WRITE_SLICE):
                self.wfile.write(view[start : start + WRITE_SLICE])
        self.wfile.flush()

    def _validators(self, content: bytes) -> dict[str, str]:
        digest = self.server.hub.sha1(content)
        kind = self.server.hub.validators
        if kind == "etag":
            return {"ETag": f'"{digest}"'}
        if kind == "weak-etag":
            return {"ETag": f'W/"{digest}"'}
        if kind == "last-modified":
            stamp = 1_600_000_000 + int(digest[:6], 16)  # a date that changes with the bytes
            return {"Last-Modified": email.utils.formatdate(stamp, usegmt=True)}
        return {}

    def _range_applies(self, validators: dict[str, str]) -> bool:
        """RFC 9110 13.1.5: a Range with If-Range applies only if the validator matches
        the file's strong ETag or its Last-Modified date."""
        condition = self.headers.get("If-Range")
        if condition is None:
            return True
        etag = validators.get("ETag", "")
        if condition.startswith("W/") or etag.startswith("W/"):
            return False
        return condition in (etag, validators.get("Last-Modified"))

    def _serve(self, name: str, content: bytes, extra: dict[str, str] | None = None) -> None:
        hub = self.server.hub
        start = 0
        validators = self._validators(content)
        headers = {"Accept-Ranges": "bytes", **validators, **(extra or {})}
        rng = self.headers.get("Range")
        status = 200
        if rng and not hub.ignore_range and self._range_applies(validators):
            match = re.fullmatch(r"bytes=(\d+)-", rng)
            assert match is not None, rng
            start = int(match.group(1))
            if start >= len(content):
                self._reply(416, b"", {"Content-Range": f"bytes */{len(content)}"})
                return
            status = 206
            first = start + hub.shift_range
            headers["Content-Range"] = f"bytes {first}-{len(content) - 1}/{len(content)}"
        body = content[start:]
        if self.head_only:  # the hooks below are for GET: a HEAD leaves them armed
            self._head(status, headers, len(body), hub.framing)
            return
        with hub.lock:
            cut = hub.break_after.pop(name, None)
            fail = hub.fail_once.pop(name, None)
        if fail is not None:
            self._reply(fail, b"unavailable")
            return
        stall = hub.stall if hub.stall is not None and hub.stall.path == name else None
        if cut is None and stall is None:
            self._serve_framed(status, headers, name, body)
            return
        if stall is not None and stall.before_headers:
            stall.reached.set()
            stall.release.wait(WAIT)
            self.close_connection = True
            return
        self._head(status, headers, len(body), self.server.hub.framing)
        chunked = hub.framing == "chunked"
        if cut is not None:  # announce everything, send part, hang up
            self._write(body[:cut], chunked=chunked)
            self.close_connection = True
            return
        assert stall is not None  # the reply is cut or stalled: a plain one was sent above
        with contextlib.suppress(OSError):  # the client may have given up meanwhile
            self._write(body[: stall.after], chunked=chunked)
            stall.reached.set()
            stall.release.wait(WAIT)
            if stall.resume:
                self._write(body[stall.after :], chunked=chunked)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        self.close_connection = True

    def _serve_framed(self, status: int, headers: dict[str, str], name: str, body: bytes) -> None:
        zeros = iter(lambda: bytes(1 << 16), b"") if name in self.server.hub.endless else None
        self._send(status, headers, body, zeros)


def tree_entries(files: dict[str, bytes], lfs: Iterable[str] = ()) -> list[object]:
    """The tree API's entries for ``files``: their folders, then the files, by path. Each
    file has its git blob id as ``oid``, as the hub gives it; those named in ``lfs`` are
    LFS files, with ``lfs.oid`` their sha256 (and ``oid`` their pointer's id)."""
    folders = sorted(
        {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
    )
    entries: list[object] = [
        {"type": "directory", "path": folder, "oid": "0" * 40} for folder in folders
    ]
    stored = set(lfs)
    for path, content in sorted(files.items()):
        entry: dict[str, object] = {"type": "file", "path": path, "size": len(content)}
        if path in stored:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha(content)}\n"
            entry["oid"] = git_blob_id(pointer.encode())
            entry["lfs"] = {"oid": sha(content), "size": len(content), "pointerSize": 100}
        else:
            entry["oid"] = git_blob_id(content)
        entries.append(entry)
    return entries


def git_blob_id(content: bytes) -> str:
    """The git blob id of ``content`` (the hub's ``oid`` of a file kept in git)."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


def _endless_entries() -> Iterator[bytes]:
    """A JSON list's items after its ``[``, without end (its ``]`` never comes)."""
    entry = b'{"type": "directory", "path": "d", "oid": "0"}'
    yield entry
    batch = b"," + b",".join([entry] * 1000)
    while True:
        yield batch


def sample_hub() -> FakeHub:
    """The hub tests' repositories: a public model (``weights.bin`` behind the CDN, an LFS
    file), a dataset, and a private model that ``TOKEN`` opens."""
    return FakeHub(
        repos={
            ("model", "owner/model"): {
                "config.json": CONFIG,
                "weights.bin": WEIGHTS,
                "sub/a.txt": SUB_A,
                "sub/deeper/b.txt": SUB_B,
            },
            ("dataset", "owner/data"): {"train.csv": TRAIN},
            ("model", "owner/private"): {"secret.bin": SECRET},
        },
        private={"owner/private": TOKEN},
        redirected={"weights.bin"},
    )


class RunningHub:
    """Both servers of a started fake hub; :meth:`stop` ends them within a bounded time."""

    def __init__(
        self,
        hub: FakeHub,
        *,
        hub_tls: ssl.SSLContext | None = None,
        cdn_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.hub = hub
        self.servers = [_Server(hub, "hub", hub_tls), _Server(hub, "cdn", cdn_tls)]
        hub.hub_url = self.servers[0].url
        hub.cdn_url = self.servers[1].url
        self.threads = [
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            for server in self.servers
        ]
        for thread in self.threads:
            thread.start()

    @property
    def url(self) -> str:
        return self.hub.hub_url

    def stop(self) -> None:
        if self.hub.stall is not None:
            self.hub.stall.release.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(WAIT)
            assert not thread.is_alive(), "fake hub server did not stop"


def start_hub(
    hub: FakeHub,
    *,
    hub_tls: ssl.SSLContext | None = None,
    cdn_tls: ssl.SSLContext | None = None,
) -> Iterator[RunningHub]:
    """Run ``hub`` for the duration of a fixture (use with ``yield from``); a server given
    a server-side ``ssl.SSLContext`` speaks HTTPS."""
    running = RunningHub(hub, hub_tls=hub_tls, cdn_tls=cdn_tls)
    try:
        yield running
    finally:
        running.stop()


# --- helpers of the hub tests ---------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def partials(folder: Path) -> list[Path]:
    """The Hugging Face executor's partial files below ``folder``."""
    return sorted(folder.rglob("*.hfpart"))


def assert_file(path: Path, expected: bytes) -> None:
    """The bytes that arrived: size and sha256."""
    data = path.read_bytes()
    assert len(data) == len(expected)
    assert sha(data) == sha(expected)


class FakeProgress:
    """Stands in for ``on_progress`` in direct executor calls: records the values and
    raises TransferCancelled once ``cancel`` is set.

    With ``checks_wait_for``, each ``raise_if_cancelled`` (the executor's HTTP client
    calls it before every read from the socket) first waits for that event; the progress
    reports themselves do not wait (the first one comes before the request is sent)."""

    def __init__(self, checks_wait_for: threading.Event | None = None) -> None:
        self.values: list[int] = []
        self.cancel = threading.Event()
        self._cond = threading.Condition()
        self._checks_wait_for = checks_wait_for

    def __call__(self, loaded: int) -> None:
        with self._cond:
            self.values.append(loaded)
            self._cond.notify_all()
        self._raise_if_cancelled()

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def raise_if_cancelled(self) -> None:
        if self._checks_wait_for is not None:
            assert self._checks_wait_for.wait(WAIT), "the awaited event never came"
        self._raise_if_cancelled()

    def _raise_if_cancelled(self) -> None:
        if self.cancel.is_set():
            raise tq.TransferCancelled("cancelled by the test")

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        return self.cancel.wait(timeout)

    def wait_for(self, loaded: int) -> None:
        with self._cond:
            assert self._cond.wait_for(
                lambda: bool(self.values) and self.values[-1] >= loaded, WAIT
            ), f"progress never reached {loaded}: {self.values[-3:]}"


def run(
    executor: HuggingFaceDownload, source: str, destination: Path, size: int = 0
) -> FakeProgress:
    progress = FakeProgress()
    file = tq.TransferFile(source_path=source, destination_path=str(destination), size=size)
    executor(file, cast(tq.ProgressCallback, progress))
    return progress
