"""``watch()`` of another process's job reads the job's event stream in
Redis and behaves as a local watch: the job at once, each newer snapshot (skipping to the
latest when behind), ``changed_files``, ``event_id``, keep-alives, timeout, close; and it
copes with what it cannot trust (entries trimmed away, malformed ones, a job that goes)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from tests.helpers.worker_process import Worker

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend


@pytest.fixture
def two(redis_url: str) -> Iterator[tuple[tq.TransferQueue, tq.TransferQueue]]:
    """Two members of the cluster "q": an owner and a watcher, each with its backend."""
    owner = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    watcher = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="q"))
    try:
        yield owner, watcher
    finally:
        owner.shutdown(cancel_jobs=True)
        watcher.shutdown(cancel_jobs=True)


def changed(watch: tq.JobWatch[tq.TransferJob | None]) -> tuple[int, ...] | None:
    return watch.changed_files


def settled(watcher: tq.TransferQueue, job_id: str) -> None:
    """Until Redis shows every file of the job transferring (they start in any order),
    after which a gated job writes nothing until released."""

    def all_transferring() -> bool:
        job = watcher.get_job(job_id)
        transferring = tq.TransferFileStatus.TRANSFERRING
        return job is not None and all(file.status is transferring for file in job.files)

    wait_until(all_transferring, "every file transferring in Redis")


def stored_seq(redis_client: redis.Redis, job_id: str) -> int:
    return int(cast(bytes, redis_client.hget(f"q:job:{job_id}", "seq")))


def test_a_watch_of_another_processs_job_behaves_as_a_local_one(
    two: tuple[tq.TransferQueue, tq.TransferQueue], redis_client: redis.Redis
) -> None:
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(3), gate)
    gate.wait_running(3)
    settled(watcher, job_id)
    with watcher.watch(job_id, keepalive=0.05) as watch:
        first = next(watch)
        assert first is not None
        assert first.status is tq.TransferStatus.ACTIVE
        assert changed(watch) is None
        first_id = watch.event_id
        assert first_id == str(stored_seq(redis_client, job_id))
        assert next(watch) is None  # quiet: a keep-alive
        assert changed(watch) == ()

        gate.release("src/file-1")
        moved = next(watch)
        while moved is None or moved.files[1].status is not tq.TransferFileStatus.COMPLETED:
            moved = next(watch)
        assert 1 in (watch.changed_files or ())
        assert moved.files[0] is first.files[0]  # unchanged records are the very same
        assert int(watch.event_id or 0) > int(first_id)

        gate.release_all()
        last = [job for job in watch if job is not None][-1]
        assert watch.closed
        assert last == owner.wait(job_id)
        assert watch.event_id == str(stored_seq(redis_client, job_id))
    with pytest.raises(StopIteration):
        next(watch)


def test_a_watch_of_a_finished_job_yields_its_end_only(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
) -> None:
    owner, watcher = two
    job_id = owner.queue_job("s3-upload", make_files(2), noop_executor)
    done = owner.wait(job_id)
    assert list(watcher.watch(job_id)) == [done]
    with pytest.raises(tq.JobNotFoundError):
        watcher.watch("transfer-0-0-000000000000")


def test_a_watch_times_out_and_can_be_closed_from_another_thread(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
) -> None:
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    timed = watcher.watch(job_id, timeout=0.2)
    next(timed)
    with pytest.raises(TimeoutError, match=f"transfer job {job_id} did not finish"):
        for _ in timed:
            pass

    closed = watcher.watch(job_id)
    next(closed)
    ended = threading.Event()

    def iterate() -> None:
        for _ in closed:
            pass
        ended.set()

    reader = threading.Thread(target=iterate)
    reader.start()
    closed.close()
    assert ended.wait(WAIT)  # within a read step (a second)
    reader.join(WAIT)
    gate.release_all()


def test_entries_trimmed_away_make_the_watch_read_the_job_again(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An event the watch never read is gone from the stream: the next one does not
    follow the one it has, so it reads the job whole from the registry (every file
    reported changed), then follows the stream again."""
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(3), gate)
    gate.wait_running(3)
    settled(watcher, job_id)
    watch = watcher.watch(job_id)
    first = next(watch)
    assert first is not None
    seq = stored_seq(redis_client, job_id)
    gate.release("src/file-0")
    wait_until(lambda: stored_seq(redis_client, job_id) > seq, "the next event written")
    gate.release("src/file-1")
    wait_until(lambda: stored_seq(redis_client, job_id) > seq + 1, "one more")
    entries = cast(list[tuple[bytes, object]], redis_client.xrange(f"q:events:{job_id}", "-", "+"))
    missed = entries[-2][0]  # the one after the first snapshot's
    redis_client.xdel(f"q:events:{job_id}", missed)
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        again = next(watch)
    assert again is not None
    assert watch.changed_files is None
    assert [f.status.value for f in again.files] == ["completed", "completed", "transferring"]
    assert any("read again from the registry" in m for m in caplog.messages)
    gate.release_all()
    assert [job for job in watch if job is not None][-1].status is tq.TransferStatus.COMPLETED


@pytest.mark.parametrize(
    "fields",
    [
        {"seq": "SEQ", "head": "not json", "files": "{}"},
        {"seq": "SEQ", "head": "{}", "files": "{}"},
        {"seq": "SEQ", "head": "HEAD", "files": "[]"},
        {"seq": "SEQ", "head": "HEAD", "files": '{"7": {}}'},
        {"seq": "SEQ", "head": "HEAD", "files": '{"0": {"size": -1}}'},
        {"seq": "SEQ", "files": "{}"},
        {"seq": "x", "head": "HEAD", "files": "{}"},
    ],
)
def test_a_malformed_entry_makes_the_watch_read_the_job_again(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    fields: dict[str, str],
) -> None:
    """Entries no queue wrote, added to the job's stream: each is logged and the watch
    reads the job again from the registry; the owner's next event then comes as usual."""
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(2), gate)
    gate.wait_running(2)
    settled(watcher, job_id)
    watch = watcher.watch(job_id, keepalive=0.05)
    first = next(watch)
    assert first is not None
    seq = stored_seq(redis_client, job_id)
    head = cast(bytes, redis_client.hget(f"q:job:{job_id}", "head")).decode()
    entry = {
        name: value.replace("SEQ", str(seq + 1)).replace("HEAD", head)
        for name, value in fields.items()
    }
    redis_client.xadd(f"q:events:{job_id}", entry)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        assert next(watch) is None  # nothing newer in the registry: a keep-alive
    assert any("read again from the registry" in m for m in caplog.messages), caplog.messages
    gate.release_all()
    assert [job for job in watch if job is not None][-1] == owner.wait(job_id)


def test_a_watch_whose_job_goes_from_the_registry_ends(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    watch = watcher.watch(job_id)
    next(watch)
    redis_client.delete(f"q:job:{job_id}")
    redis_client.xadd(f"q:events:{job_id}", {"seq": "999", "head": "{}", "files": "{}"})
    with caplog.at_level(logging.WARNING, logger="transferqueue"), pytest.raises(StopIteration):
        next(watch)
    assert f"job {job_id} is not in the registry any more: its watch ends" in caplog.messages
    assert watch.closed
    gate.release_all()


def test_a_job_whose_event_number_is_malformed_cannot_be_watched(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    owner, watcher = two
    job_id = owner.queue_job("s3-upload", make_files(1), noop_executor)
    owner.wait(job_id)
    redis_client.hset(f"q:job:{job_id}", "seq", "many")
    with (
        caplog.at_level(logging.WARNING, logger="transferqueue"),
        pytest.raises(tq.JobNotFoundError),
    ):
        watcher.watch(job_id)
    assert f"skipped job {job_id} in Redis: its event number is malformed" in caplog.messages


def test_a_watch_follows_a_job_of_another_real_process_to_its_end(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """The owner is another process (tests/helpers/redis_queue_worker.py): the watch here yields
    its job as it moves, and the end equals the owner's own terminal snapshot."""
    worker = Worker("own", redis_url, "q", 1, 2, module="tests.helpers.redis_queue_worker")
    workers.append(worker)
    kind, job_id = worker.read_line().split()
    assert kind == "job"
    watcher = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="q"))
    seen = []
    for job in watcher.watch(job_id, timeout=WAIT):
        seen.append(job)
        if job.progress.loaded_bytes == 10:  # both files half done: let them end
            redis_client.set("q:test:go", 1)
    kind, _, data = worker.read_line().partition(" ")
    assert seen[-1] == tq.TransferJob.from_dict(json.loads(data))
    assert seen[-1].status is tq.TransferStatus.COMPLETED
    worker.finish()
    watcher.shutdown()


def test_an_entry_already_taken_in_is_skipped_quietly(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An entry whose event the watch has (written again, say) changes nothing: no
    snapshot, no warning."""
    owner, watcher = two
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(1), gate)
    gate.wait_running(1)
    settled(watcher, job_id)
    watch = watcher.watch(job_id, keepalive=0.05)
    next(watch)
    redis_client.xadd(
        f"q:events:{job_id}",
        {"seq": str(stored_seq(redis_client, job_id)), "head": "{}", "files": "{}"},
    )
    with caplog.at_level(logging.WARNING, logger="transferqueue"):
        assert next(watch) is None
    assert not caplog.messages
    gate.release_all()
    assert [job for job in watch if job is not None][-1].status is tq.TransferStatus.COMPLETED


def test_following_every_job_of_the_cluster(
    two: tuple[tq.TransferQueue, tq.TransferQueue],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The news of every job (what the all-jobs web stream reads): keep-alives while
    quiet (after several reads, each shorter than a keep-alive here), "created" for a
    job first seen, "updated" after; entries without a job id are skipped; close() ends
    it."""
    from transferqueue.redis import _watch

    monkeypatch.setattr(_watch, "READ_STEP", 0.02)
    owner, watcher = two
    assert watcher._backend is not None
    news = watcher._backend.follow_all(0.05, set())
    assert next(news) is None
    redis_client.xadd("q:events", {"seq": "1"})  # no job: skipped
    redis_client.xadd("q:events", {"job": "two words", "seq": "1"})
    gate = GatedExecutor()
    job_id = owner.queue_job("s3-upload", make_files(1), gate)
    item = next(news)
    while item is None:
        item = next(news)
    assert item[0] == "created"
    assert item[1].id == job_id
    gate.release_all()
    owner.wait(job_id)
    kinds = set()
    while True:
        item = next(news)
        if item is not None:
            kinds.add(item[0])
            if item[1].status.is_terminal:
                break
    assert kinds == {"updated"}
    news.close()
    with pytest.raises(StopIteration):
        next(news)


def test_a_url_that_asks_for_resp3_is_refused() -> None:
    with pytest.raises(ValueError, match="speaks RESP2 to Redis, not protocol=3"):
        RedisBackend("redis://127.0.0.1:1/0?protocol=3")
