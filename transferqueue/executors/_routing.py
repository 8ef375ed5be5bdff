"""Routing: which kind of location a path names, which transfer type and listing helper a
(source, destination) pair needs, and one executor that sends each file to the right one."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Literal

from transferqueue._records.enums import TransferType

from ._hub.download import HuggingFaceDownload
from ._hub.listing import list_hf_files
from ._local.executor import LocalCopy
from ._local.listing import list_local_files
from ._s3_url import is_s3_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from transferqueue._executor import Executor, ProgressCallback
    from transferqueue._records import TransferFile

LocationKind = Literal["local", "s3", "hf"]

_TYPES: dict[tuple[str, str], TransferType] = {
    ("local", "local"): TransferType.LOCAL_UPLOAD,
    ("local", "s3"): TransferType.S3_UPLOAD,
    ("s3", "local"): TransferType.S3_DOWNLOAD,
    ("s3", "s3"): TransferType.CROSS_STORAGE,
    ("hf", "local"): TransferType.HUGGINGFACE,
}

_SUPPORTED = "local -> local, local -> s3://, s3:// -> local, s3:// -> s3://, hf:// -> local"


def location_kind(text: str | os.PathLike[str]) -> LocationKind:
    """``"s3"`` for an ``s3://`` URL, ``"hf"`` for an ``hf://`` URL, ``"local"`` otherwise.

    Only the scheme is looked at: nothing is checked to exist.
    """
    if isinstance(text, str):
        if is_s3_url(text):
            return "s3"
        if text.startswith("hf://"):
            return "hf"
    return "local"


def transfer_type_for(
    source: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> TransferType:
    """The :class:`~transferqueue.TransferType` of a transfer from ``source`` to
    ``destination``: local to local is ``local-upload``, local to S3 ``s3-upload``, S3 to
    local ``s3-download``, S3 to S3 ``cross-storage``, Hugging Face to local
    ``huggingface``. Any other pair raises ``ValueError`` naming both and what is
    supported.
    """
    pair = (location_kind(source), location_kind(destination))
    try:
        return _TYPES[pair]
    except KeyError:
        raise ValueError(
            f"cannot transfer {os.fspath(source)!r} ({pair[0]}) to "
            f"{os.fspath(destination)!r} ({pair[1]}): supported are {_SUPPORTED}"
        ) from None


def list_files(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    on_error: Callable[[Exception], object] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    **options: Any,
) -> list[dict[str, Any]]:
    """List what ``source`` names as the files ``queue_job`` takes, with destinations
    below (or at) ``destination``, by the listing helper for the source's kind:
    :func:`~transferqueue.executors.list_local_files`,
    :func:`~transferqueue.executors.list_s3_objects` (``options``: ``client``,
    ``page_size``) or :func:`~transferqueue.executors.list_hf_files` (``options``:
    ``endpoint``, ``token``, ``timeout``); another kind's option is a ``TypeError``.

    ``on_error``, given to every kind's helper, is called with what each leaves out
    instead of raising: an ``OSError`` for a local folder or entry below ``source`` that
    cannot be read, an :class:`~transferqueue.executors.UnsafeRemoteNameError` for an
    S3 key or a Hugging Face path that cannot safely become a path below
    ``destination``, a :class:`~transferqueue.executors.HubEntryError` for a Hugging
    Face entry that is no usable file (a bad field, a path listed twice).

    ``include`` and ``exclude``, given to every kind's helper, are glob patterns matched
    against each file's path below ``source`` (see
    :class:`~transferqueue.executors.PathFilter`): what matches an ``exclude``, or no
    ``include`` when some are given, is not listed.

    ``compare`` and ``update`` (``options`` every kind's helper takes) compare each file
    with its destination: one whose destination is up to date comes with ``"skip":
    True``, which ``queue_job`` records as ``skipped`` (see
    :func:`~transferqueue.executors.skip_up_to_date`); an S3 destination is listed with
    ``client`` when given.

    Raises ``ValueError`` for an unsupported pair (see :func:`transfer_type_for`) and
    whatever the helper raises (``FileNotFoundError`` for a missing source, ...).
    """
    transfer_type_for(source, destination)
    if on_error is not None:
        options["on_error"] = on_error
    options["include"] = include
    options["exclude"] = exclude
    kind = location_kind(source)
    if kind == "s3":
        from ._s3 import list_s3_objects

        return list_s3_objects(str(source), destination, **options)
    if kind == "hf":
        return list_hf_files(str(source), destination, **options)
    return list_local_files(source, destination, **options)


class Transfer:
    """An executor for any supported pair: each file goes to a :class:`LocalCopy`, an
    :class:`~transferqueue.executors.S3Transfer` or a :class:`HuggingFaceDownload`, by the
    kinds of its ``source_path`` and ``destination_path`` (see :func:`transfer_type_for`;
    an unsupported pair fails that file with ``ValueError``).

    Each executor is made on first use (so boto3 is imported only when an S3 file comes),
    once, even when many worker threads need it at the same time, with ``overwrite`` and
    ``checksum`` (each copy checked against its source, see
    :class:`~transferqueue.executors.ChecksumMismatchError`; a Hugging Face download
    always checks an LFS file's sha256).
    ``s3`` and ``huggingface`` replace the default S3 and Hugging Face executors (their
    own ``overwrite`` then applies). One instance serves any number of files and threads.

    Call :meth:`close` (or use ``with``) once its files are done: it closes the executors
    it made (the S3 one's request threads end), not those given to it.
    """

    def __init__(
        self,
        *,
        overwrite: bool = False,
        s3: Executor | None = None,
        huggingface: Executor | None = None,
        checksum: bool = False,
    ) -> None:
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be a bool, not {type(overwrite).__name__}")
        if not isinstance(checksum, bool):
            raise TypeError(f"checksum must be a bool, not {type(checksum).__name__}")
        for name, value in (("s3", s3), ("huggingface", huggingface)):
            if value is not None and not callable(value):
                raise TypeError(
                    f"{name} must be an executor (callable), not {type(value).__name__}"
                )
        self._overwrite = overwrite
        self._checksum = checksum
        # Guards the making of executors, _made and _closed; never held while one runs.
        self._lock = threading.Lock()
        self._executors: dict[str, Executor] = {}
        self._made: list[Executor] = []  # those this instance made, and so closes
        self._closed = False
        if s3 is not None:
            self._executors["s3"] = s3
        if huggingface is not None:
            self._executors["hf"] = huggingface

    @property
    def overwrite(self) -> bool:
        """Whether the executors made here replace an existing destination."""
        return self._overwrite

    def _executor(self, name: str) -> Executor:
        executor = self._executors.get(name)
        if executor is not None:
            return executor
        with self._lock:
            executor = self._executors.get(name)
            if executor is None:
                if self._closed:
                    raise RuntimeError("this Transfer is closed")
                executor = self._make(name)
                self._executors[name] = executor
                self._made.append(executor)
            return executor

    def close(self) -> None:
        """Close the executors made here (after the transfers running now have ended);
        a file that comes later fails with ``RuntimeError``."""
        with self._lock:
            self._closed = True
            made, self._made = self._made, []
        for executor in made:
            close = getattr(executor, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _make(self, name: str) -> Executor:
        if name == "s3":
            from ._s3 import S3Transfer

            return S3Transfer(overwrite=self._overwrite, checksum=self._checksum)
        if name == "hf":
            return HuggingFaceDownload(overwrite=self._overwrite)
        return LocalCopy(overwrite=self._overwrite, checksum=self._checksum)

    def __call__(self, file: TransferFile, on_progress: ProgressCallback) -> None:
        """Transfer ``file`` with the executor its (source, destination) pair needs."""
        transfer_type = transfer_type_for(file.source_path, file.destination_path)
        if transfer_type is TransferType.LOCAL_UPLOAD:
            name = "local"
        elif transfer_type is TransferType.HUGGINGFACE:
            name = "hf"
        else:
            name = "s3"
        self._executor(name)(file, on_progress)
