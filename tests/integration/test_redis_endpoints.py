"""The web front's all-jobs stream on a Redis-backed queue follows every
job of the cluster (news read from the namespace's stream in Redis), with the same rules
as on one process: the list first, no news older than a finished job the list showed, the
access hook asked for each job, keep-alives while quiet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from tests.helpers.sse_pictures import Pictures

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

from transferqueue.redis import RedisBackend
from transferqueue.web import EventStream, TransferEndpoints

REQUEST = object()


@pytest.fixture
def two(redis_url: str) -> Iterator[tuple[tq.TransferQueue, tq.TransferQueue]]:
    """An owner and a reader of the cluster "q", each with its backend."""
    owner = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    reader = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    try:
        yield owner, reader
    finally:
        owner.shutdown(cancel_jobs=True)
        reader.shutdown(cancel_jobs=True)


def named_event(chunk: str) -> tuple[str, Any]:
    head, _, data = chunk.rpartition("data: ")
    assert head.startswith("event: "), chunk
    return head.removeprefix("event: ").strip(), json.loads(data)


def test_the_all_jobs_stream_follows_the_cluster(
    two: tuple[tq.TransferQueue, tq.TransferQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, reader = two
    gate = GatedExecutor()
    hidden = owner.queue_job("s3-upload", make_files(1, prefix="hidden"), gate)
    ending = owner.queue_job("s3-upload", make_files(1, prefix="ending"), gate)
    gate.wait_running(2)

    def may_view(request: object, job: tq.TransferJob | None, action: str) -> bool:
        return job is None or job.id != hidden

    list_jobs = reader.get_all_jobs

    def ending_first() -> list[tq.TransferJob]:
        # The job ends after the stream began to follow, before it lists.
        gate.release("src/ending-0")
        owner.wait(ending, timeout=WAIT)
        wait_until(lambda: reader.get_job(ending) == owner.get_job(ending), "ending written")
        return list_jobs()

    monkeypatch.setattr(reader, "get_all_jobs", ending_first)
    endpoints = TransferEndpoints[object](reader, can_access=may_view, keepalive=0.05)
    stream = endpoints.all_events(REQUEST)
    assert isinstance(stream, EventStream)
    event, jobs = named_event(next(stream))
    assert event == "jobs"
    assert [(job["id"], job["status"]) for job in jobs] == [(ending, "completed")]

    gate.release("src/hidden-0")  # its news are not for this viewer
    owner.wait(hidden, timeout=WAIT)
    visible = owner.queue_job("s3-upload", make_files(1, prefix="visible"), noop_executor)
    chunks: list[str] = []
    # Up to the first keep-alive after the visible job's end (a job's news read late show
    # it as it stands then: its end may come more than once).
    while not (chunks and chunks[-1].startswith(":") and any(END in c for c in chunks)):
        chunks.append(next(stream))
    # Neither the finished job's news (older than the list) nor the hidden job's.
    pictures = Pictures()
    pictures.take_list(jobs)
    events = [named_event(chunk) for chunk in chunks if not chunk.startswith(":")]
    assert {data["job"]["id"] for _, data in events} == {visible}
    # Rebuilt from the messages, the job is the owner's: its updates are sent as changes.
    ended = owner.get_job(visible)
    assert ended is not None
    assert [pictures.apply(data) for _, data in events][-1] == ended.to_dict(camel_case=True)
    assert events[0][0] == "created"
    assert {kind for kind, _ in events[1:]} <= {"updated"}
    stream.close()


END = '"status":"completed"'


def test_a_job_stream_sends_the_job_whole_after_a_gap_in_its_events(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_url: str,
) -> None:
    """When an event of another process's job is gone from Redis before the
    stream read it (trimmed), the watch reads the job whole again, and the stream sends
    it whole: changes against a picture the client may not have would leave it wrong."""
    import redis

    owner, reader = two
    client = redis.Redis.from_url(redis_url)
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(3), gate)
    gate.wait_running(3)

    def seq() -> int:
        return int(cast(bytes, client.hget(f"q:job:{job_id}", "seq")))

    def all_transferring() -> bool:
        job = reader.get_job(job_id)
        return job is not None and all(f.status.value == "transferring" for f in job.files)

    wait_until(all_transferring, "every file transferring in Redis")
    stream = TransferEndpoints[object](reader, public=True, keepalive=0.05).job_events(
        REQUEST, job_id
    )
    assert isinstance(stream, EventStream)
    pictures = Pictures()
    pictures.apply(json.loads(next(stream).rpartition("data: ")[2]))
    before = seq()
    gate.release("src/file-0")
    wait_until(lambda: seq() > before, "the next event written")
    gate.release("src/file-1")
    wait_until(lambda: seq() > before + 1, "one more")
    entries = cast(list[tuple[bytes, object]], client.xrange(f"q:events:{job_id}", "-", "+"))
    client.xdel(f"q:events:{job_id}", entries[-2][0])  # the one after the first snapshot's
    message = json.loads(next(c for c in stream if not c.startswith(":")).rpartition("data: ")[2])
    assert set(message) == {"job"}  # whole
    rebuilt = pictures.apply(message)
    assert [f["status"] for f in rebuilt["files"]] == ["completed", "completed", "transferring"]
    gate.release_all()
    rest = [c.rpartition("data: ")[2] for c in stream if not c.startswith(":")]
    for data in rest[:-1]:  # then changes again, up to the end
        rebuilt = pictures.apply(json.loads(data))
    ended = owner.get_job(job_id)
    assert ended is not None
    assert rebuilt == ended.to_dict(camel_case=True)
    client.close()
