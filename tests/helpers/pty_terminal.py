"""``python -m transferqueue ARGS`` writing to a pseudo-terminal, as in a shell: the
command sees a terminal (rich draws its bars) and the test reads what it showed."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import WAIT

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """``python -m transferqueue ARGS`` writing to a pseudo-terminal, read as it goes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self._parent, child = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transferqueue", *args],
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=child,
            cwd=ROOT,
            env=env,
        )
        os.close(child)
        self.shown = b""

    def read_until(self, text: bytes) -> None:
        """Read until ``text`` has been shown (bounded by pytest-timeout)."""
        while text not in self.shown:
            chunk = os.read(self._parent, 65536)
            assert chunk, self.shown
            self.shown += chunk

    def finish(self) -> tuple[int, str]:
        """Read the rest; the command's status and everything it showed."""
        try:
            while chunk := os.read(self._parent, 65536):
                self.shown += chunk
        except OSError:  # EIO: the command closed the terminal
            pass
        finally:
            os.close(self._parent)
        return self.process.wait(WAIT), self.shown.decode(errors="replace")
