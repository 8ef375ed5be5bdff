"""The process-wide queue (contract S14), checked in fresh interpreters where it matters."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import transferqueue as tq

ENV = "MAX_CONCURRENT_TRANSFERS"
ROOT = pathlib.Path(__file__).resolve().parents[1]

IMPORT_ONLY = """
    import json, threading
    import transferqueue as tq
    print(json.dumps({
        "threads": [thread.name for thread in threading.enumerate()],
        "active_count": threading.active_count(),
        "limit": tq.transfer_queue.concurrency_limit,
        "is_queue": isinstance(tq.transfer_queue, tq.TransferQueue),
    }))
"""

QUEUE_ONE_JOB = """
    import json, threading
    import transferqueue as tq
    files = [{"source_path": "a", "destination_path": "b", "size": 3}]
    job_id = tq.transfer_queue.queue_job("s3-upload", files, lambda file, on_progress: None)
    job = tq.transfer_queue.wait(job_id, timeout=30)
    print(json.dumps({
        "status": str(job.status),
        "percentage": job.progress.percentage,
        "active_count": threading.active_count(),
    }))
"""


def run_python(code: str, env_value: str | None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with MAX_CONCURRENT_TRANSFERS set or unset."""
    env = {name: value for name, value in os.environ.items() if name != ENV}
    if env_value is not None:
        env[ENV] = env_value
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_json(code: str, env_value: str | None) -> dict[str, Any]:
    result = run_python(code, env_value)
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


@pytest.mark.parametrize(("env_value", "limit"), [(None, 2), ("5", 5), (" 3 ", 3)])
def test_import_starts_no_thread_and_reads_the_config(env_value: str | None, limit: int) -> None:
    """S14/S13: importing makes transfer_queue from the config and starts no thread."""
    output = run_json(IMPORT_ONLY, env_value)
    assert output["threads"] == ["MainThread"]
    assert output["active_count"] == 1
    assert output["limit"] == limit
    assert output["is_queue"] is True


@pytest.mark.parametrize("env_value", ["abc", "0", ""])
def test_invalid_config_fails_the_import(env_value: str) -> None:
    """S14/S13: an invalid MAX_CONCURRENT_TRANSFERS makes the import raise ValueError."""
    result = run_python("import transferqueue", env_value)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ValueError")
    assert ENV in last_line


def test_singleton_runs_a_job_and_then_has_threads() -> None:
    """S14: the singleton works; its threads exist once used (so "no thread at import" is
    a real observation), and the script still exits."""
    output = run_json(QUEUE_ONE_JOB, None)
    assert output["status"] == "completed"
    assert output["percentage"] == 100
    assert output["active_count"] > 1


def test_singleton_is_a_transfer_queue() -> None:
    """S14: transfer_queue is a TransferQueue."""
    assert isinstance(tq.transfer_queue, tq.TransferQueue)


def test_update_transfer_queue_concurrency() -> None:
    """S14: update_transfer_queue_concurrency changes the singleton's limit."""
    old = tq.transfer_queue.concurrency_limit
    try:
        tq.update_transfer_queue_concurrency(old + 3)
        assert tq.transfer_queue.concurrency_limit == old + 3
        tq.update_transfer_queue_concurrency(1)
        assert tq.transfer_queue.concurrency_limit == 1
    finally:
        tq.update_transfer_queue_concurrency(old)
    assert tq.transfer_queue.concurrency_limit == old


@pytest.mark.parametrize(
    ("value", "error"), [(True, TypeError), (2.0, TypeError), ("4", TypeError), (0, ValueError)]
)
def test_update_transfer_queue_concurrency_rejects_bad_values(
    value: object, error: type[Exception]
) -> None:
    """S14/S12: a bad limit is refused and the singleton's limit stays."""
    old = tq.transfer_queue.concurrency_limit
    try:
        with pytest.raises(error):
            tq.update_transfer_queue_concurrency(value)  # type: ignore[arg-type]
        assert tq.transfer_queue.concurrency_limit == old
    finally:
        tq.update_transfer_queue_concurrency(old)
