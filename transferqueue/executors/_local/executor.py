"""The local executor: a chunked, cancellable, atomic file copy."""

from __future__ import annotations

import errno
import os
import stat
import threading
from typing import TYPE_CHECKING

from transferqueue._core.bandwidth import Pace
from transferqueue._executor import ProgressCallback, cap_carrier, running_callback
from transferqueue.executors._files.known_folders import KnownFolders
from transferqueue.executors._verify import ChecksumMismatchError, file_sha256

from .kept_partials import KeptPartials, resumable_file
from .kernel_copy import copy_in_kernel, fills_destination
from .lane import SMALL_FILE, is_local_device, lane

if TYPE_CHECKING:
    from collections.abc import Callable

    from transferqueue import TransferFile

_MiB = 1024 * 1024
# Beyond this many destination folders the memory of their file systems starts afresh.
_REMEMBERED_FOLDERS = 4096

# Words added to the operating system's own text for the errors a user most often meets.
_HINTS = {
    getattr(errno, name): hint
    for name, hint in (
        ("ENOSPC", "the disk is full"),
        ("EDQUOT", "the disk quota is exceeded"),
        ("EPERM", "no permission"),
        ("ENOTDIR", "a folder on the path is a file"),
        ("EISDIR", "expected a file"),
    )
    if hasattr(errno, name)  # EDQUOT is missing on some platforms
}


class LocalCopy:
    """Copy a local file to a local path: an executor for ``local-upload`` jobs and for
    local-to-local ``cross-storage`` jobs.

    ``executor(file, on_progress)`` copies ``file.source_path`` to ``file.destination_path``
    in chunks of ``chunk_size`` bytes and reports the absolute bytes copied after every
    chunk, so the job learns of a cancellation between two chunks at the latest (the copy
    then stops and ``TransferCancelled`` propagates). Under the queue's bandwidth cap the
    chunks are smaller (a twentieth of a second's worth, 16 KiB at least) and each waits
    for the cap (``on_progress.throttle``). The kernel moves the bytes
    (``os.copy_file_range``, or ``os.sendfile`` between file systems it will not copy
    between), as ``cp`` does: they never pass through this process. Where the kernel
    refuses both (another operating system, an old kernel, a file system without
    support, files of ``/proc``), they are read into one reused buffer and written.

    The bytes go to a temporary file in the destination's folder, moved into place once
    complete: a failed or cancelled copy leaves no partial destination. On Linux, without
    ``overwrite``, it is an unnamed file (``O_TMPFILE``) that a link names once complete,
    if the name is free: nothing shows meanwhile, and a killed process leaves nothing
    behind; elsewhere, or with ``overwrite``, a hidden file (see
    :func:`~transferqueue.executors.atomic_destination`). When the job is paused
    (``on_progress`` raises ``TransferPaused``), the copy keeps its temporary file (an
    unnamed one gets a hidden name then), and
    the resumed file goes on from its length if the source is the same file, unchanged
    (else from byte 0): nothing already copied is copied again. Kept files are this
    instance's, in memory, each for its job; one whose job is cancelled instead of
    resumed is removed by the cancel (one kept by a direct call goes with the instance;
    see ``kept_partials``). Missing parent folders are
    created; an instance remembers the folders it made or found, so that its next files
    there cost no ``mkdir`` (a folder removed meanwhile is made again). An existing
    destination is refused with ``FileExistsError`` unless ``overwrite`` is true. With
    ``preserve_mtime`` (the default) the copy gets the source's modification time. With
    ``checksum`` the copy is read back before it is moved into place, and its sha256
    compared with the source's, read again: a mismatch (a byte changed on the way, or a
    source changed during the copy) raises
    :class:`~transferqueue.executors.ChecksumMismatchError` and leaves no destination.

    The source is copied as it is when read: if it changed since it was listed, its
    current bytes are copied, whatever ``file.size`` says, and the true byte counts are
    reported (the queue clamps them to the file's listed size).

    Errors keep their type (``FileNotFoundError``, ``PermissionError``,
    ``IsADirectoryError``, ``NotADirectoryError``, ``FileExistsError``, ``OSError`` with
    ``errno.ENOSPC`` for a full disk, ...) and get a message that says what failed and
    on which path, e.g. ``cannot write destination /data/out.bin: No space left on
    device (the disk is full)``. Only regular files (or symlinks to them) are copied.
    One instance may serve any number of files and threads at once. Small files (64 KiB
    at most) between local file systems, reported to the queue's own ``on_progress``
    without a bandwidth cap, are copied one at a time in the process (see
    ``transferqueue.executors._local.lane``): their system calls take a microsecond each,
    and copying several at once only made the worker threads hand the GIL to each other
    at every call.
    """

    __slots__ = (
        "_checksum",
        "_chunk_size",
        "_folders",
        "_kept",
        "_local_folders",
        "_overwrite",
        "_preserve_mtime",
    )

    def __init__(
        self,
        *,
        overwrite: bool = False,
        chunk_size: int = 8 * _MiB,
        preserve_mtime: bool = True,
        checksum: bool = False,
    ) -> None:
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be a bool, not {type(overwrite).__name__}")
        if not isinstance(checksum, bool):
            raise TypeError(f"checksum must be a bool, not {type(checksum).__name__}")
        if not isinstance(preserve_mtime, bool):
            raise TypeError(f"preserve_mtime must be a bool, not {type(preserve_mtime).__name__}")
        if type(chunk_size) is not int:
            raise TypeError(f"chunk_size must be an int, not {type(chunk_size).__name__}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self._overwrite = overwrite
        self._chunk_size = chunk_size
        self._preserve_mtime = preserve_mtime
        self._checksum = checksum
        # The destination folders this instance made or found: its next file in one of
        # them goes without mkdir and sweep (one instance usually serves one job).
        self._folders = KnownFolders()
        self._kept = KeptPartials()  # the copies kept by a pause, until resumed
        # Destination folder -> whether it is on a local file system (see .lane), learnt
        # after the first file copied into it. One dict operation per use, no lock, as
        # for _folders. A folder that becomes a mount point later keeps its verdict: the
        # lane only makes a copy faster or slower, never different.
        self._local_folders: dict[str, bool] = {}

    @property
    def overwrite(self) -> bool:
        """Whether an existing destination file is replaced."""
        return self._overwrite

    @property
    def chunk_size(self) -> int:
        """Bytes read and written at a time; progress is reported after each chunk."""
        return self._chunk_size

    @property
    def preserve_mtime(self) -> bool:
        """Whether the copy gets the source's modification time."""
        return self._preserve_mtime

    @property
    def checksum(self) -> bool:
        """Whether each copy is checked against its source (sha256) before it is moved
        into place."""
        return self._checksum

    def __repr__(self) -> str:
        return (
            f"LocalCopy(overwrite={self._overwrite}, chunk_size={self._chunk_size}, "
            f"preserve_mtime={self._preserve_mtime}, checksum={self._checksum})"
        )

    def __call__(self, file: TransferFile, on_progress: Callable[[int], object]) -> None:
        """Copy ``file.source_path`` to ``file.destination_path``; see the class.

        ``on_progress`` is the queue's :class:`~transferqueue.ProgressCallback`, or, when
        the copy is called directly, any callable taking the bytes copied so far; an
        exception it raises stops the copy, removes the temporary file and propagates.
        """
        source = os.fspath(file.source_path)
        destination = os.fspath(file.destination_path)
        # Raises TransferCancelled before anything is touched. The queue's on_progress
        # checks without reporting (no trip through the queue's lock for a 0).
        check = getattr(on_progress, "raise_if_cancelled", None)
        if check is not None:
            check()
        else:
            on_progress(0)
        lane = self._lane_for(file, destination, on_progress)
        try:
            self._copy(source, destination, on_progress, lane)
        except _SourceFailed as failed:
            raise _explained(failed.error, "read source", source) from failed.error
        except ChecksumMismatchError:
            raise  # names the destination already
        except OSError as exc:
            raise _explained(exc, "write destination", destination) from exc

    def _lane_for(
        self, file: TransferFile, destination: str, on_progress: Callable[[int], object]
    ) -> threading.Lock | None:
        """The lane (see :mod:`.lane`) if this file may be copied in it as far as can be
        told before touching it: listed as small, into a folder known to be on a local
        file system, reported to the queue's own callback, no bandwidth cap. The source's
        size and file system are checked once it is open."""
        if file.size > SMALL_FILE or type(on_progress) is not ProgressCallback:
            return None
        if on_progress.bandwidth_limit is not None:
            return None
        if not self._local_folders.get(os.path.dirname(destination), False):
            return None
        return lane()

    def _copy(
        self,
        source: str,
        destination: str,
        on_progress: Callable[[int], object],
        lane: threading.Lock | None,
    ) -> None:
        """Open the source and copy it; in ``lane`` (acquired here) if it is given and the
        source turns out small and local, else without it."""
        held = lane is not None and lane.acquire()
        try:
            reader, info = _open_source(source)
            try:
                if held and (info.st_size > SMALL_FILE or not is_local_device(info.st_dev)):
                    assert lane is not None
                    lane.release()
                    held = False
                self._copy_opened(reader, info, source, destination, on_progress, held)
            finally:
                os.close(reader)
        finally:
            if held:
                assert lane is not None
                lane.release()
        folder = os.path.dirname(destination)
        if folder not in self._local_folders:
            self._learn_folder(folder)

    def _learn_folder(self, folder: str) -> None:
        """Remember whether ``folder`` (a destination's, which exists now) is on a local
        file system; a folder that cannot be stat'ed is left for the next file."""
        try:
            device = os.stat(folder or os.curdir).st_dev
        except OSError:
            return
        if len(self._local_folders) >= _REMEMBERED_FOLDERS:
            self._local_folders.clear()
        self._local_folders[folder] = is_local_device(device)

    def _copy_opened(
        self,
        reader: int,
        info: os.stat_result,
        source: str,
        destination: str,
        on_progress: Callable[[int], object],
        in_lane: bool,
    ) -> None:
        """Copy the open source ``reader`` (``info`` its fstat) to ``destination``. In the
        lane (``in_lane``), the bandwidth cap is not consulted (the queue had none when
        the file started; one set meanwhile applies from the next file on): its wait
        could block the lane."""
        mtime_ns = info.st_mtime_ns if self._preserve_mtime else None
        identity = (
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,  # changed by a rewrite whose mtime was set back
        )
        chunk_size = self._chunk_size
        # The queue's callback names the job, even when on_progress wraps it;
        # a direct call's stand-in may name one too.
        owner = running_callback() or on_progress
        with resumable_file(
            self._kept,
            (getattr(owner, "job_id", None), source, destination),
            identity,
            overwrite=self._overwrite,
            mtime_ns=mtime_ns,
            folders=self._folders,
            call_on_cancel=getattr(owner, "call_on_cancel", None),
        ) as (writer, offset):
            if offset:  # a kept copy goes on where it stopped
                os.lseek(reader, offset, os.SEEK_SET)
            expected = info.st_size
            copied = None
            pace = Pace(None if in_lane else cap_carrier(on_progress), chunk_size)
            if expected > offset:  # an empty file (or one of /proc) is read: one call
                try:
                    copied = copy_in_kernel(reader, writer, pace, on_progress, start=offset)
                except OSError as exc:
                    if fills_destination(exc):
                        raise
                    raise _SourceFailed(exc) from None
            if copied is None:
                _copy_by_loop(reader, writer, pace, chunk_size, expected, on_progress, offset)
            if self._checksum:  # the whole copy, a resumed one's kept bytes included
                _check_copy(reader, writer, destination, cap_carrier(on_progress))


def _open_source(source: str) -> tuple[int, os.stat_result]:
    """Open ``source`` for reading; its descriptor and fstat. Anything but a regular file
    (or a link to one) is refused; errors come as :class:`_SourceFailed`."""
    try:
        # Checked before opening: opening a FIFO would block, a device may act.
        mode = os.stat(source).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "the source is not a regular file")
        reader = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        try:
            info = os.fstat(reader)  # of what was opened, not of what was checked
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, "the source is not a regular file")
        except BaseException:
            os.close(reader)
            raise
    except OSError as exc:
        raise _SourceFailed(exc) from None
    return reader, info


class _SourceFailed(Exception):
    """Carries an ``OSError`` of the source's out of the copy, to be explained as such."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def _copy_by_loop(
    reader_fd: int,
    writer_fd: int,
    pace: Pace,
    chunk_size: int,
    expected: int,
    on_progress: Callable[[int], object],
    start: int = 0,
) -> None:
    """Copy ``reader_fd`` from its position (``start`` bytes in) to its end onto
    ``writer_fd`` through one reused buffer, as many bytes at a time as ``pace`` says
    (``chunk_size`` at most), waiting after each chunk for the queue's bandwidth cap and
    then reporting the bytes of the file copied. A read error is raised as
    :class:`_SourceFailed`.

    The buffer is no larger than what is left of the file (``expected`` bytes in all),
    so that small files do not cost a ``chunk_size`` allocation each; it grows should the
    file have grown.
    """
    buffer = bytearray(max(1, min(chunk_size, expected - start)))
    view = memoryview(buffer)
    readv, write = os.readv, os.write
    whole = [buffer]
    done = start
    while True:
        step = pace.step()
        try:
            count = readv(reader_fd, whole if step >= len(buffer) else [view[:step]])
        except OSError as exc:
            raise _SourceFailed(exc) from None
        if not count:
            return
        written = 0
        while written < count:  # a write may take fewer bytes than given
            written += write(writer_fd, view[written:count])
        done += count
        pace.moved(count)
        on_progress(done)
        if done > expected and len(buffer) < chunk_size:
            buffer = bytearray(chunk_size)
            view = memoryview(buffer)
            whole = [buffer]


def _check_copy(
    reader_fd: int, writer_fd: int, destination: str, on_progress: Callable[[int], object]
) -> None:
    """Compare the sha256 of the copy (the temporary file, not yet in place, read from
    its start: a resumed copy's kept bytes too) with the source's, read again from its
    start; :class:`ChecksumMismatchError` if they differ (the temporary file is then
    removed by the caller's ``resumable_file``).

    A cancel stops the reading, and so does a pause: the copy is then kept whole, and
    its resumption copies nothing more and checks it again.
    """
    check_stopped: Callable[[], object] = (
        getattr(on_progress, "raise_if_stopped", None)
        or getattr(on_progress, "raise_if_cancelled", None)  # a stand-in may have only this
        or _never_cancelled
    )
    try:
        sent = file_sha256(reader_fd, check_stopped)
    except OSError as exc:
        raise _SourceFailed(exc) from None
    arrived = file_sha256(writer_fd, check_stopped)
    if arrived != sent:
        raise ChecksumMismatchError(
            destination, "sha256", sent, arrived, removed="the copy was removed"
        )


def _never_cancelled() -> None:
    """The stop check of a copy called without the queue's ``on_progress``."""


def _explained(exc: OSError, role: str, path: str) -> OSError:
    """The same kind of error, with a message that says what failed and where.

    ``role`` is ``"read source"`` or ``"write destination"``; the errno, when known, is
    kept on the new exception, which is of the same type (the original is its cause).
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno) if exc.errno is not None else None
    if hint is not None and hint.lower() not in reason.lower():
        reason = f"{reason} ({hint})"
    culprit = exc.filename
    detail = ""
    if culprit is not None:
        culprit = os.fspath(culprit)
        if culprit != path and not _is_temporary(culprit, path):
            detail = f", at {culprit}"
    message = f"cannot {role} {path}: {reason}{detail}"
    try:
        explained = type(exc)(message)
    except Exception:  # noqa: BLE001 - an OSError subclass with another signature
        explained = OSError(message)
    explained.errno = exc.errno
    return explained


def _is_temporary(name: str, destination: str) -> bool:
    """Whether ``name`` is the hidden temporary file of ``destination`` (not worth naming)."""
    folder, base = os.path.split(destination)
    return os.path.dirname(name) == folder and os.path.basename(name).startswith(f".{base}.")
