"""The shared registry. Every job's snapshot is in Redis as JSON,
written by its owner (coalesced like its events), read by every process of the cluster:
``get_job``, ``get_all_jobs``, ``get_active_job_ids`` and ``wait`` work for any job, ids
stay unique across processes, retention applies to the registry, and what Redis holds is
checked before use (hostile entries are skipped with a warning)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, start_redis_server, wait_until
from tests.helpers.worker_process import PROCESS_TIMEOUT, ROOT, Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend, RedisUnavailableError

ID_PATTERN = re.compile(r"transfer-\d+-\d+-[0-9a-f]{12}")


@pytest.fixture
def reader(redis_url: str) -> Iterator[tq.TransferQueue]:
    """A queue of the cluster "q" that queues nothing itself: it reads the others' jobs."""
    queue = tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace="q"))
    try:
        yield queue
    finally:
        queue.shutdown(cancel_jobs=True)


def owner(redis_url: str, jobs: int, files: int) -> tuple[Worker, list[str]]:
    """A process that owns ``jobs`` jobs of ``files`` files, held until ``q:test:go``."""
    worker = Worker("own", redis_url, "q", jobs, files, module="tests.helpers.redis_queue_worker")
    ids = []
    for _ in range(jobs):
        kind, job_id = worker.read_line().split()
        assert kind == "job"
        ids.append(job_id)
    return worker, ids


def ended(worker: Worker) -> tq.TransferJob:
    """The owner's own terminal snapshot of its next job, as it printed it."""
    kind, _, data = worker.read_line().partition(" ")
    assert kind == "ended"
    return tq.TransferJob.from_dict(json.loads(data))


def test_another_processs_job_is_seen_waited_for_and_equal_to_the_owners(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    """A job queued by another process is known here the moment its id is handed out,
    follows its progress (each file half done, then complete), is listed among the
    cluster's active jobs, and ``wait`` returns its terminal snapshot: equal to the
    owner's own, a frozen record like any other."""
    worker, [job_id] = owner(redis_url, 1, 3)
    workers.append(worker)
    assert ID_PATTERN.fullmatch(job_id), job_id
    first = reader.get_job(job_id)
    assert first is not None
    assert first.status in (tq.TransferStatus.QUEUED, tq.TransferStatus.ACTIVE)
    assert first.progress.total_files == 3

    def two_half_done() -> bool:
        job = reader.get_job(job_id)
        return job is not None and job.progress.loaded_bytes == 10

    wait_until(two_half_done, "two files half done (the limit is 2)")
    assert reader.get_active_job_ids() == [job_id]
    [listed] = reader.get_all_jobs()
    assert listed.id == job_id
    assert [f.status.value for f in listed.files] == ["transferring", "transferring", "queued"]

    with pytest.raises(TimeoutError, match=f"transfer job {job_id} did not finish within 0.2 s"):
        reader.wait(job_id, timeout=0.2)
    redis_client.set("q:test:go", 1)
    waited = reader.wait(job_id, timeout=WAIT)
    assert waited == ended(worker)
    assert isinstance(waited, tq.TransferJob)
    assert waited.status is tq.TransferStatus.COMPLETED
    assert waited.files[0].loaded == 10
    with pytest.raises(AttributeError):
        waited.status = tq.TransferStatus.FAILED  # type: ignore[misc]
    worker.finish()
    assert reader.get_active_job_ids() == []
    assert reader.get_job(job_id) == waited
    with pytest.raises(tq.JobNotFoundError):
        reader.wait("transfer-1-1-000000000000", timeout=1)


def test_the_cluster_lists_every_job_oldest_first_this_processs_own_as_they_stand(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    workers: list[Worker],
) -> None:
    gate = GatedExecutor()
    reader.update_concurrency_limit(4)  # room for all four
    mine_first = reader.queue_job("s3-upload", make_files(1, prefix="mine"), gate)
    worker, theirs = owner(redis_url, 2, 1)
    workers.append(worker)
    mine_last = reader.queue_job("s3-upload", make_files(1, prefix="last"), gate)
    order = [mine_first, *theirs, mine_last]
    assert [job.id for job in reader.get_all_jobs()] == order
    assert reader.get_active_job_ids() == order
    gate.wait_running(2)
    mine = reader.get_job(mine_first)
    assert mine is not None
    assert mine.files[0].status is tq.TransferFileStatus.TRANSFERRING  # as it stands here
    redis_client.set("q:test:go", 1)
    gate.release_all()
    for job_id in order:
        assert reader.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    ended(worker)
    ended(worker)
    worker.finish()
    assert reader.get_active_job_ids() == []
    assert [job.id for job in reader.get_all_jobs()] == order


def test_progress_writes_are_coalesced_not_one_per_on_progress_call(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """2,000 files x 25 on_progress calls each (50,000 calls) at an update interval of
    0.1 s: the registry gets one write per interval (plus the status changes), counted
    by Redis itself (XADD, two per written event), not one per call."""
    calls = 25

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for step in range(1, calls + 1):
            on_progress(file.size * step // calls)

    redis_client.config_resetstat()
    backend = RedisBackend(redis_url, namespace="q", local_limit=8)
    with tq.TransferQueue(8, backend=backend) as queue:
        started = time.monotonic()
        job = queue.wait(queue.queue_job("s3-upload", make_files(2000, size=1000), executor))
        elapsed = time.monotonic() - started
    assert job.status is tq.TransferStatus.COMPLETED
    stats = redis_client.info("commandstats")
    stored = redis_client.hget(f"q:job:{job.id}", "seq")
    assert stored is not None
    events = int(stored)  # the number of the last event written
    assert events <= elapsed / 0.1 * 1.5 + 5, (events, elapsed)
    # Two XADDs per event written (the job's stream and the namespace's): events 0 (the
    # creation, skipped when an update overtook it) to the last.
    assert stats["cmdstat_xadd"]["calls"] in (2 * events, 2 * events + 2)
    assert tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")).get_job(
        job.id
    ) == queue.get_job(job.id)


def test_a_job_stream_is_trimmed_and_expires_after_the_job_ended(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """At update interval 0 every change is an event: 1,500 of them leave the stream at
    about its length of 1,000 entries; once the job ended it expires (in 300 s)."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for loaded in range(1, 1501):
            on_progress(loaded)

    backend = RedisBackend(redis_url, namespace="q")
    with tq.TransferQueue(1, update_interval=0, backend=backend) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(1, size=1500), executor))
    stream = f"q:events:{job.id}"
    assert 1000 <= redis_client.xlen(stream) < 1200
    assert 0 < redis_client.pttl(stream) <= 300_000
    assert redis_client.ttl(f"q:job:{job.id}") == -1  # the job itself stays (retention decides)


def test_retention_applies_to_the_registry(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
) -> None:
    """An owner that keeps 2 finished jobs trims the registry to the cluster's newest 2
    as its jobs end (hash and stream gone with the id); cleanup_old_jobs anywhere
    forgets finished jobs in the registry, never unfinished ones."""
    gate = GatedExecutor()
    early = [reader.queue_job("s3-upload", make_files(1), noop_executor) for _ in range(2)]
    for job_id in early:
        reader.wait(job_id)
    backend = RedisBackend(redis_url, namespace="q")
    with tq.TransferQueue(2, max_finished_jobs=2, backend=backend) as keeper:
        kept = [keeper.queue_job("s3-upload", make_files(1), noop_executor) for _ in range(2)]
        for job_id in kept:
            keeper.wait(job_id)
        running = keeper.queue_job("s3-upload", make_files(1), gate)
        gate.wait_running(1)
        # Both kept ran at once (limit 2): which ended first is not the point.
        assert set(redis_client.zrange("q:finished", 0, -1)) == {job_id.encode() for job_id in kept}
        for job_id in early:
            assert not redis_client.exists(f"q:job:{job_id}", f"q:events:{job_id}")
        # This process still has its own two: local retention is its own.
        assert [job.id for job in reader.get_all_jobs()] == [*early, *kept, running]

        assert reader.cleanup_old_jobs(0) == 4  # its own two and the keeper's two
        assert [job.id for job in reader.get_all_jobs()] == [running]
        assert redis_client.zrange("q:jobs", 0, -1) == [running.encode()]
        # The keeper still knows its own finished jobs, as any process does.
        assert [job.id for job in keeper.get_all_jobs()] == [*kept, running]
        assert reader.cleanup_old_jobs(3600) == 0
        gate.release_all()


def test_a_reader_with_max_finished_age_trims_on_read(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    backend = RedisBackend(redis_url, namespace="q")
    with tq.TransferQueue(2, backend=backend) as owner_queue:
        job_id = owner_queue.queue_job("s3-upload", make_files(1), noop_executor)
        owner_queue.wait(job_id)
    reader = tq.TransferQueue(2, max_finished_age=0, backend=RedisBackend(redis_url, namespace="q"))
    assert reader.get_job(job_id) is None
    assert not redis_client.exists(f"q:job:{job_id}")
    reader.shutdown()


HOSTILE = [
    ("not-json", {"head": b"\xff{"}, "head is not JSON"),
    ("deep", {"head": b"[" * 100_000}, "head is not JSON"),
    ("no-head", {"owner": b"x"}, "the hash has no head"),
    ("unknown-field", {"head": "HEAD", "f:0": "FILE", "evil": "1"}, "unknown field b'evil'"),
    ("padded-index", {"head": "HEAD", "f:00": "FILE"}, "unknown field b'f:00'"),
    ("missing-file", {"head": "HEAD", "f:1": "FILE"}, "file 0 of 1 is missing"),
    ("two-files", {"head": "HEAD", "f:0": "FILE", "f:1": "FILE"}, "has 2 files but"),
    ("nan-speed", {"head": "HEAD:NaN", "f:0": "FILE"}, "bytes_per_second must be a finite"),
    ("too-loaded", {"head": "HEAD", "f:0": "FILE:11"}, "files[0].loaded (11) exceeds"),
    ("other-id", {"head": "HEAD:other", "f:0": "FILE"}, "holds job 'transfer-other'"),
    ("naive-time", {"head": "HEAD:naive", "f:0": "FILE"}, "job.created_at must be an ISO"),
    ("bool-size", {"head": "HEAD", "f:0": "FILE:bool"}, "files[0].size must be an int"),
    ("ended-bad-file", {"head": "HEAD:ended", "f:0": "FILE:11"}, "files[0].loaded (11)"),
]


def hostile_fields(job_id: str, fields: dict[str, object]) -> dict[str, object]:
    """The fields with HEAD and FILE placeholders made into a valid head and file, then
    spoiled as the placeholder's suffix says."""
    made: dict[str, object] = {}
    for name, value in fields.items():
        if isinstance(value, str) and value.startswith("HEAD"):
            head = {
                "id": job_id,
                "type": "s3-upload",
                "status": "active",
                "progress": {
                    "total_files": 1,
                    "completed_files": 0,
                    "failed_files": 0,
                    "total_bytes": 10,
                    "loaded_bytes": 0,
                    "percentage": 0,
                    "bytes_per_second": None,
                    "eta_seconds": None,
                },
                "created_at": "2026-01-01T00:00:00+00:00",
                "started_at": None,
                "completed_at": None,
                "error": None,
            }
            spoil = value[5:]
            text = json.dumps(head)
            if spoil == "NaN":
                text = text.replace('"bytes_per_second": null', '"bytes_per_second": NaN')
            elif spoil == "other":
                text = text.replace(job_id, "transfer-other")
            elif spoil == "naive":
                text = text.replace("+00:00", "")
            elif spoil == "ended":
                text = text.replace('"status": "active"', '"status": "completed"')
            made[name] = text
        elif isinstance(value, str) and value.startswith("FILE"):
            file = {
                "source_path": "a",
                "destination_path": "b",
                "size": 10,
                "loaded": 11 if value == "FILE:11" else 0,
                "status": "queued",
                "error": None,
                "attempts": 0,
                "retry_at": None,
                "error_type": None,
            }
            if value == "FILE:bool":
                file["size"] = True
            made[name] = json.dumps(file)
        else:
            made[name] = value
    return made


def test_hostile_entries_in_redis_are_skipped_with_a_warning(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Entries no queue wrote, put straight into Redis: each malformed job is left out of
    the listing and read as unknown, with a WARNING that names it and the problem; the
    well-formed job beside them is listed; ids that no queue makes are skipped too."""
    good = reader.queue_job("s3-upload", make_files(1), noop_executor)
    reader.wait(good)
    for number, (name, fields, _) in enumerate(HOSTILE):
        job_id = f"transfer-{name}"
        redis_client.zadd("q:jobs", {job_id: number})
        redis_client.zadd("q:active", {job_id: number})
        redis_client.hset(f"q:job:{job_id}", mapping=hostile_fields(job_id, fields))  # type: ignore[arg-type]
    redis_client.zadd("q:jobs", {"transfer-a-string": 90, "two words": 92})
    redis_client.zadd("q:jobs", {b"\xff\xfe": 91})
    redis_client.set("q:job:transfer-a-string", "not a hash")
    redis_client.zadd("q:active", {b"\xff\xfe": 93})

    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        assert [job.id for job in reader.get_all_jobs()] == [good]
        for name, _, _ in HOSTILE:
            assert reader.get_job(f"transfer-{name}") is None
        assert reader.get_job("transfer-a-string") is None
        active = reader.get_active_job_ids()
        for malformed in ("transfer-not-json", "transfer-ended-bad-file"):
            with pytest.raises(tq.JobNotFoundError):
                reader.wait(malformed, timeout=WAIT)
    assert active == [f"transfer-{name}" for name, _, _ in HOSTILE]  # ids only: still listed
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name, _, problem in HOSTILE:
        found = [m for m in messages if f"skipped job transfer-{name} in Redis" in m]
        assert found, name
        assert problem in found[0], (name, found[0])
    assert any("transfer-a-string in Redis: WRONGTYPE" in m for m in messages)
    assert any("no queue makes: b'\\xff\\xfe'" in m for m in messages)
    assert any("no queue makes: b'two words'" in m for m in messages)


FORK_IDS = textwrap.dedent(
    """
    import os, sys
    from freezegun import freeze_time
    import transferqueue as tq
    from transferqueue.redis import RedisBackend

    FILES = [{"source_path": "a", "destination_path": "b", "size": 1}]
    with freeze_time("2026-01-01"):
        queue = tq.TransferQueue(1, backend=RedisBackend(sys.argv[1], namespace="ids"))
        read, write = os.pipe()
        pid = os.fork()
        job_id = queue.queue_job("s3-upload", FILES, lambda f, p: None)
        queue.wait(job_id)
        if pid == 0:
            os.write(write, job_id.encode())
            os._exit(0)
        os.waitpid(pid, 0)
        print(job_id, os.read(read, 200).decode())
        print(len(queue.get_all_jobs()))
        queue.shutdown()
    """
)


def test_job_ids_stay_unique_across_processes_even_after_fork_at_a_frozen_clock(
    redis_url: str,
) -> None:
    """Parent and forked child make their first job after the fork at the same (frozen)
    millisecond with the same counter: the ids still differ (each process has a token
    of its own), and both jobs are in the registry."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_IDS, redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids, count = done.stdout.splitlines()
    parent, child = ids.split()
    assert parent != child
    assert parent.rsplit("-", 1)[0] == child.rsplit("-", 1)[0]  # same time and counter
    assert ID_PATTERN.fullmatch(parent)
    assert ID_PATTERN.fullmatch(child)
    assert count == "2"


def test_events_written_while_redis_is_away_are_written_whole_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server goes away while a job runs and comes back empty: the failed writes are
    logged once, reads raise RedisUnavailableError meanwhile, and the job's next events
    write it whole again, so another process reads every file of it."""
    server = start_redis_server()
    port = server.port
    gate = GatedExecutor()
    try:
        owner_queue = tq.TransferQueue(2, backend=RedisBackend(server.url, namespace="q"))
        with caplog.at_level(logging.INFO, logger="transferqueue"):
            job_id = owner_queue.queue_job("s3-upload", make_files(3), gate)
            gate.wait_running(2)
            server.stop()
            gate.release("src/file-0")  # a change, written while the server is away

            def logged(text: str) -> bool:
                return any(text in r.getMessage() for r in caplog.records)

            wait_until(partial(logged, "could not write job events"), "a write failed")
            with pytest.raises(RedisUnavailableError):
                owner_queue.get_all_jobs()
            server = start_redis_server(port)
            gate.release_all()
            owner_queue.wait(job_id, timeout=WAIT)
            reader = tq.TransferQueue(1, backend=RedisBackend(server.url, namespace="q"))
            job = reader.wait(job_id, timeout=WAIT)
            assert job == owner_queue.get_job(job_id)
            assert job.status is tq.TransferStatus.COMPLETED
            assert logged("job events are written to Redis again")
            failures = [r for r in caplog.records if "could not write" in r.getMessage()]
            assert [r.levelno for r in failures] == [logging.WARNING]
            reader.shutdown()
        owner_queue.shutdown()
    finally:
        gate.release_all()
        server.stop()


def test_a_wait_whose_job_is_forgotten_meanwhile_raises_job_not_found(
    redis_url: str,
    reader: tq.TransferQueue,
    workers: list[Worker],
    redis_client: redis.Redis,
) -> None:
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)

    def half_done() -> bool:  # after which the owner writes nothing until told to go on
        job = reader.get_job(job_id)
        return job is not None and job.progress.loaded_bytes == 5

    wait_until(half_done, "the file half done")
    failures: list[BaseException] = []
    waiting = threading.Event()

    def wait() -> None:
        waiting.set()
        try:
            reader.wait(job_id, timeout=WAIT)
        except BaseException as exc:  # noqa: BLE001 - checked below
            failures.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiting.wait(WAIT)
    redis_client.delete(f"q:job:{job_id}")
    waiter.join(WAIT)
    assert [type(exc) for exc in failures] == [tq.JobNotFoundError]


def test_a_job_that_redis_lost_is_written_whole_with_its_next_event(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis forgets everything (a restart without its data) while a job runs: its next
    event, which changed one file only, finds the job missing and writes it whole, so
    that other processes read it complete again, and its end as well."""
    gate = GatedExecutor()
    reader.update_concurrency_limit(3)
    backend = RedisBackend(redis_url, namespace="q")
    with tq.TransferQueue(3, backend=backend) as owner_queue:
        job_id = owner_queue.queue_job("s3-upload", make_files(3), gate)
        gate.wait_running(3)

        def transferring(count: int) -> bool:
            job = reader.get_job(job_id)
            return job is not None and job.files[-1].status.value == "transferring"

        wait_until(partial(transferring, 3), "the job written, every file transferring")
        redis_client.flushall()
        gate.release("src/file-0")

        def file_0_completed() -> bool:
            job = reader.get_job(job_id)
            return job is not None and job.files[0].status is tq.TransferFileStatus.COMPLETED

        wait_until(file_0_completed, "the job written again")
        job = reader.get_job(job_id)
        assert job is not None
        assert [f.status.value for f in job.files] == ["completed", "transferring", "transferring"]
        gate.release_all()
        assert reader.wait(job_id, timeout=WAIT) == owner_queue.wait(job_id)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "job" in r.msg]


def test_a_key_of_another_type_refuses_the_write_until_it_is_gone(
    redis_url: str,
    redis_client: redis.Redis,
    reader: tq.TransferQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Something else wrote a string where the registry keeps its list of jobs: the
    owner's writes are refused whole (nothing half-written), logged once, and the job is
    written whole once the key is gone; scripts the server forgot (SCRIPT FLUSH) are
    loaded again."""
    gate = GatedExecutor()
    redis_client.set("q:jobs", "not a sorted set")
    with caplog.at_level(logging.INFO, logger="transferqueue"):
        job_id = reader.queue_job("s3-upload", make_files(2), gate)
        gate.wait_running(2)
        assert not redis_client.exists(f"q:job:{job_id}")
        redis_client.delete("q:jobs")
        redis_client.script_flush()
        gate.release("src/file-0")

        def written() -> bool:
            job = reader._backend.read_job(job_id) if reader._backend else None
            return job is not None and job.files[0].status is tq.TransferFileStatus.COMPLETED

        wait_until(written, "the job written whole")
        gate.release_all()
        reader.wait(job_id, timeout=WAIT)
    failures = [r.getMessage() for r in caplog.records if "could not write" in r.getMessage()]
    assert len(failures) == 1
    assert "the key q:jobs holds a string, not a zset" in failures[0]
    assert any("written to Redis again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("key", ["q:jobs", "q:finished"])
def test_an_index_key_of_another_type_fails_reads_with_a_clear_error(
    redis_url: str,
    redis_client: redis.Redis,
    key: str,
) -> None:
    """The registry's lists themselves are not entries to skip: reading them fails with
    RedisBackendError naming the server and the problem."""
    from transferqueue.redis import RedisBackendError

    redis_client.set(key, "not a sorted set")
    queue = tq.TransferQueue(1, max_finished_jobs=5, backend=RedisBackend(redis_url, namespace="q"))
    with pytest.raises(RedisBackendError, match=f"Redis at {re.escape(redis_url)} refused"):
        queue.get_all_jobs()
    queue.shutdown()


def test_queue_job_writes_its_job_while_the_event_thread_writes_another(
    redis_url: str,
    reader: tq.TransferQueue,
) -> None:
    """Writes of different jobs do not wait for each other: a ``queue_job`` writes its
    job (and returns, the job readable by the cluster) while the event thread's write of
    another job's events is still on its way to Redis."""
    backend = RedisBackend(redis_url, namespace="q")
    queue = tq.TransferQueue(2, backend=backend)
    connection = backend._registry._connection
    real_run_scripts = connection.run_scripts
    in_write, go_on = threading.Event(), threading.Event()
    event_thread_writes: list[str] = []
    gate = GatedExecutor()

    def run_scripts(what: str, calls: Any) -> list[Any]:
        if threading.current_thread() is not threading.main_thread() and what.startswith("writing"):
            event_thread_writes.append(what)
            if len(event_thread_writes) == 1:
                in_write.set()  # the first write of the event thread waits, in flight
                go_on.wait(WAIT)
        return real_run_scripts(what, calls)

    connection.run_scripts = run_scripts  # type: ignore[method-assign]
    first = queue.queue_job("s3-upload", make_files(2), gate)
    try:
        gate.wait_running(2)  # the files' starts are events: the event thread writes them
        assert in_write.wait(WAIT)
        queued = threading.Event()
        second_id: list[str] = []

        def queue_second() -> None:
            second_id.append(queue.queue_job("s3-upload", make_files(1), noop_executor))
            queued.set()

        threading.Thread(target=queue_second, daemon=True).start()
        assert queued.wait(WAIT), "queue_job waited for the event thread's write of another job"
        second = reader.get_job(second_id[0])  # in Redis: written before queue_job returned
        assert second is not None
        assert second.id == second_id[0]
    finally:
        go_on.set()
        gate.release_all()
    assert queue.wait(first, WAIT).status is tq.TransferStatus.COMPLETED
    assert reader.wait(second_id[0], WAIT).status is tq.TransferStatus.COMPLETED
    queue.shutdown()
