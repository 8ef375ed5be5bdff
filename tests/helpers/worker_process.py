"""Worker processes of the Redis tests (``python -m tests.<module> ...``), read line by
line, and a fixture that kills those a test leaves running."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 50


class Worker:
    """One ``python -m tests.<module>`` process (``tests.helpers.redis_worker`` unless
    ``module`` says otherwise), read line by line."""

    def __init__(self, *args: object, module: str = "tests.helpers.redis_worker") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *map(str, args)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def read_line(self) -> str:
        """The next line it prints (the read is bounded by pytest-timeout)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the worker printed nothing more: {self.finish()}"
        return line.strip()

    def send_line(self, line: str) -> None:
        """Write one line to its stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self) -> str:
        """Close its stdin, wait for it, and return its stderr; fail on a bad exit."""
        _, stderr = self.process.communicate(timeout=PROCESS_TIMEOUT)
        assert self.process.returncode == 0, stderr
        return stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=PROCESS_TIMEOUT)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Started workers go here; any still running after the test is killed."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
