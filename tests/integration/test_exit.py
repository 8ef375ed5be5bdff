"""Jobs queued when no thread can start: refused cleanly or failed, never half-done.

In an atexit handler ``concurrent.futures`` refuses new work, and Python 3.12 also refuses
new threads: a job is then either refused before anything is registered (no event thread)
or its files fail with the pool's reason, and ``wait()`` returns.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import transferqueue as tq
from tests.conftest import make_files, noop_executor

SCRIPT = textwrap.dedent(
    """
    import atexit
    import transferqueue as tq

    def queue_at_exit():
        queue = tq.TransferQueue(1)
        files = [{"source_path": "a", "destination_path": "b", "size": 1}] * 2
        try:
            job_id = queue.queue_job("local-upload", files, lambda file, on_progress: None)
        except RuntimeError as exc:
            print("refused", "|", exc, "|", len(queue.get_all_jobs()))
            return
        job = queue.wait(job_id, timeout=10)
        print(job.status, "|", job.files[0].error, "|", job.files[1].error)

    atexit.register(queue_at_exit)
    """
)


def test_job_queued_at_interpreter_exit_is_refused_or_fails_its_files() -> None:
    """S12, S15, S16: nothing is left half-done when no worker or event thread can start."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    outcome, first, second = (part.strip() for part in result.stdout.split("|"))
    if sys.version_info[:2] == (3, 12):
        assert outcome == "refused"
        assert "thread" in first
        assert second == "0"  # nothing registered
    else:
        assert outcome == "failed"
        assert "interpreter shutdown" in first
        assert "interpreter shutdown" in second


def test_job_is_refused_when_its_event_thread_cannot_start(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S12: a job whose events no thread could deliver is refused with the reason, before
    anything is registered, started or sent; the queue works again once threads can start."""
    real_start = threading.Thread.start

    def refuse_event_threads(thread: threading.Thread) -> None:
        if thread.name == "transferqueue-events":
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", refuse_event_threads)
    ran: list[str] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        ran.append(file.source_path)

    with pytest.raises(RuntimeError, match="can't start new thread"):
        queue.queue_job("s3-upload", make_files(2), executor)
    assert queue.get_all_jobs() == []
    assert queue.get_active_job_ids() == []
    assert ran == []

    monkeypatch.undo()
    job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)
    assert queue.wait(job_id, timeout=10).status == tq.TransferStatus.COMPLETED
