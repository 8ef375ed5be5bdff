"""Atomic destination files (issue 4, Local): ``transferqueue.executors._files.atomic``.

Every local file an executor writes goes through ``atomic_destination``: the bytes land
in a hidden temporary file beside the destination and are moved into place only when
complete, so a failure or a cancellation (S9) never leaves a partial file behind.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import FullDisk, refuse_scandir
from transferqueue.executors._files import atomic as _atomic
from transferqueue.executors._files import file_lock as _file_lock
from transferqueue.executors._files import temporaries as _temporaries
from transferqueue.executors._files.atomic import (
    atomic_destination,
    check_destination,
    move_into_place,
    temporary_path,
)
from transferqueue.executors._files.file_lock import FileBusyError, open_locked


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entries(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden temporary files included."""
    return sorted(os.listdir(folder))


class Boom(Exception):
    """Raised inside the ``with`` block to fail the write."""


def _write(
    destination: Path,
    *chunks: bytes,
    during: Callable[[], object] | None = None,
    overwrite: bool = False,
) -> None:
    """Write ``chunks`` through atomic_destination, then call ``during`` inside the block."""
    with atomic_destination(destination, overwrite=overwrite) as stream:
        for chunk in chunks:
            stream.write(chunk)
        if during is not None:
            during()


def _without_renameat2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a system without renameat2: the move goes by hard link."""
    monkeypatch.setattr(_atomic, "_renameat2", lambda: None)


def _raise(exc: BaseException) -> Callable[[], object]:
    def fail() -> object:
        raise exc

    return fail


def test_complete_write_is_moved_into_place(tmp_path: Path) -> None:
    """Issue 4 Local: a clean exit leaves exactly the destination, bytes intact, no temp."""
    data = os.urandom(300_000)
    destination = tmp_path / "out.bin"
    with atomic_destination(destination) as stream:
        stream.write(data[:100_000])
        # While writing, the destination does not exist yet: only the hidden temp does.
        assert not destination.exists()
        (temp,) = _entries(tmp_path)
        assert temp.startswith(".out.bin.")
        assert temp.endswith(".part")
        stream.write(data[100_000:])
    assert _entries(tmp_path) == ["out.bin"]
    assert destination.stat().st_size == len(data)
    assert _sha(destination.read_bytes()) == _sha(data)


def test_exception_removes_temporary_and_leaves_no_destination(tmp_path: Path) -> None:
    """Issue 4 Local: an exception in the block re-raises, removes the temp file, and
    leaves no partial destination."""
    destination = tmp_path / "out.bin"
    with pytest.raises(Boom):
        _write(destination, b"partial bytes", during=_raise(Boom()))
    assert _entries(tmp_path) == []


def test_cancellation_removes_temporary(tmp_path: Path) -> None:
    """Issue 4 Local, S9: TransferCancelled (what on_progress raises) cleans up too."""
    destination = tmp_path / "out.bin"
    with pytest.raises(tq.TransferCancelled):
        _write(destination, b"x" * 1000, during=_raise(tq.TransferCancelled("cancelled")))
    assert _entries(tmp_path) == []


def test_base_exception_removes_temporary(tmp_path: Path) -> None:
    """Issue 4 Local: a KeyboardInterrupt during the write leaves nothing behind either."""
    destination = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt):
        _write(destination, b"x", during=_raise(KeyboardInterrupt()))
    assert _entries(tmp_path) == []


def test_existing_destination_refused_before_writing(tmp_path: Path) -> None:
    """Issue 4 Local: without overwrite an existing destination is refused up front
    (FileExistsError naming it), untouched, and no temporary file is created."""
    destination = tmp_path / "out.bin"
    destination.write_bytes(b"original")
    entered = False
    with pytest.raises(FileExistsError) as info, atomic_destination(destination):
        entered = True
    assert not entered
    assert info.value.filename == str(destination)
    assert "overwrite=True" in str(info.value)
    assert destination.read_bytes() == b"original"
    assert _entries(tmp_path) == ["out.bin"]


def test_overwrite_replaces_existing_destination(tmp_path: Path) -> None:
    """Issue 4 Local: overwrite=True replaces the old bytes with the new ones."""
    destination = tmp_path / "out.bin"
    destination.write_bytes(b"original contents")
    data = os.urandom(5000)
    with atomic_destination(destination, overwrite=True) as stream:
        stream.write(data)
    assert _sha(destination.read_bytes()) == _sha(data)
    assert _entries(tmp_path) == ["out.bin"]


def test_failed_overwrite_keeps_the_old_file(tmp_path: Path) -> None:
    """Issue 4 Local: a failed write with overwrite=True leaves the old file as it was."""
    destination = tmp_path / "out.bin"
    destination.write_bytes(b"original contents")
    with pytest.raises(Boom):
        _write(destination, b"new", during=_raise(Boom()), overwrite=True)
    assert destination.read_bytes() == b"original contents"
    assert _entries(tmp_path) == ["out.bin"]


def test_file_appearing_meanwhile_is_not_clobbered(tmp_path: Path) -> None:
    """Issue 4 Local: a destination created by someone else during the write is kept;
    the move fails with FileExistsError and the temporary file is removed."""
    destination = tmp_path / "out.bin"
    with pytest.raises(FileExistsError):
        _write(destination, b"ours", during=lambda: destination.write_bytes(b"theirs"))
    assert destination.read_bytes() == b"theirs"
    assert _entries(tmp_path) == ["out.bin"]


def test_destination_folder_refused(tmp_path: Path) -> None:
    """Issue 4 Local: a folder where the destination file should be → IsADirectoryError."""
    destination = tmp_path / "folder"
    destination.mkdir()
    with pytest.raises(IsADirectoryError) as info, atomic_destination(destination):
        pass
    assert info.value.filename == str(destination)
    assert _entries(tmp_path) == ["folder"]
    assert _entries(destination) == []


def test_parent_folders_created(tmp_path: Path) -> None:
    """Issue 4 Local: missing parent folders are created."""
    destination = tmp_path / "a" / "b" / "c" / "out.bin"
    with atomic_destination(destination) as stream:
        stream.write(b"hello")
    assert destination.read_bytes() == b"hello"
    assert _entries(destination.parent) == ["out.bin"]


def test_modification_time_applied(tmp_path: Path) -> None:
    """Issue 4 Local: ``mtime_ns`` becomes the destination's modification time."""
    destination = tmp_path / "out.bin"
    mtime_ns = 1_500_000_000_123_456_789
    with atomic_destination(destination, mtime_ns=mtime_ns) as stream:
        stream.write(b"x")
    # Some file systems keep microseconds only: allow that rounding, nothing more.
    assert abs(destination.stat().st_mtime_ns - mtime_ns) < 1000


def test_temporary_path_is_hidden_unique_and_beside(tmp_path: Path) -> None:
    """Issue 4 Local: the temporary name is hidden, in the destination's folder, and fresh
    on every call (two writers of one destination never share a temp file)."""
    destination = tmp_path / "sub" / "data.csv"
    names = {temporary_path(destination) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.parent == destination.parent
        assert name.name.startswith(".data.csv.")
        assert name.name.endswith(".part")


def test_check_destination(tmp_path: Path) -> None:
    """Issue 4 Local: check_destination accepts a free name (or an existing file with
    overwrite) and refuses an existing file without overwrite, or a folder."""
    free = tmp_path / "free"
    check_destination(free, overwrite=False)
    taken = tmp_path / "taken"
    taken.write_bytes(b"")
    check_destination(taken, overwrite=True)
    with pytest.raises(FileExistsError):
        check_destination(taken, overwrite=False)
    with pytest.raises(IsADirectoryError):
        check_destination(tmp_path, overwrite=True)


def test_move_without_hard_links_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 4 Local: on a file system without hard links (os.link → EPERM) the move
    still happens, and still refuses an existing destination without overwrite."""

    def no_links(src: object, dst: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    _without_renameat2(monkeypatch)
    monkeypatch.setattr(os, "link", no_links)
    temporary = tmp_path / ".out.part"
    destination = tmp_path / "out"
    temporary.write_bytes(b"new")
    move_into_place(temporary, destination, overwrite=False)
    assert destination.read_bytes() == b"new"
    assert not temporary.exists()

    temporary.write_bytes(b"newer")
    with pytest.raises(FileExistsError):
        move_into_place(temporary, destination, overwrite=False)
    assert destination.read_bytes() == b"new"


def test_move_other_link_error_propagates_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 4 Local: an os.link failure other than "not supported" (here a full disk)
    propagates with its errno, and atomic_destination removes the temporary file."""

    def disk_full(src: object, dst: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    _without_renameat2(monkeypatch)
    monkeypatch.setattr(os, "link", disk_full)
    destination = tmp_path / "out.bin"
    with pytest.raises(OSError, match="No space") as info:
        _write(destination, b"data")
    assert info.value.errno == errno.ENOSPC
    assert _entries(tmp_path) == []


def test_write_error_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 4 Local: a write that fails (full disk) leaves neither temp nor destination."""

    def small_disk(fd: int, mode: str, **options: Any) -> FullDisk:
        return FullDisk(open(fd, mode, **options), room=10)

    monkeypatch.setattr(_atomic, "open", small_disk, raising=False)
    destination = tmp_path / "out.bin"
    with pytest.raises(OSError, match="No space") as info:
        _write(destination, b"some bytes", b"more bytes")
    assert info.value.errno == errno.ENOSPC
    assert _entries(tmp_path) == []


def test_a_file_in_the_way_of_the_parents_is_named(tmp_path: Path) -> None:
    """Issue 4 Local, S16: a parent folder that is a file is a NotADirectoryError naming
    that file, not a FileExistsError that would read as if the destination existed."""
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"x")
    with (
        pytest.raises(NotADirectoryError) as raised,
        _atomic.atomic_destination(blocker / "sub" / "file.bin") as stream,
    ):
        stream.write(b"never")
    assert raised.value.filename == str(blocker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_a_destination_name_of_255_bytes_can_be_written(tmp_path: Path) -> None:
    """Issue 4 Local: the temporary name stays within 255 bytes, so the longest name a
    filesystem allows (multi-byte characters included) can still be a destination."""
    for name in ("a" * 255, "é" * 127):
        destination = tmp_path / name
        with _atomic.atomic_destination(destination) as stream:
            stream.write(b"long")
        assert destination.read_bytes() == b"long"
        assert len(_atomic.temporary_path(destination).name.encode()) <= 255


# -- the temporary's lock, and stale temporaries (issue 10) ------------------------------

STALE = 3600.0  # seconds: far beyond the age guard


def _age(path: Path, seconds: float) -> None:
    """Make ``path`` look last modified ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def _temporary(folder: Path, name: str, *, age: float = STALE) -> Path:
    path = folder / name
    path.write_bytes(b"left behind")
    _age(path, age)
    return path


def test_the_temporary_is_locked_for_its_whole_life(tmp_path: Path) -> None:
    """Issue 10: while the bytes are written, and up to the move into place, the
    temporary holds an exclusive flock, which is how a later run tells it from one a
    killed writer left."""
    destination = tmp_path / "out.bin"
    with atomic_destination(destination) as stream:
        stream.write(b"x")
        (name,) = _entries(tmp_path)
        with pytest.raises(FileBusyError):
            os.close(open_locked(tmp_path / name, os.O_RDONLY))
    assert _entries(tmp_path) == ["out.bin"]


def test_a_file_already_at_the_temporary_name_is_neither_used_nor_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: the temporary is created exclusively, without following a link: a file
    or a link already at its name (planted) makes the write fail, and stays as it was;
    the link's target is untouched."""
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    planted = tmp_path / ".out.bin.0123abcd.part"
    planted.symlink_to(target)
    monkeypatch.setattr(_atomic, "temporary_name", lambda destination: str(planted))
    with pytest.raises(FileExistsError):
        _write(tmp_path / "out.bin", b"ours")
    assert planted.is_symlink()
    assert target.read_bytes() == b"precious"
    assert _entries(tmp_path) == [".out.bin.0123abcd.part", "precious"]


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    """Issue 10: the first write into a folder removes the temporaries a killed writer
    left there (the name of atomic_destination's temporaries, a regular file, nobody
    holding its lock, not modified for longer than the age guard), for any destination
    name; it keeps a young one, a locked one, a link so named (and its target), a folder
    so named, a Hugging Face partial (resumed later) and names of other forms."""
    stale = [
        _temporary(tmp_path, ".out.bin.0123abcd.part"),
        _temporary(tmp_path, ".other.csv.89abcdef.part"),
        _temporary(tmp_path, ".with\nnewline.00000000.part"),
    ]
    kept = [
        _temporary(tmp_path, ".young.bin.01234567.part", age=0),
        _temporary(tmp_path, ".x.0123abc.part"),  # 7 hex digits
        _temporary(tmp_path, ".x.0123ABCD.part"),  # upper case
        _temporary(tmp_path, "x.0123abcd.part"),  # not hidden
        _temporary(tmp_path, ".x.0123abcd.part.s3tmp"),
        _temporary(tmp_path, ".model.bin.0123456789ab.hfpart"),
    ]
    target = tmp_path / "target"
    target.write_bytes(b"target")
    _age(target, STALE)
    link = tmp_path / ".link.0123abcd.part"
    link.symlink_to(target)
    _age(link, STALE)
    folder = tmp_path / ".folder.0123abcd.part"
    folder.mkdir()
    _age(folder, STALE)
    held = _temporary(tmp_path, ".held.bin.fedcba98.part")
    lock = open_locked(held, os.O_RDONLY)
    try:
        _write(tmp_path / "out.bin", b"new")
    finally:
        os.close(lock)
    assert _entries(tmp_path) == sorted(
        [path.name for path in kept] + ["out.bin", "target", link.name, folder.name, held.name]
    )
    assert not any(path.exists() for path in stale)
    assert target.read_bytes() == b"target"


def test_a_folder_is_swept_once_in_a_while_not_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: a folder is scanned for stale temporaries by the first write into it,
    not by every write (a 100,000-file copy into one folder scans it once); it is scanned
    again only after the resweep period, so a long-running process still clears what
    other processes leave later."""
    scanned: list[str] = []
    real = os.scandir

    def counting(path: Any) -> Any:
        scanned.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    for index in range(5):
        _write(tmp_path / f"f{index}", b"x")
    assert scanned == [str(tmp_path)]
    late = _temporary(tmp_path, ".late.bin.0123abcd.part")
    _write(tmp_path / "f5", b"x")
    assert late.exists()
    monkeypatch.setattr(_temporaries, "_RESWEEP_SECONDS", 0.0)
    _write(tmp_path / "f6", b"x")
    assert not late.exists()
    assert scanned == [str(tmp_path)] * 2


def test_the_swept_folders_remembered_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: a process writing into ever new folders remembers only the latest few
    thousand as swept (bounded memory); a forgotten folder is swept again."""
    monkeypatch.setattr(_temporaries, "_swept", collections.OrderedDict())
    monkeypatch.setattr(_temporaries, "_REMEMBERED_FOLDERS", 2)
    for name in ("a", "b", "c"):
        _write(tmp_path / name / "f", b"x")
    assert list(_temporaries._swept) == [str(tmp_path / "b"), str(tmp_path / "c")]
    stale = _temporary(tmp_path / "a", ".g.0123abcd.part")
    _write(tmp_path / "a" / "g", b"x")
    assert not stale.exists()


def test_a_sweep_is_best_effort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: a folder that cannot be listed, or a temporary that cannot be removed,
    does not fail the write: the leftovers stay, the destination arrives."""
    stale = _temporary(tmp_path, ".out.bin.0123abcd.part")
    refuse_scandir(monkeypatch, tmp_path)
    _write(tmp_path / "out.bin", b"new")
    monkeypatch.undo()
    assert stale.exists()
    monkeypatch.setattr(_temporaries, "_RESWEEP_SECONDS", 0.0)

    real_unlink = os.unlink

    def refused(path: Any) -> None:
        if os.fspath(path) == str(stale):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        real_unlink(path)

    monkeypatch.setattr(os, "unlink", refused)
    _write(tmp_path / "second.bin", b"new")
    assert stale.exists()
    assert (tmp_path / "out.bin").read_bytes() == (tmp_path / "second.bin").read_bytes() == b"new"


def test_a_temporary_locked_by_a_sweep_while_created_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: should a sweep (of a process whose clock runs far ahead) lock a new
    temporary before its writer does, the writer fails with FileBusyError and removes
    the file it created, leaving nothing."""

    def busy(path: Any) -> int:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        raise FileBusyError(errno.EBUSY, "in use by another transfer", os.fspath(path))

    monkeypatch.setattr(_atomic, "create_locked", busy)
    with pytest.raises(FileBusyError):
        _write(tmp_path / "out.bin", b"x")
    assert _entries(tmp_path) == []


# -- fewer system calls per file (issue 12) ------------------------------------------------

FORK_SCRIPT = """
import os, sys
from transferqueue.executors._files import temporaries as _temporaries
_temporaries.temporary_name("x")  # the store filled before the fork
read, write = os.pipe()
child = os.fork()
if child == 0:
    os.write(write, " ".join(_temporaries.temporary_name("x") for _ in range(5)).encode())
    os._exit(0)
os.close(write)
theirs = os.read(read, 4096).decode().split()
os.waitpid(child, 0)
ours = [_temporaries.temporary_name("x") for _ in range(5)]
print(len(theirs), len(set(theirs) & set(ours)))
"""


def test_a_forked_child_draws_other_temporary_names() -> None:
    """Issue 12: the names' random bytes are drawn 4 KiB at a time per thread; a forked
    child, which has a copy of its parent's store, draws afresh, or parent and child
    would make the same temporary names in one folder."""
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
        check=True,
    )
    assert result.stdout.split() == ["5", "0"]


def test_the_names_random_store_is_drawn_again_when_used_up() -> None:
    """Issue 12: a thread's store of random bytes gives 1,024 names, then is drawn again;
    the names stay distinct across the refill."""
    names = {_temporaries.temporary_name("x") for _ in range(3000)}
    assert len(names) == 3000
    assert all(_temporaries.is_temporary_name(name) for name in names)


def test_a_taken_temporary_name_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: a temporary name that is taken (another process drew the same 32 bits)
    is drawn again, up to three times; the file at the taken name stays as it was."""
    planted = tmp_path / ".out.bin.0123abcd.part"
    planted.write_bytes(b"someone else's")
    drawn = [str(planted)]
    real = _temporaries.temporary_name

    def first_taken(destination: str) -> str:
        return drawn.pop() if drawn else real(destination)

    monkeypatch.setattr(_atomic, "temporary_name", first_taken)
    _write(tmp_path / "out.bin", b"ours")
    assert (tmp_path / "out.bin").read_bytes() == b"ours"
    assert planted.read_bytes() == b"someone else's"
    assert _entries(tmp_path) == [".out.bin.0123abcd.part", "out.bin"]


def test_check_destination_is_one_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: check_destination asks the file system once (it asked twice), and reads a
    name under a file or a dangling link as free, as Path.exists did; other errors raise."""
    calls: list[object] = []
    real = os.stat

    def counted(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    (tmp_path / "file").write_bytes(b"")
    check_destination(tmp_path / "file" / "below", overwrite=False)  # ENOTDIR: free
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    check_destination(tmp_path / "dangling", overwrite=False)
    assert len(calls) == 2
    monkeypatch.undo()
    with pytest.raises(OSError, match="too long"):
        check_destination(tmp_path / ("x" * 300), overwrite=False)


def test_a_folder_gone_before_the_temporary_is_created_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: a folder removed between its creation and the temporary's (a folder not
    known from before) fails the write with the file system's error, no second try."""
    calls: list[str] = []

    def gone(path: str) -> int:
        calls.append(path)
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)

    monkeypatch.setattr(_atomic, "create_locked", gone)
    with pytest.raises(FileNotFoundError):
        _write(tmp_path / "sub" / "out.bin", b"x")
    assert len(calls) == 1


def test_create_locked_gives_up_a_file_locked_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: should another process lock the new file first, create_locked raises
    FileBusyError naming it and closes its descriptor (the caller removes the file)."""
    opened: list[int] = []
    real_open = os.open

    def recorded(*args: Any) -> int:
        opened.append(real_open(*args))
        return opened[-1]

    monkeypatch.setattr(os, "open", recorded)
    monkeypatch.setattr(_file_lock, "try_lock", lambda fd: False)
    with pytest.raises(FileBusyError) as info:
        _file_lock.create_locked(tmp_path / "new")
    assert info.value.filename == str(tmp_path / "new")
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(opened[0])


def test_the_move_is_one_rename_that_replaces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: on Linux the temporary is renamed into place by renameat2 with
    RENAME_NOREPLACE, one folder operation (no hard link, no unlink), and a name taken
    meanwhile is still refused, the file there kept."""
    if _atomic._renameat2() is None:
        pytest.skip("needs renameat2 (Linux, glibc 2.28+)")
    link, unlink = _recorded(monkeypatch, "link"), _recorded(monkeypatch, "unlink")
    _write(tmp_path / "out.bin", b"new")
    assert (tmp_path / "out.bin").read_bytes() == b"new"
    assert link == unlink == []
    with pytest.raises(FileExistsError, match="destination exists"):
        _write(
            tmp_path / "late.bin",
            b"ours",
            during=lambda: (tmp_path / "late.bin").write_bytes(b"theirs"),
        )
    assert (tmp_path / "late.bin").read_bytes() == b"theirs"
    assert _entries(tmp_path) == ["late.bin", "out.bin"]


def _recorded(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[Any, ...]]:
    """The calls of ``os.<name>`` from now on (the real one does the work)."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(os, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, recorded)
    return calls


def _failing_rename(code: int) -> Callable[..., int]:
    def rename(*args: object) -> int:
        ctypes.set_errno(code)
        return -1

    return rename


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP])
def test_a_file_system_without_noreplace_moves_by_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Issue 12: where renameat2 or its flag is not supported, the move goes by hard link."""
    monkeypatch.setattr(_atomic, "_renameat2", lambda: _failing_rename(code))
    link = _recorded(monkeypatch, "link")
    _write(tmp_path / "out.bin", b"new")
    assert (tmp_path / "out.bin").read_bytes() == b"new"
    assert len(link) == 1
    assert _entries(tmp_path) == ["out.bin"]


def test_another_rename_error_fails_the_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: another renameat2 error propagates with its errno and leaves nothing."""
    monkeypatch.setattr(_atomic, "_renameat2", lambda: _failing_rename(errno.EIO))
    with pytest.raises(OSError, match="Input/output error") as info:
        _write(tmp_path / "out.bin", b"new")
    assert info.value.errno == errno.EIO
    assert _entries(tmp_path) == []


def test_renameat2_is_looked_up_once_and_may_be_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: the C library's renameat2 is looked up on first use; a C library without
    it (or none to load) leaves None, and the moves go by hard link."""

    def no_library(*args: object, **kwargs: object) -> Any:
        raise OSError("no C library")

    monkeypatch.setattr(_atomic, "_renameat2_looked_up", False)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert _atomic._renameat2() is None
    assert _atomic._renameat2_looked_up
    monkeypatch.setattr(ctypes, "CDLL", lambda *args, **kwargs: object())  # no renameat2
    assert _atomic._renameat2() is None  # remembered: not looked up again
    monkeypatch.setattr(_atomic, "_renameat2_looked_up", False)
    assert _atomic._renameat2() is None
