"""Disk faults injected into a test: a full disk, and folders that refuse to be listed."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO, Any

import pytest


class FullDisk:
    """A file opened for writing that holds only ``room`` bytes, then raises ENOSPC."""

    def __init__(self, real: IO[bytes], room: int) -> None:
        self.real = real
        self.room = room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.real.close()


def refuse_scandir(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """Make ``os.scandir`` of ``folders`` fail as an unreadable folder does. Injected, so
    that a test runs as root too, where ``chmod 000`` refuses nothing."""
    real = os.scandir
    refused = {str(folder) for folder in folders}

    def scandir(path: Any = ".") -> Any:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) in refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
