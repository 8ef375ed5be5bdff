"""``list_local_files(..., on_error=...)``: folders below the source that cannot be read are
reported and skipped, as ``cp -r`` does (the CLI's unreadable-folder defect). The errors are
injected at ``os.scandir`` so that these run as root too, where ``chmod 000`` stops nothing;
tests/integration/test_cli.py has the real ``chmod`` one."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import refuse_scandir
from transferqueue.executors import list_local_files


def _tree(root: Path) -> None:
    """``root/a.txt``, ``root/locked/hidden.txt``, ``root/locked/deeper/x.txt``,
    ``root/ok/b.txt``, ``root/ok/locked2/y.txt``, ``root/z.txt``."""
    for relative in (
        "a.txt",
        "locked/hidden.txt",
        "locked/deeper/x.txt",
        "ok/b.txt",
        "ok/locked2/y.txt",
        "z.txt",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(relative.encode())


WITHOUT_OK = [
    "a.txt",
    os.path.join("locked", "deeper", "x.txt"),
    os.path.join("locked", "hidden.txt"),
    "z.txt",
]
"""What ``_tree`` lists when its folder ``ok`` (and all below it) is left out."""


def _relative(files: list[dict[str, object]], root: Path) -> list[str]:
    return [os.path.relpath(str(file["source_path"]), root) for file in files]


def test_unlistable_subfolders_are_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: with ``on_error``, each folder below the source that cannot be
    listed is reported once (the PermissionError naming it) and left out, everything else
    (siblings, files after it, deeper folders elsewhere) still listed with destinations."""
    root = tmp_path / "root"
    _tree(root)
    refuse_scandir(monkeypatch, root / "locked", root / "ok" / "locked2")
    errors: list[OSError] = []
    files = list_local_files(root, tmp_path / "copy", on_error=errors.append)
    assert _relative(files, root) == ["a.txt", os.path.join("ok", "b.txt"), "z.txt"]
    assert [file["destination_path"] for file in files] == [
        str(tmp_path / "copy" / "a.txt"),
        str(tmp_path / "copy" / "ok" / "b.txt"),
        str(tmp_path / "copy" / "z.txt"),
    ]
    assert [type(error) for error in errors] == [PermissionError, PermissionError]
    assert [error.filename for error in errors] == [
        str(root / "locked"),
        str(root / "ok" / "locked2"),
    ]
    assert all(error.errno == errno.EACCES for error in errors)


def test_without_on_error_the_listing_still_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: ``on_error=None`` (the default, passed explicitly) keeps the
    documented behaviour: an unlistable folder below the source raises, naming it."""
    root = tmp_path / "root"
    _tree(root)
    refuse_scandir(monkeypatch, root / "ok" / "locked2")
    with pytest.raises(PermissionError) as info:
        list_local_files(root, tmp_path / "copy", on_error=None)
    assert info.value.filename == str(root / "ok" / "locked2")


def test_the_source_itself_unreadable_raises_even_with_on_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: ``on_error`` is for folders below the source only; the source
    folder itself unreadable raises (the CLI's usage error), and ``on_error`` is not
    called."""
    root = tmp_path / "root"
    _tree(root)
    refuse_scandir(monkeypatch, root)
    errors: list[OSError] = []
    with pytest.raises(PermissionError) as info:
        list_local_files(root, tmp_path / "copy", on_error=errors.append)
    assert info.value.filename == str(root)
    assert errors == []


def test_raising_from_on_error_stops_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: an exception raised by ``on_error`` ends the listing and
    reaches the caller as it is, once (it is not reported to ``on_error`` again)."""
    root = tmp_path / "root"
    _tree(root)
    refuse_scandir(monkeypatch, root / "locked", root / "ok" / "locked2")
    calls: list[OSError] = []

    class Stop(Exception):
        pass

    def stop(error: OSError) -> None:
        calls.append(error)
        raise Stop(error.filename)

    with pytest.raises(Stop, match="locked"):
        list_local_files(root, tmp_path / "copy", on_error=stop)
    assert [error.filename for error in calls] == [str(root / "locked")]


def test_a_folder_failing_half_way_is_left_out_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: a folder whose reading fails after some entries (an I/O
    error) is reported and none of its files are listed, rather than half of them."""
    root = tmp_path / "root"
    _tree(root)
    real = os.scandir
    broken = str(root / "ok")

    class HalfRead:
        """A scandir iterator that yields the first entry, then fails."""

        def __init__(self, path: str) -> None:
            self._inner = real(path)

        def __enter__(self) -> Iterator[os.DirEntry[str]]:
            return self._entries()

        def _entries(self) -> Iterator[os.DirEntry[str]]:
            yield next(iter(self._inner))
            raise OSError(errno.EIO, os.strerror(errno.EIO), broken)

        def __exit__(self, *exc_info: object) -> None:
            self._inner.close()

    def scandir(path: Any = ".") -> Any:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == broken:
            return HalfRead(broken)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors: list[OSError] = []
    files = list_local_files(root, tmp_path / "copy", on_error=errors.append)
    assert _relative(files, root) == WITHOUT_OK
    assert [(error.errno, error.filename) for error in errors] == [(errno.EIO, broken)]


def test_an_entry_that_cannot_be_examined_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: a file whose ``stat`` is refused (the files of a folder that
    may be listed but not entered, ``chmod 400``) is reported and left out with
    ``on_error``, and raises without it; a broken symlink is still left out silently."""
    root = tmp_path / "root"
    _tree(root)
    (root / "ok" / "broken").symlink_to(root / "nothing-here")
    refused = str(root / "ok" / "b.txt")
    real = os.scandir

    class Entry:
        """A DirEntry whose ``stat`` is refused."""

        def __init__(self, entry: os.DirEntry[str]) -> None:
            self.name = entry.name
            self.path = entry.path
            self.is_dir = entry.is_dir

        def stat(self) -> os.stat_result:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.path)

    class Listing:
        def __init__(self, path: str) -> None:
            self._inner = real(path)

        def __enter__(self) -> Iterator[Any]:
            return (Entry(e) if e.path == refused else e for e in self._inner)

        def __exit__(self, *exc_info: object) -> None:
            self._inner.close()

    def scandir(path: Any = ".") -> Any:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == str(root / "ok"):
            return Listing(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    errors: list[OSError] = []
    files = list_local_files(root, tmp_path / "copy", on_error=errors.append)
    assert os.path.join("ok", "b.txt") not in _relative(files, root)
    assert os.path.join("ok", "locked2", "y.txt") in _relative(files, root)
    assert [error.filename for error in errors] == [refused]
    with pytest.raises(PermissionError):
        list_local_files(root, tmp_path / "copy")


def test_an_entry_whose_type_cannot_be_read_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a folder's listing gives no file types, telling a folder from a file takes an
    lstat, which a folder that may be listed but not entered refuses: that entry, too, is
    reported to ``on_error`` and left out (and raises without it)."""
    root = tmp_path / "root"
    _tree(root)
    refused = str(root / "ok")
    real = os.scandir

    class Untyped:
        """A DirEntry whose is_dir() fails as an lstat refused would."""

        def __init__(self, entry: os.DirEntry[str]) -> None:
            self._entry = entry
            self.name = entry.name
            self.path = entry.path

        def is_dir(self, *, follow_symlinks: bool = True) -> bool:
            if self.path == refused:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.path)
            return self._entry.is_dir(follow_symlinks=follow_symlinks)

        def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
            return self._entry.stat(follow_symlinks=follow_symlinks)

    class Listing:
        def __init__(self, path: Any) -> None:
            self._listing = real(path)

        def __enter__(self) -> Iterator[Untyped]:
            return (Untyped(entry) for entry in self._listing.__enter__())

        def __exit__(self, *exc: object) -> None:
            self._listing.__exit__(None, None, None)

    monkeypatch.setattr(os, "scandir", Listing)
    errors: list[OSError] = []
    files = list_local_files(root, tmp_path / "out", on_error=errors.append)
    assert _relative(files, root) == WITHOUT_OK
    assert [(type(e), e.filename) for e in errors] == [(PermissionError, refused)]
    with pytest.raises(PermissionError):
        list_local_files(root, tmp_path / "out")


def test_temporaries_below_a_folder_are_left_out(tmp_path: Path) -> None:
    """Issue 10: below a source folder, files named as a transfer's temporary
    (``.NAME.<8 hex>.part``) or a Hugging Face partial (``.NAME.<12 hex>.hfpart``, and
    its record ``.hfmeta``) are
    left out, so that copying a folder a transfer writes to (or a killed one wrote to)
    does not copy unfinished files; names of other forms and folders so named are
    listed, and so is such a file named as the source itself."""
    root = tmp_path / "root"
    skipped = [
        ".a.bin.0123abcd.part",
        "sub/.b.bin.89abcdef.part",
        ".c.safetensors.0123456789ab.hfpart",
        ".c.safetensors.0123456789ab.hfmeta",  # the partial's validator record
        ".with\nnewline.00000000.part",
    ]
    listed = [
        ".x.part",
        ".x.0123abc.part",  # 7 hex digits
        ".x.0123ABCD.part",  # upper case
        "x.0123abcd.part",  # not hidden
        ".x.0123abcd.part.bak",
        ".x.0123abcd.hfpart",  # 8 hex digits with the partial's suffix
        ".folder.0123abcd.part/inside.txt",
        "sub/kept.txt",
    ]
    for relative in skipped + listed:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    files = list_local_files(root, tmp_path / "copy")
    assert _relative(files, root) == sorted(os.path.join(*p.split("/")) for p in listed)
    single = root / skipped[0]
    assert list_local_files(single, tmp_path / "one") == [
        {"source_path": str(single), "destination_path": str(tmp_path / "one"), "size": 1}
    ]


def test_a_source_file_that_cannot_be_read_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: a source that is a file is opened once while listing, so that one that
    cannot be read raises there (PermissionError naming it), as a source folder that
    cannot be read does, instead of being listed and failing later. Injected at
    ``os.open`` so that it runs as root too."""
    source = tmp_path / "secret.bin"
    source.write_bytes(b"secret")
    real = os.open

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(source):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(PermissionError) as raised:
        list_local_files(source, tmp_path / "copy", on_error=lambda error: None)
    assert raised.value.filename == str(source)
