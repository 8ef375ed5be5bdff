"""Writing a destination file so that it appears whole or not at all.

Every executor that writes a local file writes it through :func:`atomic_destination`: the
bytes go to a hidden temporary file beside the destination, which is moved into place only
once complete. A failed or cancelled transfer removes the temporary file, so no partial
destination is ever left, and an existing destination is never clobbered unless asked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Most filesystems allow 255 bytes per name; the temporary name adds 15 to the
# destination's, so a long destination name is shortened in it (the name is only a hint).
_NAME_MAX = 255
_TEMPORARY_EXTRA = len(".") + 8 + len("..part")


def temporary_path(destination: Path) -> Path:
    """A fresh hidden name beside ``destination``, for the bytes on their way."""
    # In bytes, as the file system counts: os.fsencode keeps names that are not UTF-8.
    raw = os.fsencode(destination.name)
    limit = _NAME_MAX - _TEMPORARY_EXTRA
    if len(raw) > limit:  # cut whole characters (the name is only a hint)
        raw = raw[:limit].decode(errors="ignore").encode()
    name = os.fsdecode(raw)
    return destination.with_name(f".{name}.{secrets.token_hex(4)}.part")


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
    """
    target = Path(destination)
    check_destination(target, overwrite=overwrite)
    make_parents(target)
    temporary = temporary_path(target)
    try:
        with open(temporary, "xb") as stream:
            yield stream
        if mtime_ns is not None:
            os.utime(temporary, ns=(mtime_ns, mtime_ns))
        move_into_place(temporary, target, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
