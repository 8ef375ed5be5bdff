"""The partial file of a Hugging Face download, and what proves that it may be resumed.

The bytes of ``DEST/NAME`` wait in ``DEST/.NAME.TAG.hfpart`` until complete. ``TAG`` is
taken from a hash of the source's URL and the destination's full name, so the name is
the same for every attempt and every run of the same download (which resumes it) and
differs for any other; ``NAME`` is only a hint, shortened to keep the whole within 255
bytes.

Ownership. The partial file is opened without following a symbolic link, only if it is a
regular file, created exclusively (``O_EXCL``) when new, and held with an exclusive
``flock`` for the whole download (:mod:`transferqueue.executors._files.file_lock`): a
second download of the same file into the same destination, in this process or another,
finds it busy and fails with ``FileBusyError`` instead of writing into it. Once locked,
the name is checked to still lead to the file held (its owner may have moved it into
place or removed it between the open and the lock). A symbolic link, FIFO or other
non-regular file found at the partial's name is not ours: it is removed (never followed)
and a new partial made; a folder there fails the download.

Resume. A partial is resumed only when its :class:`ResumeRecord`, a small JSON file
``DEST/.NAME.TAG.hfmeta`` written before the first byte of the body, holds what proves
that the server still has the same file: a validator for ``If-Range`` (the reply's
strong ``ETag``, else its ``Last-Modified``; the server answers 206 only if the file is
unchanged, else 200 with the whole new file) and, for an LFS file, its sha256. A partial
without a valid record (planted, or left by an older version) is started again from byte
0. The record lives beside the partial, not in its name, so that the name can be found
without listing the folder; only the partial's lock holder reads or writes it. The
record proves the server's file unchanged, not the bytes on disk: an LFS file is checked
against its sha256 over the file as it is on disk at the end, any other file by its size
on disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import attrs

from transferqueue.executors._files.atomic import move_into_place
from transferqueue.executors._files.file_lock import FileBusyError, open_locked, open_regular

_NAME_MAX = 255  # bytes per name on most file systems
_TAG_CHARS = 12
PARTIAL_SUFFIX = ".hfpart"
RECORD_SUFFIX = ".hfmeta"  # as long as PARTIAL_SUFFIX: one limit serves both names
_EXTRA = len(".") + len(".") + _TAG_CHARS + len(PARTIAL_SUFFIX)
_RECORD_MAX = 4096  # bytes read of a record at most; ours are far smaller
# What may go into an If-Range header: printable ASCII, bounded.
_VALIDATOR = re.compile(r"[\x20-\x7e]{1,512}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def partial_path(destination: Path, source_url: str) -> Path:
    """The partial file's path for ``source_url`` (canonical ``hf://`` URL) downloaded to
    ``destination``."""
    raw = os.fsencode(destination.name)
    tag = hashlib.sha256(source_url.encode() + b"\0" + raw).hexdigest()[:_TAG_CHARS]
    limit = _NAME_MAX - _EXTRA
    hint = destination.name
    if len(raw) > limit:  # cut whole characters: the name is only a hint
        hint = raw[:limit].decode("utf-8", errors="ignore")
    return destination.with_name(f".{hint}.{tag}{PARTIAL_SUFFIX}")


@attrs.frozen
class ResumeRecord:
    """What proves a partial file resumable: ``if_range`` (an ``ETag`` or
    ``Last-Modified`` to send as ``If-Range``) and/or ``sha256`` (of an LFS file)."""

    if_range: str | None
    sha256: str | None

    @classmethod
    def from_reply(
        cls, etag: str | None, last_modified: str | None, sha256: str | None
    ) -> ResumeRecord | None:
        """The record of a reply's validators; None if it has none usable (a weak
        ``ETag`` cannot be an ``If-Range``; a value unfit for a header is not used)."""
        strong = None if etag is None or etag.strip().startswith("W/") else etag.strip()
        candidates = (strong, last_modified.strip() if last_modified else None)
        usable = [value for value in candidates if value and _VALIDATOR.fullmatch(value)]
        if_range = usable[0] if usable else None
        if if_range is None and sha256 is None:
            return None
        return cls(if_range, sha256)

    @classmethod
    def parse(cls, data: bytes) -> ResumeRecord | None:
        """A record read from disk, or None if it is not one of ours, whole and valid."""
        try:
            fields = json.loads(data)
        except (ValueError, RecursionError):
            return None
        if not isinstance(fields, dict) or set(fields) != {"if_range", "sha256"}:
            return None
        if_range, sha256 = fields["if_range"], fields["sha256"]
        if if_range is not None and not (
            isinstance(if_range, str) and _VALIDATOR.fullmatch(if_range)
        ):
            return None
        if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            return None
        if if_range is None and sha256 is None:
            return None
        return cls(if_range, sha256)

    def dump(self) -> bytes:
        return json.dumps({"if_range": self.if_range, "sha256": self.sha256}).encode()

    def same_file(self, sha256: str | None) -> bool:
        """Whether a 206 reply announcing ``sha256`` (None: not an LFS file) continues
        the file this record describes: the server honoured ``If-Range`` if one was
        sent, and the sha256, if the record knows one, is the same."""
        return self.sha256 is None or self.sha256 == sha256


class OwnedPartial:
    """A partial file this download holds locked, from :meth:`take` until :meth:`close`.

    Rule of the lock: only its holder writes the partial file, reads or writes its
    record, moves the partial into place or removes either.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.record_path = path.with_name(path.name[: -len(PARTIAL_SUFFIX)] + RECORD_SUFFIX)
        self._fd = fd
        self.stream: BinaryIO = open(fd, "r+b", closefd=False)  # noqa: SIM115 - closed in close()

    @classmethod
    def take(cls, path: Path) -> OwnedPartial:
        """Open ``path`` (created if missing) and lock it; ``FileBusyError`` if another
        download holds it, or took it over while this one was opening it."""
        try:
            fd = open_locked(path, os.O_RDWR)
        except FileNotFoundError:
            fd = _create(path)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EINVAL):
                raise
            # A link or a FIFO on our name: not ours; removed, never followed.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            fd = _create(path)
        if not _names(path, fd):
            os.close(fd)  # moved into place or removed by its owner between open and lock
            raise FileBusyError(errno.EBUSY, "taken over by another transfer", str(path))
        return cls(path, fd)

    def size(self) -> int:
        """The partial file's size on disk now."""
        return os.fstat(self._fd).st_size

    def record(self) -> ResumeRecord | None:
        """The partial's resume record, or None if there is none valid."""
        try:
            fd = open_regular(self.record_path, os.O_RDONLY)
        except OSError:
            return None  # missing, a link, not a regular file: no proof
        with open(fd, "rb") as stream:
            data = stream.read(_RECORD_MAX + 1)
        return ResumeRecord.parse(data) if len(data) <= _RECORD_MAX else None

    def restart(self, record: ResumeRecord | None) -> None:
        """Empty the partial file, then write ``record`` for the bytes to come (or remove
        the old one): in this order, so that a crash in between leaves no record that
        would vouch for the old bytes."""
        self.stream.seek(0)
        self.stream.truncate()
        self.stream.flush()
        self._forget_record()
        if record is None:
            return
        fd = open_regular(self.record_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as stream:
            stream.write(record.dump())

    def resume_at(self, offset: int) -> None:
        """Position the partial file to go on writing at ``offset``."""
        self.stream.seek(offset)
        self.stream.truncate()

    def sha256(self, check_cancelled: Callable[[], None]) -> str:
        """The sha256 of the partial file as it is on disk, read from its start."""
        self.stream.flush()
        hasher = hashlib.sha256()
        position = 0
        while True:
            check_cancelled()
            block = os.pread(self._fd, 8 << 20, position)
            if not block:
                return hasher.hexdigest()
            hasher.update(block)
            position += len(block)

    def move_into_place(self, destination: Path, *, overwrite: bool) -> None:
        """Give the finished partial the destination's name, and drop its record."""
        self.stream.flush()
        if not _names(self.path, self._fd):
            raise ConnectionError(f"the partial file {self.path} was replaced during the download")
        self._forget_record()
        move_into_place(self.path, destination, overwrite=overwrite)

    def discard(self) -> None:
        """Remove the partial file and its record (if the name still leads to ours)."""
        self._forget_record()
        if _names(self.path, self._fd):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

    def close(self) -> None:
        """Close the partial file, which releases the lock."""
        try:
            self.stream.close()
        finally:
            os.close(self._fd)

    def _forget_record(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.record_path)


def discard_partial(path: Path) -> None:
    """Remove the partial file at ``path`` and its record, if they are there and no
    download holds them (one that does owns them: it removes them or moves them into
    place itself): for a paused download whose job was cancelled instead of resumed."""
    try:
        fd = open_locked(path, os.O_RDWR)
    except OSError:  # missing, busy, or not a regular file we may take: not ours to remove
        return
    if not _names(path, fd):  # moved into place or removed between the open and the lock
        os.close(fd)
        return
    part = OwnedPartial(path, fd)
    try:
        part.discard()
    finally:
        part.close()


def _create(path: Path) -> int:
    """A new partial file at ``path``, created exclusively and locked."""
    try:
        return open_locked(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        # Made since it was found missing: by another download of the same file.
        raise FileBusyError(errno.EBUSY, "created by another transfer", str(path)) from None


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` (not followed) is the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
