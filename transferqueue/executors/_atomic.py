"""Writing a destination file so that it appears whole or not at all.

Every executor that writes a local file writes it through :func:`atomic_destination`: the
bytes go to a hidden temporary file beside the destination, which is moved into place only
once complete. A failed or cancelled transfer removes the temporary file, so no partial
destination is ever left, and an existing destination is never clobbered unless asked.

The temporary file is created exclusively, without following a link, and locked for its
whole life (``_file_lock``), so that a later run can tell a file that a killed process
left from one being written, and remove it (``_temporaries``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ._file_lock import FileBusyError, open_locked
from ._temporaries import sweep_stale_temporaries, temporary_path

__all__ = [
    "atomic_destination",
    "check_destination",
    "make_parents",
    "move_into_place",
    "temporary_path",
]


def check_destination(destination: Path, *, overwrite: bool) -> None:
    """Refuse early what :func:`atomic_destination` would refuse at the end."""
    if destination.is_dir():
        raise IsADirectoryError(errno.EISDIR, "destination is a folder", str(destination))
    if not overwrite and destination.exists():
        raise FileExistsError(
            errno.EEXIST, "destination exists (pass overwrite=True to replace it)", str(destination)
        )


def make_parents(destination: Path) -> None:
    """Create the destination's missing parent folders.

    A file in the way is reported as ``NotADirectoryError`` naming it (``Path.mkdir``
    would say ``FileExistsError``, as if the destination itself existed).
    """
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in destination.parents if p.exists() and not p.is_dir()), None)
        if blocker is None:  # gone meanwhile: nothing better to say than mkdir did
            raise
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(blocker)) from None


def move_into_place(temporary: Path, destination: Path, *, overwrite: bool) -> None:
    """Give ``temporary`` the name ``destination``, atomically.

    Without ``overwrite`` a hard link makes the name only if it is free, so a file that
    appeared meanwhile is not clobbered either; where links are not supported, the name is
    checked, then replaced.
    """
    if overwrite:
        os.replace(temporary, destination)
        return
    try:
        os.link(temporary, destination)
    except FileExistsError:
        raise FileExistsError(
            errno.EEXIST, "destination exists (pass overwrite=True to replace it)", str(destination)
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        check_destination(destination, overwrite=False)
        os.replace(temporary, destination)
    else:
        os.unlink(temporary)


@contextlib.contextmanager
def atomic_destination(
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    mtime_ns: int | None = None,
) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``destination`` for writing; on a clean exit move it
    into place (with the modification time ``mtime_ns`` if given), on any exception remove
    it and re-raise.

    Parent folders are created. Raises ``FileExistsError`` if the destination exists and
    ``overwrite`` is false (checked before anything is written, and again at the end), and
    ``IsADirectoryError`` if it is a folder.

    The temporary file, ``.NAME.<8 hex>.part``, is created exclusively (``O_EXCL``, no
    link followed) and holds an exclusive ``flock`` until its name is gone. The first call
    for a folder in a while (see ``_temporaries``) first removes from it the temporaries
    that writers killed before they could clean up left behind.
    """
    target = Path(destination)
    check_destination(target, overwrite=overwrite)
    make_parents(target)
    sweep_stale_temporaries(target.parent)
    temporary = temporary_path(target)
    fd = _create_locked(temporary)
    try:
        # closefd=False: the descriptor, and with it the lock, outlives the stream until
        # the temporary name is gone.
        with open(fd, "wb", closefd=False) as stream:
            yield stream
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        move_into_place(temporary, target, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        os.close(fd)


def _create_locked(temporary: Path) -> int:
    """Create ``temporary`` and lock it; its descriptor, open for writing."""
    try:
        return open_locked(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileBusyError:
        # Created by this call (O_EXCL), then locked by someone else before our lock: a
        # sweep of a process whose clock runs far ahead. Ours to remove all the same.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
