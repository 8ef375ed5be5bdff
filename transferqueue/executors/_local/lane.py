"""The lane: one thread at a time copies a small file between local file systems.

A small file costs a dozen system calls and no wait worth the name: on tmpfs or a local
disk each call returns in a microsecond or two. CPython releases the GIL around every
one of them, and while several worker threads copy at once, another thread takes the
GIL at nearly every call and the first waits to get it back: a futex wake and a context
switch per system call. On 2 CPUs, 8 workers copying 10,000 files of 4 KiB spent 2.4x
the time of one worker (``python -m benchmarks.copy --only small``), every added
thread costing more CPU per file, not less time.

So a small local copy's whole burst of calls runs in the lane, a process-wide lock:
the other workers wait for it asleep, off the GIL, while the one in the lane runs its
calls without handing the GIL round; they run the queue's own work for their files
meanwhile. Concurrency hides latency, and local file systems have none to hide for a
small file; a big file's copy spends its time in the kernel moving bytes, which runs in
parallel, so only files of at most :data:`SMALL_FILE` bytes take the lane.

Network and user-space file systems (NFS, SMB, FUSE, Ceph, 9p, virtiofs, ...) keep
full parallelism: their round trips are what several transfers at once hide. Only the
file systems in :data:`_LOCAL_TYPES` count as local, read from ``/proc/self/mountinfo``
by the device number (``st_dev``) of the source file and of the destination folder;
anything not found there, or unreadable, is taken as remote: the lane is only ever a
saving, so when in doubt it is not used.

The rule of :data:`_lane`: held for one small file's system calls, and while holding
it a thread calls no code but this package's. ``on_progress`` runs in it only when it
is the queue's own :class:`~transferqueue.ProgressCallback` without a bandwidth cap,
which takes the queue's state lock for a moment (whose holders never wait for the
lane), raises at a cancel or pause, and never blocks; an application's ``on_progress``
(a wrapper that logs, or that could block) or a queue with a cap never takes the lane.
"""

from __future__ import annotations

import os
import threading

__all__ = ["SMALL_FILE", "is_local_device", "lane", "local_type"]

SMALL_FILE = 64 * 1024
"""Files of at most this many bytes are copied in the lane. Below it the system calls
and Python's work around them cost more than moving the bytes (64 KiB take a few
microseconds to copy in memory, a small file's calls some 30 to 50); above it the
copies gain from running side by side."""

# File systems whose calls return without a round trip to another machine or process.
_LOCAL_TYPES = frozenset(
    {
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "bcachefs",
        "f2fs",
        "jfs",
        "reiserfs",
        "nilfs2",
        "zfs",
        "tmpfs",
        "ramfs",
        "devtmpfs",
        "hugetlbfs",
        "overlay",  # a container's root: its layers are local file systems
        "vfat",
        "msdos",
        "exfat",
        "ntfs3",
        "hfsplus",
        "apfs",
        "udf",
        "squashfs",
        "erofs",
    }
)

_MOUNTINFO = "/proc/self/mountinfo"

# The rule of _lane: see the module's docstring (one small local copy's system calls;
# no code but this package's while it is held, on_progress only as described there).
_lane = threading.Lock()

# st_dev -> whether its file system is local. Read by any thread without a lock (one
# dict operation each, atomic in CPython); a device not in it makes the reader read
# mountinfo once more, which two threads may do at once, harmlessly.
_local_devices: dict[int, bool] = {}
# Beyond this many devices (mounts come and go in a long-running process) it starts afresh.
_REMEMBERED = 1024


def lane() -> threading.Lock:
    """The process-wide lane (a lock) for small local copies; see the module."""
    return _lane


def _new_lane_in_child() -> None:
    """In a forked child: another thread of the parent may have held the lane at the
    fork, and nobody in the child would ever release it."""
    global _lane
    _lane = threading.Lock()


os.register_at_fork(after_in_child=_new_lane_in_child)


def is_local_device(device: int) -> bool:
    """Whether the file system of ``device`` (an ``st_dev``) is one of the local ones
    (:data:`_LOCAL_TYPES`); False when it cannot be told. Remembered per device."""
    known = _local_devices.get(device)
    if known is not None:
        return known
    try:
        with open(_MOUNTINFO, encoding="utf-8", errors="surrogateescape") as stream:
            kind = local_type(stream.read(), device)
    except OSError:  # no /proc (another system, a sandbox): no lane
        kind = None
    local = kind in _LOCAL_TYPES
    if len(_local_devices) >= _REMEMBERED:
        _local_devices.clear()
    _local_devices[device] = local
    return local


def local_type(mountinfo: str, device: int) -> str | None:
    """The file system type that ``mountinfo`` (the text of ``/proc/self/mountinfo``)
    gives for ``device``, or None if no well-formed line names it.

    A line reads ``ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [TAGS...] - TYPE
    SOURCE SUPER-OPTIONS``; the paths in it have their spaces escaped (``\\040``), so
    its fields are split at whitespace, and the type is the field after the lone ``-``.
    A device mounted several times has one type; the last line wins. A line that does
    not parse is skipped, whatever it holds.
    """
    wanted = f"{os.major(device)}:{os.minor(device)}"
    found = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[2] != wanted:
            continue
        try:
            dash = fields.index("-", 6)
        except ValueError:
            continue
        if dash + 1 < len(fields):
            found = fields[dash + 1]
    return found
