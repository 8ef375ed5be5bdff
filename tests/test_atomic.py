"""Atomic destination files (issue 4, Local): ``transferqueue.executors._atomic``.

Every local file an executor writes goes through ``atomic_destination``: the bytes land
in a hidden temporary file beside the destination and are moved into place only when
complete, so a failure or a cancellation (S9) never leaves a partial file behind.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import transferqueue as tq
from tests.conftest import FullDisk
from transferqueue.executors import _atomic
from transferqueue.executors._atomic import (
    atomic_destination,
    check_destination,
    move_into_place,
    temporary_path,
)


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

    monkeypatch.setattr(os, "link", disk_full)
    destination = tmp_path / "out.bin"
    with pytest.raises(OSError, match="No space") as info:
        _write(destination, b"data")
    assert info.value.errno == errno.ENOSPC
    assert _entries(tmp_path) == []


def test_write_error_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 4 Local: a write that fails (full disk) leaves neither temp nor destination."""

    def small_disk(path: str, mode: str) -> FullDisk:
        return FullDisk(open(path, mode), room=10)

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
