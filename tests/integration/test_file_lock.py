"""Partial and temporary files: opened without following links, owned by one writer."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.conftest import WAIT
from tests.helpers.lock_holder import holding_lock
from transferqueue.executors._files.file_lock import (
    FileBusyError,
    open_locked,
    open_regular,
    try_lock,
)


def test_a_symbolic_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OSError, match="symbolic link") as caught:
        open_regular(link, os.O_WRONLY | os.O_TRUNC)
    assert caught.value.errno == errno.ELOOP
    assert caught.value.filename == str(link)
    assert target.read_bytes() == b"precious"


def test_a_dangling_link_is_not_created_through(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="symbolic link"):
        open_regular(link, os.O_WRONLY | os.O_CREAT)
    assert not (tmp_path / "elsewhere").exists()


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file") as caught:
        open_regular(fifo, os.O_RDONLY)
    assert caught.value.errno == errno.EINVAL


def test_a_regular_file_opens_blocking_and_close_on_exec(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = open_regular(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        assert os.get_blocking(fd)
        assert not os.get_inheritable(fd)
        os.write(fd, b"x")
    finally:
        os.close(fd)
    assert path.read_bytes() == b"x"


def test_a_second_owner_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partial"
    first = open_locked(path, os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(FileBusyError) as caught:
            open_locked(path, os.O_RDWR)
        assert caught.value.errno == errno.EBUSY
        assert caught.value.filename == str(path)
        assert isinstance(caught.value, OSError)
    finally:
        os.close(first)
    again = open_locked(path, os.O_RDWR)  # the first owner closed it: free again
    os.close(again)


def test_a_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    path = tmp_path / "partial"
    with holding_lock(path) as holder:
        fd = open_regular(path, os.O_RDWR)
        try:
            assert not try_lock(fd)
            holder.process.kill()
            holder.process.wait(WAIT)
            assert try_lock(fd)
        finally:
            os.close(fd)
