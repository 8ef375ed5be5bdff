"""Downloads from the Hugging Face hub: one file per executor call, resumable by HTTP Range.

The downloader speaks the hub's plain HTTP layout with the standard library alone
(``http.client``, see :mod:`.http`), not through ``huggingface_hub``: that library
reads ``HF_ENDPOINT`` only once, at import, reports progress coarsely, offers no way to
cancel a running download and keeps its own cache folder in the destination. What this
module does not do that ``huggingface_hub`` does: read the token saved by
``huggingface-cli login`` (pass ``token=`` or set ``HF_TOKEN``), use the Xet storage
protocol (the hub still serves every file over plain HTTP), and keep a shared cache.

Errors (:mod:`.errors`): a connection that breaks, stalls or is refused raises
``ConnectionError`` or ``TimeoutError``, which are ``OSError`` and so transient under the
default :class:`~transferqueue.RetryPolicy`; the partial file is kept and the next attempt
resumes it (see :mod:`.partial` for when a partial file may be resumed). A refusal
by the hub (401/403, 404, other 4xx) raises a :class:`HubRequestError`, not retried; its
partial file is removed. A 5xx or 429 reply raises :class:`HubUnavailableError`, a
``ConnectionError`` (retried). For LFS files the hub announces the file's sha256
(``X-Linked-Etag``); the finished file is checked against it as it is on disk, and a
mismatch raises :class:`HubChecksumError` (retried, from byte 0).

Size. No byte is written without a bound known before the body is read: the file's
``size`` as queued, and the length the reply announces (``Content-Length``, or the total
of a ``Content-Range``). ``TransferFile.size`` has no "unknown": ``size`` 0 is an empty
file, or one queued by a caller who did not know its size; so a reply that announces a
length is taken at its word for a file of size 0, and one that announces none (a body
that ends with the connection, or chunked) may then carry no byte at all. A body larger
than its bound raises :class:`HubSizeError` as soon as it is, and the partial file is
removed; a reply announcing more than a size that is not 0 is refused before its body is
read.

Cancellation, and a pause of the job, is noticed within ``POLL_INTERVAL`` while waiting
for bytes, but not while connecting, which ``timeout`` bounds. A whole repository is
downloaded by listing it with :func:`list_hf_files` (:mod:`.listing`) and queueing the
mappings with a :class:`HuggingFaceDownload`.
"""

from __future__ import annotations

import errno
import functools
import http.client
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import attrs

from transferqueue._core.bandwidth import Pace
from transferqueue._errors import TransferPaused
from transferqueue._executor import ProgressCallback, cap_carrier, running_callback
from transferqueue._records import TransferFile
from transferqueue.executors._files.atomic import check_destination, make_parents
from transferqueue.executors._files.file_lock import FileBusyError

from .errors import (
    HubChecksumError,
    HubRequestError,
    HubSizeError,
    HubUnavailableError,
)
from .http import public_url, raise_for_status, request
from .location import (
    HuggingFaceLocation,
    endpoint_url,
    parse_hf_url,
    token_value,
)
from .partial import OwnedPartial, ResumeRecord, discard_partial, partial_path

_CONTENT_RANGE = re.compile(r"bytes\s+([0-9]+)-([0-9]+)/([0-9]+|\*)")
_SHA256 = re.compile(r'(?:W/)?"?([0-9a-f]{64})"?')


class HuggingFaceDownload:
    """An executor that downloads ``hf://…/path`` (the file's ``source_path``) to its
    ``destination_path``.

    ``endpoint`` defaults to ``HF_ENDPOINT``, else ``https://huggingface.co``; ``token``
    defaults to ``HF_TOKEN``; both are read on every call, not when the executor is made.
    The bytes go to a hidden partial file beside the destination (see
    :meth:`partial_path`), which this download owns (locked) until it is moved into place
    once complete; a second download of the same file into the same destination meanwhile
    fails with ``FileBusyError`` (an ``OSError``, retried by the default policy: by then
    the first has finished, and the destination exists, or given up). A broken or stalled
    connection (``ConnectionError``, ``TimeoutError``: retried by the default policy) keeps
    the partial file, and the next attempt asks only for the rest with ``Range: bytes=N-``
    and ``If-Range``, so that a file changed on the server comes whole instead; a partial
    file nothing proves to be of the same file is started again. The finished file is
    checked on disk: its size against the server's ``Content-Length``/``Content-Range``,
    an LFS file's bytes against its sha256. A body larger than the file's ``size`` (when
    it is not 0), ``Content-Length`` or ``Content-Range`` fails with
    :class:`HubSizeError`, and so does any byte of a body without an announced length for
    a file of ``size`` 0 (see the module's documentation: nothing is written without a
    bound). A paused job (``TransferPaused`` from ``on_progress``) keeps the partial
    file as a broken connection does, and the resumed file asks only for the rest. A
    cancel or a refusal by the hub removes the partial file (and its record), a cancel
    of a paused job too, once the cancel released the queue's lock (see
    :meth:`~transferqueue.ProgressCallback.call_on_cancel`). An existing
    destination is refused (``FileExistsError``) unless ``overwrite`` is true.

    Progress is reported after every ``chunk_size`` bytes written to the partial file
    (absolute, counting a resumed part), and cancellation is noticed within a few
    hundredths of a second even while the server sends nothing. Under the queue's
    bandwidth cap the body is read in smaller pieces, each waiting for the cap.
    ``timeout`` bounds every wait for the server: connecting, and each stretch without
    data.
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
            endpoint_url(endpoint)  # fail early on a malformed endpoint
        self.endpoint = endpoint
        self.token = token
        self.overwrite = overwrite
        self.chunk_size = chunk_size
        self.timeout = float(timeout)
        # What removes each partial file kept by a pause, should its job be cancelled,
        # by (job id, partial path): unregistered when the resumed file takes it back,
        # so that a later cancel of the job leaves alone what another download keeps
        # there by then. Rule of the lock: held only to read and change the dict.
        self._kept_lock = threading.Lock()
        self._kept: dict[tuple[str, Path], Callable[[], None]] = {}

    def __repr__(self) -> str:
        return (
            "HuggingFaceDownload(endpoint="
            f"{None if self.endpoint is None else public_url(self.endpoint)!r}, "
            f"token={'***' if self.token else None}, overwrite={self.overwrite!r})"
        )

    @staticmethod
    def partial_path(destination: str | os.PathLike[str], source: str) -> Path:
        """Where the bytes of ``source`` wait until complete: a hidden file beside
        ``destination`` whose name depends on both, so that only the same download resumes
        it (``.NAME.TAG.hfpart``, ``NAME`` shortened where the whole would pass 255 bytes).
        """
        return partial_path(Path(destination), parse_hf_url(source).url())

    def __call__(self, file: TransferFile, on_progress: ProgressCallback) -> None:
        """Download one file; see the class documentation."""
        location = parse_hf_url(file.source_path)
        if not location.path:
            raise ValueError(f"{file.source_path} names a repository, not a file")
        destination = Path(file.destination_path)
        endpoint = endpoint_url(self.endpoint)
        token = token_value(self.token)
        check_destination(destination, overwrite=self.overwrite)
        make_parents(destination)
        try:
            part = OwnedPartial.take(partial_path(destination, location.url()))
        except FileBusyError as exc:
            raise FileBusyError(
                errno.EBUSY,
                f"another download of {location.url()} into {destination} holds its "
                f"partial file ({exc.strerror})",
                exc.filename,
            ) from None
        # The queue's callback, even when on_progress wraps it (stand-ins lack it).
        callback = running_callback() or on_progress
        kept = (getattr(callback, "job_id", None), part.path)
        self._take_back(kept)
        paused = False
        try:
            self._own(part, location, endpoint, token, destination, file.size, on_progress)
        except TransferPaused:
            paused = True
            raise
        finally:
            part.close()
            # Registered once unlocked: a job cancelled already runs the hook at once.
            call_on_cancel = getattr(callback, "call_on_cancel", None)
            if paused and call_on_cancel is not None and os.path.lexists(part.path):
                self._keep(kept, call_on_cancel)

    def _keep(
        self,
        kept: tuple[str | None, Path],
        call_on_cancel: Callable[[Callable[[], object]], Callable[[], None]],
    ) -> None:
        """Have a cancel of the paused job remove its kept partial file, until the
        resumed file takes it back (:meth:`_take_back`)."""
        job_id, path = kept
        if job_id is None:  # no job to key it by: the hook stays until the job ends
            call_on_cancel(functools.partial(discard_partial, path))
            return
        key = (job_id, path)
        ran = False
        unregister: Callable[[], None] | None = None

        def discard() -> None:
            nonlocal ran
            with self._kept_lock:
                ran = True
                if unregister is not None and self._kept.get(key) is unregister:
                    del self._kept[key]
            discard_partial(path)

        unregister = call_on_cancel(discard)  # runs it at once if the job ended
        with self._kept_lock:
            if not ran:
                self._kept[key] = unregister

    def _take_back(self, kept: tuple[str | None, Path]) -> None:
        """The resumed file holds its partial file again: a cancel of its job no longer
        removes it."""
        job_id, path = kept
        if job_id is None:
            return
        with self._kept_lock:
            unregister = self._kept.pop((job_id, path), None)
        if unregister is not None:
            unregister()

    def _own(
        self,
        part: OwnedPartial,
        location: HuggingFaceLocation,
        endpoint: str,
        token: str | None,
        destination: Path,
        listed: int,
        on_progress: ProgressCallback,
    ) -> None:
        keep = False
        try:
            self._download(location, endpoint, token, part, listed, on_progress)
            part.move_into_place(destination, overwrite=self.overwrite)
            keep = True  # moved: nothing left to remove
        except TransferPaused:
            # The job was paused: the resumed file goes on from here, as after a break;
            # should the job be cancelled instead, the cancel removes it.
            keep = part.size() > 0 and part.record() is not None
            raise
        except (ConnectionError, TimeoutError) as exc:
            # Transient: the next attempt resumes from here, if anything proves it may.
            keep = part.size() > 0 and part.record() is not None
            if isinstance(exc, HubUnavailableError | HubChecksumError):
                raise
            kind = TimeoutError if isinstance(exc, TimeoutError) else ConnectionError
            raise kind(f"download of {location.url()} interrupted: {exc}") from exc
        finally:
            if not keep:
                part.discard()

    def _download(
        self,
        location: HuggingFaceLocation,
        endpoint: str,
        token: str | None,
        part: OwnedPartial,
        listed: int,
        on_progress: ProgressCallback,
    ) -> None:
        url = location.resolve_url(endpoint)
        what = location.describe()
        while True:  # again only after a resume failed, and then from byte 0
            size = part.size()
            record = part.record() if size else None
            offset = size if record is not None else 0
            headers = {"Accept-Encoding": "identity", "User-Agent": "transferqueue"}
            if record is not None:
                headers["Range"] = f"bytes={offset}-"
                if record.if_range is not None:
                    headers["If-Range"] = record.if_range
            on_progress(offset)
            with request(
                url,
                headers,
                token=token,
                auth_origin=endpoint,
                timeout=self.timeout,
                # A pause too ends the wait for bytes (getattr: stand-ins may lack it).
                check_cancelled=getattr(
                    on_progress, "raise_if_stopped", on_progress.raise_if_cancelled
                ),
            ) as reply:
                response = reply.response
                if response.status == 416 and record is not None:
                    part.restart(None)  # the partial file does not fit the file any more
                    continue
                raise_for_status(response, reply.url, what, token=token)
                if response.status not in (200, 206):
                    raise HubRequestError(
                        f"unexpected HTTP {response.status} {response.reason} for {what}",
                        status=response.status,
                        url=public_url(reply.url),
                    )
                digest = _sha256_etag(reply.linked_etag)
                resuming = record is not None and response.status == 206
                if resuming and record is not None and not record.same_file(digest):
                    part.restart(None)  # another file by the same name (an LFS sha256 differs)
                    continue
                total = self._expected_total(response, offset, reply.url)
                bound = _Bound.of(total, listed, what, reply.url)
                if resuming:
                    part.resume_at(offset)
                else:
                    offset = 0  # the whole file comes: start again, remembering its validators
                    part.restart(
                        ResumeRecord.from_reply(
                            response.getheader("ETag"), response.getheader("Last-Modified"), digest
                        )
                    )
                offset = self._copy(response, part, offset, bound, what, on_progress)
            # A body without a length that ends early looks complete: only the listed
            # size (or an LFS file's sha256) tells.
            end = total if total is not None else listed
            if offset != end:
                raise ConnectionError(
                    f"connection closed after {offset} of {end} bytes from {public_url(reply.url)}"
                )
            self._verify(part, offset, digest, what, on_progress)
            on_progress(offset)
            return

    @staticmethod
    def _expected_total(response: http.client.HTTPResponse, offset: int, url: str) -> int | None:
        if response.status == 206:
            match = _CONTENT_RANGE.fullmatch((response.getheader("Content-Range") or "").strip())
            if match is None or int(match.group(1)) != offset:
                raise ConnectionError(
                    f"unexpected Content-Range {response.getheader('Content-Range')!r} from "
                    f"{public_url(url)} for a request from byte {offset}"
                )
            return None if match.group(3) == "*" else int(match.group(3))
        length = (response.getheader("Content-Length") or "").strip()
        return int(length) if re.fullmatch(r"[0-9]+", length) else None

    def _copy(
        self,
        response: http.client.HTTPResponse,
        part: OwnedPartial,
        offset: int,
        bound: _Bound,
        what: str,
        on_progress: ProgressCallback,
    ) -> int:
        reported = offset
        pace = Pace(cap_carrier(on_progress), self.chunk_size)
        while True:
            try:
                data = response.read1(pace.step())
            except http.client.HTTPException as exc:
                raise ConnectionError(f"broken reply: {exc!r}") from exc
            if not data:
                return offset
            if offset + len(data) > bound.size:
                raise bound.exceeded(what)
            part.stream.write(data)
            offset += len(data)
            pace.moved(len(data))  # the queue's bandwidth cap: the socket waits meanwhile
            if offset - reported >= self.chunk_size:
                part.stream.flush()  # what is reported is in the file
                on_progress(offset)
                reported = offset

    @staticmethod
    def _verify(
        part: OwnedPartial,
        offset: int,
        digest: str | None,
        what: str,
        on_progress: ProgressCallback,
    ) -> None:
        """Check the finished partial file as it is on disk: its size, and the sha256 of
        an LFS file."""
        part.stream.flush()
        on_disk = part.size()
        if on_disk != offset:
            part.discard()
            raise ConnectionError(
                f"{what}: the partial file holds {on_disk} bytes, not the {offset} "
                "downloaded (changed by someone else); it was discarded"
            )
        if digest is not None and part.sha256(on_progress.raise_if_cancelled) != digest:
            part.discard()  # corrupt, or a stale part of an older version
            raise HubChecksumError(
                f"{what}: the downloaded file does not match the hub's sha256 "
                f"{digest}; the partial file was discarded"
            )


@attrs.frozen
class _Bound:
    """The most bytes a reply's body may bring the file to (see the module's
    documentation), and whether the reply announced a length."""

    size: int
    announced: bool

    @classmethod
    def of(cls, total: int | None, listed: int, what: str, url: str) -> _Bound:
        """The bound of a reply announcing ``total`` bytes (None: no length) for a file
        queued with ``size`` ``listed``; a reply announcing more than a ``listed`` that
        is not 0 is refused at once."""
        if total is None:
            return cls(listed, announced=False)  # 0: an empty file, or nothing to bound it
        if listed and total > listed:
            raise HubSizeError(
                f"{what}: {public_url(url)} announces {total} bytes, more than the {listed} "
                "the file was listed with (list it again if it changed)"
            )
        return cls(total, announced=True)

    def exceeded(self, what: str) -> HubSizeError:
        """The error of a body that went past this bound."""
        if self.size == 0 and not self.announced:
            return HubSizeError(
                f"{what}: the server sent a body without announcing its length for a file "
                "queued with size 0 (an empty file, or one of unknown size): nothing bounds "
                "it, so it is not written (queue the file with its size, as list_hf_files "
                "gives it); the partial file was removed"
            )
        return HubSizeError(
            f"{what}: the server sent more than the {self.size} bytes the file has "
            "(by its listing or the reply's headers); the partial file was removed"
        )


def _sha256_etag(etag: str | None) -> str | None:
    """The sha256 in the hub's ``X-Linked-Etag`` (LFS files), else None."""
    match = _SHA256.fullmatch(etag.strip()) if etag else None
    return match.group(1) if match else None
