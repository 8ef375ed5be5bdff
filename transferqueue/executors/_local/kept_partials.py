"""The partial copies a local copy keeps when its job is paused, and their resumption.

A :class:`~transferqueue.executors.LocalCopy` writes into a hidden temporary file beside
the destination (:mod:`._atomic`), removed on any failure. When its job is paused
(``on_progress`` raises :class:`~transferqueue.TransferPaused`), the copy keeps the
temporary file instead: still open and locked, so that no sweep removes it and no
other writer takes it, with the source as it was (device, inode, size, modification
time). The next copy of the same source to the same destination by the same executor
(the resumed file) goes on from the kept file's length, if the source is the same file
unchanged and the temporary file is still there; else the kept file is removed and the
copy starts from byte 0.

Kept files live in the executor's memory, not on disk under a name of their own: they
are this process's. Should a paused job never be resumed (it is cancelled), its kept
file goes when the executor does (garbage collection, or the interpreter's exit); a
process killed meanwhile leaves an unlocked temporary, which a later sweep removes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator

import attrs

from transferqueue._errors import TransferPaused
from transferqueue.executors._files.atomic import check_destination, create_beside, move_into_place
from transferqueue.executors._files.known_folders import KnownFolders

__all__ = ["KeptPartials", "SourceIdentity", "resumable_file"]

SourceIdentity = tuple[int, int, int, int]
"""A source file as it stands: device, inode, size and modification time (ns)."""


@attrs.frozen
class _Kept:
    """A paused copy's temporary file, open (``fd``) and locked, and what it copied."""

    temporary: str
    fd: int
    source: SourceIdentity
    length: int


class KeptPartials:
    """One executor's kept partial copies, by (source, destination).

    Rule of ``_lock``: held only to read and change ``_kept``, never around file calls.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], _Kept] = {}
        # Kept files outlive no executor: closed and removed when it goes, at the latest
        # at the interpreter's exit.
        weakref.finalize(self, _discard_all, self._kept, self._lock)

    def __bool__(self) -> bool:
        """Whether any copy is kept (read without the lock: a hint for the fast path)."""
        return bool(self._kept)

    def take(self, source: str, destination: str) -> _Kept | None:
        """The kept copy of ``source`` to ``destination``, now the caller's, if any."""
        with self._lock:
            return self._kept.pop((source, destination), None)

    def keep(self, source: str, destination: str, kept: _Kept) -> None:
        """Keep a paused copy; one kept before for the same pair is removed."""
        with self._lock:
            previous = self._kept.pop((source, destination), None)
            self._kept[(source, destination)] = kept
        if previous is not None:
            _discard(previous)


def _discard(kept: _Kept) -> None:
    """Remove a kept copy's temporary file (if the name still leads to it) and close it."""
    with contextlib.suppress(OSError):
        if _names(kept.temporary, kept.fd):
            os.unlink(kept.temporary)
    with contextlib.suppress(OSError):
        os.close(kept.fd)


def _discard_all(kept: dict[tuple[str, str], _Kept], lock: threading.Lock) -> None:
    with lock:
        dropped = list(kept.values())
        kept.clear()
    for item in dropped:
        _discard(item)


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` (not followed) is the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _resumable(kept: _Kept | None, source: SourceIdentity) -> _Kept | None:
    """``kept`` if the copy may go on from it: the same source, unchanged, and the
    temporary file still under its name; otherwise it is removed and None returned."""
    if kept is None:
        return None
    if kept.source == source and kept.length <= source[2] and _names(kept.temporary, kept.fd):
        return kept
    _discard(kept)
    return None


@contextlib.contextmanager
def resumable_file(
    partials: KeptPartials,
    source: str,
    destination: str,
    identity: SourceIdentity,
    *,
    overwrite: bool,
    mtime_ns: int | None,
    folders: KnownFolders,
) -> Iterator[tuple[int, int]]:
    """:func:`~transferqueue.executors._files.atomic.atomic_file` for a copy that may be
    paused: yields the temporary file's descriptor and the offset to copy from (0, or
    the length of a kept copy it resumes, positioned there).

    On a clean exit the file is moved into place; on ``TransferPaused`` it is kept (see
    the module's docstring); on any other exception it is removed.
    """
    check_destination(destination, overwrite=overwrite)
    kept = _resumable(partials.take(source, destination) if partials else None, source=identity)
    if kept is None:
        temporary, fd = create_beside(destination, folders)
        offset = 0
    else:
        temporary, fd, offset = kept.temporary, kept.fd, kept.length
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    kept_again = False
    try:
        yield fd, offset
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        move_into_place(temporary, destination, overwrite=overwrite)
    except TransferPaused:
        # Every byte reported was written before the report that raised: the file's
        # length is what was copied.
        partials.keep(source, destination, _Kept(temporary, fd, identity, os.fstat(fd).st_size))
        kept_again = True
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        if not kept_again:
            os.close(fd)
