"""The Celery recipe (tests/helpers/celery_recipe.py) end to end, with real
processes on 127.0.0.1: a ``celery worker --pool threads`` (Redis broker) runs the copies
that a Flask view, served by ``gunicorn -k gthread -w 2``, hands to it; the browser's
stream, from another gunicorn worker than the one that took the copy, follows the job to
its end, and a DELETE through the web cancels one in the Celery worker."""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.redis_server import MISSING, REQUIRED, wait_until

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)
if importlib.util.find_spec("celery") is None and not REQUIRED:
    pytest.skip("celery is not installed (it is in the test extra)", allow_module_level=True)

import redis

from tests.helpers.bounds import WAIT
from tests.helpers.gunicorn_cluster import ClusterServer, data_events, gunicorn_cluster
from tests.helpers.web_servers import STARTUP
from tests.helpers.worker_process import ROOT

SIZE = 100_000


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``celery worker --pool threads`` running the recipe; stopped as an operator stops
    it (SIGTERM: a warm shutdown, which lets running tasks end) when the block ends."""
    command = [
        sys.executable, "-m", "celery", "-A", "tests.helpers.celery_recipe_app:celery_app",
        "worker",
        "--pool", "threads", "--concurrency", "4", "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--hostname", "recipe@%h",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)


def post_json(web: ClusterServer, path: str, body: bytes) -> tuple[int, str, Any]:
    """``(status, worker pid, JSON body)`` of a POST of ``body``."""
    conn = web.connect()
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        pytest.fail(f"POST {path} failed: {exc!r}\nserver log:\n{web.log()}")
    finally:
        conn.close()
    return response.status, response.getheader("X-Worker-Pid", ""), json.loads(data)


def copy_state(web: ClusterServer, task: str, until: str, log: Path) -> dict[str, Any]:
    """``GET /copies/<task>`` asked until its ``until`` field is set: the Celery worker
    changes it, in another process, through Redis, where no event reaches the test. The
    first answer may wait for the worker to start."""
    deadline = time.monotonic() + STARTUP
    while True:
        status, _, state = web.answer("GET", f"/copies/{task}")
        assert status == 200, state
        if state[until] is not None:
            return dict(state)
        assert time.monotonic() < deadline, f"{state} after {STARTUP} s:\n{log.read_text()}"
        time.sleep(0.05)


def test_a_copy_handed_to_celery_is_followed_and_cancelled_through_gunicorn(
    redis_url: str,
    tmp_path: Path,
) -> None:
    exports, published = tmp_path / "exports", tmp_path / "published"
    exports.mkdir()
    published.mkdir()
    data = os.urandom(SIZE)
    (exports / "a.bin").write_bytes(data)
    (exports / "b.bin").write_bytes(data)
    env = {
        **os.environ,
        "TRANSFERS_REDIS_URL": redis_url,
        "TRANSFERS_SOURCE_DIR": str(exports),
        "TRANSFERS_DEST_DIR": str(published),
    }
    celery_log = tmp_path / "celery.log"
    with (
        celery_worker(env, celery_log) as worker,
        gunicorn_cluster(
            "tests.helpers.celery_recipe_app:web", env, tmp_path / "gunicorn.log", 2
        ) as web,
        redis.Redis.from_url(redis_url) as client,
    ):
        # What a browser sends is checked before anything reaches Celery.
        for hostile in (b'{"name": "../a.bin"}', b'{"name": ".a.bin"}', b"[", b'{"name": 7}'):
            status, _, refused = post_json(web, "/copies", hostile)
            assert status == 400, refused
        assert post_json(web, "/copies", b'{"name": "c.bin"}')[0] == 404
        conn = web.connect()
        conn.request("GET", "/copies/not-a-task-id")
        assert conn.getresponse().status == 404  # Flask's page: only UUIDs are task ids
        conn.close()

        # A copy, followed from another worker than the one that took it, to its end.
        status, took, made = post_json(web, "/copies", b'{"name": "a.bin"}')
        assert status == 202, made
        job_id = copy_state(web, made["task"], "job", celery_log)["job"]
        _, stream = web.stream_elsewhere(took, f"/transfers/{job_id}/events")
        data_events(stream, lambda job: job["progress"]["loadedBytes"] == SIZE // 2)
        client.set("transfers:test:go:a.bin", 1)
        [*_, last, end] = stream.to_end()
        stream.close()
        assert last[1]["status"] == "completed"
        assert end == ("end", {"jobId": job_id, "status": "completed"})
        assert (published / "a.bin").read_bytes() == data
        assert copy_state(web, made["task"], "status", celery_log) == {
            "state": "SUCCESS", "job": job_id, "status": "completed"
        }  # fmt: skip

        # Another, cancelled through the web while it runs in the Celery worker.
        status, took, made = post_json(web, "/copies", b'{"name": "b.bin"}')
        assert status == 202, made
        job_id = copy_state(web, made["task"], "job", celery_log)["job"]
        _, stream = web.stream_elsewhere(took, f"/transfers/{job_id}/events")
        data_events(stream, lambda job: job["progress"]["loadedBytes"] == SIZE // 2)
        status, _, cancelled = web.delete_elsewhere(took, f"/transfers/{job_id}")
        assert status == 200, cancelled
        assert cancelled["status"] == "cancelled"
        [*_, last, end] = stream.to_end()
        stream.close()
        assert last[1]["files"][0]["errorType"] == "transferqueue.TransferCancelled"
        assert end == ("end", {"jobId": job_id, "status": "cancelled"})
        # The job is cancelled at once; its executor, in the Celery worker, notices at its
        # next report and notes it in Redis then.
        wait_until(
            lambda: client.lrange("transfers:test:cancelled", 0, -1) == [b"b.bin"],
            "the Celery worker's executor noted the cancel",
        )
        assert copy_state(web, made["task"], "status", celery_log)["status"] == "cancelled"
        assert os.listdir(published) == ["a.bin"]  # nothing of b.bin, not even a temporary
    assert worker.returncode == 0, celery_log.read_text()
