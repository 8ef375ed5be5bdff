"""The hidden files that stand beside a destination while its bytes are on their way:
their names, how listings recognise them, and the removal of those a killed process left.

:func:`~transferqueue.executors.atomic_destination` writes to ``.NAME.<8 hex>.part``,
created exclusively and held under an exclusive ``flock`` from creation to removal (see
:mod:`.file_lock`). The kernel drops that lock when its holder dies, ``kill -9`` included,
so a temporary nobody holds a lock on was left behind. :func:`sweep_stale_temporaries`
removes such files from a folder, at most once per folder every :data:`_RESWEEP_SECONDS`
in a process: one scan of the folder, not one per file written into it. The Hugging Face
executor's partial files, ``.NAME.<12 hex>.hfpart``, and their records, ``.hfmeta``, are
recognised (listings leave them out) but never removed here: a later download resumes
them.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import threading
import time
from pathlib import Path

from .file_lock import open_regular, try_lock

# Most filesystems allow 255 bytes per name; the temporary name adds 15 to the
# destination's, so a long destination name is shortened in it (the name is only a hint).
_NAME_MAX = 255
_TOKEN_BYTES = 4
_TEMPORARY_EXTRA = len(".") + 2 * _TOKEN_BYTES + len("..part")

# DOTALL: a file name may hold a newline. Lower-case hex, as bytes.hex writes it.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.part", re.DOTALL)
_HF_PARTIAL = re.compile(r"\..+\.[0-9a-f]{12}\.hf(?:part|meta)", re.DOTALL)

# A temporary is removed only when nothing modified it for this long, besides being
# unlocked. The lock is taken two system calls after the file is created (open, fstat,
# flock): a minute covers that window on a loaded machine or in a process stopped
# briefly, a coarse modification time (some filesystems keep 1 or 2 s), modest clock
# skew between a network filesystem's server and this host, and a writer that holds no
# lock at all (a transferqueue from before the lock) but writes continuously. It also
# means a temporary left by a process killed less than a minute ago waits for a later
# run.
STALE_AFTER_SECONDS = 60.0
# A folder is scanned again after this long, so that a long-running process (a web
# server) also clears temporaries that other processes left later on.
_RESWEEP_SECONDS = 600.0
# The folders remembered as swept; the oldest is forgotten beyond this many.
_REMEMBERED_FOLDERS = 4096

# The rule of _swept_lock: held only to read and update _swept, never while scanning.
_swept_lock = threading.Lock()
_swept: collections.OrderedDict[str, float] = collections.OrderedDict()


def temporary_path(destination: Path) -> Path:
    """A fresh hidden name beside ``destination``, for the bytes on their way:
    ``.NAME.<8 random hex digits>.part``."""
    return Path(temporary_name(os.fspath(destination)))


def temporary_name(destination: str) -> str:
    """:func:`temporary_path` for a path given as a string (cheaper: no ``Path``)."""
    folder, base = os.path.split(destination)
    # In bytes, as the file system counts: os.fsencode keeps names that are not UTF-8.
    raw = os.fsencode(base)
    limit = _NAME_MAX - _TEMPORARY_EXTRA
    if len(raw) > limit:  # cut whole characters (the name is only a hint)
        base = os.fsdecode(raw[:limit].decode(errors="ignore").encode())
    return os.path.join(folder, f".{base}.{_random_hex()}.part")


class _RandomBytes(threading.local):
    """Each thread's store of random bytes from the operating system, drawn 4 KiB at a
    time: one system call for 1,024 names instead of one per name."""

    def __init__(self) -> None:
        self.pool = b""
        self.taken = 0
        self.generation = -1


_random_bytes = _RandomBytes()
# Bumped in a forked child, whose threads' stores (copies of the parent's) must not be
# drawn from again: parent and child would make the same names.
_generation = 0
_STORE_BYTES = 4096


def _forked() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)  # POSIX, as the executors' guarantees need


def _random_hex() -> str:
    """8 random lower-case hex digits, from the operating system's random source."""
    store = _random_bytes
    if store.generation != _generation or store.taken + _TOKEN_BYTES > len(store.pool):
        store.pool = os.urandom(_STORE_BYTES)
        store.taken = 0
        store.generation = _generation
    start = store.taken
    store.taken = start + _TOKEN_BYTES
    return store.pool[start : start + _TOKEN_BYTES].hex()


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` (a file name, no folder) has the form of a file on its way:
    ``.NAME.<8 hex>.part`` (:func:`temporary_path`) or the Hugging Face executor's
    ``.NAME.<12 hex>.hfpart`` and its record ``.hfmeta``. A user's own file named so
    matches too."""
    return bool(_TEMPORARY.fullmatch(name) or _HF_PARTIAL.fullmatch(name))


def sweep_stale_temporaries(folder: str | os.PathLike[str]) -> None:
    """Remove the temporaries a dead writer left in ``folder``, unless this process did
    so less than :data:`_RESWEEP_SECONDS` ago.

    A file is removed only when all of these hold: its name has the form of
    :func:`temporary_path` (``.NAME.<8 hex>.part``), it is a regular file (not a link),
    nobody holds a lock on it, and it was not modified for :data:`STALE_AFTER_SECONDS`.
    Best effort: a folder that cannot be listed, or a file that cannot be opened or
    removed, is left as it is, silently.
    """
    key = os.fspath(folder)
    now = time.monotonic()
    with _swept_lock:
        last = _swept.get(key)
        if last is not None and now - last < _RESWEEP_SECONDS:
            return
        _swept[key] = now
        _swept.move_to_end(key)
        if len(_swept) > _REMEMBERED_FOLDERS:
            _swept.popitem(last=False)
    try:
        with os.scandir(key) as entries:
            names = [entry.name for entry in entries if _TEMPORARY.fullmatch(entry.name)]
    except OSError:
        return
    cutoff = time.time() - STALE_AFTER_SECONDS
    for name in names:
        with contextlib.suppress(OSError):
            _remove_if_stale(os.path.join(key, name), cutoff)


def _remove_if_stale(path: str, cutoff: float) -> None:
    """Remove ``path`` if it is a regular file modified before ``cutoff`` that nobody
    holds a lock on."""
    # Young files are not even opened: taking their lock, however briefly, could make a
    # writer that has created its file but not locked it yet fail to lock it.
    if os.lstat(path).st_mtime >= cutoff:
        return
    fd = open_regular(path, os.O_RDONLY)
    try:
        if try_lock(fd):  # else a live writer holds it
            os.unlink(path)
    finally:
        os.close(fd)
