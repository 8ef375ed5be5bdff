"""Copying a file's bytes inside the kernel, in steps, where the kernel is willing.

``os.copy_file_range`` (Linux 4.5+) moves bytes from one open file to another without
passing them through this process: no user buffer, no copy into Python, and on file
systems that can share extents (Btrfs, XFS, NFS 4.2) no copy at all. ``os.sendfile``
does the same across file systems where ``copy_file_range`` refuses that. Both are asked
for ``chunk_size`` bytes at a time, so that the caller's ``on_progress`` runs between two
steps (and a cancellation it raises stops the copy there), as the read/write loop does.

The kernel may refuse: an old kernel (``ENOSYS``), two file systems it will not copy
between (``EXDEV``), a file system without support (``EINVAL``, ``EOPNOTSUPP``), a
descriptor it cannot use (``EBADF``). Such a refusal comes at the first step, before any
byte moved, and :func:`copy_in_kernel` then tries the next way, or returns ``None`` so
that the caller copies with its read/write loop. A first step that moves nothing from a
file whose size said otherwise is treated the same: files of ``/proc`` and ``/sys`` have
size 0 or 4096 whatever they hold, and the kernel copies nothing from them, while
``read`` returns their text.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

__all__ = ["copy_in_kernel", "fills_destination"]

# The errors with which the kernel declines a way of copying (nothing moved yet).
_REFUSALS = frozenset(
    getattr(errno, name)
    for name in ("ENOSYS", "EXDEV", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EBADF")
    if hasattr(errno, name)
)

# The errors of a kernel copy that are the destination's doing (the rest are the source's).
_DESTINATION_ERRORS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS")
    if hasattr(errno, name)  # EDQUOT is missing on some platforms
)

_Step = Callable[[int, int, int], int]


def _copy_file_range(source_fd: int, destination_fd: int, count: int) -> int:
    return os.copy_file_range(source_fd, destination_fd, count)


def _sendfile(source_fd: int, destination_fd: int, count: int) -> int:
    # offset None: from the source's file position, which the kernel advances.
    return os.sendfile(destination_fd, source_fd, None, count)


def _ways() -> tuple[_Step, ...]:
    """The kernel copies this platform offers, in the order they are tried."""
    ways: list[_Step] = []
    if hasattr(os, "copy_file_range"):
        ways.append(_copy_file_range)
    if hasattr(os, "sendfile") and os.uname().sysname == "Linux":  # elsewhere: sockets only
        ways.append(_sendfile)
    return tuple(ways)


_WAYS = _ways()


def copy_in_kernel(
    source_fd: int, destination_fd: int, chunk_size: int, on_progress: Callable[[int], object]
) -> int | None:
    """Copy from ``source_fd``'s position to its end onto ``destination_fd``, ``chunk_size``
    bytes a step, calling ``on_progress`` with the bytes copied so far after each step;
    return that total, or ``None`` when every kernel copy refused before moving a byte
    (nothing written, both positions unchanged).

    An ``OSError`` after the first step, or any other than a refusal at the first step,
    propagates (see :func:`fills_destination` for whose it is); so does anything
    ``on_progress`` raises.
    """
    for way in _WAYS:
        try:
            count = way(source_fd, destination_fd, chunk_size)
        except OSError as exc:
            if exc.errno in _REFUSALS:
                continue
            raise
        if not count:
            continue  # see the module's docstring: let read() say what the file holds
        done = count
        on_progress(done)
        while True:
            count = way(source_fd, destination_fd, chunk_size)
            if not count:
                return done
            done += count
            on_progress(done)
    return None


def fills_destination(exc: OSError) -> bool:
    """Whether a kernel copy's ``exc`` is the destination's (a full disk, a quota, a file
    too large for it, a read-only file system) rather than the source's."""
    return exc.errno in _DESTINATION_ERRORS
