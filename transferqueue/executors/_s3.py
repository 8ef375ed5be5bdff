"""S3 transfers on boto3 / s3transfer: uploads, downloads and S3-to-S3 copies.

Needs the extra ``transferqueue[s3]`` (boto3). The endpoint, region and credentials come
from boto3's usual configuration (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``,
``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``~/.aws/config`` ...), so any S3-compatible store
works; or pass a ready client.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
import botocore.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from s3transfer.manager import TransferManager
from s3transfer.subscribers import BaseSubscriber
from s3transfer.utils import S3_RETRYABLE_DOWNLOAD_ERRORS

from transferqueue._errors import TransferCancelled, TransferPaused
from transferqueue._executor import ProgressCallback, cap_carrier
from transferqueue._records import TransferFile
from transferqueue.executors._compare import (
    FileFacts,
    check_comparison,
    mark_up_to_date,
    s3_facts,
)
from transferqueue.executors._files.atomic import atomic_destination, check_destination
from transferqueue.executors._files.remote_names import (
    UnsafeRemoteNameError,
    join_below,
    relative_parts,
)
from transferqueue.executors._path_filter import path_filter
from transferqueue.executors._s3_url import is_s3_url, parse_s3_url, s3_url
from transferqueue.executors._verify import (
    ChecksumMismatchError,
    Expected,
    compare_objects,
    expected_of_object,
)

if TYPE_CHECKING:  # types only: boto3-stubs[s3] and types-s3transfer, not needed to run
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PaginatorConfigTypeDef
    from s3transfer.futures import TransferFuture

# How often, at most, the executor's thread looks at the transfer while no bytes move:
# the longest delay between a cancel and the abort of the transfer.
_POLL_SECONDS = 0.05
# Progress is reported when this many more bytes moved (and when the transfer ends).
_REPORT_STEP = 1 << 20

# Error codes that mean "these credentials may not do this".
_PERMISSION_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "403",
        "401",
    }
)


def _error_code(exc: botocore.exceptions.ClientError) -> tuple[str, str, int]:
    error = exc.response.get("Error", {})
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return str(error.get("Code", "") or status), str(error.get("Message", "") or ""), status


def _bucket_exists(client: S3Client, bucket: str) -> bool | None:
    """True / False when S3 says so, None when it will not tell (e.g. permissions)."""
    try:
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        code, _, status = _error_code(exc)
        if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
            return False
        return None
    except botocore.exceptions.BotoCoreError:
        return None
    return True


def s3_error(exc: BaseException, url: str, action: str, client: S3Client | None = None) -> OSError:
    """Turn a botocore failure of ``action`` ("upload to", "download", ...) on ``url`` into
    an ``OSError`` subclass whose message names the URL and the problem.

    ``FileNotFoundError`` for a missing bucket or key, ``PermissionError`` for refused or
    missing credentials, ``ConnectionError`` when the endpoint cannot be reached, and
    ``OSError`` otherwise; the original exception is kept as ``__cause__`` by the caller's
    ``raise ... from``. With ``client``, a bare 404 (a HEAD request has no error body) is
    told apart into "no such bucket" and "no such key".
    """
    bucket, key = parse_s3_url(url)
    if isinstance(exc, botocore.exceptions.ClientError):
        code, message, status = _error_code(exc)
        if code.isdigit():  # no error body (a HEAD request): only the HTTP status
            detail = f"HTTP {code} {message}".rstrip()
        else:
            detail = f"{code}: {message}" if message and message != code else code
        if code == "NoSuchBucket":
            return FileNotFoundError(f"{url}: cannot {action}: no such bucket {bucket!r}")
        if code in ("NoSuchKey", "NoSuchUpload"):
            return FileNotFoundError(f"{url}: cannot {action}: no such key {key!r}")
        if status == 404 or code in ("404", "NotFound"):
            exists = _bucket_exists(client, bucket) if client is not None else None
            what = (
                f"no such bucket {bucket!r}"
                if exists is False
                else f"no such key {key!r}"
                if exists
                else "no such bucket or key"
            )
            return FileNotFoundError(f"{url}: cannot {action}: {what}")
        if code in _PERMISSION_CODES or status in (401, 403):
            return PermissionError(f"{url}: cannot {action}: permission denied ({detail})")
        return OSError(f"{url}: cannot {action}: {detail}")
    if isinstance(
        exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return PermissionError(f"{url}: cannot {action}: {exc}")
    if isinstance(
        exc,
        botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionClosedError,
    ):
        return ConnectionError(f"{url}: cannot {action}: {exc}")
    return OSError(f"{url}: cannot {action}: {type(exc).__name__}: {exc}")


_EXISTS = "destination object exists (pass overwrite=True to replace it)"
# s3transfer makes the later requests of a multipart download or copy conditional on the
# ETag of the first (IfMatch, CopySourceIfMatch): their 412 means the source was replaced.
_SOURCE_CHANGED = "the source object changed during the transfer"


def _is_precondition_failed(exc: BaseException | None) -> bool:
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    code, _, status = _error_code(exc)
    return status == 412 or code == "PreconditionFailed"


def _source_changed(exc: BaseException) -> bool:
    """Whether a download or copy failed because a request conditional on the source's
    ETag was refused: a bare 412, or the error that newer s3transfer (0.19) raises in its
    place (S3DownloadFailedError, S3CopyFailedError: "did not match expected ETag")."""
    return _is_precondition_failed(exc) or _is_precondition_failed(exc.__context__)


def make_s3_client(transfer_config: TransferConfig | None = None) -> S3Client:
    """A boto3 S3 client from a fresh session (so the usual environment variables and
    config files apply), as :class:`S3Transfer` makes by default: its connection pool
    holds what an instance with ``transfer_config`` uses at once (``max_concurrency +
    max_submission_concurrency + 10``), and it downloads without a HEAD request per object.

    Why no HEAD: s3transfer asks for an object's size and ETag first unless response
    checksum validation is ``"when_required"``; then its first GET, of a range as long
    as a part, tells both. That setting means botocore does not ask S3 for an object's
    stored checksum to check the bytes against (they are still checked for length, and
    TLS protects them on the way).
    """
    config = transfer_config if transfer_config is not None else TransferConfig()
    pool = config.max_request_concurrency + config.max_submission_concurrency + 10
    return boto3.session.Session().client(
        "s3",
        config=Config(max_pool_connections=pool, response_checksum_validation="when_required"),
    )


class _Progress(BaseSubscriber):
    """Sums s3transfer's increments (from its worker threads; negative on a retry) and
    wakes the executor's thread when another :data:`_REPORT_STEP` bytes moved or the
    transfer ended."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._total = 0
        self._announced = 0  # the total at the last wake-up
        self._done = False

    def on_progress(self, future: TransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        with self._changed:
            self._total += bytes_transferred
            if abs(self._total - self._announced) >= _REPORT_STEP:
                self._announced = self._total
                self._changed.notify_all()

    def on_done(self, future: TransferFuture, **kwargs: Any) -> None:
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait(self, reported: int, timeout: float) -> int:
        """Wait until the total differs from ``reported`` by a step, the transfer ended, or
        ``timeout`` passed; return the total (never below 0)."""
        with self._changed:
            if not self._done and abs(self._total - reported) < _REPORT_STEP:
                self._changed.wait(timeout)
            return max(self._total, 0)

    @property
    def total(self) -> int:
        with self._changed:
            return max(self._total, 0)


class _Throttle(BaseSubscriber):
    """Holds s3transfer's request threads to the queue's bandwidth cap: each increment of
    bytes sent or received waits in the thread that moved it (``on_progress.throttle``)
    before that thread reads or sends more. A cancelled or paused job ends the wait at
    once; the executor's own thread then cancels the transfer."""

    def __init__(self, throttle: Callable[[int], None]) -> None:
        self._throttle = throttle

    def on_progress(self, future: TransferFuture, bytes_transferred: int, **kwargs: Any) -> None:
        if bytes_transferred > 0:  # negative when a request is retried: nothing to give back
            with contextlib.suppress(TransferCancelled, TransferPaused):
                self._throttle(bytes_transferred)


def _subscribers(on_progress: ProgressCallback, *others: BaseSubscriber) -> list[BaseSubscriber]:
    """``others``, with a :class:`_Throttle` when ``on_progress`` carries a queue's cap."""
    throttle = getattr(cap_carrier(on_progress), "throttle", None)
    return [*others, _Throttle(throttle)] if throttle is not None else list(others)


def _check_download(
    stream: IO[bytes], expected: Expected, source: str, destination: str, on_progress: Any
) -> None:
    """Compare the downloaded temporary file with what the object holds; raise
    :class:`ChecksumMismatchError` if they differ (the caller's ``atomic_destination``
    then removes the file)."""
    stream.flush()
    try:
        arrived = expected.of_file(stream.fileno(), None, on_progress.raise_if_cancelled)
    except OSError as exc:
        raise type(exc)(f"{destination}: cannot read the download to check it: {exc}") from exc
    if arrived != expected.value:
        raise ChecksumMismatchError(
            destination,
            expected.name,
            expected.value,
            arrived,
            removed=f"the download of {source} was removed",
        )


class _Stopped(CancelledError):
    """Carries why a single PUT stopped (``reason``: the job's cancel or pause, or the
    source file ending early) out of botocore: a ``CancelledError`` is the one exception
    that botocore passes through unchanged and never retries (s3transfer stops its own
    requests the same way)."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


class _SentFile:
    """The first ``size`` bytes of an open file, as the body of a PutObject made in the
    queue worker's thread (see ``S3Transfer._put``): every read of the bytes being sent
    reports progress each :data:`_REPORT_STEP`, waits for the queue's bandwidth cap, and
    stops the request (:class:`_Stopped`) once the job is cancelled or paused.

    botocore reads the body before it sends it, for its CRC32 and, over plain HTTP, for
    the signature's payload hash; those reads neither count nor wait. s3transfer's
    handlers on ``request-created.s3``, which its ``TransferManager`` registers on the
    client, mark the body not sending before the signature and sending once it is made,
    as they do for s3transfer's own bodies (methods ``signal_not_transferring`` and
    ``signal_transferring``).
    """

    def __init__(
        self, stream: IO[bytes], size: int, url: str, on_progress: ProgressCallback
    ) -> None:
        self._stream = stream
        self._size = size
        self._url = url
        self._on_progress = on_progress
        self._throttle = getattr(cap_carrier(on_progress), "throttle", None)
        self._raise_if_paused = getattr(on_progress, "raise_if_paused", None)
        self._position = 0
        self._sending = False
        self._reported = 0

    def __len__(self) -> int:
        return self._size

    def signal_transferring(self) -> None:
        """From now on, what is read is sent."""
        self._sending = True

    def signal_not_transferring(self) -> None:
        """From now on, what is read is not sent (botocore hashing the body)."""
        self._sending = False

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        position = min(max(base + offset, 0), self._size)
        self._stream.seek(position)
        self._position = position
        return position

    def read(self, amount: int | None = -1) -> bytes:
        try:
            self._check()
            left = self._size - self._position
            wanted = left if amount is None or amount < 0 else min(amount, left)
            data = self._stream.read(wanted)
            if len(data) < wanted:
                raise OSError(
                    errno.EIO,
                    f"the file ended at byte {self._position + len(data)}, before the "
                    f"{self._size} bytes it had when its upload started",
                )
            self._position += len(data)
            if self._sending and data:
                if self._throttle is not None:
                    self._throttle(len(data))
                if abs(self._position - self._reported) >= _REPORT_STEP:
                    self._reported = self._position
                    self._on_progress(self._position)
        except (TransferCancelled, TransferPaused, OSError) as exc:
            raise _Stopped(exc) from exc
        return data

    def _check(self) -> None:
        if self._on_progress.cancelled:
            raise TransferCancelled(f"{self._url}: transfer cancelled")
        if self._raise_if_paused is not None:
            self._raise_if_paused()


class _KnownObject(BaseSubscriber):
    """Tells s3transfer the size and ETag of the object to download, as a HEAD read them:
    no HEAD of its own, and If-Match on every GET. A value that is not what it should be
    (the reply is the server's) is left out."""

    def __init__(self, size: object, etag: object) -> None:
        self.size = size if type(size) is int and size >= 0 else None
        self.etag = etag if isinstance(etag, str) and etag.isprintable() else None

    def on_queued(self, future: TransferFuture, **kwargs: Any) -> None:
        if self.size is not None:
            future.meta.provide_transfer_size(self.size)
        if self.etag is not None:
            future.meta.provide_object_etag(self.etag)


class _KnownSize(BaseSubscriber):
    """Tells s3transfer the size of the file to upload, as measured by the executor."""

    def __init__(self, size: int) -> None:
        self._size = size

    def on_queued(self, future: TransferFuture, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)


class S3Transfer:
    """An executor for S3: a local file to ``s3://bucket/key`` (s3-upload), ``s3://...``
    to a local file (s3-download), or ``s3://...`` to ``s3://...`` (a copy).

    The direction follows from the file's ``source_path`` and ``destination_path``.
    Large files go in parts (multipart) as ``transfer_config`` says (boto3's
    :class:`~boto3.s3.transfer.TransferConfig`; default: parts of 8 MiB above 8 MiB, 10
    request threads). Progress is reported in absolute bytes, from the queue worker's
    thread, after every MiB moved and at the end. Uploads, downloads and streamed copies
    keep to the queue's bandwidth cap (the thread that sends or receives the bytes waits
    for it); a server-side copy moves no byte through this process and is not
    held back. Cancelling the job cancels the
    transfer within about 0.05 s: a multipart upload is aborted (no orphaned parts stay
    in the bucket), a download leaves no file behind. Pausing the job stops the transfer
    the same way (``TransferPaused``), and the resumed file starts again from byte 0:
    s3transfer makes a new multipart upload for every upload and aborts it when stopped,
    with no way to hand it the parts of an earlier one.

    ``client`` is a boto3 S3 client; by default one is made on first use by
    :func:`make_s3_client` (a fresh boto3 session, so the usual environment variables
    and config files apply; ``max_pool_connections`` raised to fit, see below; downloads
    without a HEAD request per object). ``overwrite=False`` refuses an existing
    destination with ``FileExistsError``: a local file before the download starts (and
    again, atomically, at the end); for an upload below ``multipart_threshold``, the PUT
    itself (``If-None-Match: *``: one request, atomic; the server answers 412, which
    becomes the ``FileExistsError``, unless botocore retried the PUT and the object
    holds the file's bytes: the first attempt's, stored but its reply lost); for a
    multipart upload or a copy, a HEAD request before it starts (an object created
    meanwhile is replaced). A server that ignores ``If-None-Match`` on PUT replaces an
    existing object without a word: use
    ``overwrite=False`` only with servers that honour it (AWS S3 does since August
    2024, and so does moto, which the tests run against). Downloads go to a hidden
    temporary file beside the destination
    (:func:`~transferqueue.executors.atomic_destination`), moved into place only when
    complete; parent folders are created. The choice between one PUT and a multipart
    upload follows the size the file had when its upload started (a file that grows
    meanwhile is sent as long as it was then). A source object replaced during a
    multipart download or copy fails it with an ``OSError`` naming the source.

    **Checking what arrived.** With ``checksum=True`` each upload and download is
    compared with what the object holds, read by a HEAD request with
    ``ChecksumMode=ENABLED`` (see ``transferqueue/executors/_verify.py``): the ETag of
    an object stored in one part (the MD5 of its bytes), else its SHA256, SHA1 or CRC32
    checksum of the whole object, else the ETag of a multipart object (the MD5 of the
    parts' MD5s; the part size read by a HEAD of part 1). A download is read first,
    then fetched with ``If-Match`` on that ETag, and checked in its temporary file: a
    mismatch leaves no file. An upload is checked once the object exists: a mismatch
    deletes it. Either raises
    :class:`~transferqueue.executors.ChecksumMismatchError`, naming the copy and both
    values. An object with nothing usable (a CRC32C or CRC64NVME checksum alone, an
    ETag of KMS encryption) is not checked. A copy between buckets is compared with its
    source by a checksum both carry (the ETags of two objects stored in one part, or
    whole-object checksums of one algorithm; a streamed copy compares the ETag of its
    source's GET), and deleted if it differs; without one in common it is not
    checked.

    **Threads and connections.** An upload below ``multipart_threshold`` is one
    PutObject made by the queue worker's thread itself, and so is the GetObject of a
    download whose size (the file's ``size``, or the HEAD's with ``checksum=True``) is
    above 0 and below it (no s3transfer thread: on small files the hand-offs between
    threads cost as much CPU as the request). Such a transfer stops between two chunks
    of the body when the job is cancelled or paused (or, once a PUT's body is sent, when
    the server replies); a GET whose body is cut short is made again, up to
    ``num_download_attempts`` times, with If-Match on the ETag first seen. Everything
    else goes through s3transfer:
    one instance holds one ``TransferManager``,
    whose ``max_concurrency`` request threads (``TransferConfig.max_concurrency``,
    default 10) are shared by every file this instance transfers at once, beside its
    ``max_submission_concurrency`` threads (default 5) that make each file's first
    request (HEAD, CreateMultipartUpload). The queue's limit ``N`` caps how many files are
    in flight; each in-flight file waits in its queue worker thread (which also makes the
    HEAD request of ``overwrite=False`` and the single PUT of a small upload) while its
    parts go through the shared request threads. So the limits do not multiply within
    one instance: it makes at most about
    ``max_concurrency + max_submission_concurrency + N`` requests at a time, and its
    data moves over at most ``max_concurrency`` (use ``max_concurrency >= N`` so that ``N``
    small files really move together). They multiply across instances: ``K`` instances
    used side by side make up to ``K x`` that. (boto3's own ``upload_file`` starts a new
    manager per call instead: ``N`` files at once then mean ``N x max_concurrency``
    threads and connections.) The client's connection pool
    (``botocore.config.Config(max_pool_connections=...)``, boto3's default 10) should
    hold that many connections, or urllib3 logs "Connection pool is full" and reconnects;
    the default client has ``max_concurrency + max_submission_concurrency + 10``. Pass
    your own client with a matching ``Config`` when you change ``max_concurrency`` or
    run more than 10 files at once.

    **Copies.** An S3-to-S3 copy is a server-side copy (``CopyObject`` /
    ``UploadPartCopy``) made by ``client``: no bytes pass through this process, and
    progress arrives once per part. When the source lives on another endpoint or account,
    pass ``source_client``: the copy then streams, reading the source with
    ``source_client`` and uploading it with ``client`` (parts are held in memory).

    Call :meth:`close` (or use ``with``) to stop the request threads once no transfer is
    running; an unclosed instance's idle threads end with the interpreter.
    """

    def __init__(
        self,
        *,
        client: S3Client | None = None,
        transfer_config: TransferConfig | None = None,
        overwrite: bool = False,
        source_client: S3Client | None = None,
        checksum: bool = False,
    ) -> None:
        if not isinstance(checksum, bool):
            raise TypeError(f"checksum must be a bool, not {type(checksum).__name__}")
        config = transfer_config if transfer_config is not None else TransferConfig()
        if not isinstance(config, TransferConfig):
            raise TypeError(
                "transfer_config must be a boto3.s3.transfer.TransferConfig, "
                f"not {type(config).__name__}"
            )
        if not config.use_threads:
            raise ValueError("S3Transfer needs TransferConfig(use_threads=True) to cancel")
        self._config = config
        self._client = client
        self._source_client = source_client
        self.overwrite = overwrite
        self.checksum = checksum
        self._lock = threading.Lock()  # guards the lazy creation of client and manager
        self._manager: TransferManager | None = None
        self._closed = False

    # -- lazily made, once per instance ------------------------------------------------

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client (made on first use unless one was given)."""
        with self._lock:
            if self._client is None:
                self._client = make_s3_client(self._config)
            return self._client

    def _transfer_manager(self) -> TransferManager:
        client = self.client
        with self._lock:
            if self._closed:
                raise RuntimeError("this S3Transfer is closed")
            if self._manager is None:
                # Always the classic (threaded, cancellable) manager, never the CRT one.
                self._manager = TransferManager(client, self._config)
            return self._manager

    def close(self) -> None:
        """Stop the request threads, after the transfers running now have ended."""
        with self._lock:
            self._closed = True
            manager, self._manager = self._manager, None
        if manager is not None:
            # Never shutdown(cancel=True): broken in s3transfer (issue #143).
            manager.shutdown()

    def __enter__(self) -> S3Transfer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the executor ------------------------------------------------------------------

    def __call__(self, file: TransferFile, on_progress: ProgressCallback) -> None:
        """Transfer ``file`` (see the class docstring for the directions)."""
        source, destination = file.source_path, file.destination_path
        if is_s3_url(source) and is_s3_url(destination):
            self._copy(source, destination, on_progress)
        elif is_s3_url(source):
            self._download(source, destination, file.size, on_progress)
        elif is_s3_url(destination):
            self._upload(source, destination, on_progress)
        else:
            raise ValueError(
                f"S3Transfer needs an s3:// source or destination, got {source!r} -> "
                f"{destination!r}"
            )

    def _upload(self, source: str, destination: str, on_progress: ProgressCallback) -> None:
        bucket, key = _object_url(destination)
        try:
            info = os.stat(source)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "source file does not exist", source) from None
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "source is a folder, not a file", source)
        # Made first in any case: its handlers on the client count what _put sends.
        manager = self._transfer_manager()
        if info.st_size < self._config.multipart_threshold:
            self._put(source, info.st_size, destination, on_progress)
        else:
            if not self.overwrite:
                # s3transfer would hand the condition to CreateMultipartUpload, which has
                # none: a HEAD first (one request more, beside the file's many parts).
                self._refuse_existing_object(bucket, key, "upload to")
            progress = _Progress()
            # s3transfer measures the file again: told the size measured here, it goes
            # multipart as chosen here even if the file shrank meanwhile.
            future = manager.upload(
                source,
                bucket,
                key,
                subscribers=_subscribers(on_progress, _KnownSize(info.st_size), progress),
            )
            self._follow(
                future, progress, on_progress, destination, self._failure(destination, "upload to")
            )
        if self.checksum:
            self._check_upload(source, info.st_size, bucket, key, on_progress)

    def _put(self, source: str, size: int, url: str, on_progress: ProgressCallback) -> None:
        """Upload the first ``size`` bytes of ``source`` in one PutObject, made here in
        the queue worker's thread (s3transfer would hand it to a submission thread, then
        to a request thread, which this thread would wait for: two hand-offs of the GIL
        and s3transfer's bookkeeping per file, which on a small file cost as much CPU as
        the request itself). Without ``overwrite`` the PUT carries ``If-None-Match: *``:
        one request, which refuses an existing object atomically."""
        bucket, key = _object_url(url)
        client = self.client
        condition: dict[str, Any] = {} if self.overwrite else {"IfNoneMatch": "*"}
        fail = self._failure(url, "upload to", refused_put=not self.overwrite)
        on_progress(0)
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below, whatever happens
        except OSError as exc:
            raise fail(exc) from exc
        try:
            body = _SentFile(stream, size, url, on_progress)
            client.put_object(
                Bucket=bucket, Key=key, Body=cast(IO[bytes], body), ContentLength=size, **condition
            )
        except _Stopped as stop:
            if isinstance(stop.reason, OSError):  # reading the source failed
                raise fail(stop.reason) from stop.reason
            raise stop.reason from None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            error = fail(exc)
            if not (
                isinstance(error, FileExistsError)
                and self._is_own_retried_put(exc, source, size, bucket, key)
            ):
                raise error from exc
        finally:
            stream.close()
        on_progress.raise_if_cancelled()
        on_progress(size)

    def _check_upload(
        self, source: str, size: int, bucket: str, key: str, on_progress: ProgressCallback
    ) -> None:
        """Compare the uploaded object with the file's first ``size`` bytes (what was
        sent); delete the object and raise :class:`ChecksumMismatchError` if they differ."""
        url = s3_url(bucket, key)
        expected = self._expected_of(self._head(bucket, key, url, "check"), bucket, key, url)
        if expected is None:
            return
        try:
            with open(source, "rb") as stream:
                sent = expected.of_file(stream.fileno(), size, on_progress.raise_if_cancelled)
        except OSError as exc:
            raise type(exc)(f"{source}: cannot read the file to check its upload: {exc}") from exc
        if sent != expected.value:
            removed = self._delete_object(bucket, key, url)
            raise ChecksumMismatchError(url, expected.name, sent, expected.value, removed=removed)

    def _check_copy(self, source_head: Any, source: str, bucket: str, key: str) -> None:
        """Compare the copy with its source by a checksum both carry (see
        :func:`compare_objects`); delete the copy and raise :class:`ChecksumMismatchError`
        if they differ."""
        url = s3_url(bucket, key)
        copy_head = self._head(bucket, key, url, "check")
        compared = compare_objects(cast(dict[str, Any], source_head), copy_head)
        if compared is not None and compared[1] != compared[2]:
            name, sent, arrived = compared
            removed = self._delete_object(bucket, key, url)
            raise ChecksumMismatchError(url, name, sent, arrived, removed=f"{removed} ({source})")

    def _delete_object(self, bucket: str, key: str, url: str) -> str:
        """Delete a copy found wrong; what became of it, for the error's message."""
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            return f"the object could not be deleted: {s3_error(exc, url, 'delete', None)}"
        return "the object was deleted"

    def _expected_of(self, head: Any, bucket: str, key: str, url: str) -> Expected | None:
        """What a copy of the object whose HEAD reply is ``head`` must come to (see
        ``_verify``); a multipart ETag costs a HEAD of part 1. (Not made conditional on
        the ETag: moto compares If-Match with the part's own ETag. An object replaced
        between the two reads fails the check, and a retry reads it afresh.)"""

        def part_size() -> object:
            return self._head(bucket, key, url, "check", PartNumber=1).get("ContentLength")

        return expected_of_object(cast(dict[str, Any], head), part_size)

    def _head(self, bucket: str, key: str, url: str, action: str, **extra: Any) -> Any:
        client = self.client
        try:
            return client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise s3_error(exc, url, action, client) from exc

    def _is_own_retried_put(
        self, refusal: BaseException | None, source: str, size: int, bucket: str, key: str
    ) -> bool:
        """Whether the 412 that refused a retried conditional PUT answers our own first
        attempt, stored by the server but its reply lost: the object now there holds the
        file's first ``size`` bytes (a single PUT's ETag is their MD5, quoted)."""
        response = cast(botocore.exceptions.ClientError, refusal).response  # see _failure
        if not response.get("ResponseMetadata", {}).get("RetryAttempts"):
            return False  # refused at the first attempt: someone else's object
        try:
            etag = self.client.head_object(Bucket=bucket, Key=key).get("ETag", "")
            digest = hashlib.md5(usedforsecurity=False)
            with open(source, "rb") as stream:
                left = size
                while left > 0 and (chunk := stream.read(min(left, _REPORT_STEP))):
                    digest.update(chunk)
                    left -= len(chunk)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError):
            return False  # cannot tell: the refusal stands
        return etag == f'"{digest.hexdigest()}"'

    def _download(
        self, source: str, destination: str, size: object, on_progress: ProgressCallback
    ) -> None:
        bucket, key = _object_url(source)
        target = Path(destination)
        check_destination(target, overwrite=self.overwrite)
        manager = self._transfer_manager()
        fail = self._failure(source, "download", source_changed=True)
        progress = _Progress()
        known: list[BaseSubscriber] = []
        expected = None
        etag = None
        if self.checksum:
            # Read first, then downloaded with If-Match on its ETag: the bytes checked
            # are the object's whose checksum this is, or the download fails as changed.
            head = self._head(bucket, key, source, "download")
            expected = self._expected_of(head, bucket, key, source)
            read = _KnownObject(head.get("ContentLength"), head.get("ETag"))
            known.append(read)
            size, etag = read.size, read.etag
        # An object known to be small (by the listing, or by the HEAD above) comes in one
        # GET made here; a size of 0 may mean "unknown", and s3transfer finds out.
        single = type(size) is int and 0 < size < self._config.multipart_threshold
        # Handed an open file rather than a name, s3transfer writes into our locked
        # temporary itself; given a name, it would write "<name>.<random>" of its own,
        # which a process killed mid-download would leave behind for good.
        local = True  # whether an OSError comes from our side of the file (not s3transfer)
        try:
            with atomic_destination(target, overwrite=self.overwrite) as stream:
                local = False
                if single:
                    self._get(bucket, key, etag, stream, source, on_progress, fail)
                else:
                    future = manager.download(
                        bucket, key, stream, subscribers=_subscribers(on_progress, *known, progress)
                    )
                    self._follow(future, progress, on_progress, source, fail)
                if expected is not None:
                    _check_download(stream, expected, source, destination, on_progress)
                local = True
        except OSError as exc:
            if not local:
                raise  # raised by _follow or _get, already naming the URL
            raise fail(exc) from exc

    def _get(
        self,
        bucket: str,
        key: str,
        etag: str | None,
        stream: IO[bytes],
        url: str,
        on_progress: ProgressCallback,
        fail: Callable[[BaseException], OSError],
    ) -> None:
        """Download the object into ``stream`` by one GetObject made here, in the queue
        worker's thread, as :meth:`_put` uploads (s3transfer would hand the request to
        a submission thread, the writes to an IO thread). Between two chunks read, the
        bytes wait for the queue's cap, progress is reported each MiB, and a cancel or
        pause stops the download. A connection lost while the body streams starts the
        GET again, up to ``num_download_attempts`` times in all (as s3transfer does),
        with If-Match on the ETag first seen, so that a replaced object fails as changed
        rather than mixing two versions. Every OSError raised names ``url``."""
        client = self.client
        throttle = getattr(cap_carrier(on_progress), "throttle", None)
        raise_if_paused = getattr(on_progress, "raise_if_paused", None)
        on_progress(0)
        received = 0
        for attempt in range(1, self._config.num_download_attempts + 1):
            condition: dict[str, Any] = {} if etag is None else {"IfMatch": etag}
            try:
                reply = client.get_object(Bucket=bucket, Key=key, **condition)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise fail(exc) from exc
            if etag is None and isinstance(reply.get("ETag"), str):
                etag = reply["ETag"]
            body = reply["Body"]
            received = reported = 0
            try:
                stream.seek(0)
                stream.truncate()
                chunks = body.iter_chunks(self._config.io_chunksize)
                while True:
                    if on_progress.cancelled:
                        raise TransferCancelled(f"{url}: transfer cancelled")
                    if raise_if_paused is not None:
                        raise_if_paused()
                    try:
                        chunk = next(chunks, b"")
                    except S3_RETRYABLE_DOWNLOAD_ERRORS:
                        if attempt == self._config.num_download_attempts:
                            raise
                        break  # and read the object again
                    if not chunk:
                        on_progress.raise_if_cancelled()
                        on_progress(received)
                        return
                    stream.write(chunk)
                    received += len(chunk)
                    if throttle is not None:
                        throttle(len(chunk))
                    if received - reported >= _REPORT_STEP:
                        reported = received
                        on_progress(received)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                raise fail(exc) from exc
            except OSError as exc:
                raise fail(exc) from exc
            finally:
                body.close()

    def _copy(self, source: str, destination: str, on_progress: ProgressCallback) -> None:
        source_bucket, source_key = _object_url(source)
        bucket, key = _object_url(destination)
        manager = self._transfer_manager()
        self._refuse_existing_object(bucket, key, "copy to")
        source_head = None
        if self._source_client is None:
            if self.checksum:
                source_head = self._head(source_bucket, source_key, source, "copy")
            progress = _Progress()
            future = manager.copy(
                {"Bucket": source_bucket, "Key": source_key}, bucket, key, subscribers=[progress]
            )
            self._follow(
                future, progress, on_progress, source, self._copy_failure(source, destination)
            )
        else:
            source_head = self._streamed_copy(source, bucket, key, destination, on_progress)
        if source_head is not None:
            self._check_copy(source_head, source, bucket, key)

    def _streamed_copy(
        self, source: str, bucket: str, key: str, destination: str, on_progress: ProgressCallback
    ) -> Any:
        """Copy ``source``, read with the source client, to ``bucket``/``key``; return
        the source's reply when the copy is to be checked (its ETag, for free), else None.

        The GET does not ask for the source's checksums (``ChecksumMode``): botocore would
        then check the body itself and fail a mismatch with an error of its own, where
        the ETags compared afterwards say which copy differs, and by what."""
        assert self._source_client is not None
        source_bucket, source_key = _object_url(source)
        try:
            reply = self._source_client.get_object(Bucket=source_bucket, Key=source_key)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise s3_error(exc, source, "read", self._source_client) from exc
        body = reply["Body"]
        progress = _Progress()
        try:
            # s3transfer uploads from any object with read(); its stubs name only IO.
            future = self._transfer_manager().upload(
                cast(IO[bytes], body), bucket, key, subscribers=_subscribers(on_progress, progress)
            )
            self._follow(
                future, progress, on_progress, destination, self._failure(destination, "copy to")
            )
        finally:
            body.close()
        return reply if self.checksum else None

    def _failure(
        self, url: str, action: str, *, refused_put: bool = False, source_changed: bool = False
    ) -> Callable[[BaseException], OSError]:
        """How a failed transfer of ``url`` is reported. A 412 (a precondition failed) is
        a ``FileExistsError`` if ``refused_put`` (the PUT carried If-None-Match: *), an
        ``OSError`` saying that ``url`` changed if ``source_changed`` (the requests after
        the first carried its ETag), else an error like any other."""

        def fail(exc: BaseException) -> OSError:
            if refused_put and _is_precondition_failed(exc):
                # Our If-None-Match: * refused: the object exists (or appeared meanwhile).
                return FileExistsError(errno.EEXIST, _EXISTS, url)
            if source_changed and _source_changed(exc):
                return OSError(f"{url}: cannot {action}: {_SOURCE_CHANGED}")
            if isinstance(exc, botocore.exceptions.ClientError | botocore.exceptions.BotoCoreError):
                return s3_error(exc, url, action, self.client)
            if isinstance(exc, OSError):
                return type(exc)(f"{url}: cannot {action}: {exc}")
            return OSError(f"{url}: cannot {action}: {type(exc).__name__}: {exc}")

        return fail

    def _copy_failure(self, source: str, destination: str) -> Callable[[BaseException], OSError]:
        """How a failed server-side copy is reported: a bare 404 comes from the HEAD of the
        source (the first request), other errors name the bucket they mention."""
        source_bucket, _ = parse_s3_url(source)
        read_source = self._failure(source, "copy", source_changed=True)
        write_destination = self._failure(destination, "copy to")

        def fail(exc: BaseException) -> OSError:
            if _source_changed(exc):  # CopySourceIfMatch refused
                return read_source(exc)
            if isinstance(exc, botocore.exceptions.ClientError):
                code, _, _ = _error_code(exc)
                named = exc.response.get("Error", {}).get("BucketName")
                if code in ("404", "NotFound") or (
                    code == "NoSuchBucket" and named == source_bucket
                ):
                    return read_source(exc)
            return write_destination(exc)

        return fail

    def _refuse_existing_object(self, bucket: str, key: str, action: str) -> None:
        if self.overwrite:
            return
        url = s3_url(bucket, key)
        client = self.client
        try:
            client.head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as exc:
            code, _, status = _error_code(exc)
            if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
                # The free name we hoped for, or no bucket at all, which the transfer
                # itself then reports (no HEAD of the bucket to tell them apart here).
                return
            raise s3_error(exc, url, action, client) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise s3_error(exc, url, action, client) from exc
        raise FileExistsError(errno.EEXIST, _EXISTS, url)

    def _follow(
        self,
        future: TransferFuture,
        progress: _Progress,
        on_progress: ProgressCallback,
        url: str,
        fail: Callable[[BaseException], OSError],
    ) -> None:
        """Report the transfer's progress from this (the queue worker's) thread until it
        ends; cancel it when the job is cancelled or paused, and raise its failure as an
        OSError.

        ``on_progress`` is called only here, never from s3transfer's threads, so that its
        ``TransferCancelled`` reaches the queue.
        """
        reported = 0
        # A paused job stops the transfer as a cancel does: s3transfer can neither keep
        # a multipart upload's parts for a later call (each upload() creates its own
        # upload, and aborts it when cancelled) nor resume a download, so the resumed
        # file starts again from byte 0. (getattr: any callable may stand in.)
        raise_if_paused = getattr(on_progress, "raise_if_paused", None)
        try:
            on_progress(0)
            while not future.done():
                total = progress.wait(reported, _POLL_SECONDS)
                if on_progress.cancelled:
                    break
                if raise_if_paused is not None:
                    raise_if_paused()
                if total != reported:
                    on_progress(total)
                    reported = total
        except BaseException:
            # on_progress raised (a cancel between the check and the report), or this
            # thread was interrupted: stop the transfer and let it clean up first.
            future.cancel()
            _wait_quietly(future.result)
            raise
        if on_progress.cancelled and not future.done():
            future.cancel()
        try:
            # After a cancel, result() returns once s3transfer has cleaned up: the multipart
            # upload aborted, the partial download removed.
            future.result()
        except CancelledError:
            raise TransferCancelled(f"{url}: transfer cancelled") from None
        except Exception as exc:
            raise fail(exc) from exc
        on_progress.raise_if_cancelled()
        on_progress(progress.total)


def _wait_quietly(wait: Callable[[], object]) -> None:
    with contextlib.suppress(BaseException):  # the caller re-raises its own exception
        wait()


def _object_url(url: str) -> tuple[str, str]:
    bucket, key = parse_s3_url(url)
    if not key or key.endswith("/"):
        raise ValueError(f"S3 URL names no object (expected s3://bucket/key): {url!r}")
    return bucket, key


def list_s3_objects(
    source: str,
    destination: str | os.PathLike[str],
    *,
    client: S3Client | None = None,
    page_size: int | None = None,
    on_error: Callable[[UnsafeRemoteNameError], object] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    compare: str = "none",
    update: bool = False,
) -> list[dict[str, Any]]:
    """List what ``source`` names, as the ``files`` that
    :meth:`transferqueue.TransferQueue.queue_job` takes:
    ``[{"source_path": "s3://bucket/key", "destination_path": ..., "size": n}]``.

    ``source`` is ``s3://bucket/key`` or a prefix. A key that exists exactly gives that
    one object, with ``destination`` as its destination. Otherwise the key is a folder:
    every object under ``key/`` (the whole bucket for ``s3://bucket`` or
    ``s3://bucket/``), with the destination ``destination`` joined with the key's part
    below the prefix (a local path, or an ``s3://`` URL for copies). Zero-byte "folder"
    markers (keys ending in ``/``) are skipped. A missing bucket raises
    ``FileNotFoundError``; a prefix with nothing under it gives an empty list.

    Keys are chosen by whoever writes to the bucket, so the part below the prefix must be
    a safe relative name (see ``executors._files.remote_names``): no leading ``/``, no empty,
    ``.`` or ``..`` segment, no NUL, no backslash; and a key ending in ``/`` that holds
    data cannot become a file. Such a key raises
    :class:`~transferqueue.executors.UnsafeRemoteNameError` (a ``ValueError``) naming
    it; with ``on_error``, it is passed to ``on_error`` instead and left out, and the
    listing goes on (raise from ``on_error`` to stop it).

    ``client`` defaults to a boto3 S3 client from a fresh session; ``page_size`` is
    the number of keys per ListObjectsV2 request (the server's default, 1,000, if None).

    ``include`` and ``exclude`` are glob patterns (see
    :class:`~transferqueue.executors.PathFilter`) matched against each key's part below
    the prefix (the key's last segment for a ``source`` that names one object): a key is
    listed when it matches no ``exclude`` and, if any ``include`` is given, one of them.
    A key left out so is not checked either: an unsafe name that is excluded is not
    reported to ``on_error``.

    ``compare`` (one of :data:`~transferqueue.executors.COMPARE_MODES`) and ``update``
    compare each object (its size, LastModified and ETag, as listed) with its
    destination, listed through ``client`` too when it is on S3, as
    :func:`~transferqueue.executors.skip_up_to_date` does: an object whose destination is
    up to date gets ``"skip": True``, which ``queue_job`` records as ``skipped``.
    """
    bucket, key = parse_s3_url(source)
    kept = path_filter(include, exclude)
    comparing = check_comparison(compare, update)
    if client is None:
        client = make_s3_client()
    pagination: PaginatorConfigTypeDef = {} if page_size is None else {"PageSize": page_size}
    paginator = client.get_paginator("list_objects_v2")
    try:
        if key and not key.endswith("/"):
            first = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            found = first.get("Contents", [])
            if found and found[0]["Key"] == key:
                if kept is not None and not kept.matches(key.rsplit("/", 1)[-1]):
                    return []
                files = [
                    {
                        "source_path": source,
                        "destination_path": os.fspath(destination),
                        "size": int(found[0]["Size"]),
                    }
                ]
                if comparing:
                    mark_up_to_date(
                        files, [s3_facts(found[0])], compare=compare, update=update, client=client
                    )
                return files
            key += "/"
        files = []
        sources: list[FileFacts] = []
        where = s3_url(bucket, key)
        for page in paginator.paginate(Bucket=bucket, Prefix=key, PaginationConfig=pagination):
            for entry in page.get("Contents", []):
                name, size = entry["Key"], int(entry["Size"])
                if name.endswith("/") and size == 0:
                    continue  # a folder marker
                if kept is not None and not kept.matches(name[len(key) :]):
                    continue
                try:
                    target = _destination_below(destination, name[len(key) :], size, where)
                except UnsafeRemoteNameError as exc:
                    if on_error is None:
                        raise
                    on_error(exc)
                    continue
                files.append(
                    {"source_path": s3_url(bucket, name), "destination_path": target, "size": size}
                )
                if comparing:
                    sources.append(s3_facts(entry))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise s3_error(exc, s3_url(bucket, key), "list", client) from exc
    if comparing:
        mark_up_to_date(files, sources, compare=compare, update=update, client=client)
    return files


def _destination_below(
    destination: str | os.PathLike[str], relative: str, size: int, where: str
) -> str:
    """Where the key named ``relative`` (below the listed prefix) goes: ``destination``
    joined with it, once it is proven a safe relative name."""
    if relative.endswith("/"):
        reason = f"ends with '/' but holds {size} bytes, so it cannot become a file"
        raise UnsafeRemoteNameError(relative, reason, where=where)
    if is_s3_url(destination):
        parts = relative_parts(relative, where=where)
        return str(destination).rstrip("/") + "/" + "/".join(parts)
    return join_below(destination, relative, where=where)
