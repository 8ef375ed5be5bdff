"""Files on their way to a destination, opened safely and owned by one writer at a time.

A temporary or partial file sits beside its destination, in a folder that someone else
may also write to. :func:`open_regular` opens it without following a symbolic link and
refuses anything but a regular file (a FIFO would block, a device would be written to);
:func:`try_lock` takes an exclusive ``flock`` on it without waiting. The kernel drops the
lock when its holder closes the file or dies (``kill -9`` included), so a file nobody
holds a lock on was left behind, and a file somebody holds is being written.

POSIX only (``O_NOFOLLOW``, ``flock``), like the rest of the local executors' guarantees.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from transferqueue._errors import TransferQueueError


class FileBusyError(TransferQueueError, OSError):
    """The file is locked by another transfer (in this process or another one)."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


def open_regular(path: str | os.PathLike[str], flags: int, mode: int = 0o666) -> int:
    """``os.open(path, flags)`` without following a symbolic link in the last segment,
    refusing what is not a regular file; returns the descriptor (close-on-exec).

    A link raises ``OSError`` (``ELOOP``) and a FIFO, socket or device ``OSError``
    (``EINVAL``), both naming ``path``.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; cleared again below.
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(
                errno.ELOOP, "refusing to follow a symbolic link", os.fspath(path)
            ) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_lock(fd: int) -> bool:
    """Take an exclusive lock on the open file ``fd`` if nobody holds one; whether it was
    taken. The lock lasts until the descriptor is closed."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def create_locked(path: str | os.PathLike[str]) -> int:
    """Create ``path``, a new file, and lock it: the descriptor (open for writing,
    close-on-exec) of a file this caller owns.

    Cheaper than :func:`open_locked` with ``O_CREAT | O_EXCL``, to the same effect:
    ``O_EXCL`` refuses any existing name, a link included (``FileExistsError``), so what
    is opened is the regular file just made and there is nothing to check. Should
    someone lock it between its creation and ours (a sweep of a process whose clock runs
    far ahead), :class:`FileBusyError`; the file is left for the caller to remove.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    if not try_lock(fd):
        os.close(fd)
        raise FileBusyError(errno.EBUSY, "in use by another transfer", os.fspath(path))
    return fd


def open_locked(path: str | os.PathLike[str], flags: int, mode: int = 0o666) -> int:
    """:func:`open_regular`, then :func:`try_lock`: the descriptor of a file this caller
    now owns, or :class:`FileBusyError` when another transfer holds it."""
    fd = open_regular(path, flags, mode)
    if not try_lock(fd):
        os.close(fd)
        raise FileBusyError(errno.EBUSY, "in use by another transfer", os.fspath(path))
    return fd
