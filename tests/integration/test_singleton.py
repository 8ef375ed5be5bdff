"""The process-wide queue (contract S14), checked in fresh interpreters where it matters."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT
from transferqueue._core import singleton as _singleton

ENV = "MAX_CONCURRENT_TRANSFERS"
ROOT = pathlib.Path(__file__).resolve().parents[2]

IMPORT_ONLY = """
    import json, threading
    import transferqueue as tq
    from transferqueue._core import process as _process
    from transferqueue._core import singleton as _singleton
    facts = {
        "threads": [thread.name for thread in threading.enumerate()],
        "made": _singleton._shared is not None,
        "queues": len(_process._live_queues()),
    }
    facts["limit"] = tq.transfer_queue.concurrency_limit
    facts["is_queue"] = isinstance(tq.transfer_queue, tq.TransferQueue)
    facts["threads_after"] = threading.active_count()
    print(json.dumps(facts))
"""

BAD_THEN_FIXED = """
    import json, os
    import transferqueue as tq
    facts = {}
    try:
        tq.transfer_queue
    except ValueError as exc:
        facts["error"] = str(exc)
    try:
        tq.update_transfer_queue_concurrency(3)
    except ValueError as exc:
        facts["update_error"] = str(exc)
    os.environ["MAX_CONCURRENT_TRANSFERS"] = "4"
    facts["limit"] = tq.transfer_queue.concurrency_limit
    print(json.dumps(facts))
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


@pytest.mark.parametrize(
    ("env_value", "limit"), [(None, 2), ("5", 5), (" 3 ", 3), ("banana", None), ("0", None)]
)
def test_import_has_no_side_effect(env_value: str | None, limit: int | None) -> None:
    """S14/S13: importing starts no thread, makes no queue and reads no configuration, so
    it succeeds whatever MAX_CONCURRENT_TRANSFERS holds; the first lookup of
    transfer_queue makes it from the variable, still without a thread."""
    code = IMPORT_ONLY if limit is not None else IMPORT_ONLY.replace("facts[", "# facts[")
    output = run_json(code, env_value)
    assert output["threads"] == ["MainThread"]
    assert output["made"] is False
    assert output["queues"] == 0
    if limit is not None:
        assert output["limit"] == limit
        assert output["is_queue"] is True
        assert output["threads_after"] == 1


def test_invalid_config_fails_the_first_lookup_with_a_clear_error() -> None:
    """S14/S13: with a bad MAX_CONCURRENT_TRANSFERS the first lookup of transfer_queue
    (or update_transfer_queue_concurrency) raises a ValueError naming the variable and
    the value; nothing is kept, so once the value is fixed the next lookup works."""
    output = run_json(BAD_THEN_FIXED, "banana")
    expected = f"{ENV} must be a whole number from 1 to 1000, got 'banana'"
    assert output == {"error": expected, "update_error": expected, "limit": 4}


def run_cli(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    """``python -m transferqueue ARGS`` in ``cwd`` with MAX_CONCURRENT_TRANSFERS=banana."""
    env = {**os.environ, ENV: "banana", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_variable_leaves_the_command_line_working(tmp_path: pathlib.Path) -> None:
    """S13, CLI: a bad MAX_CONCURRENT_TRANSFERS crashes no command: --help and a copy
    given -j work, and a copy or the demo, which need the variable, get the CLI's own
    usage error (exit 2, no traceback) before doing anything."""
    (tmp_path / "src.txt").write_bytes(b"payload")

    helped = run_cli("cp", "--help", cwd=tmp_path)
    assert (helped.returncode, helped.stderr) == (0, "")
    assert "usage:" in helped.stdout

    copied = run_cli("cp", "-q", "-j", "2", "src.txt", "dest.txt", cwd=tmp_path)
    assert (copied.returncode, copied.stderr) == (0, "")
    assert (tmp_path / "dest.txt").read_bytes() == b"payload"

    message = f"transferqueue: error: {ENV} must be a whole number from 1 to 1000, got 'banana'\n"
    refused = run_cli("cp", "-q", "src.txt", "other.txt", cwd=tmp_path)
    assert (refused.returncode, refused.stderr) == (2, message)
    assert not (tmp_path / "other.txt").exists()
    demo = run_cli("demo", cwd=tmp_path)
    assert (demo.returncode, demo.stdout, demo.stderr) == (2, "", message)


class ObservedLock:
    """Stands in for the singleton's lock and tells which threads came to take it."""

    def __init__(self, arrivals: threading.Condition, arrived: set[threading.Thread]) -> None:
        self._lock = threading.Lock()
        self._arrivals = arrivals
        self._arrived = arrived

    def __enter__(self) -> None:
        with self._arrivals:
            self._arrived.add(threading.current_thread())
            self._arrivals.notify_all()
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


def test_threads_looking_up_the_shared_queue_at_once_get_one_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S14: threads that look transfer_queue up together, while none exists yet, get the
    same queue, made once. The first to read the configuration waits there until every
    other thread has either come to the lock or read the configuration too: without the
    lock, each would make a queue of its own."""
    monkeypatch.setattr(_singleton, "_shared", None)
    arrivals = threading.Condition()
    arrived: set[threading.Thread] = set()
    reading: set[threading.Thread] = set()
    monkeypatch.setattr(_singleton, "_shared_lock", ObservedLock(arrivals, arrived))
    lookers: list[threading.Thread] = []

    def read_config() -> int:
        me = threading.current_thread()
        with arrivals:
            reading.add(me)
            arrivals.notify_all()
            assert arrivals.wait_for(
                lambda: all(t in arrived or t in reading for t in lookers if t is not me), WAIT
            )
        return 3

    monkeypatch.setattr(_singleton, "get_max_concurrent_transfers", read_config)
    barrier = threading.Barrier(4)
    found: list[tq.TransferQueue] = []

    def look_up() -> None:
        barrier.wait(WAIT)
        found.append(tq.transfer_queue)

    lookers.extend(threading.Thread(target=look_up) for _ in range(4))
    for thread in lookers:
        thread.start()
    for thread in lookers:
        thread.join(WAIT)
    try:
        assert len(found) == 4
        assert len(reading) == 1
        assert all(queue is found[0] for queue in found)
        assert found[0].concurrency_limit == 3
    finally:
        for queue in set(found):
            queue.shutdown()


FORK_WHILE_HELD = """
    import json, os, signal, threading, warnings
    import transferqueue as tq
    from transferqueue._core import singleton as _singleton

    # Python 3.12+: forking a process with threads warns; that is the point here.
    warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
    held, release = threading.Event(), threading.Event()

    def hold():
        with _singleton._shared_lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a lock inherited held would hang the child: SIGALRM ends it
        queue = tq.transfer_queue
        job = queue.wait(queue.queue_job("s3-upload", [], lambda f, p: None), timeout=20)
        print(json.dumps({"child": str(job.status)}), flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    release.set()
    holder.join()
    print(json.dumps({"child_status": status, "parent": tq.transfer_queue.concurrency_limit}))
"""


def test_a_child_forked_while_the_queue_is_being_made_can_make_its_own() -> None:
    """S14, S23: a child forked while another thread of the parent held the singleton's
    lock (making the queue) gets a fresh lock, so its first lookup works."""
    result = run_python(FORK_WHILE_HELD, None)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [{"child": "completed"}, {"child_status": 0, "parent": 2}]


def test_singleton_runs_a_job_and_then_has_threads() -> None:
    """S14: the singleton works; its threads exist once used (so "no thread at import" is
    a real observation), and the script still exits."""
    output = run_json(QUEUE_ONE_JOB, None)
    assert output["status"] == "completed"
    assert output["percentage"] == 100
    assert output["active_count"] > 1


def test_singleton_is_a_transfer_queue() -> None:
    """S14: transfer_queue is a TransferQueue, the same at every lookup, listed by dir()
    although it is made on first use; other missing names still raise AttributeError."""
    assert isinstance(tq.transfer_queue, tq.TransferQueue)
    assert tq.transfer_queue is tq.transfer_queue
    assert "transfer_queue" in dir(tq)
    assert set(tq.__all__) <= set(dir(tq))
    with pytest.raises(AttributeError, match="has no attribute 'transfer_queues'"):
        tq.transfer_queues  # type: ignore[attr-defined]  # noqa: B018


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
