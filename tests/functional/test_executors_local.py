"""The local executor and listing: ``LocalCopy`` and ``list_local_files``.

Real files in real temp folders; every test checks the bytes that arrived (size and
sha256), called directly and through a real TransferQueue. Cancellation is synchronised
on Events, never on sleeps.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from transferqueue.executors import (
    LocalCopy,
    list_local_files,
)
from transferqueue.executors._files import atomic as _atomic
from transferqueue.executors._files import known_folders as _known_folders
from transferqueue.executors._files import temporaries as _temporaries
from transferqueue.executors._files.file_lock import FileBusyError, create_locked, open_locked
from transferqueue.executors._local import kept_partials as _kept_partials
from transferqueue.executors._local import kernel_copy as _kernel_copy

KiB = 1024
MiB = 1024 * KiB


# --- helpers -----------------------------------------------------------------------


def _random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path`` (parents created); return their sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporary files included."""
    return sorted(os.listdir(folder))


def _file(source: Path, destination: Path, size: int | None = None) -> tq.TransferFile:
    """The record an executor is given (size: the source's, unless told otherwise)."""
    if size is None:
        size = source.stat().st_size
    return tq.TransferFile(str(source), str(destination), size)


class Progress:
    """A stand-in for ``on_progress`` when calling an executor directly: records every
    value; ``fail_at`` bytes raises ``error`` (by default TransferCancelled, as a
    cancelled job's on_progress does)."""

    def __init__(self, fail_at: int | None = None, error: BaseException | None = None) -> None:
        self.values: list[int] = []
        self.fail_at = fail_at
        self.error = error if error is not None else tq.TransferCancelled("cancelled")

    def __call__(self, loaded: int) -> None:
        self.values.append(loaded)
        if self.fail_at is not None and loaded >= self.fail_at:
            raise self.error


class Boom(Exception):
    """An unexpected error raised from on_progress."""


def _small_disk(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """Make the disk hold only ``room`` more bytes: every way LocalCopy writes (the
    kernel's copy_file_range and sendfile, and os.write) fails with ENOSPC beyond."""
    left = [room]

    def limited(real: Callable[..., int], size_of: Callable[[tuple[Any, ...]], int]) -> Any:
        def write(*args: Any) -> int:
            if getattr(real, "refused", False):  # _refuse_kernel_copy's: no byte moves
                return real(*args)
            if size_of(args) > left[0]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done = real(*args)
            left[0] -= done
            return done

        return write

    monkeypatch.setattr(os, "write", limited(os.write, lambda args: len(args[1])))
    monkeypatch.setattr(os, "copy_file_range", limited(os.copy_file_range, lambda a: a[2]))
    monkeypatch.setattr(os, "sendfile", limited(os.sendfile, lambda args: args[3]))


def _refuse_kernel_copy(monkeypatch: pytest.MonkeyPatch, code: int = errno.ENOSYS) -> None:
    """Make the kernel refuse both of its copies, as an old kernel or another file system
    does: LocalCopy then copies by reading and writing."""

    def refused(*args: object) -> int:
        raise OSError(code, os.strerror(code))

    refused.refused = True  # type: ignore[attr-defined]

    monkeypatch.setattr(os, "copy_file_range", refused)
    monkeypatch.setattr(os, "sendfile", refused)


class Counted:
    """Wraps an ``os`` function, counting its calls (the real one does the work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.real = getattr(os, name)
        self.calls = 0
        monkeypatch.setattr(os, name, self)

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        return self.real(*args)


class CountedMkdir:
    """Counts ``Path.mkdir`` calls (the real one does the work). Not ``os.mkdir``: on
    Python 3.10 pathlib holds its own reference to it, which a patch of os misses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = Path.mkdir

        def counted(path: Path, *args: Any, **kwargs: Any) -> None:
            self.calls += 1
            real(path, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", counted)


@pytest.fixture(params=["kernel", "loop"])
def copy_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the kernel's copy, then again with it refused (the read/write loop)."""
    if request.param == "loop":
        _refuse_kernel_copy(monkeypatch)
    return str(request.param)


@pytest.fixture(params=["unnamed", "named"])
def temporaries(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the copy's bytes going to an unnamed file (O_TMPFILE, where the
    system has it), then again to a named hidden temporary (as where it has not)."""
    if request.param == "named":
        _named_temporaries(monkeypatch)
    elif not _atomic._can_name_unnamed():
        pytest.skip("no O_TMPFILE here")
    return str(request.param)


def _named_temporaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the copies write to named temporaries, as where O_TMPFILE is missing."""
    monkeypatch.setattr(_atomic, "_unnamed_possible", False)


@pytest.fixture
def named_temporaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of the named temporary file's own failures."""
    _named_temporaries(monkeypatch)


def _run(
    limit: int,
    files: list[dict[str, Any]],
    executor: tq.Executor,
) -> tq.TransferJob:
    """Run one local-upload job to its end on a fresh queue (workers joined on return)."""
    with tq.TransferQueue(limit) as queue:
        return queue.wait(queue.queue_job("local-upload", files, executor), timeout=WAIT)


def _mapping(source: Path, destination: Path) -> dict[str, Any]:
    return {
        "source_path": str(source),
        "destination_path": str(destination),
        "size": source.stat().st_size,
    }


# --- copying -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1000, 64 * KiB, 3 * 64 * KiB + 17])
def test_copy_bytes_and_progress(tmp_path: Path, size: int, copy_way: str) -> None:
    """Bytes arrive intact (empty, small, exactly one chunk, several
    chunks); progress is absolute, never decreasing, at most one chunk apart, ending at
    the size; alike whether the kernel copies or the read/write loop does."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    digest = _random_file(source, size)
    progress = Progress()
    LocalCopy(chunk_size=64 * KiB)(_file(source, destination), progress)
    assert destination.stat().st_size == size
    assert _sha(destination) == digest
    assert progress.values[0] == 0
    assert progress.values[-1] == size
    steps = [b - a for a, b in zip(progress.values, progress.values[1:], strict=False)]
    assert all(0 < step <= 64 * KiB for step in steps)
    assert len(progress.values) == 1 + -(-size // (64 * KiB))
    assert _entries(destination.parent) == ["dst.bin"]


def test_copy_through_queue(tmp_path: Path) -> None:
    """A job of several files copied by one shared LocalCopy at limit 3
    completes with every file's bytes intact and the job's bytes all counted."""
    sizes = [0, 10, 5000, 300 * KiB, 1 * MiB + 3]
    files, digests = [], {}
    for i, size in enumerate(sizes):
        source = tmp_path / "src" / f"f{i}"
        digests[i] = _random_file(source, size)
        files.append(_mapping(source, tmp_path / "dst" / f"f{i}"))
    job = _run(3, files, LocalCopy(chunk_size=128 * KiB))
    assert job.status == "completed", job.error
    assert job.progress.loaded_bytes == sum(sizes)
    assert job.progress.percentage == 100
    for i, size in enumerate(sizes):
        out = tmp_path / "dst" / f"f{i}"
        assert out.stat().st_size == size
        assert _sha(out) == digests[i]
    assert _entries(tmp_path / "dst") == [f"f{i}" for i in range(len(sizes))]


def test_parents_created(tmp_path: Path) -> None:
    """Missing parent folders of the destination are created."""
    source = tmp_path / "src.bin"
    digest = _random_file(source, 777)
    destination = tmp_path / "a" / "b" / "c" / "dst.bin"
    LocalCopy()(_file(source, destination), Progress())
    assert _sha(destination) == digest
    assert _entries(destination.parent) == ["dst.bin"]


def test_relative_destination_without_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare file name as destination goes to the working folder."""
    monkeypatch.chdir(tmp_path)
    digest = _random_file(tmp_path / "src.bin", 100)
    LocalCopy()(tq.TransferFile("src.bin", "dst.bin", 100), Progress())
    assert _sha(tmp_path / "dst.bin") == digest


def test_modification_time_kept(tmp_path: Path) -> None:
    """The copy keeps the source's modification time (preserve_mtime, the
    default); with preserve_mtime=False it gets the time of the copy."""
    source = tmp_path / "src.bin"
    digest = _random_file(source, 2000)
    old = 1_000_000_000_000_000_000  # 2001-09-09
    os.utime(source, ns=(old, old))
    kept, fresh = tmp_path / "kept.bin", tmp_path / "fresh.bin"
    LocalCopy()(_file(source, kept), Progress())
    LocalCopy(preserve_mtime=False)(_file(source, fresh), Progress())
    assert _sha(kept) == _sha(fresh) == digest
    assert abs(kept.stat().st_mtime_ns - old) < 1000
    assert fresh.stat().st_mtime_ns > old + 365 * 86400 * 10**9


def test_overwrite_refused(tmp_path: Path) -> None:
    """An existing destination is refused (FileExistsError naming it, with
    the way out), left untouched, and no temporary file stays."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 1000)
    old_digest = _random_file(destination, 50)
    with pytest.raises(FileExistsError) as info:
        LocalCopy()(_file(source, destination), Progress())
    assert str(destination) in str(info.value)
    assert "overwrite=True" in str(info.value)
    assert _sha(destination) == old_digest
    assert _entries(destination.parent) == ["dst.bin"]


def test_overwrite_allowed(tmp_path: Path) -> None:
    """Overwrite=True replaces an existing destination with the new bytes."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    digest = _random_file(source, 100 * KiB)
    _random_file(destination, 5 * MiB)
    LocalCopy(overwrite=True)(_file(source, destination), Progress())
    assert destination.stat().st_size == 100 * KiB
    assert _sha(destination) == digest
    assert _entries(destination.parent) == ["dst.bin"]


def test_file_larger_than_listed(tmp_path: Path, copy_way: str) -> None:
    """A file that grew since it was listed is copied whole; the copy
    reports its true bytes and the queue clamps them to the listed size."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 5000)
    progress = Progress()
    LocalCopy(chunk_size=1024)(_file(source, destination, size=10), progress)
    assert _sha(destination) == digest
    assert progress.values[-1] == 5000

    queued = tmp_path / "queued.bin"
    files = [{"source_path": str(source), "destination_path": str(queued), "size": 10}]
    job = _run(1, files, LocalCopy(chunk_size=1024))
    assert job.status == "completed", job.error
    assert job.files[0].loaded == 10
    assert _sha(queued) == digest


def test_file_smaller_than_listed(tmp_path: Path) -> None:
    """A file that shrank since it was listed is copied as it is now."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 10)
    progress = Progress()
    LocalCopy()(_file(source, destination, size=5000), progress)
    assert destination.stat().st_size == 10
    assert _sha(destination) == digest
    assert progress.values == [0, 10]


def test_file_growing_while_copied(tmp_path: Path, copy_way: str) -> None:
    """Bytes appended to the source during the copy are copied too (by
    the read/write loop: the small first buffer grows to chunk_size once the file
    outgrows its opened size)."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 100)
    extra = os.urandom(200 * KiB)
    progress_values: list[int] = []

    def grow(loaded: int) -> None:
        progress_values.append(loaded)
        if loaded == 100:
            with source.open("ab") as stream:
                stream.write(extra)

    LocalCopy(chunk_size=64 * KiB)(_file(source, destination, size=100), grow)
    assert destination.stat().st_size == 100 + len(extra)
    assert _sha(destination) == _sha(source)
    if copy_way == "loop":  # 0, 100, one step of 100 bytes (the small buffer), chunks
        assert progress_values[:4] == [0, 100, 200, 200 + 64 * KiB]
    else:  # the kernel copies whole chunks from the start
        assert progress_values[:3] == [0, 100, 100 + 64 * KiB]
    assert progress_values[-1] == 100 + len(extra)


# --- the kernel's copy and its fallbacks ----------------------------------------------


def test_kernel_copies_in_chunk_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bytes go by os.copy_file_range, chunk_size at a time with progress
    after each step, and one more call to find the end; nothing is read or written here."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 3 * 64 * KiB + 17)
    copy_file_range = Counted(monkeypatch, "copy_file_range")
    sendfile, write = Counted(monkeypatch, "sendfile"), Counted(monkeypatch, "write")
    progress = Progress()
    LocalCopy(chunk_size=64 * KiB)(_file(source, destination), progress)
    assert _sha(destination) == digest
    assert progress.values == [0, 64 * KiB, 128 * KiB, 192 * KiB, 192 * KiB + 17]
    assert copy_file_range.calls == 5
    assert sendfile.calls == write.calls == 0


REFUSALS = [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF]


@pytest.mark.parametrize("code", REFUSALS, ids=errno.errorcode.get)
def test_refused_copy_file_range_falls_back_to_sendfile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Where copy_file_range refuses (another file system, an old kernel, no
    support), sendfile copies, in the same steps."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 2 * 64 * KiB + 5)

    def refused(*args: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "copy_file_range", refused)
    sendfile, write = Counted(monkeypatch, "sendfile"), Counted(monkeypatch, "write")
    progress = Progress()
    LocalCopy(chunk_size=64 * KiB)(_file(source, destination), progress)
    assert _sha(destination) == digest
    assert progress.values == [0, 64 * KiB, 128 * KiB, 128 * KiB + 5]
    assert sendfile.calls == 4
    assert write.calls == 0


@pytest.mark.parametrize("code", REFUSALS, ids=errno.errorcode.get)
def test_refused_kernel_copies_fall_back_to_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Where the kernel refuses both of its copies, the bytes are read and
    written, in the same steps, with nothing of the refusals left in the copy."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 2 * 64 * KiB + 5)
    _refuse_kernel_copy(monkeypatch, code)
    write = Counted(monkeypatch, "write")
    progress = Progress()
    LocalCopy(chunk_size=64 * KiB)(_file(source, destination), progress)
    assert _sha(destination) == digest
    assert progress.values == [0, 64 * KiB, 128 * KiB, 128 * KiB + 5]
    assert write.calls == 3


def test_kernel_copying_nothing_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first step that moves nothing from a file whose size says otherwise
    (the kernel copies nothing from /proc and /sys files) hands over to the next way, and
    in the end to read(), which gets the bytes."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 1000)

    def nothing(*args: object) -> int:
        return 0

    monkeypatch.setattr(os, "copy_file_range", nothing)
    monkeypatch.setattr(os, "sendfile", nothing)
    progress = Progress()
    LocalCopy()(_file(source, destination), progress)
    assert _sha(destination) == digest
    assert progress.values == [0, 1000]


SYSFS_FILE = Path("/sys/devices/system/cpu/online")


@pytest.mark.skipif(not SYSFS_FILE.is_file(), reason="needs Linux's /sys")
def test_sysfs_file_copied_as_read(tmp_path: Path) -> None:
    """A real /sys file (size 4096, a few bytes of text) is copied as read()
    sees it, whatever the kernel's copies make of it."""
    destination = tmp_path / "online"
    LocalCopy()(_file(SYSFS_FILE, destination), Progress())
    assert destination.read_bytes() == SYSFS_FILE.read_bytes()


def test_copy_across_file_systems(tmp_path: Path) -> None:
    """From tmpfs (/dev/shm) to the tests' folder, another file system where
    Linux refuses copy_file_range (EXDEV), the copy arrives whole, in chunk steps."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the tests' folder")
    folder = Path(tempfile.mkdtemp(dir=shm))
    try:
        source = folder / "src.bin"
        digest = _random_file(source, 3 * 64 * KiB)
        progress = Progress()
        LocalCopy(chunk_size=64 * KiB)(_file(source, tmp_path / "dst.bin"), progress)
    finally:
        shutil.rmtree(folder)
    assert _sha(tmp_path / "dst.bin") == digest
    assert progress.values == [0, 64 * KiB, 128 * KiB, 192 * KiB]


@pytest.mark.parametrize(
    ("code", "role", "path"),
    [
        (errno.EINVAL, "read source", "src.bin"),
        (errno.EIO, "read source", "src.bin"),
        (errno.EFBIG, "write destination", "dst.bin"),
    ],
)
def test_kernel_error_after_first_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, role: str, path: str
) -> None:
    """Once bytes moved, an error is no refusal (a fallback would copy from the
    middle): it fails the copy, blamed on the source unless it is the destination's
    (full, too large, read-only), and leaves nothing."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 3 * 64 * KiB)
    real = os.copy_file_range
    calls: list[int] = []

    def failing_later(*args: Any) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise OSError(code, os.strerror(code))
        return real(*args)

    monkeypatch.setattr(os, "copy_file_range", failing_later)
    sendfile = Counted(monkeypatch, "sendfile")
    with pytest.raises(OSError, match=os.strerror(code)) as info:
        LocalCopy(chunk_size=64 * KiB)(_file(source, destination), Progress())
    assert info.value.errno == code
    assert str(info.value) == f"cannot {role} {tmp_path / path}: {os.strerror(code)}"
    assert sendfile.calls == 0
    assert _entries(tmp_path) == ["src.bin"]


@pytest.mark.parametrize(
    ("code", "role", "path"),
    [(errno.EIO, "read source", "src.bin"), (errno.EROFS, "write destination", "dst.bin")],
)
def test_kernel_error_at_first_step_that_is_no_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, role: str, path: str
) -> None:
    """At the first step too, only a refusal hands over to another way: an
    input/output error or a read-only file system fails the copy, blamed as after the
    first step."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 1000)

    def failing(*args: Any) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "copy_file_range", failing)
    sendfile, write = Counted(monkeypatch, "sendfile"), Counted(monkeypatch, "write")
    with pytest.raises(OSError, match=os.strerror(code)) as info:
        LocalCopy()(_file(source, destination), Progress())
    assert str(info.value) == f"cannot {role} {tmp_path / path}: {os.strerror(code)}"
    assert sendfile.calls == write.calls == 0
    assert _entries(tmp_path) == ["src.bin"]


def test_read_error_in_the_loop_names_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the read/write loop, a failed read is the source's error."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 1000)
    _refuse_kernel_copy(monkeypatch)

    def failing(fd: int, buffers: Any) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "readv", failing)
    with pytest.raises(OSError, match="Input/output error") as info:
        LocalCopy()(_file(source, destination), Progress())
    assert str(info.value) == f"cannot read source {source}: Input/output error"
    assert _entries(tmp_path) == ["src.bin"]


def test_kernel_ways_by_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """``copy_file_range`` where os has it, then sendfile on Linux only (elsewhere
    it sends to sockets only); none at all leaves the read/write loop."""
    assert _kernel_copy._ways() == (_kernel_copy._copy_file_range, _kernel_copy._sendfile)
    monkeypatch.delattr(os, "copy_file_range")
    assert _kernel_copy._ways() == (_kernel_copy._sendfile,)
    monkeypatch.setattr(os, "uname", lambda: os.uname_result(("Darwin", "", "", "", "")))
    assert _kernel_copy._ways() == ()


def test_no_kernel_copy_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a platform with no kernel copy, the read/write loop copies."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 1000)
    monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    LocalCopy()(_file(source, destination), Progress())
    assert _sha(destination) == digest


# --- the cost of each file --------------------------------------------------------------


def test_a_known_folder_is_not_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first file into a folder makes sure of it (mkdir, sweep); the next
    files of the same LocalCopy into it do neither."""
    source = tmp_path / "src.bin"
    _random_file(source, 100)
    copy = LocalCopy()
    mkdir = CountedMkdir(monkeypatch)
    scandir = Counted(monkeypatch, "scandir")
    copy(_file(source, tmp_path / "out" / "a"), Progress())
    made = mkdir.calls
    assert made >= 1
    assert scandir.calls == 1  # the sweep of out/
    for name in "bcd":
        copy(_file(source, tmp_path / "out" / name), Progress())
    assert mkdir.calls == made
    assert scandir.calls == 1
    assert _entries(tmp_path / "out") == ["a", "b", "c", "d"]
    LocalCopy()(_file(source, tmp_path / "out" / "e"), Progress())  # another copy: its own
    assert mkdir.calls == made + 1


def test_a_known_folder_removed_meanwhile_is_made_again(tmp_path: Path) -> None:
    """A folder the copy knows, removed since, is made again for the next file."""
    source = tmp_path / "src.bin"
    digest = _random_file(source, 100)
    copy = LocalCopy()
    copy(_file(source, tmp_path / "out" / "sub" / "a"), Progress())
    shutil.rmtree(tmp_path / "out")
    copy(_file(source, tmp_path / "out" / "sub" / "b"), Progress())
    assert _entries(tmp_path / "out" / "sub") == ["b"]
    assert _sha(tmp_path / "out" / "sub" / "b") == digest


def test_a_known_folder_replaced_by_a_file_is_named(tmp_path: Path) -> None:
    """A folder the copy knows, replaced since by a file, fails the next file
    with NotADirectoryError naming that file, as for a folder never known."""
    source = tmp_path / "src.bin"
    _random_file(source, 100)
    copy = LocalCopy()
    copy(_file(source, tmp_path / "out" / "a"), Progress())
    shutil.rmtree(tmp_path / "out")
    (tmp_path / "out").write_bytes(b"a file")
    with pytest.raises(NotADirectoryError) as info:
        copy(_file(source, tmp_path / "out" / "b"), Progress())
    assert str(info.value).endswith(f", at {tmp_path / 'out'}")
    assert (tmp_path / "out").read_bytes() == b"a file"


def test_known_folders_are_bounded_and_age(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy remembers a few thousand folders at most (then starts afresh),
    each for as long as the sweep waits before sweeping a folder again."""
    folders = _known_folders.KnownFolders()
    monkeypatch.setattr(_known_folders, "_REMEMBERED", 3)
    for name in "abc":
        folders.learn(name)
    assert all(folders.knows(name) for name in "abc")
    folders.learn("d")
    assert [folders.knows(name) for name in "abcd"] == [False, False, False, True]
    folders.forget("d")
    folders.forget("never known")
    assert not folders.knows("d")
    folders.learn("e")
    monkeypatch.setattr(_temporaries, "_RESWEEP_SECONDS", 0.0)
    assert not folders.knows("e")


class QueueProgress(Progress):
    """A stand-in with the queue's raise_if_cancelled as well."""

    def __init__(self, cancelled: bool = False) -> None:
        super().__init__()
        self.cancelled = cancelled

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise tq.TransferCancelled("cancelled")


def test_a_one_chunk_file_reports_once(tmp_path: Path) -> None:
    """With the queue's on_progress, the check before the copy reads the cancel
    without reporting 0 (a trip through the queue's lock): a one-chunk file reports
    once, its size."""
    source = tmp_path / "src.bin"
    digest = _random_file(source, 4096)
    progress = QueueProgress()
    LocalCopy()(_file(source, tmp_path / "dst.bin"), progress)
    assert progress.values == [4096]
    assert _sha(tmp_path / "dst.bin") == digest


def test_a_cancelled_job_is_seen_before_anything_is_touched(tmp_path: Path) -> None:
    """``raise_if_cancelled``, before the copy, stops it with nothing made."""
    source = tmp_path / "src.bin"
    _random_file(source, 4096)
    with pytest.raises(tq.TransferCancelled):
        LocalCopy()(_file(source, tmp_path / "out" / "dst.bin"), QueueProgress(cancelled=True))
    assert not (tmp_path / "out").exists()


def test_source_replaced_after_its_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What was opened is checked again (fstat): a folder swapped in after the
    check of the name is refused, not copied from."""
    source = tmp_path / "src.bin"
    _random_file(source, 10)
    folder = tmp_path / "folder"
    folder.mkdir()
    real = os.open

    def swapped(path: Any, flags: int, *args: Any) -> int:
        if os.fspath(path) == str(source):
            return real(folder, os.O_RDONLY | os.O_CLOEXEC)
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", swapped)
    with pytest.raises(OSError, match="not a regular file") as info:
        LocalCopy()(_file(source, tmp_path / "dst.bin"), Progress())
    assert str(info.value).startswith(f"cannot read source {source}: ")
    assert _entries(tmp_path) == ["folder", "src.bin"]


# --- cancellation and failure -------------------------------------------------------


def test_cancel_direct_leaves_nothing(tmp_path: Path, copy_way: str) -> None:
    """TransferCancelled from on_progress mid-copy propagates and
    leaves neither the destination nor a temporary file."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 1 * MiB)
    progress = Progress(fail_at=256 * KiB)
    with pytest.raises(tq.TransferCancelled):
        LocalCopy(chunk_size=64 * KiB)(_file(source, destination), progress)
    assert progress.values[-1] == 256 * KiB  # it stopped at the first report past the mark
    assert _entries(destination.parent) == []


def test_cancel_before_start_touches_nothing(tmp_path: Path) -> None:
    """An executor started for an already cancelled job creates no
    folder and no file (the first on_progress(0) raises)."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 1000)
    with pytest.raises(tq.TransferCancelled):
        LocalCopy()(_file(source, destination), Progress(fail_at=0))
    assert not destination.parent.exists()


def test_cancel_through_queue_mid_copy(tmp_path: Path, copy_way: str, temporaries: str) -> None:
    """``cancel_job`` while the copy is half done (its temporary file
    exists, unnamed or hidden) ends the copy: the job is cancelled, the file "Cancelled
    by user", and once the executor returned neither the destination nor a temporary
    file is left."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 2 * MiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    halfway = threading.Event()
    returned = threading.Event()
    outcome: list[BaseException | None] = []
    reported: list[int] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        def watched(loaded: int) -> None:
            reported.append(loaded)
            if loaded >= 1 * MiB and not halfway.is_set():
                halfway.set()
                assert on_progress.wait_cancelled(WAIT), "never cancelled"
            on_progress(loaded)

        try:
            copy(file, watched)
        except BaseException as exc:
            outcome.append(exc)
            raise
        else:
            outcome.append(None)
        finally:
            returned.set()

    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("local-upload", [_mapping(source, destination)], executor)
        assert halfway.wait(WAIT)
        (writer,) = _temporary_descriptors(destination)
        if temporaries == "named":  # mid-copy: only the hidden temp
            (temporary,) = _entries(destination.parent)
            assert temporary.startswith(".dst.bin.")
        else:  # an unnamed file: nothing to see
            assert _entries(destination.parent) == []
            assert os.fstat(writer).st_nlink == 0
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
        assert returned.wait(WAIT)
    assert job.status == "cancelled"
    assert job.files[0].error == "Cancelled by user"
    assert len(outcome) == 1
    assert isinstance(outcome[0], tq.TransferCancelled)
    assert reported[-1] == 1 * MiB  # no chunk was copied after the cancel
    assert _entries(destination.parent) == []


def test_failure_from_progress_leaves_nothing(tmp_path: Path, copy_way: str) -> None:
    """Any exception during the copy propagates unchanged and leaves
    no partial destination."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 512 * KiB)
    with pytest.raises(Boom):
        LocalCopy(chunk_size=64 * KiB)(
            _file(source, destination), Progress(fail_at=128 * KiB, error=Boom())
        )
    assert _entries(tmp_path) == ["src.bin"]


def test_failure_keeps_existing_destination(tmp_path: Path) -> None:
    """A failed copy with overwrite=True leaves the old destination whole."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 512 * KiB)
    old_digest = _random_file(destination, 1000)
    with pytest.raises(Boom):
        LocalCopy(overwrite=True, chunk_size=64 * KiB)(
            _file(source, destination), Progress(fail_at=128 * KiB, error=Boom())
        )
    assert _sha(destination) == old_digest
    assert _entries(tmp_path) == ["dst.bin", "src.bin"]


def test_disk_full_while_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy_way: str
) -> None:
    """A full disk (ENOSPC on write) is an OSError with its errno and
    a message naming the destination and saying the disk is full; nothing is left."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 256 * KiB)
    _small_disk(monkeypatch, room=100 * KiB)
    with pytest.raises(OSError, match="No space left") as info:
        LocalCopy(chunk_size=64 * KiB)(_file(source, destination), Progress())
    assert type(info.value) is OSError
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert message == (
        f"cannot write destination {destination}: No space left on device (the disk is full)"
    )
    assert _entries(destination.parent) == []


def test_disk_full_through_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy_way: str
) -> None:
    """Through the queue the full disk becomes the file's error text."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 256 * KiB)
    _small_disk(monkeypatch, room=0)
    job = _run(1, [_mapping(source, destination)], LocalCopy())
    assert job.status == "failed"
    error = job.files[0].error
    assert error is not None
    assert str(destination) in error
    assert "No space left on device" in error
    assert _entries(destination.parent) == []


def test_disk_full_when_moving_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporaries: str
) -> None:
    """ENOSPC at the final link names the destination, not the hidden
    temporary file (nor the unnamed file's /proc/self/fd link), and leaves nothing."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 1000)

    def disk_full(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src, None, dst)

    monkeypatch.setattr(_atomic, "_renameat2", lambda: None)  # the move by hard link
    monkeypatch.setattr(os, "link", disk_full)
    with pytest.raises(OSError, match="No space left") as info:
        LocalCopy()(_file(source, destination), Progress())
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f"cannot write destination {destination}: No space left on device (the disk is full)"
    )
    assert _entries(tmp_path) == ["src.bin"]


def test_missing_source(tmp_path: Path) -> None:
    """A missing source is a FileNotFoundError naming it; nothing created."""
    source, destination = tmp_path / "nope.bin", tmp_path / "out" / "dst.bin"
    with pytest.raises(FileNotFoundError) as info:
        LocalCopy()(tq.TransferFile(str(source), str(destination), 10), Progress())
    assert str(info.value) == f"cannot read source {source}: No such file or directory"
    assert info.value.errno == errno.ENOENT
    assert not destination.parent.exists()


def test_source_is_a_folder(tmp_path: Path) -> None:
    """A folder given as the source file is an IsADirectoryError naming it."""
    source = tmp_path / "folder"
    source.mkdir()
    destination = tmp_path / "out" / "dst.bin"
    with pytest.raises(IsADirectoryError) as info:
        LocalCopy()(tq.TransferFile(str(source), str(destination), 0), Progress())
    assert str(info.value).startswith(f"cannot read source {source}: ")
    assert "expected a file" in str(info.value)
    assert not destination.parent.exists()


def test_destination_is_a_folder(tmp_path: Path) -> None:
    """A folder where the destination file should be is an
    IsADirectoryError naming it; the folder stays empty."""
    source, destination = tmp_path / "src.bin", tmp_path / "out"
    _random_file(source, 10)
    destination.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        LocalCopy(overwrite=True)(_file(source, destination), Progress())
    assert str(info.value).startswith(f"cannot write destination {destination}: ")
    assert _entries(destination) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_source_not_a_regular_file(tmp_path: Path) -> None:
    """A FIFO is refused at once (opening it would block), naming it."""
    source = tmp_path / "pipe"
    os.mkfifo(source)
    with pytest.raises(OSError, match="not a regular file") as info:
        LocalCopy()(tq.TransferFile(str(source), str(tmp_path / "dst"), 0), Progress())
    assert str(source) in str(info.value)
    assert _entries(tmp_path) == ["pipe"]


def test_destination_parent_is_a_file(tmp_path: Path) -> None:
    """A file where a destination folder should be (works as root too) is
    a NotADirectoryError naming the destination and the file in the way."""
    source = tmp_path / "src.bin"
    _random_file(source, 10)
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"I am a file")
    for destination in (blocker / "dst.bin", blocker / "a" / "b" / "dst.bin"):
        with pytest.raises(NotADirectoryError) as info:
            LocalCopy()(_file(source, destination), Progress())
        assert str(info.value) == (
            f"cannot write destination {destination}: Not a directory "
            f"(a folder on the path is a file), at {blocker}"
        )
    assert blocker.read_bytes() == b"I am a file"
    assert _entries(tmp_path) == ["blocker", "src.bin"]


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.skipif(_is_root(), reason="root ignores permission bits")
def test_read_only_destination_folder(tmp_path: Path) -> None:
    """A read-only destination folder is a PermissionError naming the
    destination; nothing is written there."""
    source = tmp_path / "src.bin"
    _random_file(source, 1000)
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as info:
            LocalCopy()(_file(source, folder / "dst.bin"), Progress())
        assert str(info.value).startswith(f"cannot write destination {folder / 'dst.bin'}: ")
        assert "Permission denied" in str(info.value)
        assert _entries(folder) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.skipif(_is_root(), reason="root ignores permission bits")
def test_unreadable_source(tmp_path: Path) -> None:
    """A source without read permission is a PermissionError naming it."""
    source = tmp_path / "src.bin"
    _random_file(source, 1000)
    source.chmod(0o000)
    try:
        with pytest.raises(PermissionError) as info:
            LocalCopy()(_file(source, tmp_path / "out" / "dst.bin"), Progress())
        assert str(info.value) == f"cannot read source {source}: Permission denied"
        assert not (tmp_path / "out").exists()
    finally:
        source.chmod(0o600)


@pytest.mark.usefixtures("named_temporaries")
def test_permission_error_keeps_type_and_names_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A permission refusal (simulated, so that it also runs as root) keeps
    its type and errno and names the destination."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 1000)

    def refused(path: str) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(_atomic, "create_locked", refused)
    with pytest.raises(PermissionError) as info:
        LocalCopy()(_file(source, destination), Progress())
    assert info.value.errno == errno.EACCES
    assert str(info.value) == f"cannot write destination {destination}: Permission denied"
    assert isinstance(info.value.__cause__, PermissionError)
    assert _entries(destination.parent) == []


def test_source_vanishing_mid_job(tmp_path: Path) -> None:
    """In a 3-file job whose second source is deleted while the first
    is copied, the second fails with "No such file" naming it, the others complete."""
    sources = [tmp_path / "src" / f"f{i}" for i in range(3)]
    digests = [_random_file(source, 10 * KiB) for source in sources]
    files = [_mapping(source, tmp_path / "dst" / source.name) for source in sources]
    copy = LocalCopy()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path == str(sources[0]):
            sources[1].unlink()
        copy(file, on_progress)

    job = _run(1, files, executor)
    assert job.status == "failed"
    assert job.error == "1 of 3 files failed"
    statuses = [file.status for file in job.files]
    assert statuses == ["completed", "error", "completed"]
    assert job.files[1].error == f"cannot read source {sources[1]}: No such file or directory"
    assert _entries(tmp_path / "dst") == ["f0", "f2"]
    assert _sha(tmp_path / "dst" / "f0") == digests[0]
    assert _sha(tmp_path / "dst" / "f2") == digests[2]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"overwrite": 1}, TypeError),
        ({"overwrite": "yes"}, TypeError),
        ({"preserve_mtime": None}, TypeError),
        ({"chunk_size": 1.5}, TypeError),
        ({"chunk_size": True}, TypeError),
        ({"chunk_size": "8M"}, TypeError),
        ({"chunk_size": 0}, ValueError),
        ({"chunk_size": -1}, ValueError),
    ],
)
def test_constructor_validation(kwargs: dict[str, Any], error: type[Exception]) -> None:
    """Wrong argument types are TypeError, bad values ValueError,
    each naming the argument."""
    (name,) = kwargs
    with pytest.raises(error, match=name):
        LocalCopy(**kwargs)


def test_constructor_settings() -> None:
    """The settings are readable and shown by repr."""
    copy = LocalCopy(overwrite=True, chunk_size=4096, preserve_mtime=False)
    assert (copy.overwrite, copy.chunk_size, copy.preserve_mtime) == (True, 4096, False)
    assert repr(copy) == (
        "LocalCopy(overwrite=True, chunk_size=4096, preserve_mtime=False, checksum=False)"
    )
    default = LocalCopy()
    assert (default.overwrite, default.chunk_size, default.preserve_mtime) == (
        False,
        8 * MiB,
        True,
    )


# --- listing -------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, str]:
    """A nested tree with symlinks; returns {relative path: sha256} of what is listed."""
    digests = {
        "a.txt": _random_file(root / "a.txt", 10),
        "b/c.bin": _random_file(root / "b" / "c.bin", 0),
        "b/d/e.bin": _random_file(root / "b" / "d" / "e.bin", 3000),
        "b/d/f/g.bin": _random_file(root / "b" / "d" / "f" / "g.bin", 70 * KiB),
        "z.bin": _random_file(root / "z.bin", 1),
    }
    (root / "empty").mkdir()
    outside = root.parent / "outside"
    _random_file(outside / "linked.bin", 1234)
    # A link to a file is listed (its target's bytes, under the link's name) ...
    (root / "b" / "link.bin").symlink_to(outside / "linked.bin")
    digests["b/link.bin"] = _sha(outside / "linked.bin")
    # ... a link to a folder (here a cycle) and a broken link are not.
    (root / "b" / "d" / "loop").symlink_to(root)
    (root / "broken").symlink_to(root / "nothing-here")
    return digests


def test_list_folder_recursively(tmp_path: Path) -> None:
    """A folder lists every regular file below it, sorted, with its size
    and its destination mirrored under the destination; file symlinks are followed,
    folder symlinks and broken links left out, empty folders give nothing."""
    root = tmp_path / "root"
    digests = _tree(root)
    files = list_local_files(root, tmp_path / "copy")
    relative = sorted(digests)
    assert [f["source_path"] for f in files] == [os.path.join(root, r) for r in relative]
    assert [f["destination_path"] for f in files] == [
        os.path.join(tmp_path / "copy", r) for r in relative
    ]
    assert [f["size"] for f in files] == [(root / r).stat().st_size for r in relative]
    assert all(set(f) == {"source_path", "destination_path", "size"} for f in files)
    assert all(type(f["source_path"]) is str for f in files)


def test_list_single_file(tmp_path: Path) -> None:
    """A file lists as one mapping whose destination is the given path."""
    source = tmp_path / "one.bin"
    _random_file(source, 4321)
    assert list_local_files(source, tmp_path / "there.bin") == [
        {
            "source_path": str(source),
            "destination_path": str(tmp_path / "there.bin"),
            "size": 4321,
        }
    ]


def test_list_empty_folder(tmp_path: Path) -> None:
    """An empty folder lists nothing (its job completes at once)."""
    (tmp_path / "empty").mkdir()
    assert list_local_files(tmp_path / "empty", tmp_path / "copy") == []


def test_list_missing_source(tmp_path: Path) -> None:
    """A missing source is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError) as info:
        list_local_files(tmp_path / "missing", tmp_path / "copy")
    assert info.value.filename == str(tmp_path / "missing")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_list_special_file_refused(tmp_path: Path) -> None:
    """A source that is neither file nor folder is refused, naming it;
    inside a folder such files are skipped."""
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="neither a regular file nor a folder"):
        list_local_files(tmp_path / "pipe", tmp_path / "copy")
    _random_file(tmp_path / "real.bin", 5)
    listed = list_local_files(tmp_path, tmp_path / "copy")
    assert [f["source_path"] for f in listed] == [str(tmp_path / "real.bin")]


def test_list_and_copy_end_to_end(tmp_path: Path) -> None:
    """``list_local_files`` + LocalCopy through a real TransferQueue
    copy a nested tree folder to folder; every file arrives with its checksum."""
    root = tmp_path / "root"
    digests = _tree(root)
    copy_root = tmp_path / "copy"
    files = list_local_files(root, copy_root)
    recorder: list[int] = []

    def on_update(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        recorder.append(job.progress.loaded_bytes)

    with tq.TransferQueue(4) as queue, tq.job_updated.connected_to(on_update, sender=queue):
        job_id = queue.queue_job("local-upload", files, LocalCopy(chunk_size=16 * KiB))
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.error
    assert job.progress.percentage == 100
    sizes = [f["size"] for f in files]
    assert all(isinstance(size, int) for size in sizes)
    assert job.progress.loaded_bytes == sum(size for size in sizes if isinstance(size, int))
    assert recorder[-1] == job.progress.loaded_bytes
    copied = {
        os.path.relpath(os.path.join(folder, name), copy_root)
        for folder, _, names in os.walk(copy_root)
        for name in names
    }
    assert copied == set(digests)
    for relative, digest in digests.items():
        assert _sha(copy_root / relative) == digest
    assert not (copy_root / "b" / "d" / "loop").exists()


class PickyError(OSError):
    """An OSError subclass whose constructor wants two arguments."""

    def __init__(self, code: int, where: str) -> None:
        super().__init__(code, os.strerror(code), where)


@pytest.mark.usefixtures("named_temporaries")
def test_error_with_unusual_constructor_becomes_oserror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError subclass that cannot be rebuilt from a message still
    gives a clear OSError naming the destination, with its errno and the original as
    cause."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 10)

    def picky(path: str) -> int:
        raise PickyError(errno.EIO, path)

    monkeypatch.setattr(_atomic, "create_locked", picky)
    with pytest.raises(OSError, match="Input/output error") as info:
        LocalCopy()(_file(source, destination), Progress())
    assert type(info.value) is OSError
    assert info.value.errno == errno.EIO
    assert str(info.value) == f"cannot write destination {destination}: Input/output error"
    assert isinstance(info.value.__cause__, PickyError)
    assert _entries(tmp_path) == ["src.bin"]


# --- pausing ---------------- --------------------------------------------------------


class MovedBytes:
    """Sums the bytes every way LocalCopy writes moves (the kernel's copy_file_range and
    sendfile, and os.write), whatever the source: what a copy really transferred."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.total = 0
        for name in ("copy_file_range", "sendfile", "write"):
            monkeypatch.setattr(os, name, self._counted(getattr(os, name)))

    def _counted(self, real: Callable[..., int]) -> Callable[..., int]:
        def counted(*args: Any) -> int:
            done = real(*args)
            self.total += done
            return done

        return counted


class PausedAt:
    """An executor around ``copy`` whose first attempt, on reaching ``mark`` bytes,
    waits for the test to pause the job before the report goes through (which then
    raises TransferPaused). ``reports`` holds each attempt's reported values."""

    def __init__(self, copy: LocalCopy, mark: int) -> None:
        self.copy = copy
        self.mark = mark
        self.reached, self.paused = threading.Event(), threading.Event()
        self.reports: list[list[int]] = []

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        values: list[int] = []
        self.reports.append(values)

        class Watched:
            def __call__(inner, loaded: int) -> None:
                values.append(loaded)
                if loaded >= self.mark and not self.reached.is_set():
                    self.reached.set()
                    assert self.paused.wait(WAIT)
                on_progress(loaded)

            def raise_if_cancelled(inner) -> None:
                on_progress.raise_if_cancelled()

        self.copy(file, Watched())


def _paused_and_stopped(job: tq.TransferJob) -> bool:
    return (
        job.status is tq.TransferStatus.PAUSED
        and job.files[0].status is tq.TransferFileStatus.QUEUED
    )


def test_pause_mid_copy_then_resume(
    tmp_path: Path, copy_way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused mid-file, the copy keeps its temporary file (nothing at the destination);
    resumed, it goes on from the kept length: the result is byte-exact and no byte is
    written twice."""
    from tests.helpers.job_waits import wait_for_job

    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    size = 1 * MiB + 17
    digest = _random_file(source, size)
    chunk = 64 * KiB
    executor = PausedAt(LocalCopy(chunk_size=chunk), mark=5 * chunk)
    moved = MovedBytes(monkeypatch)
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("local-upload", [_mapping(source, destination)], executor)
        assert executor.reached.wait(WAIT)
        queue.pause_job(job_id)
        executor.paused.set()
        paused = wait_for_job(queue, job_id, _paused_and_stopped)
        assert paused.files[0].loaded == 5 * chunk
        (kept,) = _entries(destination.parent)  # only the hidden temporary file
        assert kept.startswith(".dst.bin.")
        assert (destination.parent / kept).stat().st_size == 5 * chunk
        queue.resume_job(job_id)
        done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert _sha(destination) == digest
    assert _entries(destination.parent) == ["dst.bin"]
    assert executor.reports[1][0] == 6 * chunk  # the resumed attempt's first chunk
    assert moved.total == size


def test_resume_direct_goes_on_from_the_kept_copy(tmp_path: Path, copy_way: str) -> None:
    """Called directly: TransferPaused from on_progress keeps the copy; the next call for
    the same file reports from where it stopped and completes it."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 300 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=128 * KiB, error=tq.TransferPaused("p")))
    progress = Progress()
    copy(_file(source, destination), progress)
    # The first 0 is the check a plain callable gets before anything is touched.
    assert progress.values == [0, 192 * KiB, 256 * KiB, 300 * KiB]
    assert _sha(destination) == digest
    assert _entries(tmp_path) == ["dst.bin", "src.bin"]


def test_a_kept_copy_of_a_changed_source_is_dropped(tmp_path: Path) -> None:
    """The source changed while paused: the kept bytes are of another file, so the copy
    starts again from byte 0 and the kept file is removed."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    digest = _random_file(source, 200 * KiB)  # same size; another inode and mtime
    progress = Progress()
    copy(_file(source, destination), progress)
    assert progress.values[:2] == [0, 64 * KiB]  # counted from 0 again
    assert _sha(destination) == digest
    assert _entries(tmp_path) == ["dst.bin", "src.bin"]


def test_a_kept_copy_removed_meanwhile_is_started_again(tmp_path: Path) -> None:
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    (kept,) = [name for name in _entries(tmp_path) if name.startswith(".dst.bin.")]
    os.unlink(tmp_path / kept)
    progress = Progress()
    copy(_file(source, destination), progress)
    assert progress.values[:2] == [0, 64 * KiB]
    assert _sha(destination) == digest


def test_a_kept_copy_goes_with_its_executor(tmp_path: Path) -> None:
    """Kept by a direct call (no queue, so no cancel to remove it): the kept file is
    removed once the executor is dropped (and at the interpreter's exit at the latest)."""
    import gc

    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    assert len(_entries(tmp_path)) == 2
    del copy
    gc.collect()
    assert _entries(tmp_path) == ["src.bin"]


def test_a_stale_drop_leaves_the_copy_kept_since(tmp_path: Path) -> None:
    """The cancel hook of a kept copy taken back (and kept again by a later pause) finds
    another copy under its key: it leaves that one alone."""
    from transferqueue.executors._local import kept_partials as _kept_partials

    partials = _kept_partials.KeptPartials()
    made = []
    for name in ("one", "two"):
        path = tmp_path / name
        path.write_bytes(b"")
        made.append(_kept_partials._Kept(str(path), os.open(path, os.O_RDONLY), (0,) * 5, 0))
    partials.keep(("job", "s", "d"), made[0])
    assert partials.take(("job", "s", "d")) is made[0]
    partials.keep(("job", "s", "d"), made[1])
    partials.drop(("job", "s", "d"), made[0])  # the first pause's hook, late
    assert partials.take(("job", "s", "d")) is made[1]
    assert _entries(tmp_path) == ["one", "two"]
    for kept in made:
        os.close(kept.fd)


def test_a_kept_copy_of_another_process_is_closed_not_removed(tmp_path: Path) -> None:
    """A kept copy made by another process (the parent of a fork) is never removed here,
    only its descriptor closed."""
    from transferqueue.executors._local import kept_partials as _kept_partials

    path = tmp_path / "theirs"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    theirs = _kept_partials._Kept(str(path), fd, (0,) * 5, 0, pid=os.getpid() + 1)
    _kept_partials._discard(theirs)
    assert _entries(tmp_path) == ["theirs"]
    assert _closed(fd)


def test_a_second_kept_copy_replaces_the_first(tmp_path: Path) -> None:
    from transferqueue.executors._local import kept_partials as _kept_partials

    partials = _kept_partials.KeptPartials()
    made = []
    for name in ("one", "two"):
        path = tmp_path / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        made.append(_kept_partials._Kept(str(path), fd, (0, 0, 0, 0, 0), 0))
        partials.keep(("job", "s", "d"), made[-1])
    assert _entries(tmp_path) == ["two"]
    assert partials.take(("job", "s", "d")) is made[1]
    assert not partials
    os.close(made[1].fd)


class PausedBeforeCopy:
    """An executor around ``copy`` that, on its first call, waits for the test to pause
    the job before copying with the queue's own ``on_progress``: its first report then
    raises TransferPaused, and the copy keeps its first chunk."""

    def __init__(self, copy: LocalCopy, *, wrapped: bool = False) -> None:
        self.copy = copy
        self.wrapped = wrapped  # hand the copy a plain function around on_progress
        self.started, self.paused = threading.Event(), threading.Event()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if not self.started.is_set():
            self.started.set()
            assert self.paused.wait(WAIT)
        if self.wrapped:

            class Wrapper:  # an application's: passes the bytes and the check on
                def __call__(self, loaded: int) -> None:
                    on_progress(loaded)

                def raise_if_cancelled(self) -> None:
                    on_progress.raise_if_cancelled()

            self.copy(file, Wrapper())
        else:
            self.copy(file, on_progress)


def _open_under(folder: Path) -> list[str]:
    """The files under ``folder`` this process holds open (removed ones included)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            target = _held_name(int(fd))
            if target.startswith(str(folder)):
                held.append(target)
    return held


def _held_name(fd: int) -> str:
    """The path the descriptor ``fd`` is open on. An unnamed file (O_TMPFILE) reads
    ``FOLDER/#INODE (deleted)`` in /proc even once a link named it: its name is then
    found by its inode in its folder."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    folder, base = os.path.split(target)
    if base.startswith("#") and base.endswith(" (deleted)"):
        held = os.fstat(fd)
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                named = entry.stat(follow_symlinks=False)
                if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
                    return entry.path
    return target


def _paused_with_a_kept_copy(
    queue: tq.TransferQueue, tmp_path: Path, executor: PausedBeforeCopy
) -> str:
    """Queue a copy of a 200 KiB file with ``executor``, pause it mid-copy; its id."""
    from tests.helpers.job_waits import wait_for_job

    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 200 * KiB)
    job_id = queue.queue_job("local-upload", [_mapping(source, destination)], executor)
    assert executor.started.wait(WAIT)
    queue.pause_job(job_id)
    executor.paused.set()
    wait_for_job(queue, job_id, _paused_and_stopped)
    (kept,) = _entries(destination.parent)
    assert kept.startswith(".dst.bin.")
    assert _open_under(tmp_path) == [str(destination.parent / kept)]
    return job_id


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("wrapped", [False, True], ids=["on_progress", "wrapped"])
def test_cancelling_a_paused_job_removes_its_kept_copy_at_once(
    tmp_path: Path, wrapped: bool
) -> None:
    """A paused job that is cancelled never resumes: the cancel removes its kept copy
    and closes it, before cancel_job returns, while the executor lives on; so too when
    the copy was handed a function around the queue's on_progress."""
    executor = PausedBeforeCopy(LocalCopy(chunk_size=64 * KiB), wrapped=wrapped)
    with tq.TransferQueue(1) as queue:
        job_id = _paused_with_a_kept_copy(queue, tmp_path, executor)
        assert queue.cancel_job(job_id)
        assert _entries(tmp_path / "out") == []
        assert _open_under(tmp_path) == []
        assert not executor.copy._kept
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_shutdown_removes_the_kept_copy_of_a_paused_job(tmp_path: Path) -> None:
    """shutdown() cancels a paused job (nothing could resume it): its kept copy goes."""
    executor = PausedBeforeCopy(LocalCopy(chunk_size=64 * KiB))
    queue = tq.TransferQueue(1)
    try:
        _paused_with_a_kept_copy(queue, tmp_path, executor)
    finally:
        queue.shutdown()
    assert _entries(tmp_path / "out") == []
    assert _open_under(tmp_path) == []


def test_a_kept_copy_resumed_is_not_removed_by_a_later_cancel(tmp_path: Path) -> None:
    """The kept copy taken back by the resumed file is no longer the cancel's to remove:
    a cancel of the job after its resume leaves the copy it made in place."""
    executor = PausedBeforeCopy(LocalCopy(chunk_size=64 * KiB))
    with tq.TransferQueue(1) as queue:
        job_id = _paused_with_a_kept_copy(queue, tmp_path, executor)
        queue.resume_job(job_id)
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert _sha(tmp_path / "out" / "dst.bin") == _sha(tmp_path / "src.bin")
    assert not executor.copy._kept


def test_a_source_rewritten_in_place_with_its_mtime_restored_is_not_resumed(
    tmp_path: Path,
) -> None:
    """The source is rewritten in place while paused (same inode, same size) and its
    modification time set back, as ``cp -p`` or ``touch -r`` do: its change time tells,
    so the copy starts again from byte 0 and holds only the new bytes."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    source.write_bytes(b"A" * 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    before = source.stat()
    with source.open("r+b") as rewrite:
        rewrite.write(b"B" * 200 * KiB)
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = source.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    progress = Progress()
    copy(_file(source, destination), progress)
    assert progress.values[:2] == [0, 64 * KiB]  # counted from 0 again
    assert destination.read_bytes() == b"B" * 200 * KiB


def _paused_direct(copy: LocalCopy, source: Path, destination: Path) -> int:
    """Pause a direct copy after its first chunk; the descriptor of its kept copy."""
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    (fd,) = _temporary_descriptors(destination)
    return fd


def _temporary_descriptors(destination: Path) -> list[int]:
    """This process's descriptors open on a hidden temporary file of ``destination``, or
    on an unnamed file (O_TMPFILE) in its folder."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            target = _held_name(int(fd))
            hidden = target.startswith(f"{destination.parent}{os.sep}.{destination.name}.")
            unnamed = target.startswith(f"{destination.parent}{os.sep}#") and (
                os.fstat(int(fd)).st_nlink == 0
            )
            if hidden or unnamed:
                held.append(int(fd))
    return held


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as exc:
        return exc.errno == errno.EBADF
    return False


@pytest.mark.parametrize("failing", ["ftruncate", "lseek"])
def test_a_resumed_copy_that_cannot_be_positioned_is_closed_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Positioning the kept copy to go on fails (an I/O error): the copy fails with it,
    its descriptor is closed and its file removed, nothing is kept."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    fd = _paused_direct(copy, source, destination)
    real = getattr(os, failing)

    def fails(target: int, *args: Any) -> Any:
        if target == fd:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(target, *args)

    monkeypatch.setattr(os, failing, fails)
    with pytest.raises(OSError, match="Input/output error") as raised:
        copy(_file(source, destination), Progress())
    assert raised.value.errno == errno.EIO
    assert _closed(fd)
    assert _entries(tmp_path) == ["src.bin"]
    assert not copy._kept


def test_a_pause_whose_copy_cannot_be_measured_is_still_a_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measuring the copy at the pause fails: the pause is still what the copy raises,
    and the copy, unusable, is closed and removed instead of kept."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 200 * KiB)
    real_fstat = os.fstat
    writers: list[int] = []

    class PauseUnmeasured:
        def __call__(self, loaded: int) -> None:
            if loaded:
                # From now on the temporary file cannot be measured.
                writers.extend(_temporary_descriptors(destination))
                monkeypatch.setattr(os, "fstat", fstat)
                raise tq.TransferPaused("p")

    def fstat(fd: int) -> os.stat_result:
        if fd in writers:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_fstat(fd)

    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), PauseUnmeasured())
    monkeypatch.setattr(os, "fstat", real_fstat)
    assert len(writers) == 1
    assert _closed(writers[0])
    assert _entries(tmp_path) == ["src.bin"]
    assert not copy._kept


class JobProgress(Progress):
    """A stand-in ``on_progress`` that names its job, as the queue's does."""

    def __init__(self, job_id: str, fail_at: int | None = None) -> None:
        super().__init__(fail_at, tq.TransferPaused("p") if fail_at is not None else None)
        self.job_id = job_id


def test_two_jobs_copying_the_same_file_keep_a_copy_each(tmp_path: Path) -> None:
    """Two jobs copy the same source to the same destination with one executor, both
    paused at different points: each resumes from its own kept copy."""
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 300 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB, overwrite=True)
    for job_id, at in (("a", 64 * KiB), ("b", 128 * KiB)):
        with pytest.raises(tq.TransferPaused):
            copy(_file(source, destination), JobProgress(job_id, fail_at=at))
    assert len([name for name in _entries(tmp_path) if name.startswith(".dst.bin.")]) == 2
    first = JobProgress("a")
    copy(_file(source, destination), first)
    assert first.values[:2] == [0, 128 * KiB]  # from a's 64 KiB, not b's 128 KiB
    assert _sha(destination) == digest
    second = JobProgress("b")
    copy(_file(source, destination), second)
    assert second.values[:2] == [0, 192 * KiB]


# --- unnamed temporary files (O_TMPFILE) ----------------------------------------------


@pytest.mark.parametrize("refusal", ["EOPNOTSUPP", "EISDIR", "EINVAL"])
def test_a_refused_unnamed_file_falls_back_to_a_hidden_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    """Where the kernel or the file system refuses O_TMPFILE (a file system without
    it: EOPNOTSUPP; a kernel that reads the flag as O_DIRECTORY: EISDIR), the copy
    writes to a hidden temporary file as before; the folder is remembered, so that its
    next files do not ask again."""
    if not _atomic._can_name_unnamed():
        pytest.skip("no O_TMPFILE here")
    asked: list[str] = []
    created: list[str] = []
    code = getattr(errno, refusal)

    def refused(folder: str) -> int:
        asked.append(folder)
        raise OSError(code, os.strerror(code), folder)

    real_create_locked = create_locked

    def counted(path: str) -> int:
        created.append(os.path.basename(path))
        return real_create_locked(path)

    monkeypatch.setattr(_atomic, "_open_unnamed", refused)
    monkeypatch.setattr(_atomic, "create_locked", counted)
    monkeypatch.setattr(_atomic, "_refused_folders", set())
    source = tmp_path / "src.bin"
    digest = _random_file(source, 10 * KiB)
    copy = LocalCopy()
    for name in ("a", "b", "c"):
        copy(_file(source, tmp_path / "out" / name), Progress())
        assert _sha(tmp_path / "out" / name) == digest
    assert asked == [str(tmp_path / "out")]
    assert [name.split(".")[1] for name in created] == ["a", "b", "c"]
    assert _entries(tmp_path / "out") == ["a", "b", "c"]


def test_an_unnamed_file_is_used_where_the_system_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without overwrite the copy writes to an unnamed file, linked into place at the
    end: no temporary name is ever made; with overwrite, a hidden temporary replaces
    the destination as before."""
    if not _atomic._can_name_unnamed():
        pytest.skip("no O_TMPFILE here")
    made: list[str] = []
    real_create_locked = create_locked

    def counted(path: str) -> int:
        made.append(path)
        return real_create_locked(path)

    monkeypatch.setattr(_atomic, "create_locked", counted)
    source = tmp_path / "src.bin"
    digest = _random_file(source, 100 * KiB)
    LocalCopy(chunk_size=16 * KiB)(_file(source, tmp_path / "dst.bin"), Progress())
    assert made == []
    assert _sha(tmp_path / "dst.bin") == digest
    LocalCopy(overwrite=True)(_file(source, tmp_path / "dst.bin"), Progress())
    assert len(made) == 1
    assert _entries(tmp_path) == ["dst.bin", "src.bin"]


@pytest.mark.parametrize("appears", ["file", "folder"])
def test_a_destination_appearing_during_the_copy_is_not_clobbered(
    tmp_path: Path, temporaries: str, appears: str
) -> None:
    """A destination made by someone else while the copy runs is left as it is: the
    copy fails as if it had been there at the start (FileExistsError, or
    IsADirectoryError for a folder), naming the destination, and leaves nothing."""
    source, destination = tmp_path / "src.bin", tmp_path / "out" / "dst.bin"
    _random_file(source, 10 * KiB)

    class Intruder(Progress):
        def __call__(self, loaded: int) -> None:
            if loaded and not destination.exists():
                if appears == "file":
                    destination.write_bytes(b"theirs")
                else:
                    destination.mkdir()
            super().__call__(loaded)

    expected = FileExistsError if appears == "file" else IsADirectoryError
    with pytest.raises(expected) as info:
        LocalCopy()(_file(source, destination), Intruder())
    reason = (
        "destination exists (pass overwrite=True to replace it)"
        if appears == "file"
        else "destination is a folder (expected a file)"
    )
    assert str(info.value) == f"cannot write destination {destination}: {reason}"
    assert _entries(destination.parent) == ["dst.bin"]
    if appears == "file":
        assert destination.read_bytes() == b"theirs"


def test_an_unnamed_copy_kept_at_a_pause_gets_a_hidden_locked_name(tmp_path: Path) -> None:
    """Paused, an unnamed copy is kept under a hidden temporary name, locked (no sweep
    takes it for a dead writer's), and its resumption goes on from it."""
    if not _atomic._can_name_unnamed():
        pytest.skip("no O_TMPFILE here")
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    digest = _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    (kept,) = [name for name in _entries(tmp_path) if name != "src.bin"]
    assert _temporaries.is_temporary_name(kept)
    assert kept.startswith(".dst.bin.")
    assert (tmp_path / kept).stat().st_size == 64 * KiB
    with pytest.raises(FileBusyError):
        os.close(open_locked(tmp_path / kept, os.O_RDONLY))
    progress = Progress()
    copy(_file(source, destination), progress)
    assert progress.values[:2] == [0, 128 * KiB]  # went on from the kept bytes
    assert _sha(destination) == digest
    assert _entries(tmp_path) == ["dst.bin", "src.bin"]


def test_an_unnamed_copy_that_cannot_be_named_at_a_pause_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Naming the paused copy fails (a full folder, say): the pause still stands, and
    nothing is kept or left (the resumed file starts over)."""
    if not _atomic._can_name_unnamed():
        pytest.skip("no O_TMPFILE here")

    def full(fd: int, destination: str) -> str:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_kept_partials, "name_unnamed", full)
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    _random_file(source, 200 * KiB)
    copy = LocalCopy(chunk_size=64 * KiB)
    with pytest.raises(tq.TransferPaused):
        copy(_file(source, destination), Progress(fail_at=64 * KiB, error=tq.TransferPaused("p")))
    assert not copy._kept
    assert _entries(tmp_path) == ["src.bin"]
    assert _temporary_descriptors(destination) == []
