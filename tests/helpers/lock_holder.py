"""Another process that holds a file's lock, as a transfer of another ``cp`` would.

``python -m tests.helpers.lock_holder PATH`` opens ``PATH`` (created if missing), takes an
exclusive ``flock`` on it without waiting (a lock held already fails it, exit 1), prints
``locked`` and holds the lock until its stdin closes or it is killed.
:func:`holding_lock` runs it for the duration of a block.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.worker_process import Worker


@contextlib.contextmanager
def holding_lock(path: Path) -> Iterator[Worker]:
    """Another process holds the lock of ``path`` during the block (it is locked when
    the block begins). The block may kill the holder, which releases the lock at once;
    else it is let go of when the block ends, and must have exited cleanly."""
    holder = Worker(path, module="tests.helpers.lock_holder")
    try:
        assert holder.read_line() == "locked"
        yield holder
    except BaseException:
        holder.kill()
        raise
    if holder.process.poll() is None:
        holder.finish()
    else:
        holder.kill()  # killed by the block: only reaped here


def main(path: str) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    sys.stdin.read()  # held until the test closes our stdin


if __name__ == "__main__":
    main(sys.argv[1])
