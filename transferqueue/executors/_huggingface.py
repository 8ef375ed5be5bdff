"""Downloads from the Hugging Face hub: one file per executor call, resumable by HTTP Range.

The downloader speaks the hub's plain HTTP layout with the standard library alone
(``http.client``), not through ``huggingface_hub``: that library reads ``HF_ENDPOINT`` only
once, at import, reports progress coarsely, offers no way to cancel a running download and
keeps its own cache folder in the destination. What this module does not do that
``huggingface_hub`` does: read the token saved by ``huggingface-cli login`` (pass ``token=``
or set ``HF_TOKEN``), use the Xet storage protocol (the hub still serves every file over
plain HTTP), and keep a shared cache.

Errors: a connection that breaks, stalls or is refused raises ``ConnectionError`` or
``TimeoutError``, which are ``OSError`` and so transient under the default
:class:`~transferqueue.RetryPolicy`; the partial file is kept and the next attempt resumes it.
A refusal by the hub (401/403, 404, other 4xx) raises a :class:`HubRequestError`, which is
*not* an ``OSError``, so it is not retried; its partial file is removed. A 5xx or 429 reply
raises :class:`HubUnavailableError`, which is both a ``HubRequestError`` and a
``ConnectionError`` (retried). For LFS files the hub announces the file's sha256
(``X-Linked-Etag``); the download is checked against it, a resumed part included, and a
mismatch raises :class:`HubChecksumError` (retried, from byte 0).

Cancellation is noticed within ``_POLL_INTERVAL`` while waiting for bytes, but not while
connecting, which ``timeout`` bounds. A whole repository is downloaded by listing it with
:func:`list_hf_files` and queueing the mappings with a :class:`HuggingFaceDownload`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import re
import selectors
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

import attrs

from transferqueue._errors import TransferQueueError
from transferqueue._progress import ProgressCallback
from transferqueue._records import TransferFile

from ._atomic import check_destination, move_into_place

DEFAULT_ENDPOINT = "https://huggingface.co"
"""The hub used when neither ``endpoint=`` nor ``HF_ENDPOINT`` says otherwise."""

MAX_REDIRECTS = 10
_POLL_INTERVAL = 0.05  # seconds between cancellation checks while waiting for bytes
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

RepoType = Literal["model", "dataset", "space"]
_PREFIXES: dict[str, RepoType] = {"datasets": "dataset", "spaces": "space"}
_URL_PREFIX: dict[RepoType, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_API_KIND: dict[RepoType, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")


# --- exceptions --------------------------------------------------------------------------


class HubError(TransferQueueError):
    """Base class of the Hugging Face errors this module raises."""


class HubRequestError(HubError):
    """The hub answered a request with an HTTP error ``status``.

    Not an ``OSError``: a refusal is permanent, so the default retry policy does not try
    again (:class:`HubUnavailableError`, for 5xx and 429, is the exception).
    """

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])


class HubAuthError(HubRequestError):
    """401 or 403: the token is missing, or was rejected, for this repository."""


class HubNotFoundError(HubRequestError):
    """404: no such repository, revision or file."""


class HubUnavailableError(HubRequestError, ConnectionError):
    """5xx or 429: the hub is failing or busy; a ``ConnectionError``, hence retried."""


class HubCertificateError(HubError):
    """The server's TLS certificate could not be verified. Not retried: another attempt
    would meet the same certificate. A private CA is trusted with ``SSL_CERT_FILE``."""


class HubChecksumError(HubError, ConnectionError):
    """The bytes did not match the sha256 the hub announced (``X-Linked-Etag``, for LFS
    files); the partial file was discarded, so a retry (it is a ``ConnectionError``)
    downloads afresh."""


# --- locations ---------------------------------------------------------------------------


@attrs.frozen
class HuggingFaceLocation:
    """A file or folder of a Hugging Face repository, as an ``hf://`` URL names it.

    ``path`` is ``""`` for the repository's root; ``revision`` is a branch, tag or commit.
    """

    repo_type: RepoType
    repo_id: str
    revision: str = "main"
    path: str = ""

    def url(self) -> str:
        """The canonical ``hf://`` URL, revision included."""
        tail = f"/{self.path}" if self.path else ""
        return f"hf://{_URL_PREFIX[self.repo_type]}{self.repo_id}@{self.revision}{tail}"

    def resolve_url(self, endpoint: str) -> str:
        """The hub URL that serves this file's bytes: ``{endpoint}/…/resolve/{rev}/{path}``."""
        return (
            f"{endpoint.rstrip('/')}/{_URL_PREFIX[self.repo_type]}{self.repo_id}/resolve/"
            f"{urllib.parse.quote(self.revision, safe='')}/{urllib.parse.quote(self.path)}"
        )

    def describe(self) -> str:
        """``model owner/repo@main: path`` for error messages."""
        where = f"{self.repo_type} {self.repo_id}@{self.revision}"
        return f"{where}: {self.path}" if self.path else where


def parse_hf_url(url: str) -> HuggingFaceLocation:
    """Parse ``hf://[datasets/|spaces/]owner/repo[@revision][/path]``.

    The revision may be a branch, tag or commit, or ``refs/pr/N`` / ``refs/convert/NAME``
    (percent-encoded slashes are accepted too). Raises ``ValueError`` naming the problem.
    """
    if not isinstance(url, str):
        raise TypeError(f"a Hugging Face URL is a str, not {type(url).__name__}")
    if not url.startswith("hf://"):
        raise ValueError(f"not a Hugging Face URL (expected hf://owner/repo...): {url!r}")
    rest = url[len("hf://") :]
    parts = rest.split("/")
    repo_type: RepoType = "model"
    if parts and parts[0] in _PREFIXES:
        repo_type = _PREFIXES[parts.pop(0)]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"Hugging Face URL needs owner/repo: {url!r}")
    owner, name = parts[0], parts[1]
    tail = parts[2:]
    revision = "main"
    if "@" in name:
        name, revision = name.split("@", 1)
        revision = urllib.parse.unquote(revision)
        # refs/pr/N and refs/convert/NAME hold slashes (unless written with %2F).
        if revision == "refs" and len(tail) >= 2 and tail[0] in ("pr", "convert"):
            revision = "/".join(["refs", tail[0], tail[1]])
            tail = tail[2:]
        if not revision:
            raise ValueError(f"Hugging Face URL has an empty revision after '@': {url!r}")
    for label, value in (("owner", owner), ("repository name", name)):
        if not _NAME.fullmatch(value) or ".." in value:
            raise ValueError(f"Hugging Face URL has an invalid {label} {value!r}: {url!r}")
    if any(c in revision for c in "\\\n\r\t ") or ".." in revision.split("/"):
        raise ValueError(f"Hugging Face URL has an invalid revision {revision!r}: {url!r}")
    if tail and tail[-1] == "":
        tail = tail[:-1]  # a trailing slash names the same folder
    if any(segment in ("", ".", "..") for segment in tail):
        raise ValueError(f"Hugging Face URL has an invalid path: {url!r}")
    return HuggingFaceLocation(
        repo_type=repo_type, repo_id=f"{owner}/{name}", revision=revision, path="/".join(tail)
    )


def _endpoint(endpoint: str | None) -> str:
    value = endpoint if endpoint is not None else os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    value = value.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"Hugging Face endpoint must be an http(s) URL, not {value!r}")
    return value


def _token(token: str | None) -> str | None:
    value = token if token is not None else os.environ.get("HF_TOKEN")
    return value.strip() or None if value else None


# --- HTTP --------------------------------------------------------------------------------


class _PollingReader(io.RawIOBase):
    """Reads a socket, waking every ``_POLL_INTERVAL`` to check for cancellation.

    So a stalled server neither hangs the download past ``timeout`` nor delays a cancel.
    """

    def __init__(
        self, sock: socket.socket, timeout: float, check_cancelled: Callable[[], None]
    ) -> None:
        super().__init__()
        self._sock = sock
        self._timeout = timeout
        self._check_cancelled = check_cancelled
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        sock = self._sock
        waited = 0.0
        while True:
            self._check_cancelled()
            tls = sock if isinstance(sock, ssl.SSLSocket) else None
            if (tls is not None and tls.pending()) or self._selector.select(_POLL_INTERVAL):
                if tls is None:
                    return sock.recv_into(buffer)  # readable: data or the end, at once
                # A TLS record without data (a TLS 1.3 session ticket) makes the socket
                # readable too: read without blocking, and wait again if no data came.
                blocking = sock.gettimeout()
                sock.settimeout(0)
                try:
                    return sock.recv_into(buffer)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                finally:
                    sock.settimeout(blocking)
            # Counted, not clocked: a frozen test clock must not make this wait forever.
            waited += _POLL_INTERVAL
            if waited >= self._timeout:
                raise TimeoutError(f"no data from the server for {self._timeout:g} s")

    def close(self) -> None:
        if not self.closed:
            self._selector.close()
        super().close()


def _connection(
    url: str, timeout: float, check_cancelled: Callable[[], None]
) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"cannot follow a link to {url!r}: not an http(s) URL")
    conn_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)

    class _Response(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            self.fp.close()  # the makefile() reader, replaced before anything was read
            self.fp = io.BufferedReader(_PollingReader(sock, timeout, check_cancelled))

    conn.response_class = _Response
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return conn, target


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, parts.port or default


@attrs.frozen
class _Reply:
    """The final response of a request, where it came from, and the hub's
    ``X-Linked-Etag`` seen on the way (the sha256 of an LFS file, on its redirect)."""

    response: http.client.HTTPResponse
    url: str
    linked_etag: str | None


@contextlib.contextmanager
def _request(
    url: str,
    headers: dict[str, str],
    *,
    token: str | None,
    auth_origin: str,
    timeout: float,
    check_cancelled: Callable[[], None] = lambda: None,
) -> Iterator[_Reply]:
    """GET ``url``, following up to ``MAX_REDIRECTS`` redirects; yield the final reply.

    The token goes only to ``auth_origin`` (the endpoint): a redirect elsewhere (the hub's
    CDN, whose links are signed) gets no ``Authorization`` header. Malformed replies
    become ``ConnectionError``.
    """
    origin = _origin(auth_origin)
    linked_etag: str | None = None
    for _ in range(MAX_REDIRECTS + 1):
        conn, target = _connection(url, timeout, check_cancelled)
        sent = dict(headers)
        if token is not None and _origin(url) == origin:
            sent["Authorization"] = f"Bearer {token}"
        try:
            try:
                conn.request("GET", target, headers=sent)
                response = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                host = urllib.parse.urlsplit(url).netloc
                raise HubCertificateError(
                    f"cannot verify the TLS certificate of {host}: {exc.verify_message} "
                    "(a private CA can be trusted with SSL_CERT_FILE)"
                ) from exc
            except http.client.HTTPException as exc:
                raise ConnectionError(f"bad reply from {_public(url)}: {exc!r}") from exc
            linked_etag = response.getheader("X-Linked-Etag") or linked_etag
            if response.status in _REDIRECTS and response.getheader("Location"):
                url = urllib.parse.urljoin(url, response.getheader("Location", ""))
                continue
            yield _Reply(response, url, linked_etag)
            return
        finally:
            conn.close()
    raise HubError(f"more than {MAX_REDIRECTS} redirects, last to {_public(url)}")


def _public(url: str) -> str:
    """``url`` without its query (signed CDN links carry credentials there)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _raise_for_status(
    response: http.client.HTTPResponse,
    url: str,
    what: str,
    *,
    token: str | None,
) -> None:
    status = response.status
    if status < 400:
        return
    with contextlib.suppress(Exception):
        response.read(65536)  # drain a little, for a clean close; the body is not needed
    code = response.getheader("X-Error-Code") or ""
    public = _public(url)
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


# --- download ----------------------------------------------------------------------------


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class HuggingFaceDownload:
    """An executor that downloads ``hf://…/path`` (the file's ``source_path``) to its
    ``destination_path``.

    ``endpoint`` defaults to ``HF_ENDPOINT``, else ``https://huggingface.co``; ``token``
    defaults to ``HF_TOKEN``; both are read on every call, not when the executor is made.
    The bytes go to a hidden partial file beside the destination (see
    :meth:`partial_path`), moved into place once complete and checked against the size the
    server announced. A broken or stalled connection (``ConnectionError``,
    ``TimeoutError``: retried by the default policy) keeps the partial file, and the next
    attempt asks only for the rest with ``Range: bytes=N-``; a server that answers with
    the whole file instead is handled too. The size is checked against the server's
    ``Content-Length``/``Content-Range``, and an LFS file's bytes against its sha256. A
    cancel or a refusal by the hub removes the partial file. An existing destination is
    refused (``FileExistsError``) unless ``overwrite`` is true.

    Progress is reported after every ``chunk_size`` bytes (absolute, counting a resumed
    part), and cancellation is noticed within a few hundredths of a second even while the
    server sends nothing. ``timeout`` bounds every wait for the server: connecting, and
    each stretch without data.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        overwrite: bool = False,
        chunk_size: int = 1 << 20,
        timeout: float = 30.0,
    ) -> None:
        if type(chunk_size) is not int or chunk_size < 1:
            raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if endpoint is not None:
            _endpoint(endpoint)  # fail early on a malformed endpoint
        self.endpoint = endpoint
        self.token = token
        self.overwrite = overwrite
        self.chunk_size = chunk_size
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return (
            f"HuggingFaceDownload(endpoint={self.endpoint!r}, "
            f"token={'***' if self.token else None}, overwrite={self.overwrite!r})"
        )

    @staticmethod
    def partial_path(destination: str | os.PathLike[str], source: str) -> Path:
        """Where the bytes of ``source`` wait until complete: a hidden file beside
        ``destination`` whose name depends on both, so that only the same download resumes it.
        """
        target = Path(destination)
        tag = hashlib.sha256(parse_hf_url(source).url().encode()).hexdigest()[:12]
        return target.with_name(f".{target.name}.{tag}.hfpart")

    def __call__(self, file: TransferFile, on_progress: ProgressCallback) -> None:
        """Download one file; see the class documentation."""
        location = parse_hf_url(file.source_path)
        if not location.path:
            raise ValueError(f"{file.source_path} names a repository, not a file")
        destination = Path(file.destination_path)
        endpoint = _endpoint(self.endpoint)
        token = _token(self.token)
        check_destination(destination, overwrite=self.overwrite)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = self.partial_path(destination, file.source_path)
        keep = False
        try:
            self._download(location, endpoint, token, partial, on_progress)
            move_into_place(partial, destination, overwrite=self.overwrite)
            keep = True  # moved: nothing left to remove
        except (ConnectionError, TimeoutError) as exc:
            keep = True  # transient: the next attempt resumes from here
            if isinstance(exc, HubUnavailableError | HubChecksumError):
                raise
            kind = TimeoutError if isinstance(exc, TimeoutError) else ConnectionError
            raise kind(f"download of {file.source_path} interrupted: {exc}") from exc
        finally:
            if not keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)

    def _download(
        self,
        location: HuggingFaceLocation,
        endpoint: str,
        token: str | None,
        partial: Path,
        on_progress: ProgressCallback,
    ) -> None:
        url = location.resolve_url(endpoint)
        what = location.describe()
        for _ in range(2):  # a second round only after a 416 for a stale partial file
            offset = partial.stat().st_size if partial.exists() else 0
            headers = {"Accept-Encoding": "identity", "User-Agent": "transferqueue"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            on_progress(offset)
            with _request(
                url,
                headers,
                token=token,
                auth_origin=endpoint,
                timeout=self.timeout,
                check_cancelled=on_progress.raise_if_cancelled,
            ) as reply:
                response = reply.response
                if response.status == 416 and offset:
                    os.unlink(partial)  # the partial file does not fit the file any more
                    continue
                _raise_for_status(response, reply.url, what, token=token)
                if response.status not in (200, 206):
                    raise HubRequestError(
                        f"unexpected HTTP {response.status} {response.reason} for {what}",
                        status=response.status,
                        url=_public(reply.url),
                    )
                total = self._expected_total(response, offset, reply.url)
                if response.status != 206:
                    offset = 0  # the whole file came back: start again
                digest = _sha256_etag(reply.linked_etag)
                hasher = hashlib.sha256() if digest else None
                with open(partial, "r+b" if offset else "wb") as out:
                    if hasher is not None and offset:
                        _hash_prefix(out, offset, hasher, on_progress)
                    out.seek(offset)
                    out.truncate()
                    offset = self._copy(response, out, offset, hasher, on_progress)
                if total is not None and offset != total:
                    raise ConnectionError(
                        f"connection closed after {offset} of {total} bytes from "
                        f"{_public(reply.url)}"
                    )
                if hasher is not None and hasher.hexdigest() != digest:
                    os.unlink(partial)  # corrupt, or a stale part of an older version
                    raise HubChecksumError(
                        f"{what}: the downloaded bytes do not match the hub's sha256 "
                        f"{digest}; the partial file was discarded"
                    )
                on_progress(offset)
                return
        raise HubError(f"{what}: the server refused every byte range (HTTP 416)")

    @staticmethod
    def _expected_total(response: http.client.HTTPResponse, offset: int, url: str) -> int | None:
        if response.status == 206:
            match = _CONTENT_RANGE.fullmatch((response.getheader("Content-Range") or "").strip())
            if match is None or int(match.group(1)) != offset:
                raise ConnectionError(
                    f"unexpected Content-Range {response.getheader('Content-Range')!r} from "
                    f"{_public(url)} for a request from byte {offset}"
                )
            return None if match.group(3) == "*" else int(match.group(3))
        length = response.getheader("Content-Length")
        return int(length) if length and length.isdigit() else None

    def _copy(
        self,
        response: http.client.HTTPResponse,
        out: BinaryIO,
        offset: int,
        hasher: Any,
        on_progress: ProgressCallback,
    ) -> int:
        reported = offset
        while True:
            try:
                data = response.read1(self.chunk_size)
            except http.client.HTTPException as exc:
                raise ConnectionError(f"broken reply: {exc!r}") from exc
            if not data:
                return offset
            out.write(data)
            if hasher is not None:
                hasher.update(data)
            offset += len(data)
            if offset - reported >= self.chunk_size:
                on_progress(offset)
                reported = offset


_SHA256 = re.compile(r'(?:W/)?"?([0-9a-f]{64})"?')


def _sha256_etag(etag: str | None) -> str | None:
    """The sha256 in the hub's ``X-Linked-Etag`` (LFS files), else None."""
    match = _SHA256.fullmatch(etag.strip()) if etag else None
    return match.group(1) if match else None


def _hash_prefix(stream: BinaryIO, length: int, hasher: Any, on_progress: ProgressCallback) -> None:
    """Feed the first ``length`` bytes of a resumed part to ``hasher``."""
    stream.seek(0)
    left = length
    while left:
        on_progress.raise_if_cancelled()
        block = stream.read(min(left, 8 << 20))
        if not block:
            raise ConnectionError("the partial file shrank while it was resumed")
        hasher.update(block)
        left -= len(block)


# --- listing -----------------------------------------------------------------------------


_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _tree(
    location: HuggingFaceLocation, endpoint: str, token: str | None, timeout: float
) -> Iterator[dict[str, Any]]:
    url: str | None = (
        f"{endpoint}/api/{_API_KIND[location.repo_type]}/{location.repo_id}/tree/"
        f"{urllib.parse.quote(location.revision, safe='')}?recursive=true&expand=false"
    )
    what = f"{location.repo_type} {location.repo_id}@{location.revision}"
    while url is not None:
        with _request(
            url,
            {"Accept": "application/json"},
            token=token,
            auth_origin=endpoint,
            timeout=timeout,
        ) as reply:
            response, final_url = reply.response, reply.url
            _raise_for_status(response, final_url, what, token=token)
            try:
                entries = json.loads(response.read())
            except (ValueError, http.client.HTTPException) as exc:
                raise ConnectionError(f"bad file list from {_public(final_url)}: {exc}") from exc
            link = response.getheader("Link") or ""
        if not isinstance(entries, list):
            raise HubError(f"unexpected file list from {_public(final_url)}")
        yield from (entry for entry in entries if isinstance(entry, dict))
        match = _LINK_NEXT.search(link)
        url = urllib.parse.urljoin(final_url, match.group(1)) if match else None


def list_hf_files(
    source: str,
    destination: str | os.PathLike[str],
    *,
    endpoint: str | None = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """The files of a repository, a folder of it, or one file, as ``queue_job`` takes them.

    ``source`` is ``hf://[datasets/|spaces/]owner/repo[@revision][/path]``. Each mapping
    has ``source_path`` (``hf://…@revision/path``), ``destination_path`` and ``size``.
    Destinations mirror the repository's paths below the folder ``source`` names (its
    root when it names none), under ``destination``; a ``source`` that names one file
    maps to ``destination/<file name>``. ``endpoint`` and ``token`` default as for
    :class:`HuggingFaceDownload`. Raises :class:`HubNotFoundError` when nothing matches.
    """
    location = parse_hf_url(source)
    base = _endpoint(endpoint)
    secret = _token(token)
    root = Path(destination)
    found: list[dict[str, Any]] = []
    prefix = f"{location.path}/" if location.path else ""
    for entry in _tree(location, base, secret, timeout):
        path = entry.get("path")
        if entry.get("type") != "file" or not isinstance(path, str):
            continue
        if path == location.path:
            relative = PurePosixPath(path).name
        elif path.startswith(prefix):
            relative = path[len(prefix) :]
        else:
            continue
        parts = PurePosixPath(relative).parts
        if not parts or any(part in (".", "..") for part in parts):
            raise HubError(f"refusing an unsafe path {path!r} in {location.describe()}")
        size = entry.get("size")
        found.append(
            {
                "source_path": attrs.evolve(location, path=path).url(),
                "destination_path": str(root.joinpath(*parts)),
                "size": size if isinstance(size, int) and size >= 0 else 0,
            }
        )
    if not found:
        raise HubNotFoundError(
            f"Hugging Face has no file at {location.describe()}",
            status=404,
            url=_public(f"{base}/{_URL_PREFIX[location.repo_type]}{location.repo_id}"),
        )
    found.sort(key=lambda mapping: str(mapping["source_path"]))
    return found
