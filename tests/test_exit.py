"""A job queued while the interpreter exits (an atexit handler) ends instead of hanging.

By then ``concurrent.futures`` refuses new work and, on Python 3.12+, no thread can start:
the job's files fail with the pool's reason and ``wait()`` still returns.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit
    import transferqueue as tq

    def queue_at_exit():
        queue = tq.TransferQueue(1)
        files = [{"source_path": "a", "destination_path": "b", "size": 1}] * 2
        job_id = queue.queue_job("local-upload", files, lambda file, on_progress: None)
        job = queue.wait(job_id, timeout=10)
        print(job.status, "|", job.files[0].error, "|", job.files[1].error)

    atexit.register(queue_at_exit)
    """
)


def test_job_queued_at_interpreter_exit_fails_its_files_and_wait_returns() -> None:
    """S15/S16: nothing is left half-done when the pool no longer takes work."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    status, first_error, second_error = (part.strip() for part in result.stdout.split("|"))
    assert status == "failed"
    assert "interpreter shutdown" in first_error
    assert "interpreter shutdown" in second_error
