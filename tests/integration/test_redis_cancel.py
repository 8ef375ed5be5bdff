"""``cancel_job`` from any process. The owner (a real process,
tests/helpers/redis_queue_worker.py) listens for requests in Redis; its executors see
TransferCancelled within a second of the request, and its log names who asked."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_owners import owner, owner_of, running
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from tests.helpers.threads import queue_threads
from tests.helpers.worker_process import Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend, RedisUnavailableError, _cancels
from transferqueue.redis import _backend as backend_module
from transferqueue.redis._connection import RedisConnection


@pytest.fixture
def canceller(redis_url: str) -> Iterator[tq.TransferQueue]:
    queue = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    try:
        yield queue
    finally:
        queue.shutdown(cancel_jobs=True)


def test_a_cancel_from_another_process_reaches_the_executors_within_a_second(
    redis_url: str,
    redis_client: redis.Redis,
    canceller: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    """The owner runs two files of three; cancel_job here returns True once the owner
    confirmed, within a second; both running executors got TransferCancelled from their
    next on_progress call within that second, the waiting file never started, and the
    owner's log says which process asked."""
    worker, [job_id] = owner(redis_url, 1, 3)
    workers.append(worker)
    wait_until(lambda: running(canceller, job_id, 2), "two files running")
    asked = time.time()
    assert canceller.cancel_job(job_id)
    answered = time.time() - asked
    assert answered < 1.0, answered

    kind, _, data = worker.read_line().partition(" ")
    assert kind == "ended"
    job = tq.TransferJob.from_dict(json.loads(data))
    assert job.status is tq.TransferStatus.CANCELLED
    assert job.error == "Cancelled by user"
    assert [f.error_type for f in job.files] == ["transferqueue.TransferCancelled"] * 3
    assert job.files[2].attempts == 0
    assert canceller.get_job(job_id) == job
    rows = cast(list[bytes], redis_client.lrange("q:test:cancelled", 0, -1))
    seen = [row.decode().split() for row in rows]
    assert sorted(path for path, _ in seen) == ["src/0", "src/1"]
    assert all(float(when) - asked < 1.0 for _, when in seen), seen
    log = worker.finish()
    requester = f"{socket.gethostname()}:{os.getpid()}"
    assert f"job {job_id} cancel requested by {requester} (another process)" in log
    assert not canceller.cancel_job(job_id)  # terminal now


def test_cancelling_an_unknown_or_finished_job_of_another_process_is_false(
    redis_url: str,
    redis_client: redis.Redis,
    canceller: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    redis_client.set("q:test:go", 1)
    assert canceller.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert not canceller.cancel_job(job_id)
    assert not canceller.cancel_job("transfer-1-1-000000000000")
    worker.finish()
    assert not redis_client.keys("q:cancel:*")  # nothing was asked


def test_a_job_of_this_process_that_it_no_longer_runs_is_not_asked_for(
    redis_url: str,
    redis_client: redis.Redis,
    canceller: tq.TransferQueue,
) -> None:
    """Redis says an unfinished job belongs to this very process, which does not know it
    (an entry written by hand here), or to no process that could exist: there is
    nobody to ask."""
    job_id = canceller.queue_job("s3-upload", make_files(1), noop_executor)
    canceller.wait(job_id)
    fields = redis_client.hgetall(f"q:job:{job_id}")
    head = json.loads(fields[b"head"])
    head["status"] = "active"
    assert canceller.cleanup_old_jobs(0) == 1  # forgotten here and in Redis
    fields.update({b"head": json.dumps(head).encode(), b"owner": owner_of(canceller).encode()})
    redis_client.hset(f"q:job:{job_id}", mapping=fields)  # type: ignore[arg-type]
    assert canceller.get_job(job_id) is not None
    assert not canceller.cancel_job(job_id)
    redis_client.hset(f"q:job:{job_id}", "owner", "two words")
    assert not canceller.cancel_job(job_id)
    assert not redis_client.keys("q:cancel:*")


def test_an_owner_that_does_not_answer_makes_cancel_raise_naming_it(
    redis_url: str,
    canceller: tq.TransferQueue,
    workers: list[Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner is stopped (SIGSTOP): cancel_job raises TimeoutError naming it; the
    request waits in Redis, and the owner cancels the job once it runs again."""
    monkeypatch.setattr(backend_module, "CANCEL_TIMEOUT", 0.5)
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: running(canceller, job_id, 1), "the file running")
    job = canceller.get_job(job_id)
    assert job is not None
    worker.process.send_signal(signal.SIGSTOP)
    try:
        unanswered = r"did not confirm the cancel within 0\.5 s"
        with pytest.raises(TimeoutError, match=unanswered) as caught:
            canceller.cancel_job(job_id)
        owner_name = str(caught.value).split()[2]
        assert owner_name.split(":")[1] == str(worker.process.pid)
    finally:
        worker.process.send_signal(signal.SIGCONT)
    assert canceller.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    assert worker.read_line().startswith("ended ")
    worker.finish()


@pytest.mark.parametrize(
    "request_text",
    [
        b"not json",
        b"[" * 10_000,
        b'["a list"]',
        b'{"job": "x"}',
        b'{"job": 7, "by": "me"}',
        b'{"job": "two words", "by": "me"}',
        b'{"job": "transfer-x", "by": ""}',
        b'{"job": "transfer-x", "by": "me", "more": 1}',
        b'{"job": "transfer-x", "by": "me", "do": "explode"}',
        b'{"job": "transfer-x", "by": "me", "do": "cancel"}',
    ],
)
def test_malformed_cancel_requests_are_logged_and_dropped(
    redis_url: str,
    redis_client: redis.Redis,
    canceller: tq.TransferQueue,
    caplog: pytest.LogCaptureFixture,
    request_text: bytes,
) -> None:
    """Whatever else lands in this process's request list is dropped with a WARNING; a
    well-formed request after it still cancels."""
    gate = GatedExecutor()
    job_id = canceller.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    key = f"q:cancel:{owner_of(canceller)}"
    with caplog.at_level(logging.INFO, logger="transferqueue"):
        redis_client.rpush(key, request_text)
        redis_client.rpush(key, json.dumps({"job": "transfer-unknown", "by": "h:1"}))
        redis_client.rpush(key, json.dumps({"job": job_id, "by": "elsewhere:42"}))
        assert canceller.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    messages = [r.getMessage() for r in caplog.records]
    dropped = [m for m in messages if m.startswith(f"dropped a cancel request in {key}")]
    assert len(dropped) == 1, messages
    assert "job transfer-unknown: cancel requested by h:1, but it is not running here" in messages
    assert f"job {job_id} cancel requested by elsewhere:42 (another process)" in messages
    gate.release_all()


def test_the_listener_thread_lives_only_while_the_process_has_unfinished_jobs(
    redis_url: str,
) -> None:
    gate = GatedExecutor()
    queue = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q"))

    def listening() -> bool:
        return any(t.name == "transferqueue-cancels" for t in queue_threads())

    assert not listening()
    job_id = queue.queue_job("s3-upload", make_files(1), gate)
    assert listening()
    gate.release_all()
    queue.wait(job_id)
    wait_until(lambda: not listening(), "the listener ended")
    queue.queue_job("s3-upload", make_files(1), gate)
    assert listening()
    queue.shutdown()  # waits for the job (released already), then for the listener
    assert not listening()


def test_a_redis_outage_is_logged_once_by_the_listener_which_then_listens_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However often the listener fails to read while Redis is away (it tries again
    every second; here every 10 ms), it logs the outage once, and reads again after."""
    from tests.helpers.redis_server import start_redis_server

    monkeypatch.setattr(_cancels, "RETRY_AFTER_FAILURE", 0.01)
    reads: list[str] = []
    receive = _cancels.CancelRequests.receive

    def counted(self: _cancels.CancelRequests, owner: str, seconds: float) -> Any:
        reads.append(owner)
        return receive(self, owner, seconds)

    monkeypatch.setattr(_cancels.CancelRequests, "receive", counted)
    server = start_redis_server()
    port = server.port
    gate = GatedExecutor()
    try:
        queue = tq.TransferQueue(1, backend=RedisBackend(server.url, namespace="q"))
        with caplog.at_level(logging.INFO, logger="transferqueue"):
            job_id = queue.queue_job("s3-upload", make_files(1), gate)
            gate.wait_running(1)
            server.stop()

            def logged() -> bool:
                text = "could not read cancel requests from Redis"
                return sum(text in r.getMessage() for r in caplog.records) == 1

            wait_until(logged, "the outage logged")
            failed_reads = len(reads)
            wait_until(lambda: len(reads) >= failed_reads + 3, "three more failed reads")
            server = start_redis_server(port)
            other = tq.TransferQueue(1, backend=RedisBackend(server.url, namespace="q"))
            with redis.Redis.from_url(server.url) as plain:
                plain.rpush(
                    f"q:cancel:{owner_of(queue)}",
                    json.dumps({"job": job_id, "by": "elsewhere:1"}),
                )
            assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
            other.shutdown()
        assert logged()
        gate.notify()  # the cancelled executor leaves at once
        queue.shutdown()
    finally:
        gate.release_all()
        server.stop()


def test_another_processs_queued_job_is_cancelled_without_starting(
    redis_url: str,
    canceller: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    """The owner's second job waits behind the first (its limit of 2 is taken):
    cancelling it from here ends it before any of its files started; the first runs on."""
    worker, [first, second] = owner(redis_url, 2, 2)
    workers.append(worker)
    wait_until(lambda: running(canceller, first, 2), "the first job's files running")
    assert canceller.cancel_job(second)
    job = canceller.get_job(second)
    assert job is not None
    assert [f.attempts for f in job.files] == [0, 0]
    with redis.Redis.from_url(redis_url) as plain:
        plain.set("q:test:go", 1)
    assert canceller.wait(first, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    worker.read_line()
    worker.read_line()
    worker.finish()


def test_a_listener_thread_that_cannot_start_is_logged_and_started_with_the_next_job(
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_start = threading.Thread.start

    def refuse_the_listener(thread: threading.Thread) -> None:
        if thread.name == "transferqueue-cancels":
            raise RuntimeError("can't start new thread")
        real_start(thread)

    gate = GatedExecutor()
    with tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace="q")) as queue:
        monkeypatch.setattr(threading.Thread, "start", refuse_the_listener)
        with caplog.at_level(logging.ERROR, logger="transferqueue"):
            queue.queue_job("s3-upload", make_files(1), gate)
        monkeypatch.undo()
        assert "no thread to listen for cancels: can't start new thread" in caplog.messages
        assert not any(t.name == "transferqueue-cancels" for t in queue_threads())
        queue.queue_job("s3-upload", make_files(1), gate)
        assert any(t.name == "transferqueue-cancels" for t in queue_threads())
        gate.release_all()


def test_a_job_forgotten_while_its_cancel_waits_for_the_owner_is_not_cancelled(
    redis_url: str,
    redis_client: redis.Redis,
    canceller: tq.TransferQueue,
) -> None:
    """An unfinished job whose owner never answers (written by hand: no such process) is
    forgotten while the cancel waits for the owner: the cancel says False. The request
    itself waited in the owner's list, which expires within a minute."""
    job_id = canceller.queue_job("s3-upload", make_files(1), noop_executor)
    canceller.wait(job_id)
    fields = redis_client.hgetall(f"q:job:{job_id}")
    head = json.loads(fields[b"head"])
    head["status"] = "active"
    canceller.cleanup_old_jobs(0)
    fields.update({b"head": json.dumps(head).encode(), b"owner": b"elsewhere:1:feed"})
    redis_client.hset(f"q:job:{job_id}", mapping=fields)  # type: ignore[arg-type]

    def forget_once_asked() -> None:
        wait_until(lambda: redis_client.llen("q:cancel:elsewhere:1:feed") == 1, "the request sent")
        redis_client.delete(f"q:job:{job_id}")

    forgetting = threading.Thread(target=forget_once_asked)
    forgetting.start()
    assert not canceller.cancel_job(job_id)
    forgetting.join(WAIT)
    assert 0 < redis_client.pttl("q:cancel:elsewhere:1:feed") <= 60_000
    request = json.loads(cast(bytes, redis_client.lpop("q:cancel:elsewhere:1:feed")))
    assert request == {"job": job_id, "by": f"{socket.gethostname()}:{os.getpid()}"}


def test_a_request_taken_from_redis_is_acted_on_when_reading_the_rest_fails(
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """BLPOP took the first request out of Redis; the LPOP for the others fails (Redis
    gone between them): the first is still returned, the others stay for the next read."""
    connection = RedisConnection(redis_url)
    requests = _cancels.CancelRequests(connection, "q")
    key = requests.key("h:1:t")
    redis_client.rpush(key, json.dumps({"job": "transfer-a", "by": "h:2"}))
    redis_client.rpush(key, json.dumps({"job": "transfer-b", "by": "h:2"}))
    real_call = RedisConnection.call

    def lpop_fails(self: RedisConnection, action: str, command: Any) -> Any:
        if action == "reading cancel requests":
            raise RedisUnavailableError("gone", self.url)
        return real_call(self, action, command)

    monkeypatch.setattr(RedisConnection, "call", lpop_fails)
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        assert requests.receive("h:1:t", 1) == [("transfer-a", "h:2", "cancel")]
    assert redis_client.lrange(key, 0, -1) == [
        json.dumps({"job": "transfer-b", "by": "h:2"}).encode()
    ]
    assert any(
        "could not read more cancel requests: gone" in r.getMessage() for r in caplog.records
    )
    monkeypatch.undo()
    assert requests.receive("h:1:t", 1) == [("transfer-b", "h:2", "cancel")]
    connection.close()
