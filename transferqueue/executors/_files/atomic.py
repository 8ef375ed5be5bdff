"""Writing a destination file so that it appears whole or not at all.

Every executor that writes a local file writes it through :func:`atomic_destination`: the
bytes go to a hidden temporary file beside the destination, which is moved into place only
once complete. A failed or cancelled transfer removes the temporary file, so no partial
destination is ever left, and an existing destination is never clobbered unless asked.

The temporary file is created exclusively, without following a link, and locked for its
whole life (:mod:`.file_lock`), so that a later run can tell a file that a killed process
left from one being written, and remove it (:mod:`.temporaries`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .file_lock import FileBusyError, create_locked, try_lock
from .known_folders import KnownFolders
from .temporaries import sweep_stale_temporaries, temporary_name, temporary_path

__all__ = [
    "atomic_destination",
    "atomic_file",
    "check_destination",
    "create_unnamed",
    "link_into_place",
    "make_parents",
    "move_into_place",
    "name_unnamed",
    "temporary_path",
]

# What os.stat raises for a name that is simply not there (as Path.exists reads it).
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF})
# Fresh temporary names tried when the one drawn is taken (by another process's
# writer, which drew the same 32 random bits, or by someone planting files there).
_NAME_TRIES = 3


def check_destination(destination: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Refuse early what :func:`atomic_destination` would refuse at the end (one stat)."""
    try:
        mode = os.stat(destination).st_mode
    except OSError as exc:
        if exc.errno in _ABSENT:
            return
        raise
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "destination is a folder", os.fspath(destination))
    if not overwrite:
        raise FileExistsError(
            errno.EEXIST,
            "destination exists (pass overwrite=True to replace it)",
            os.fspath(destination),
        )


def make_parents(destination: str | os.PathLike[str]) -> None:
    """Create the destination's missing parent folders.

    A file in the way is reported as ``NotADirectoryError`` naming it (``Path.mkdir``
    would say ``FileExistsError``, as if the destination itself existed).
    """
    target = Path(destination)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
        if blocker is None:  # gone meanwhile: nothing better to say than mkdir did
            raise
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(blocker)) from None


def move_into_place(
    temporary: str | os.PathLike[str], destination: str | os.PathLike[str], *, overwrite: bool
) -> None:
    """Give ``temporary`` the name ``destination``, atomically.

    Without ``overwrite`` the name is made only if it is free, so a file that appeared
    meanwhile is not clobbered either: by Linux's ``renameat2(RENAME_NOREPLACE)`` (one
    folder operation), else by a hard link and the removal of the temporary name (two);
    where links are not supported either, the name is checked, then replaced. A name
    found taken raises ``FileExistsError``, or ``IsADirectoryError`` for a folder.
    """
    if overwrite:
        os.replace(temporary, destination)
        return
    try:
        if _rename_without_replacing(temporary, destination):
            return
        os.link(temporary, destination)
    except FileExistsError:
        raise _taken(destination) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        check_destination(destination, overwrite=False)
        os.replace(temporary, destination)
    else:
        os.unlink(temporary)


def _taken(destination: str | os.PathLike[str]) -> OSError:
    """The error for a destination name found taken at the end of a write: what
    :func:`check_destination` would have said up front (``IsADirectoryError`` for a
    folder), else ``FileExistsError`` (also when it is gone again meanwhile)."""
    try:
        check_destination(destination, overwrite=False)
    except OSError as exc:
        return exc
    return FileExistsError(
        errno.EEXIST,
        "destination exists (pass overwrite=True to replace it)",
        os.fspath(destination),
    )


def _rename_without_replacing(
    temporary: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> bool:
    """Rename ``temporary`` to ``destination`` unless that name exists
    (``FileExistsError``); False, with nothing done, where the system or the file system
    cannot (no ``renameat2``, or a file system without ``RENAME_NOREPLACE``)."""
    rename = _renameat2()
    if rename is None:
        return False
    if not rename(
        _AT_FDCWD, os.fsencode(temporary), _AT_FDCWD, os.fsencode(destination), _NOREPLACE
    ):
        return True
    code = ctypes.get_errno()
    if code in _RENAME_UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), os.fspath(temporary), None, os.fspath(destination))


_AT_FDCWD = -100  # Linux: paths relative to the working folder
_NOREPLACE = 1  # RENAME_NOREPLACE
_RENAME_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})
_renameat2_function: Any = None
_renameat2_looked_up = False


def _renameat2() -> Any:
    """The C library's ``renameat2`` (glibc 2.28+, musl 1.2.2+), looked up on first use;
    None elsewhere. ctypes releases the GIL around the call, as ``os`` functions do."""
    global _renameat2_function, _renameat2_looked_up
    if not _renameat2_looked_up:
        try:
            function = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):  # no C library to load, or no renameat2 in it
            _renameat2_function = None
        else:
            function.argtypes = (
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_uint,
            )
            function.restype = ctypes.c_int
            _renameat2_function = function
        _renameat2_looked_up = True
    return _renameat2_function


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
    for a folder in a while (see the ``temporaries`` module) first removes from it the temporaries
    that writers killed before they could clean up left behind.
    """
    # closefd=False: the descriptor, and with it the lock, outlives the stream until the
    # temporary name is gone.
    with (
        atomic_file(destination, overwrite=overwrite, mtime_ns=mtime_ns) as fd,
        open(fd, "wb", closefd=False) as stream,
    ):
        yield stream


@contextlib.contextmanager
def atomic_file(
    destination: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    mtime_ns: int | None = None,
    folders: KnownFolders | None = None,
) -> Iterator[int]:
    """:func:`atomic_destination`, giving the temporary file's descriptor (open for
    writing) rather than a stream: the cheapest way in, for writers that use system calls
    on it (the local copy's kernel copy).

    ``folders``, shared by the writes of one copy, spares each write into a folder it
    knows the folder's creation and sweep (see :mod:`.known_folders`).
    """
    path = os.fspath(destination)
    check_destination(path, overwrite=overwrite)
    temporary, fd = create_beside(path, folders)
    try:
        yield fd
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        move_into_place(temporary, path, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        os.close(fd)


def create_beside(destination: str, folders: KnownFolders | None) -> tuple[str, int]:
    """Make sure of the destination's folder (unless ``folders`` knows it), then create and
    lock a temporary file in it; its name and descriptor."""
    folder = os.path.dirname(destination) or os.curdir
    known = folders is not None and folders.knows(folder)
    if not known:
        _make_sure_of(destination, folder, folders)
    tries = _NAME_TRIES
    while True:
        temporary = temporary_name(destination)
        try:
            return temporary, _create_locked(temporary)
        except FileExistsError:
            tries -= 1
            if not tries:
                raise
        except (FileNotFoundError, NotADirectoryError):
            if not known:
                raise
            # Removed or replaced since it was made sure of: once more, and say what is
            # wrong if something is.
            assert folders is not None
            folders.forget(folder)
            known = False
            _make_sure_of(destination, folder, folders)


def _make_sure_of(destination: str, folder: str, folders: KnownFolders | None) -> None:
    """Create the destination's missing folders, sweep its folder, and remember that."""
    make_parents(destination)
    sweep_stale_temporaries(folder)
    if folders is not None:
        folders.learn(folder)


def _create_locked(temporary: str) -> int:
    """Create ``temporary`` and lock it; its descriptor, open for writing."""
    try:
        return create_locked(temporary)
    except FileBusyError:
        # Created by this call (O_EXCL), then locked by someone else before our lock: a
        # sweep of a process whose clock runs far ahead. Ours to remove all the same.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


# -- unnamed temporary files (Linux's O_TMPFILE) ------------------------------------------
#
# A file made by open(folder, O_TMPFILE) has no name until linkat() gives it one, which
# it does only if the name is free: the same guarantee as RENAME_NOREPLACE, with one
# folder operation where a named temporary costs two (its creation and its rename). It
# needs no lock and no random name, and a process killed meanwhile leaves nothing behind
# for a sweep (the kernel frees the file). Measured on ext4 and tmpfs: see
# docs/performance.rst. It is given a name through /proc/self/fd, as open(2) documents
# (linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).

# The errors with which a kernel or a file system refuses O_TMPFILE (an old kernel reads
# the flag as O_DIRECTORY: EISDIR).
_UNNAMED_REFUSALS = frozenset(
    getattr(errno, name)
    for name in ("EOPNOTSUPP", "ENOTSUP", "EISDIR", "EINVAL")
    if hasattr(errno, name)
)
# The folders where O_TMPFILE was refused (a file system without it), so that their next
# files go straight to a named temporary. One set operation per use, no lock; beyond this
# many it starts afresh.
_refused_folders: set[str] = set()
_REMEMBERED_REFUSALS = 4096
_unnamed_possible: bool | None = None


def _can_name_unnamed() -> bool:
    """Whether this system can make unnamed files and name them: O_TMPFILE, /proc
    mounted, and an ``os.link`` that takes a folder descriptor and follows links (Python
    3.11's calls plain ``link()``, which follows nothing, unless given a descriptor)."""
    global _unnamed_possible
    if _unnamed_possible is None:
        _unnamed_possible = (
            hasattr(os, "O_TMPFILE")
            and os.link in os.supports_dir_fd
            and os.link in os.supports_follow_symlinks
            and os.path.isdir("/proc/self/fd")
        )
    return _unnamed_possible


def create_unnamed(destination: str, folders: KnownFolders | None) -> int | None:
    """Make sure of the destination's folder (unless ``folders`` knows it), then create an
    unnamed file in it (``O_TMPFILE``, open for reading and writing); its descriptor, or
    None where the system or the file system refuses (then use :func:`create_beside`).

    Give it the destination's name with :func:`link_into_place`, or a temporary name
    with :func:`name_unnamed`; closed without either, it is gone.
    """
    if not _can_name_unnamed():
        return None
    folder = os.path.dirname(destination) or os.curdir
    if folder in _refused_folders:
        return None
    known = folders is not None and folders.knows(folder)
    if not known:
        _make_sure_of(destination, folder, folders)
    try:
        return _open_unnamed(folder)
    except OSError as exc:
        if exc.errno in _UNNAMED_REFUSALS:
            if len(_refused_folders) >= _REMEMBERED_REFUSALS:
                _refused_folders.clear()
            _refused_folders.add(folder)
            return None
        if not known or exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise _unnamed_error(exc) from None
    # Removed or replaced since it was made sure of: once more, and say what is wrong if
    # something is.
    assert folders is not None
    folders.forget(folder)
    _make_sure_of(destination, folder, folders)
    try:
        return _open_unnamed(folder)
    except OSError as exc:
        raise _unnamed_error(exc) from None


def _open_unnamed(folder: str) -> int:
    return os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666)


def _unnamed_error(exc: OSError) -> OSError:
    """``exc`` without the name it carries (the folder, or /proc/self/fd/N), which says
    nothing to the user: the caller names the destination, as it does for a named
    temporary file's errors (same type, through OSError's errno mapping)."""
    return OSError(exc.errno, exc.strerror)


def _link(fd: int, name: str) -> None:
    """Give the open file ``fd`` the name ``name``, unless it is taken (``FileExistsError``).

    The source is an absolute path, for which linkat() ignores its folder descriptor:
    ``src_dir_fd`` is given only so that Python calls linkat() with
    ``AT_SYMLINK_FOLLOW``, through the magic link to the open file."""
    try:
        os.link(f"/proc/self/fd/{fd}", name, src_dir_fd=fd, follow_symlinks=True)
    except FileExistsError:
        raise
    except OSError as exc:
        raise _unnamed_error(exc) from None


def link_into_place(fd: int, destination: str) -> None:
    """Give the unnamed file ``fd`` (from :func:`create_unnamed`) the name ``destination``
    if it is free, atomically; else ``FileExistsError`` (``IsADirectoryError`` for a
    folder), as :func:`move_into_place` without ``overwrite``."""
    try:
        _link(fd, destination)
    except FileExistsError:
        raise _taken(destination) from None


def name_unnamed(fd: int, destination: str) -> str:
    """Lock the unnamed file ``fd`` and give it a fresh temporary name beside
    ``destination`` (``.NAME.<8 hex>.part``, as :func:`create_beside` makes): a file
    kept for later must have a name, and a lock, so that no sweep takes it for one a dead
    writer left. Its name."""
    if not try_lock(fd):  # nobody else can know an unnamed file
        raise FileBusyError(errno.EBUSY, "in use by another transfer", destination)
    tries = _NAME_TRIES
    while True:
        temporary = temporary_name(destination)
        try:
            _link(fd, temporary)
        except FileExistsError:
            tries -= 1
            if not tries:
                raise
        else:
            return temporary
