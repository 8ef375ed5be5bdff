"""An owner process of Redis-backed jobs (tests/helpers/redis_queue_worker.py) started
for a test, and what a test reads of the owners of jobs."""

from __future__ import annotations

import transferqueue as tq
from tests.helpers.worker_process import Worker
from transferqueue.redis import RedisBackend


def owner(redis_url: str, jobs: int, files: int) -> tuple[Worker, list[str]]:
    worker = Worker("own", redis_url, "q", jobs, files, module="tests.helpers.redis_queue_worker")
    ids = []
    for _ in range(jobs):
        kind, job_id = worker.read_line().split()
        assert kind == "job"
        ids.append(job_id)
    return worker, ids


def owner_of(queue: tq.TransferQueue) -> str:
    """The name under which ``queue``'s process owns its jobs."""
    backend = queue._backend
    assert isinstance(backend, RedisBackend)
    return backend.owner_id


def running(queue: tq.TransferQueue, job_id: str, count: int) -> bool:
    job = queue.get_job(job_id)
    return job is not None and job.progress.loaded_bytes == 5 * count
