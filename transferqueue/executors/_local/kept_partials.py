"""The partial copies a local copy keeps when its job is paused, and their resumption.

A :class:`~transferqueue.executors.LocalCopy` writes into a hidden temporary file beside
the destination (:mod:`._atomic`), removed on any failure. When its job is paused
(``on_progress`` raises :class:`~transferqueue.TransferPaused`), the copy keeps the
temporary file instead: still open and locked, so that no sweep removes it and no
other writer takes it, with the source as it was (device, inode, size, modification
and change times). The next copy of the same source to the same destination for the
same job by the same executor (the resumed file) goes on from the kept file's length,
if the source is the same file unchanged and the temporary file is still there; else
the kept file is removed and the copy starts from byte 0. The change time (which no
program can set back) catches a source rewritten in place whose size and modification
time were restored.

Kept files live in the executor's memory, not on disk under a name of their own: they
are this process's. Should a paused job never be resumed (it is cancelled, by
``cancel_job`` or by ``shutdown``), its kept file is removed by the cancel (see
:meth:`~transferqueue.ProgressCallback.call_on_cancel`); one kept by a direct call
goes when the executor does (garbage collection, or the interpreter's exit). A process
killed meanwhile leaves an unlocked temporary, which a later sweep removes. A forked
child inherits the kept files' descriptors, not the files: it closes them, and neither
resumes nor removes them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator

import attrs

from transferqueue._errors import TransferPaused
from transferqueue.executors._files.atomic import (
    check_destination,
    create_beside,
    create_unnamed,
    link_into_place,
    move_into_place,
    name_unnamed,
)
from transferqueue.executors._files.known_folders import KnownFolders

__all__ = ["KeptPartials", "SourceIdentity", "resumable_file"]

SourceIdentity = tuple[int, int, int, int, int]
"""A source file as it stands: device, inode, size, modification and change times (ns)."""

PartialKey = tuple[str | None, str, str]
"""Whose a kept copy is: the job's id (None for a direct call), source and destination."""

CancelHooks = Callable[[Callable[[], object]], Callable[[], None]]
""":meth:`~transferqueue.ProgressCallback.call_on_cancel`, or None for a direct call."""


@attrs.define(eq=False)
class _Kept:
    """A paused copy's temporary file, open (``fd``) and locked, and what it copied."""

    temporary: str
    fd: int
    source: SourceIdentity
    length: int
    # The process that made it, the only one that may remove it (a forked child
    # inherits the descriptor, not the file).
    pid: int = attrs.field(factory=os.getpid)
    # Unregisters the job's cancel hook that would remove it, once it is taken back.
    unregister: Callable[[], None] | None = None


class _Store:
    """The kept copies of one executor, apart from it, for its finalizer.

    Rule of ``lock``: held only to read and change ``kept``, never around file calls.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: dict[PartialKey, _Kept] = {}


# Every store of this process, for a forked child to forget theirs.
_stores: weakref.WeakSet[_Store] = weakref.WeakSet()


class KeptPartials:
    """One executor's kept partial copies, by job, source and destination."""

    def __init__(self) -> None:
        self._store = _Store()
        _stores.add(self._store)
        # Kept files outlive no executor: closed and removed when it goes, at the latest
        # at the interpreter's exit.
        weakref.finalize(self, _discard_all, self._store)

    def __bool__(self) -> bool:
        """Whether any copy is kept (read without the lock: a hint for the fast path)."""
        return bool(self._store.kept)

    def take(self, key: PartialKey) -> _Kept | None:
        """The kept copy for ``key``, now the caller's, if any."""
        store = self._store
        with store.lock:
            kept = store.kept.pop(key, None)
        if kept is not None and kept.unregister is not None:
            kept.unregister()
        return kept

    def keep(self, key: PartialKey, kept: _Kept) -> None:
        """Keep a paused copy; one kept before for the same key is removed."""
        store = self._store
        with store.lock:
            previous = store.kept.pop(key, None)
            store.kept[key] = kept
        if previous is not None:
            _discard(previous)

    def drop(self, key: PartialKey, kept: _Kept) -> None:
        """Remove ``kept`` if it is still the copy kept for ``key`` (its job was
        cancelled); nothing if it was taken back meanwhile."""
        store = self._store
        with store.lock:
            if store.kept.get(key) is not kept:
                return
            del store.kept[key]
        _discard(kept)


def _discard(kept: _Kept) -> None:
    """Remove a kept copy's temporary file (if this process made it and the name still
    leads to it) and close it."""
    with contextlib.suppress(OSError):
        if kept.pid == os.getpid() and _names(kept.temporary, kept.fd):
            os.unlink(kept.temporary)
    with contextlib.suppress(OSError):
        os.close(kept.fd)


def _discard_all(store: _Store) -> None:
    with store.lock:
        dropped = list(store.kept.values())
        store.kept.clear()
    for item in dropped:
        _discard(item)


def _forget_in_child() -> None:
    """In a forked child: the parent's kept copies stay the parent's. Their inherited
    descriptors are closed (the parent's lock on each holds while it keeps its own),
    nothing is removed, and each store gets a new lock (another thread may have held
    the old one at the fork)."""
    for store in list(_stores):
        inherited = list(store.kept.values())
        store.kept = {}
        store.lock = threading.Lock()
        for item in inherited:
            with contextlib.suppress(OSError):
                os.close(item.fd)


os.register_at_fork(after_in_child=_forget_in_child)


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
    key: PartialKey,
    identity: SourceIdentity,
    *,
    overwrite: bool,
    mtime_ns: int | None,
    folders: KnownFolders,
    call_on_cancel: CancelHooks | None,
) -> Iterator[tuple[int, int]]:
    """:func:`~transferqueue.executors._files.atomic.atomic_file` for a copy that may be
    paused: yields the temporary file's descriptor and the offset to copy from (0, or
    the length of a kept copy it resumes, positioned there). ``key`` names the job, the
    source and the destination.

    On a clean exit the file is moved into place; on ``TransferPaused`` it is kept (see
    the module's docstring), and removed by ``call_on_cancel`` should its job be
    cancelled instead; on any other exception it is removed.
    """
    destination = key[2]
    check_destination(destination, overwrite=overwrite)
    kept = _resumable(partials.take(key) if partials else None, source=identity)
    temporary: str | None
    if kept is not None:
        temporary, fd, offset = kept.temporary, kept.fd, kept.length
    else:
        offset = 0
        # Without overwrite, an unnamed file where the system makes one (see
        # create_unnamed): named only at the end, or at a pause.
        unnamed = None if overwrite else create_unnamed(destination, folders)
        if unnamed is None:
            temporary, fd = create_beside(destination, folders)
        else:
            temporary, fd = None, unnamed
    kept_again = False
    try:
        if kept is not None:  # drop whatever was written after its last report
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
        yield fd, offset
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        if temporary is None:
            link_into_place(fd, destination)
        else:
            move_into_place(temporary, destination, overwrite=overwrite)
    except TransferPaused as paused:
        # Every byte reported was written before the report that raised: the file's
        # length is what was copied.
        try:
            length = os.fstat(fd).st_size
            if temporary is None:  # kept, it needs a name (and a lock, for the sweeps)
                temporary = name_unnamed(fd, destination)
        except OSError:
            # Its length unknown, or no name to keep it under, the copy cannot go on
            # from it: the pause still stands.
            if temporary is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
            raise paused from None
        again = _Kept(temporary, fd, identity, length)
        partials.keep(key, again)
        kept_again = True
        if call_on_cancel is not None:
            again.unregister = call_on_cancel(lambda: partials.drop(key, again))
        raise
    except BaseException:
        if temporary is not None:  # an unnamed file goes with its descriptor
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        raise
    finally:
        if not kept_again:
            os.close(fd)
