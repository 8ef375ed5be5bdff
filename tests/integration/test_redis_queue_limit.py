"""``TransferQueue(limit, backend=RedisBackend(url))`` runs at
most ``limit`` executors at once across every process of the cluster, against a real
redis-server: real worker processes (tests/helpers/redis_queue_worker.py) record what runs in
Redis; a file waiting for its cluster-wide slot can be cancelled, or shut down; the limit
changes for everyone; ``local_limit`` caps one process; a server that goes away leaves
files queued until it is back."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from functools import partial

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import (
    MISSING,
    REQUIRED,
    start_redis_server,
    wait_until,
)
from tests.helpers.worker_process import PROCESS_TIMEOUT, ROOT, Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import (
    RedisBackend,
    RedisSemaphore,
    RedisUnavailableError,
    SemaphoreState,
    Slot,
)


def state_is(semaphore: RedisSemaphore, state: SemaphoreState) -> bool:
    return semaphore.state() == state


@pytest.fixture
def holder(redis_url: str) -> Iterator[RedisSemaphore]:
    """The only slot of the namespace "q" (limit 1), held by the test itself."""
    with RedisSemaphore(redis_url, 1, namespace="q") as semaphore:
        yield semaphore


def test_three_processes_never_run_more_than_the_cluster_limit_and_use_all_of_it(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """3 processes x 50 jobs, each process allowed 2 at once (6 in all) under a cluster
    limit of 4: the executors, counting themselves in Redis, were never more than 4 at
    once, were 4 at some point (so several processes ran at once), and never more than
    2 in one process."""
    limit, local_limit, jobs = 4, 2, 50
    for _ in range(3):
        arguments = ("count", redis_url, "tq", limit, local_limit, jobs)
        workers.append(Worker(*arguments, module="tests.helpers.redis_queue_worker"))
    for worker in workers:
        assert worker.read_line() == "done"
        worker.finish()
    assert redis_client.get("tq:test:max") == str(limit).encode()
    assert redis_client.get("tq:test:ran") == str(3 * jobs).encode()
    assert redis_client.get("tq:test:running") == b"0"
    for worker in workers:
        assert redis_client.get(f"tq:test:max:{worker.process.pid}") in (b"1", b"2")
    with RedisSemaphore(redis_url, 1, namespace="tq") as semaphore:
        assert semaphore.state() == SemaphoreState(limit=limit, holders=0, waiting=0)


def test_cancelling_a_job_whose_file_waits_for_a_cluster_slot_ends_the_wait(
    redis_url: str,
    holder: RedisSemaphore,
) -> None:
    """The only slot is held elsewhere: the job's file waits in Redis's queue, still
    ``queued``. Cancelling the job ends the wait at once; the file never runs, nothing
    of it is left in Redis, and the queue's seat is free for the next job."""
    slot = holder.acquire()
    assert slot is not None
    gate = GatedExecutor()
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as queue:
        job_id = queue.queue_job("s3-upload", make_files(1), gate)
        wait_until(partial(state_is, holder, SemaphoreState(1, 1, 1)), "the file queued up")
        job = queue.get_job(job_id)
        assert job is not None
        assert job.status is tq.TransferStatus.QUEUED
        assert job.files[0].status is tq.TransferFileStatus.QUEUED
        assert job.files[0].attempts == 0

        assert queue.cancel_job(job_id)
        cancelled = queue.wait(job_id, timeout=WAIT)
        assert cancelled.status is tq.TransferStatus.CANCELLED
        assert cancelled.files[0].status is tq.TransferFileStatus.ERROR
        assert cancelled.files[0].error_type == "transferqueue.TransferCancelled"
        wait_until(partial(state_is, holder, SemaphoreState(1, 1, 0)), "the wait ended")

        slot.release()
        later = queue.queue_job("s3-upload", make_files(1, prefix="later"), noop_executor)
        assert queue.wait(later, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert gate.started == []
    assert holder.state() == SemaphoreState(1, 0, 0)


def test_shutdown_with_cancel_ends_a_wait_for_a_cluster_slot(
    redis_url: str,
    holder: RedisSemaphore,
) -> None:
    slot = holder.acquire()
    assert slot is not None
    queue = tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace="q"))
    job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
    wait_until(partial(state_is, holder, SemaphoreState(1, 1, 2)), "both files queued up")
    queue.shutdown(wait=True, cancel_jobs=True)
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is tq.TransferStatus.CANCELLED
    assert [f.attempts for f in job.files] == [0, 0]
    assert holder.state() == SemaphoreState(1, 1, 0)
    slot.release()


def test_shutdown_without_cancel_runs_the_waiting_file_once_a_slot_frees(
    redis_url: str,
    holder: RedisSemaphore,
) -> None:
    """As without a backend, shutdown() lets queued files run: it returns once the
    waiting file got its slot (released here by the other holder) and ran."""
    slot = holder.acquire()
    assert slot is not None
    queue = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q"))
    job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)
    wait_until(partial(state_is, holder, SemaphoreState(1, 1, 1)), "the file queued up")
    shutdown = threading.Thread(target=queue.shutdown)
    shutdown.start()
    wait_until(lambda: queue._closed, "shutdown began")
    with pytest.raises(tq.QueueShutdownError):
        queue.queue_job("s3-upload", make_files(1), noop_executor)
    assert shutdown.is_alive()  # it waits for the file
    slot.release()
    shutdown.join(WAIT)
    assert not shutdown.is_alive()
    assert queue.wait(job_id).status is tq.TransferStatus.COMPLETED
    assert holder.state() == SemaphoreState(1, 0, 0)


def test_the_limit_is_the_clusters_and_update_changes_it_for_every_process(
    redis_url: str,
) -> None:
    """Two queues with backends of their own share the namespace: the limit stored
    first wins; raising it in one starts the file waiting in the other; lowering it
    interrupts nothing and starts nothing until fewer run."""
    gate = GatedExecutor()
    first = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q"))
    second = tq.TransferQueue(3, backend=RedisBackend(redis_url, namespace="q"))
    try:
        assert first.concurrency_limit == second.concurrency_limit == 1
        running = first.queue_job("s3-upload", make_files(1, prefix="a"), gate)
        gate.wait_running(1)
        waiting = second.queue_job("s3-upload", make_files(1, prefix="b"), gate)
        with RedisSemaphore(redis_url, 1, namespace="q") as observer:
            wait_until(partial(state_is, observer, SemaphoreState(1, 1, 1)), "b queued up")
            first.update_concurrency_limit(2)
            gate.wait_running(2)
            assert second.concurrency_limit == 2
            assert observer.state() == SemaphoreState(2, 2, 0)

            second.update_concurrency_limit(1)  # both keep running
            third = first.queue_job("s3-upload", make_files(1, prefix="c"), gate)
            wait_until(partial(state_is, observer, SemaphoreState(1, 2, 1)), "c queued up")
            gate.release("src/a-0")
            assert first.wait(running, timeout=WAIT).status is tq.TransferStatus.COMPLETED
            # One left running: still the limit, so c waits on.
            assert observer.state() == SemaphoreState(1, 1, 1)
            gate.release("src/b-0")
            assert second.wait(waiting, timeout=WAIT).status is tq.TransferStatus.COMPLETED
            gate.release_all()
            assert first.wait(third, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        assert gate.max_running == 2
    finally:
        gate.release_all()
        first.shutdown()
        second.shutdown()


def test_local_limit_caps_what_one_process_runs(redis_url: str) -> None:
    """Cluster limit 4, this process at most 2: only 2 run; the other queue of the
    cluster gets the other 2 slots; changing the limit leaves the local cap alone."""
    gate = GatedExecutor()
    capped = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q", local_limit=2))
    other = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    try:
        capped.queue_job("s3-upload", make_files(4, prefix="capped"), gate)
        gate.wait_running(2)
        other.queue_job("s3-upload", make_files(2, prefix="other"), gate)
        gate.wait_running(4)
        assert sorted(gate.started)[:2] == ["src/capped-0", "src/capped-1"]
        capped.update_concurrency_limit(8)
        assert capped.concurrency_limit == 8
        assert capped._limit == 2
        gate.release_all()
    finally:
        gate.release_all()
        capped.shutdown()
        other.shutdown()
    assert gate.max_running == 4
    assert len(gate.started) == 6


def test_retries_and_failures_give_their_slots_back(redis_url: str) -> None:
    """A file that fails and is retried, and one that fails for good, each held a slot
    per attempt and gave it back: the job ends failed with one file retried, and no
    slot is left held."""
    attempts: list[str] = []
    lock = threading.Lock()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with lock:
            attempts.append(f"{file.source_path}#{file.attempts}")
        if file.source_path == "src/file-1" or file.attempts == 1:
            raise OSError("flaky")

    policy = tq.RetryPolicy(max_attempts=2, initial_delay=0.01, jitter=0)
    with tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q")) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(2), executor, retry=policy))
    assert job.status is tq.TransferStatus.FAILED
    assert [f.attempts for f in job.files] == [2, 2]
    assert [f.status.value for f in job.files] == ["completed", "error"]
    assert sorted(attempts) == ["src/file-0#1", "src/file-0#2", "src/file-1#1", "src/file-1#2"]
    with RedisSemaphore(redis_url, 1, namespace="q") as observer:
        assert observer.state().holders == 0


def test_a_worker_thread_that_cannot_start_fails_its_reserved_file(
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As without a backend: the file whose worker could not start fails with the
    reason, the seat comes back, and the job's other files run."""
    real_start = threading.Thread.start
    refused: list[str] = []

    def start_refusing_the_first_worker(thread: threading.Thread) -> None:
        if thread.name.startswith("transferqueue-worker") and not refused:
            refused.append(thread.name)
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_refusing_the_first_worker)
    with tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace="q")) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(3), noop_executor))
        monkeypatch.undo()
    assert refused
    assert job.status is tq.TransferStatus.FAILED
    assert job.files[0].error == "no worker thread: can't start new thread"
    assert [f.status.value for f in job.files[1:]] == ["completed"] * 2
    assert queue._running == 0


def test_files_wait_queued_while_redis_is_away_and_run_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stops while a file runs: the running file completes (its slot, which cannot
    be given back, is logged and runs out by itself); a new job's file stays ``queued``
    (not failed), its worker asking again with backoff after logging the fault once; a
    job cancelled meanwhile ends that wait; once a server answers on the same port again
    (empty: the limit is stored anew), the waiting file runs."""
    server = start_redis_server()
    port = server.port
    gate = GatedExecutor()
    try:
        queue = tq.TransferQueue(3, backend=RedisBackend(server.url, namespace="q"))
        with caplog.at_level(logging.INFO, logger="transferqueue"):
            running = queue.queue_job("s3-upload", make_files(1, prefix="running"), gate)
            gate.wait_running(1)
            server.stop()
            waiting = queue.queue_job("s3-upload", make_files(1), noop_executor)
            cancelled = queue.queue_job("s3-upload", make_files(1), noop_executor)

            def logged(count: int) -> bool:
                return [
                    r.levelno
                    for r in caplog.records
                    if "waits for a cluster-wide slot" in r.message
                ] == [logging.WARNING] * count

            wait_until(partial(logged, 2), "both faults were logged")
            assert queue.cancel_job(cancelled)
            gate.release_all()
            assert queue.wait(running, timeout=WAIT).status is tq.TransferStatus.COMPLETED
            wait_until(lambda: queue._running == 1, "the cancelled file's worker left")
            job = queue.get_job(waiting)
            assert job is not None
            assert job.files[0].status is tq.TransferFileStatus.QUEUED
            assert job.files[0].attempts == 0
            server = start_redis_server(port)
            assert queue.wait(waiting, timeout=WAIT).status is tq.TransferStatus.COMPLETED
        messages = [r.message for r in caplog.records]
        assert logged(2)  # once per file, however often it asked again
        assert sum("is unavailable" in m for m in messages) >= 2
        assert any("could not give slot" in m and "back (it runs out" in m for m in messages)
        assert any("got its cluster-wide slot again" in m for m in messages)
        queue.shutdown()
    finally:
        gate.release_all()
        server.stop()


def test_a_slot_that_comes_as_its_job_is_cancelled_goes_back_unused(
    redis_url: str,
) -> None:
    """The job is cancelled between the slot's grant and the worker's look at the job:
    the executor never runs and the slot goes back at once."""

    class CancelAsTheSlotComes(RedisBackend):
        queue: tq.TransferQueue

        def acquire_slot(self, stopped: Callable[[], bool]) -> Slot | None:
            slot = super().acquire_slot(stopped)
            for job_id in self.queue.get_active_job_ids():
                self.queue.cancel_job(job_id)
            return slot

    gate = GatedExecutor()
    backend = CancelAsTheSlotComes(redis_url, namespace="q")
    with tq.TransferQueue(1, backend=backend) as queue:
        backend.queue = queue
        job = queue.wait(queue.queue_job("s3-upload", make_files(1), gate), timeout=WAIT)
        assert job.status is tq.TransferStatus.CANCELLED
        assert job.files[0].attempts == 0
    assert gate.started == []
    with RedisSemaphore(redis_url, 1, namespace="q") as observer:
        assert observer.state() == SemaphoreState(1, 0, 0)


def test_an_unreachable_server_refuses_the_queue_naming_the_url_without_password() -> None:
    from tests.helpers.s3_server import free_port

    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    backend = RedisBackend(url, namespace="q")
    with pytest.raises(RedisUnavailableError) as caught:
        tq.TransferQueue(2, backend=backend)
    assert isinstance(caught.value, tq.TransferQueueError)
    assert "redis://user:***@127.0.0.1" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert backend.url == url.replace("hunter2", "***")


def test_one_backend_serves_one_queue(redis_url: str) -> None:
    backend = RedisBackend(redis_url, namespace="q")
    with (
        tq.TransferQueue(2, backend=backend),
        pytest.raises(RuntimeError, match="serves a queue already"),
    ):
        tq.TransferQueue(2, backend=backend)
    assert repr(backend) == f"<RedisBackend 'q' at {redis_url}>"
    assert backend.lease == 10.0
    assert backend.local_limit is None


def test_a_backend_refused_by_the_server_can_serve_a_queue_later(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """A limit key Redis holds that is no limit refuses the first queue (RedisDataError,
    naming the key); once repaired, the same backend serves a new queue."""
    from transferqueue.redis import RedisDataError

    redis_client.set("q:semaphore:limit", "many")
    backend = RedisBackend(redis_url, namespace="q")
    queue = tq.TransferQueue(2, backend=backend)  # the limit is stored only if missing
    with pytest.raises(RedisDataError, match="q:semaphore:limit"):
        queue.concurrency_limit  # noqa: B018
    queue.update_concurrency_limit(3)  # set_limit replaces what the key held
    assert queue.concurrency_limit == 3
    queue.shutdown()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"namespace": ""}, ValueError, "namespace must have 1 to 200 characters"),
        ({"lease": 0.01}, ValueError, "lease must lie between"),
        ({"local_limit": 0}, ValueError, "local_limit must be at least 1, got 0"),
        ({"local_limit": 2.0}, TypeError, "local_limit must be an int, not float"),
        ({"local_limit": True}, TypeError, "local_limit must be an int, not bool"),
    ],
)
def test_bad_backend_options_are_refused(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RedisBackend("redis://127.0.0.1:1/0", **options)  # type: ignore[arg-type]


def test_a_bad_url_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not a usable Redis URL"):
        RedisBackend("http://:secret@host/0")
    with pytest.raises(TypeError, match="a Redis URL is a str"):
        RedisBackend(b"redis://host")  # type: ignore[arg-type]


WITHOUT_BACKEND = textwrap.dedent(
    """
    import sys
    import transferqueue as tq
    with tq.TransferQueue(2) as queue:
        job = queue.wait(queue.queue_job(
            "s3-upload", [{"source_path": "a", "destination_path": "b", "size": 1}],
            lambda file, on_progress: None,
        ))
    print(job.status, "redis" in sys.modules)
    """
)


def test_a_queue_without_backend_never_imports_redis() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_BACKEND],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=True,
    )
    assert done.stdout.split() == ["completed", "False"]


def test_redis_backend_is_importable_from_both_packages() -> None:
    import transferqueue.redis

    assert tq.RedisBackend is transferqueue.redis.RedisBackend
    assert "RedisBackend" in dir(tq)
    assert "RedisBackend" in tq.__all__
    assert "RedisBackend" in transferqueue.redis.__all__


FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import transferqueue as tq
    from transferqueue.redis import RedisBackend, RedisSemaphore

    FILES = [{"source_path": "a", "destination_path": "b", "size": 1}]
    queue = tq.TransferQueue(1, backend=RedisBackend(sys.argv[1], namespace="fork"))
    parent_job = queue.wait(queue.queue_job("s3-upload", FILES, lambda f, p: None))
    # Flushed before the fork, or the child inherits the line unwritten and writes it too.
    print("parent", parent_job.status, flush=True)
    pid = os.fork()
    if pid == 0:
        observed = []
        def executor(file, on_progress):
            with RedisSemaphore(sys.argv[1], 1, namespace="fork") as observer:
                observed.append(observer.state().holders)
        job = queue.wait(queue.queue_job("s3-upload", FILES, executor), timeout=20)
        queue.shutdown()
        print("child", job.status, observed, flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    queue.shutdown()
    """
)


def test_a_forked_child_runs_its_files_under_slots_of_its_own(
    redis_url: str,
) -> None:
    """The child of a process whose queue has a backend takes its own slots (the
    parent's semaphore is refused in a child) and gives them back."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["parent completed", "child completed [1]"]
    with RedisSemaphore(redis_url, 1, namespace="fork") as observer:
        assert observer.state() == SemaphoreState(1, 0, 0)


FORK_SHUTDOWN_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    import transferqueue as tq
    from transferqueue.redis import RedisBackend, RedisSemaphore

    FILES = [{"source_path": "a", "destination_path": "b", "size": 1}]
    started, release = threading.Event(), threading.Event()

    def executor(file, on_progress):
        started.set()
        release.wait(20)

    queue = tq.TransferQueue(1, backend=RedisBackend(sys.argv[1], namespace="fork"))
    job_id = queue.queue_job("s3-upload", FILES, executor)
    started.wait(20)
    pid = os.fork()
    if pid == 0:
        queue.shutdown()
        os._exit(0)
    os.waitpid(pid, 0)
    with RedisSemaphore(sys.argv[1], 1, namespace="fork") as observer:
        print(observer.state().holders)
        release.set()
        print(queue.wait(job_id, timeout=20).status, flush=True)
        queue.shutdown()
        print(observer.state().holders)
    """
)


def test_shutting_down_in_a_forked_child_leaves_the_parents_slots_alone(
    redis_url: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK_SHUTDOWN_SCRIPT, redis_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1", "completed", "0"]
