"""Across processes: ``pause_job`` and ``resume_job`` of another
process's job ask its owner (a real process, tests/helpers/redis_queue_worker.py) through Redis,
as ``cancel_job`` does; a paused job is ``paused`` in the shared registry; with a
backend, a job paused while its file waits for a cluster-wide slot gives the wait up."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, SlowToStop, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_owners import owner, owner_of, running
from tests.helpers.redis_server import MISSING, REQUIRED, start_redis_server, wait_until
from tests.helpers.web_clients import serve_routes
from tests.helpers.worker_process import Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend
from transferqueue.redis import _backend as backend_module


@pytest.fixture
def asker(redis_url: str) -> Iterator[tq.TransferQueue]:
    """A queue of this process, in the owner's namespace: it asks, it owns nothing."""
    queue = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    try:
        yield queue
    finally:
        queue.shutdown(cancel_jobs=True)


def _status(queue: tq.TransferQueue, job_id: str) -> tq.TransferJob:
    job = queue.get_job(job_id)
    assert job is not None
    return job


def test_pause_and_resume_another_processs_job(
    redis_url: str,
    redis_client: redis.Redis,
    asker: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    """pause_job here returns once the owner paused the job (the registry says so); its
    executor stops at its next report; resume_job here has the owner resume it, and the
    file runs again to the job's end. The owner's log names who asked."""
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: running(asker, job_id, 1), "the file running")
    asker.pause_job(job_id)
    assert _status(asker, job_id).status is tq.TransferStatus.PAUSED
    with pytest.raises(tq.JobStateError, match="it is paused"):
        asker.pause_job(job_id)
    redis_client.set("q:test:go", 1)  # the executor's next report raises TransferPaused
    wait_until(
        lambda: _status(asker, job_id).files[0].status is tq.TransferFileStatus.QUEUED,
        "the file stopped",
    )
    asker.resume_job(job_id)
    kind, _, data = worker.read_line().partition(" ")
    assert kind == "ended"
    job = tq.TransferJob.from_dict(json.loads(data))
    assert job.status is tq.TransferStatus.COMPLETED
    assert job.files[0].attempts == 2
    log = worker.finish()
    requester = f"{socket.gethostname()}:{os.getpid()}"
    assert f"job {job_id} pause requested by {requester} (another process)" in log
    assert f"job {job_id} resume requested by {requester} (another process)" in log
    with pytest.raises(tq.JobStateError, match="it is completed"):
        asker.pause_job(job_id)
    with pytest.raises(tq.JobStateError, match="it is completed"):
        asker.resume_job(job_id)
    with pytest.raises(tq.JobNotFoundError):
        asker.pause_job("transfer-1-1-000000000000")


def test_resume_of_another_processs_running_job_is_refused(
    redis_url: str,
    redis_client: redis.Redis,
    asker: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: running(asker, job_id, 1), "the file running")
    with pytest.raises(tq.JobStateError, match=r"cannot resume .* it is active"):
        asker.resume_job(job_id)
    redis_client.set("q:test:go", 1)
    assert worker.read_line().startswith("ended ")
    worker.finish()
    assert not redis_client.keys("q:cancel:*")  # nothing was asked


def test_an_owner_that_does_not_answer_makes_pause_raise_naming_it(
    redis_url: str,
    asker: tq.TransferQueue,
    redis_client: redis.Redis,
    workers: list[Worker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The owner is stopped (SIGSTOP): pause_job raises TimeoutError naming it; the
    request waits in Redis, and the owner pauses the job once it runs again."""
    monkeypatch.setattr(backend_module, "CANCEL_TIMEOUT", 0.5)
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: running(asker, job_id, 1), "the file running")
    worker.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError, match=r"did not confirm the pause within 0\.5 s"):
            asker.pause_job(job_id)
    finally:
        worker.process.send_signal(signal.SIGCONT)
    wait_until(lambda: _status(asker, job_id).status is tq.TransferStatus.PAUSED, "paused")
    asker.cancel_job(job_id)
    assert worker.read_line().startswith("ended ")
    worker.finish()


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_the_routes_answer_504_while_the_owner_does_not_confirm(
    redis_url: str,
    asker: tq.TransferQueue,
    workers: list[Worker],
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
) -> None:
    """Through the web routes of another process, a pause or a cancel that the job's
    owner (stopped, SIGSTOP) does not confirm in time answers 504 naming the owner, not
    a server error; the requests stay with the owner, which follows them once it runs."""
    monkeypatch.setattr(backend_module, "CANCEL_TIMEOUT", 0.5)
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: running(asker, job_id, 1), "the file running")
    with contextlib.ExitStack() as stack:
        redis_client = serve_routes(framework, stack, asker, public=True)
        worker.process.send_signal(signal.SIGSTOP)
        try:
            paused = redis_client.put(f"/transfers/{job_id}/pause")
            cancelled = redis_client.delete(f"/transfers/{job_id}")
        finally:
            worker.process.send_signal(signal.SIGCONT)
    for status, body in (paused, cancelled):
        assert status == 504, body
        assert "the owner " in body["error"]
        assert "did not confirm" in body["error"]
    wait_until(lambda: _status(asker, job_id).status is tq.TransferStatus.CANCELLED, "ended")
    assert worker.read_line().startswith("ended ")
    worker.finish()


def test_a_job_that_ends_before_its_owner_pauses_it_is_a_state_error(
    asker: tq.TransferQueue, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner ended the job before it read the request: pause_job says so."""
    job_id = "transfer-1-2-abcdefabcdef"
    waited: list[frozenset[str]] = []
    backend = asker._backend
    assert isinstance(backend, RedisBackend)

    def read_state(job: str) -> tuple[str, str]:
        return "active", "elsewhere:1:abcdefabcdef"

    def ended(
        job: str, since: bytes, wanted: frozenset[str], seconds: float, each_step: object
    ) -> str:
        waited.append(wanted)
        return "completed"

    monkeypatch.setattr(backend._registry, "read_state", read_state)
    monkeypatch.setattr(backend._registry, "wait_for_status", ended)
    with pytest.raises(tq.JobStateError, match=f"cannot pause transfer job {job_id}") as raised:
        asker.pause_job(job_id)
    assert raised.value.status == "completed"
    assert waited == [frozenset({"paused"})]


def test_a_job_of_this_process_that_it_no_longer_runs_is_not_asked_for(
    asker: tq.TransferQueue, redis_client: redis.Redis
) -> None:
    """Redis says an unfinished job belongs to this process, which does not know it: a
    JobStateError, nobody asked; a malformed entry is no job."""
    job_id = asker.queue_job("s3-upload", make_files(1), noop_executor)
    asker.wait(job_id)
    fields = redis_client.hgetall(f"q:job:{job_id}")
    head = json.loads(fields[b"head"])
    head["status"] = "active"
    assert asker.cleanup_old_jobs(0) == 1
    fields.update({b"head": json.dumps(head).encode(), b"owner": owner_of(asker).encode()})
    redis_client.hset(f"q:job:{job_id}", mapping=fields)  # type: ignore[arg-type]
    with pytest.raises(
        tq.JobStateError, match="it is active but no longer run by this process"
    ) as raised:
        asker.pause_job(job_id)
    assert raised.value.status == "active"
    redis_client.hset(f"q:job:{job_id}", "owner", "two words")
    with pytest.raises(tq.JobStateError, match="it is active"):
        asker.pause_job(job_id)
    redis_client.hset(f"q:job:{job_id}", "head", b"{}")
    with pytest.raises(tq.JobNotFoundError):
        asker.pause_job(job_id)
    assert not redis_client.keys("q:cancel:*")


def test_requests_this_process_cannot_follow_are_logged(
    asker: tq.TransferQueue, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A pause of an unknown job, a resume of a running one, sent by hand: logged and
    left; a well-formed pause after them pauses."""
    gate = GatedExecutor()
    job_id = asker.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    key = f"q:cancel:{owner_of(asker)}"
    with caplog.at_level(logging.INFO, logger="transferqueue"):
        redis_client.rpush(key, json.dumps({"job": "transfer-unknown", "by": "h:1", "do": "pause"}))
        redis_client.rpush(key, json.dumps({"job": job_id, "by": "h:1", "do": "resume"}))
        redis_client.rpush(key, json.dumps({"job": job_id, "by": "h:1", "do": "pause"}))
        wait_until(lambda: _status(asker, job_id).status is tq.TransferStatus.PAUSED, "paused")
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith(f"job {job_id}: resume requested by h:1, but not done here") for m in messages
    ), messages
    assert f"job {job_id} pause requested by h:1 (another process)" in messages
    assert "job transfer-unknown: pause requested by h:1, but it is not running here" in messages
    gate.release_all()
    asker.resume_job(job_id)
    assert asker.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_the_registry_says_paused(redis_url: str, asker: tq.TransferQueue) -> None:
    """Another queue of the cluster reads the paused job from Redis (checked on the way
    in, as everything from Redis): paused, and still among the active ids."""
    gate = GatedExecutor()
    job_id = asker.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    asker.pause_job(job_id)
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as reader:
        wait_until(lambda: _status(reader, job_id).status is tq.TransferStatus.PAUSED, "paused")
        assert job_id in reader.get_active_job_ids()
        gate.release_all()
        asker.resume_job(job_id)
        assert reader.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_a_file_waiting_for_its_cluster_slot_gives_it_up_when_paused(
    redis_url: str,
) -> None:
    """The cluster's one slot is taken; the second job's file waits for it. Paused, the
    job gives the wait up (its file never started, none of its attempts counted); the
    slot, once free, serves a third job; resumed, the second runs."""
    # Two seats in this process, one slot in the cluster: the second file takes a seat
    # and waits there for the slot.
    backend = RedisBackend(redis_url, namespace="q", local_limit=2)
    with tq.TransferQueue(1, backend=backend) as queue:
        gate = GatedExecutor()
        first = queue.queue_job("s3-upload", make_files(1, prefix="a"), gate)
        gate.wait_running(1)
        second = queue.queue_job("s3-upload", make_files(1, prefix="b"), gate)
        queue.pause_job(second)
        third = queue.queue_job("s3-upload", make_files(1, prefix="c"), gate)
        gate.release("src/a-0")
        gate.wait_started(2)
        assert gate.started[1] == "src/c-0"
        gate.release("src/c-0")
        assert queue.wait(third, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        assert queue.wait(first, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        paused = _status(queue, second)
        assert paused.status is tq.TransferStatus.PAUSED
        assert paused.files[0].attempts == 0
        queue.resume_job(second)
        gate.release_all()
        assert queue.wait(second, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_a_backend_serving_a_queue_that_takes_no_pauses_logs_them(
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A queue made before pausing existed attaches without on_pause_request: a pause
    request for it is logged and dropped; cancels still reach it."""
    cancels: list[tuple[str, str]] = []
    backend = RedisBackend(redis_url, namespace="q")
    backend.attach(
        1,
        None,
        None,
        on_cancel_request=lambda job_id, by: cancels.append((job_id, by)),
        has_unfinished_jobs=lambda: False,
        on_owner_lost=lambda job_ids, message, error_type: None,
        current_jobs=list,
    )
    try:
        with caplog.at_level(logging.INFO, logger="transferqueue"):
            backend._on_request("transfer-x", "h:1", "pause")
            backend._on_request("transfer-x", "h:1", "cancel")
        assert "job transfer-x: pause requested by h:1, but this queue takes none" in [
            record.getMessage() for record in caplog.records
        ]
        assert cancels == [("transfer-x", "h:1")]
    finally:
        backend.shutdown()


def test_a_job_resumed_while_its_executor_stops_still_runs_after_shutdown(
    redis_url: str,
) -> None:
    """Paused, the executor is slow to stop; the job is resumed meanwhile and the queue
    shut down without waiting (queued files still run): the worker whose executor
    stopped runs the file again, and the job completes."""
    executor = SlowToStop()
    queue = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q"))
    try:
        job_id = queue.queue_job("s3-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)
        queue.pause_job(job_id)
        assert executor.told.wait(WAIT)
        queue.resume_job(job_id)
        queue.shutdown(wait=False)
        executor.go_on.set()
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        assert executor.attempts == [1, 2]
    finally:
        executor.go_on.set()
        queue.shutdown(cancel_jobs=True)


def test_a_file_waiting_out_a_redis_outage_gives_its_seat_back_when_paused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis is away: a file waits for its cluster-wide slot, asking again with backoff.
    Paused, its job gives that wait up at once (the seat is free while Redis is still
    away); once Redis is back and the job resumed, the file runs."""
    server = start_redis_server()
    port = server.port
    try:
        queue = tq.TransferQueue(1, backend=RedisBackend(server.url, namespace="q"))
        with caplog.at_level(logging.INFO, logger="transferqueue"):
            server.stop()
            job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)
            wait_until(
                lambda: any(
                    "waits for a cluster-wide slot" in r.getMessage() for r in caplog.records
                ),
                "the fault was logged",
            )
            queue.pause_job(job_id)
            wait_until(lambda: queue._running == 0, "the paused file gave its seat back")
            paused = _status(queue, job_id)
            assert paused.status is tq.TransferStatus.PAUSED
            assert paused.files[0].status is tq.TransferFileStatus.QUEUED
            assert paused.files[0].attempts == 0
            server = start_redis_server(port)
            queue.resume_job(job_id)
            assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        queue.shutdown()
    finally:
        server.stop()


class _StopsAtThePause:
    """An executor whose first call stops at its job's pause; later calls end once
    ``go`` is set."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()
        self.calls = 0

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert on_progress.wait_stopped(WAIT)
            on_progress.raise_if_stopped()
        assert self.go.wait(WAIT)


def _registry_status(reader: tq.TransferQueue, job_id: str) -> tq.TransferStatus:
    return _status(reader, job_id).status


def _paused_here(owner_queue: tq.TransferQueue, job_id: str) -> bool:
    job = _status(owner_queue, job_id)
    return job.status is tq.TransferStatus.PAUSED and all(
        file.status is tq.TransferFileStatus.QUEUED for file in job.files
    )


def _before_the_second_step(
    monkeypatch: pytest.MonkeyPatch, asker: tq.TransferQueue, meanwhile: Callable[[], None]
) -> None:
    """Run ``meanwhile`` once the asker has sent its request, before its wait first
    looks (its first step: the sweep request_pause makes before it sends is the first)."""
    backend = asker._backend
    assert isinstance(backend, RedisBackend)
    sweep = backend._sweep_if_due
    steps: list[int] = []

    def step() -> None:
        steps.append(1)
        if len(steps) == 2:
            meanwhile()
        sweep()

    monkeypatch.setattr(backend, "_sweep_if_due", step)


def test_a_resumed_job_that_completes_before_the_asker_looks_was_resumed(
    redis_url: str,
    asker: tq.TransferQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """resume_job of another process's job returns although the job completed before
    the asker looked at it: it was resumed first (its events say so)."""
    executor = _StopsAtThePause()
    executor.go.set()
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as owner_queue:
        job_id = owner_queue.queue_job("s3-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)
        owner_queue.pause_job(job_id)
        wait_until(lambda: _paused_here(owner_queue, job_id), "the file stopped")
        wait_until(lambda: _registry_status(asker, job_id) is tq.TransferStatus.PAUSED, "paused")

        def completed() -> None:
            assert owner_queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED

        _before_the_second_step(monkeypatch, asker, completed)
        asker.resume_job(job_id)
    assert executor.calls == 2


def test_a_pause_that_another_process_undid_at_once_was_done(
    redis_url: str,
    asker: tq.TransferQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pause_job of another process's job returns although, by the time the asker
    looked, a third party had resumed the job: it was paused (its events say so)."""
    executor = _StopsAtThePause()
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as owner_queue:
        job_id = owner_queue.queue_job("s3-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)

        def resumed_at_once() -> None:
            wait_until(lambda: _paused_here(owner_queue, job_id), "paused by the request")
            owner_queue.resume_job(job_id)
            wait_until(
                lambda: _registry_status(asker, job_id) is tq.TransferStatus.ACTIVE,
                "the registry says active again",
            )

        _before_the_second_step(monkeypatch, asker, resumed_at_once)
        asker.pause_job(job_id)
        executor.go.set()
        assert owner_queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


def test_a_paused_job_cancelled_before_its_resume_is_a_state_error(
    redis_url: str,
    asker: tq.TransferQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job was cancelled, never resumed, before the asker looked: resume_job
    raises JobStateError with the status it reached."""
    executor = _StopsAtThePause()
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as owner_queue:
        job_id = owner_queue.queue_job("s3-upload", make_files(1), executor)
        assert executor.started.wait(WAIT)
        owner_queue.pause_job(job_id)
        wait_until(lambda: _paused_here(owner_queue, job_id), "the file stopped")
        owner_backend = owner_queue._backend
        assert isinstance(owner_backend, RedisBackend)
        # The owner cancels instead of resuming: as if a cancel had come first.
        monkeypatch.setattr(
            owner_backend, "_on_pause_request", lambda job, by, action: owner_queue.cancel_job(job)
        )
        with pytest.raises(tq.JobStateError, match="it is cancelled") as raised:
            asker.resume_job(job_id)
        assert raised.value.status == "cancelled"


def test_waiting_for_a_status_reads_the_jobs_events(asker: tq.TransferQueue) -> None:
    """The wait reads the events after the entry given, past the statuses it does not
    want, to the first it wants or a terminal one; a job the registry does not have is
    no job."""
    backend = asker._backend
    assert isinstance(backend, RedisBackend)
    registry = backend._registry
    gate = GatedExecutor()
    job_id = asker.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    steps: list[int] = []

    def step() -> None:  # the job goes on only once the wait has read its first events
        steps.append(1)
        if len(steps) == 2:
            gate.release_all()

    paused = frozenset({"paused"})
    assert registry.wait_for_status(job_id, b"0-0", paused, WAIT, step) == "completed"
    assert len(steps) >= 2
    with pytest.raises(tq.JobNotFoundError):
        registry.wait_for_status("transfer-1-2-abcdefabcdef", b"0-0", paused, WAIT, lambda: None)
