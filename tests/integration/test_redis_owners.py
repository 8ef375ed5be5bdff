"""Owner failure. An owner (a real process, tests/helpers/redis_queue_worker.py)
killed with SIGKILL frees its slots within one lease, and its unfinished jobs become
``failed``, naming it, for every other process; one stopped past its lease (SIGSTOP) finds
its jobs failed when it resumes, stops their executors and writes nothing over them."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import cast

import attrs
import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from tests.helpers.worker_process import Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import OwnerLostError, RedisBackend, RedisSemaphore, RedisUnavailableError
from transferqueue.redis._connection import RedisConnection
from transferqueue.redis._heartbeat import Heartbeat
from transferqueue.redis._owners import Beat, Owners, fail_lost_job
from transferqueue.redis._registry import NO_RETENTION, JobRegistry, Published, Retention

LEASE = 1.0
LOST_TYPE = "transferqueue.redis.OwnerLostError"


@pytest.fixture
def reader(redis_url: str) -> Iterator[tq.TransferQueue]:
    """A queue of this process, which owns nothing: it only reads the cluster."""
    queue = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q", lease=LEASE))
    try:
        yield queue
    finally:
        queue.shutdown()


def start_owner(redis_url: str, jobs: int, files: int) -> tuple[Worker, list[str]]:
    """An owner process with a lease of LEASE, whose running files report 5 bytes each
    and hold their slots (two at once, the owner's limit)."""
    worker = Worker(
        "own", redis_url, "q", jobs, files, LEASE, module="tests.helpers.redis_queue_worker"
    )
    ids = []
    for _ in range(jobs):
        kind, job_id = worker.read_line().split()
        assert kind == "job"
        ids.append(job_id)
    return worker, ids


def holders(redis_url: str) -> int:
    with RedisSemaphore(redis_url, 1, namespace="q") as semaphore:
        return semaphore.state().holders


def owner_of(redis_client: redis.Redis, job_id: str) -> str:
    raw = redis_client.hget(f"q:job:{job_id}", "owner")
    assert raw is not None
    return cast(bytes, raw).decode()


def loaded(queue: tq.TransferQueue, job_id: str) -> int:
    job = queue.get_job(job_id)
    return -1 if job is None else job.progress.loaded_bytes


def failed_events(redis_client: redis.Redis, job_id: str) -> int:
    """How many entries of the job's stream say it failed."""
    entries = cast(
        list[tuple[bytes, dict[bytes, bytes]]], redis_client.xrange(f"q:events:{job_id}")
    )
    return sum(json.loads(fields[b"head"])["status"] == "failed" for _, fields in entries)


def assert_failed_naming(job: tq.TransferJob, owner: str) -> None:
    assert job.status is tq.TransferStatus.FAILED
    assert job.error is not None
    assert owner in job.error
    assert "was lost" in job.error
    assert job.completed_at is not None
    assert job.progress.failed_files == len(job.files)
    assert job.progress.bytes_per_second is None
    for file in job.files:
        assert file.status is tq.TransferFileStatus.ERROR
        assert file.error == job.error
        assert file.error_type == LOST_TYPE


def test_a_killed_owner_frees_its_slots_within_a_lease_and_its_jobs_fail_naming_it(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    workers: list[Worker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker, ids = start_owner(redis_url, 2, 2)
    workers.append(worker)
    # The first job's two files run (the owner's limit of 2); the second job waits.
    wait_until(lambda: loaded(reader, ids[0]) == 10, "both files run")
    assert holders(redis_url) == 2
    owner = owner_of(redis_client, ids[0])
    assert owner.split(":")[1] == str(worker.process.pid)
    watch = reader.watch(ids[1], timeout=WAIT)
    assert next(watch).status is tq.TransferStatus.QUEUED
    waited: list[tq.TransferJob] = []
    second = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q", lease=LEASE))
    try:
        # Two processes' worth of readers race to fail the jobs: only one writes each.
        waiter = threading.Thread(target=lambda: waited.append(second.wait(ids[0], WAIT)))
        caplog.set_level(logging.INFO, logger="transferqueue")
        worker.process.kill()
        killed = time.monotonic()
        waiter.start()
        wait_until(lambda: holders(redis_url) == 0, "the killed owner's slots are free")
        assert time.monotonic() - killed < LEASE * 1.5  # within one lease (and a poll)
        job = reader.wait(ids[0], timeout=WAIT)
        waiter.join(WAIT)
    finally:
        second.shutdown()
    assert_failed_naming(job, owner)
    assert waited == [job]
    snapshots = list(watch)
    assert_failed_naming(snapshots[-1], owner)
    assert reader.get_job(ids[1]) == snapshots[-1]
    assert [listed.status for listed in reader.get_all_jobs()] == [tq.TransferStatus.FAILED] * 2
    assert reader.get_active_job_ids() == []
    for job_id in ids:
        assert failed_events(redis_client, job_id) == 1
    declared = [r for r in caplog.records if r.getMessage().startswith(f"owner {owner} was lost")]
    assert len(declared) == 1
    assert declared[0].levelno == logging.WARNING
    assert "2 unfinished jobs" in declared[0].getMessage()
    assert not redis_client.smembers(f"q:owned:{owner}")
    assert not redis_client.zscore("q:owners", owner)
    assert redis_client.zscore("q:lost", owner) is not None


def test_an_owner_stopped_past_its_lease_finds_its_jobs_failed_and_writes_nothing_over_them(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    worker, (job_id,) = start_owner(redis_url, 1, 2)
    workers.append(worker)
    wait_until(lambda: loaded(reader, job_id) == 10, "both files run")
    owner = owner_of(redis_client, job_id)
    pid = worker.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        failed = reader.wait(job_id, timeout=WAIT)
        assert_failed_naming(failed, owner)
        wait_until(lambda: holders(redis_url) == 0, "the stopped owner's slots are free")
    finally:
        os.kill(pid, signal.SIGCONT)
    # Resumed, the owner learns it was declared lost: its executors are told to stop
    # (they note TransferCancelled), its own record of the job says failed too.
    ended = json.loads(worker.read_line().removeprefix("ended "))
    assert ended["status"] == "failed"
    assert owner in ended["error"]
    assert all(file["error_type"] == LOST_TYPE for file in ended["files"])
    stderr = worker.finish()
    assert f"this process, {owner}, was declared lost by its cluster" in stderr
    assert "fails the 1 unfinished jobs it owned" in stderr
    stopped = cast(list[bytes], redis_client.lrange("q:test:cancelled", 0, -1))
    assert sorted(entry.split()[0] for entry in stopped) == [b"src/0", b"src/1"]
    # Nothing it wrote after it resumed went over the failure another process wrote.
    assert reader.get_job(job_id) == failed
    assert failed_events(redis_client, job_id) == 1


def test_owner_lost_error_is_exported() -> None:
    assert OwnerLostError.__module__ == "transferqueue.redis"
    assert issubclass(OwnerLostError, tq.TransferQueueError)


# -- in one process: the settings, the decisions written straight into Redis --------------


def test_the_heartbeat_is_a_third_of_the_lease_unless_given(redis_url: str) -> None:
    assert RedisBackend(redis_url, lease=3).heartbeat == 1.0
    assert RedisBackend(redis_url, lease=0.1).heartbeat == 0.05  # the shortest
    assert RedisBackend(redis_url, lease=4, heartbeat=timedelta(seconds=2)).heartbeat == 2.0


@pytest.mark.parametrize(
    ("heartbeat", "error", "message"),
    [
        (0.01, ValueError, "heartbeat must be at least 0.05 seconds, got 0.01"),
        (5.1, ValueError, r"heartbeat must be at most half the lease \(10 s\), got 5.1"),
        (0, ValueError, "heartbeat must be longer than 0 seconds"),
        ("1", TypeError, "heartbeat"),
        (float("nan"), ValueError, "heartbeat"),
    ],
)
def test_a_heartbeat_that_makes_no_sense_is_refused(
    redis_url: str,
    heartbeat: object,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        RedisBackend(redis_url, heartbeat=heartbeat)  # type: ignore[arg-type]


class StoppableExecutor:
    """Runs until its job is told to stop; notes that it saw TransferCancelled."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped = threading.Event()

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(1)
        self.started.set()
        assert on_progress.wait_cancelled(WAIT), "never told to stop"
        try:
            on_progress(2)
        except tq.TransferCancelled:
            self.stopped.set()
            raise


def declare_lost(redis_client: redis.Redis, owner: str) -> None:
    """Do what a process that found ``owner`` silent does: declare it lost."""
    seconds, micros = redis_client.time()
    redis_client.zrem("q:owners", owner)
    redis_client.zadd("q:lost", {owner: seconds * 1000 + micros // 1000})
    redis_client.sadd("q:orphans", owner)


def owner_id(queue: tq.TransferQueue) -> str:
    backend = queue._backend
    assert isinstance(backend, RedisBackend)
    return backend.owner_id


@pytest.mark.parametrize("noticed_by", ["heartbeat", "write"])
def test_a_process_declared_lost_fails_its_jobs_and_goes_on_under_a_new_name(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    noticed_by: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As after SIGSTOP: the cluster declared this process lost. It fails the jobs it
    owned (its executors see TransferCancelled), takes a new name, and a job it queues
    after that runs as any other."""
    # A long heartbeat when a write is to notice first.
    lease = 0.6 if noticed_by == "heartbeat" else 10.0
    backend = RedisBackend(redis_url, namespace="q", lease=lease)
    executor = StoppableExecutor()
    with tq.TransferQueue(2, backend=backend) as queue:
        old = queue.queue_job(
            "s3-upload", [{"source_path": "a", "destination_path": "b", "size": 5}], executor
        )
        assert executor.started.wait(WAIT)
        lost_name = owner_id(queue)
        declare_lost(redis_client, lost_name)
        new = None
        if noticed_by == "write":
            # Its creation is refused under the lost name: it is not failed, but
            # written under the new one.
            new = queue.queue_job("s3-upload", [], executor)
            assert queue.wait(new, WAIT).status is tq.TransferStatus.COMPLETED
        assert executor.stopped.wait(WAIT)
        ended = queue.wait(old, WAIT)
        assert_failed_naming(ended, lost_name)
        assert owner_id(queue) != lost_name
        assert reader.wait(old, WAIT).status is tq.TransferStatus.FAILED
        if new is not None:
            assert reader.wait(new, WAIT).status is tq.TransferStatus.COMPLETED
            assert owner_of(redis_client, new) == owner_id(queue)
    messages = [record.getMessage() for record in caplog.records]
    assert any(f"this process, {lost_name}, was declared lost" in m for m in messages)
    assert not redis_client.zscore("q:owners", owner_id(queue))  # left the cluster at shutdown


def test_what_a_lost_owner_left_that_is_not_its_unfinished_job_is_skipped(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The set of a lost owner's jobs names a job that is gone, one that has ended, one
    that another process owns now, one that is malformed, one no queue makes; the
    owners hold a name no queue makes: each is left alone, and the set emptied."""
    executor = StoppableExecutor()
    files = [{"source_path": "a", "destination_path": "b", "size": 5}]
    backend = RedisBackend(redis_url, namespace="q", lease=LEASE)
    with tq.TransferQueue(2, backend=backend) as keeper:
        ended = keeper.queue_job("s3-upload", [], executor)
        keeper.wait(ended)
        running = keeper.queue_job("s3-upload", files, executor)
        assert executor.started.wait(WAIT)
        redis_client.hset("q:job:transfer-1-1-bad", "head", "{")
        ghost = "host:1:ghost"
        redis_client.zadd("q:owners", {ghost: 1, "a name": 1})  # leases long ended
        redis_client.sadd(
            f"q:owned:{ghost}",
            "transfer-1-1-gone",
            ended,
            running,
            "transfer-1-1-bad",
            "no such id",
        )
        # Reads look for lost owners: the ghost is suspected, then declared lost.
        wait_until(
            lambda: (
                reader.get_job(running) is not None
                and redis_client.zscore("q:lost", ghost) is not None
            ),
            "the ghost is declared lost",
        )
        wait_until(lambda: not redis_client.smembers(f"q:owned:{ghost}"), "its jobs seen to")
        assert keeper.get_job(running).status is tq.TransferStatus.ACTIVE  # type: ignore[union-attr]
        assert reader.get_job(ended).status is tq.TransferStatus.COMPLETED  # type: ignore[union-attr]
        assert redis_client.zscore("q:lost", ghost) is not None
        assert redis_client.smembers(f"q:owned:{ghost}") == set()
        keeper.cancel_job(running)
    messages = [record.getMessage() for record in caplog.records]
    assert any("an owner name in Redis that no queue makes was dropped" in m for m in messages)
    assert any("skipped a job of a lost owner in Redis that no queue makes" in m for m in messages)
    assert any("skipped job transfer-1-1-bad in Redis" in m for m in messages)


def test_an_owner_whose_lease_ended_is_suspected_first_and_cleared_by_a_heartbeat(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
) -> None:
    """As after an outage of Redis that everyone sat through: the owner's lease has
    ended, but it is only suspected; its next heartbeat clears it, and it is never
    declared lost."""
    seconds, _ = redis_client.time()
    now = seconds * 1000
    redis_client.zadd("q:owners", {"host:1:quiet": now - 5000})
    reader.get_all_jobs()  # a read looks for lost owners
    assert redis_client.zscore("q:suspects", "host:1:quiet") is not None
    assert redis_client.zscore("q:lost", "host:1:quiet") is None
    redis_client.zadd("q:owners", {"host:1:quiet": now + 60_000})  # its heartbeat, come back
    wait_until(
        lambda: not reader.get_all_jobs() and not redis_client.zscore("q:suspects", "host:1:quiet"),
        "the owner is cleared",
    )
    assert redis_client.zscore("q:lost", "host:1:quiet") is None


def test_the_heartbeat_thread_outlives_a_beat_that_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    beats: list[int] = []
    again = threading.Event()

    def beat() -> None:
        beats.append(1)
        if len(beats) == 1:
            raise ValueError("a bug")
        again.set()

    heartbeat = Heartbeat(0.01, beat)
    heartbeat.start()
    heartbeat.start()  # one thread only
    try:
        assert again.wait(WAIT)
    finally:
        heartbeat.stop()
    assert heartbeat.started
    assert any(record.getMessage() == "a heartbeat failed" for record in caplog.records)


def test_a_heartbeat_thread_that_cannot_start_is_logged_and_tried_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    beaten = threading.Event()
    heartbeat = Heartbeat(0.01, beaten.set)
    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", _refuse)
        heartbeat.start()
    assert not heartbeat.started
    assert any("no thread to send heartbeats" in r.getMessage() for r in caplog.records)
    heartbeat.start()
    try:
        assert beaten.wait(WAIT)
    finally:
        heartbeat.stop()


def _refuse(thread: threading.Thread) -> None:
    raise RuntimeError("can't start new thread")


def test_an_event_kept_for_later_is_not_overtaken_by_an_older_one(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """A write refused under a lost name is kept; should another thread then write an
    older event of the same job (queue_job writing a creation while the event thread
    wrote its end), the newer one is what gets written."""
    connection = RedisConnection(redis_url)
    registry = JobRegistry(connection, "q", 100, 60.0, Owners(connection, "q"), LEASE)
    created, ended = empty_job()
    try:
        declare_lost(redis_client, "host:1:old")
        assert registry.publish([Published(ended, 1, ())], "host:1:old", NO_RETENTION)
        assert registry.has_unpublished()
        assert not registry.publish([Published(created, 0, None)], "host:1:new", NO_RETENTION)
        assert not registry.has_unpublished()
        assert registry.read_job(created.id, NO_RETENTION) == ended
    finally:
        connection.close()


def test_an_older_event_refused_later_does_not_replace_a_newer_one_kept(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """Two threads' writes refused under a lost name, the newer event first: the newer
    is kept, and written under the new name."""
    connection = RedisConnection(redis_url)
    registry = JobRegistry(connection, "q", 100, 60.0, Owners(connection, "q"), LEASE)
    created, ended = empty_job()
    try:
        declare_lost(redis_client, "host:1:old")
        assert registry.publish([Published(ended, 1, ())], "host:1:old", NO_RETENTION)
        # The write of the other thread, which had taken what was kept before the newer
        # event was: refused too, it comes back after it.
        assert registry._write([Published(created, 0, None)], "host:1:old", NO_RETENTION, [])[1]
        assert not registry.publish([], "host:1:new", NO_RETENTION)
        assert registry.read_job(created.id, NO_RETENTION) == ended
    finally:
        connection.close()


def empty_job() -> tuple[tq.TransferJob, tq.TransferJob]:
    """A job without files, as created and as completed."""
    created = tq.TransferJob.from_dict(
        {
            "id": "transfer-1-1-aa",
            "type": "s3-upload",
            "status": "queued",
            "files": [],
            "progress": {
                "total_files": 0,
                "completed_files": 0,
                "failed_files": 0,
                "total_bytes": 0,
                "loaded_bytes": 0,
                "percentage": 100,
                "bytes_per_second": None,
                "eta_seconds": None,
            },
            "created_at": "2026-12-03T10:00:00+00:00",
            "started_at": None,
            "completed_at": None,
            "error": None,
        }
    )
    ended = attrs.evolve(
        created,
        status=tq.TransferStatus.COMPLETED,
        started_at=created.created_at,
        completed_at=created.created_at,
    )
    return created, ended


def test_a_process_declared_lost_while_idle_only_takes_a_new_name(
    redis_url: str,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = RedisBackend(redis_url, namespace="q", lease=0.6)
    with tq.TransferQueue(2, backend=backend) as queue:
        job_id = queue.queue_job("s3-upload", [], StoppableExecutor())
        assert queue.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
        lost_name = backend.owner_id
        declare_lost(redis_client, lost_name)
        wait_until(lambda: backend.owner_id != lost_name, "a new name")
        assert queue.get_job(job_id).status is tq.TransferStatus.COMPLETED  # type: ignore[union-attr]
    messages = [record.getMessage() for record in caplog.records]
    assert any("fails the 0 unfinished jobs it owned" in m for m in messages)
    assert not any("unfinished jobs failed" in m for m in messages)


def test_a_lost_owners_job_keeps_the_files_that_had_ended() -> None:
    created, _ = empty_job()
    done = tq.TransferFile("a", "b", 5, 5, tq.TransferFileStatus.COMPLETED, None, 1)
    broken = tq.TransferFile(
        "c", "d", 5, 0, tq.TransferFileStatus.ERROR, "gone", 1, None, "OSError"
    )
    running = tq.TransferFile("e", "f", 5, 2, tq.TransferFileStatus.TRANSFERRING, None, 1)
    progress = attrs.evolve(
        created.progress, total_files=3, completed_files=1, failed_files=1, total_bytes=15
    )
    job = attrs.evolve(
        created,
        status=tq.TransferStatus.ACTIVE,
        files=(done, broken, running),
        progress=progress,
        started_at=created.created_at,
    )
    failed, changed = fail_lost_job(job, "lost")
    assert changed == [2]
    assert failed.files[:2] == (done, broken)
    assert failed.files[2] == attrs.evolve(
        running, status=tq.TransferFileStatus.ERROR, error="lost", error_type=LOST_TYPE
    )
    assert failed.progress.failed_files == 2
    assert failed.status is tq.TransferStatus.FAILED


def test_redis_gone_while_failing_a_lost_owners_jobs_is_one_warning(
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The beat listed jobs of a lost owner; Redis goes away before they are failed: one
    WARNING, the rest left for the next beat (which lists them again), nothing raised to
    the heartbeat thread (whose log would call it a bug)."""
    backend = RedisBackend(redis_url, namespace="q", lease=LEASE)
    tried: list[str] = []

    def gone(job_id: str, owner: str) -> None:
        tried.append(job_id)
        raise RedisUnavailableError("gone", backend.url)

    monkeypatch.setattr(backend._registry, "fail_orphan", gone)
    orphans = [("h:1:lost", "transfer-1-1-a"), ("h:1:lost", "transfer-1-1-b")]
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        backend._reap(Beat(True, "epoch", [], orphans))
    assert tried == ["transfer-1-1-a"]
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["could not fail the jobs of lost owners yet: gone"]
    backend.close()


def test_a_job_queued_as_its_process_is_declared_lost_goes_on_under_the_new_name(
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """queue_job has counted its new job as the process's but not yet written it when
    the heartbeat finds the process declared lost: the job was never in Redis under the
    lost name (no other process fails it), so it is not failed with that name's jobs. Its
    creation, refused under the lost name, is written under the new one, and the job
    runs to its end, for this process and for the others."""
    backend = RedisBackend(redis_url, namespace="q", lease=0.6)
    registry = backend._registry
    real_publish = registry.publish
    held, go_on = threading.Event(), threading.Event()

    def held_publish(events: Sequence[Published], owner: str, retention: Retention) -> bool:
        if any(event.job.type is tq.TransferType.LOCAL_UPLOAD for event in events):
            held.set()  # the new job's creation, or its first events: none written yet
            assert go_on.wait(WAIT)
        return real_publish(events, owner, retention)

    monkeypatch.setattr(registry, "publish", held_publish)
    with (
        tq.TransferQueue(2, backend=backend) as queue,
        tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as reader,
    ):
        first = queue.queue_job("s3-upload", [], StoppableExecutor())  # starts the heartbeat
        assert queue.wait(first, WAIT).status is tq.TransferStatus.COMPLETED
        queued: list[str] = []
        gate = GatedExecutor()
        queueing = threading.Thread(
            target=lambda: queued.append(queue.queue_job("local-upload", make_files(1), gate))
        )
        queueing.start()
        try:
            assert held.wait(WAIT)
            gate.wait_running(1)
            lost_name = backend.owner_id
            declare_lost(redis_client, lost_name)
            wait_until(lambda: backend.owner_id != lost_name, "a new name")
        finally:
            go_on.set()
            queueing.join(WAIT)
            gate.release_all()
        (job_id,) = queued
        assert queue.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
        assert reader.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
