"""The shared registry and its cost: how the registry encodes a job's files for
Redis. Each file is written field by field (not through the generic JSON encoder), the
text ``json.dumps(file.to_dict())`` gives; a write's files travel as one argument, a
field and its JSON a line, which the PUBLISH script splits. Checked against hostile names
and messages, and through a real Redis, read back by another queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.redis_server import MISSING, REQUIRED, wait_until
from transferqueue._records import TransferFile
from transferqueue._records.enums import TransferFileStatus

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend
from transferqueue.redis._wire import encode_file, hash_fields

HOSTILE_TEXTS = [
    "plain/path",
    'quote " and backslash \\ and slash /',
    "line\nbreak\rreturn\ttab",
    "nul \x00 escape \x1b[31m del \x7f",
    "unicode é ü 日本 \u2028\u2029",
    "emoji 🎉 beyond the BMP",
    "lone surrogate \ud800 here",
    " ",
    "f:0\nf:1\n{}",
]


def hostile_files() -> list[TransferFile]:
    files = []
    for number, text in enumerate(HOSTILE_TEXTS):
        for status in TransferFileStatus:
            files.append(
                TransferFile(
                    source_path=text,
                    destination_path=text[::-1],
                    size=2**63 + number,
                    loaded=0 if status is TransferFileStatus.SKIPPED else number,
                    status=status,
                    error=None if status is TransferFileStatus.QUEUED else text,
                    attempts=number,
                    error_type=None if number % 2 else text,
                )
            )
    retry_at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
    files.append(TransferFile("a", "b", 1, error="x", retry_at=retry_at, error_type="y"))
    files.append(
        TransferFile("a", "b", 1, retry_at=retry_at.astimezone(timezone(timedelta(hours=5))))
    )
    return files


@pytest.mark.parametrize("file", hostile_files())
def test_a_file_is_encoded_as_the_json_of_its_to_dict(file: TransferFile) -> None:
    """The very text the generic encoder gives: the same JSON in Redis as before, for
    any name, message, status, size and retry time."""
    assert encode_file(file) == json.dumps(file.to_dict(), separators=(",", ":"))
    assert TransferFile.from_dict(json.loads(encode_file(file))) == file


def test_the_files_of_a_write_are_a_field_and_its_json_a_line() -> None:
    """No name breaks the lines: every control character is escaped in the JSON."""
    files = hostile_files()
    encoded = [(index * 3, encode_file(file)) for index, file in enumerate(files)]
    lines = hash_fields(encoded).split("\n")
    assert lines[0::2] == [f"f:{index}" for index, _ in encoded]
    assert lines[1::2] == [data for _, data in encoded]
    assert hash_fields([]) == ""


@pytest.fixture
def owner(redis_url: str) -> Iterator[tq.TransferQueue]:
    queue = tq.TransferQueue(4, backend=RedisBackend(redis_url, namespace="w"))
    try:
        yield queue
    finally:
        queue.shutdown(cancel_jobs=True)


@pytest.fixture
def reader(redis_url: str) -> Iterator[tq.TransferQueue]:
    queue = tq.TransferQueue(1, backend=RedisBackend(redis_url, namespace="w"))
    try:
        yield queue
    finally:
        queue.shutdown(cancel_jobs=True)


def test_a_job_of_hostile_names_reads_back_equal_from_another_queue(
    owner: tq.TransferQueue, reader: tq.TransferQueue
) -> None:
    """Through Redis and the script's split of the lines: a job whose names hold line
    breaks, quotes and other scripts is the owner's, file for file, while it is queued
    and once it ended (its files written again as they changed)."""
    names = [text for text in HOSTILE_TEXTS if "\ud800" not in text]
    files = [
        {"source_path": f"{name}-{n}", "destination_path": f"{n}-{name}", "size": n}
        for n, name in enumerate(names * 3)
    ]
    owner.update_concurrency_limit(1)
    job_id = owner.queue_job("local-upload", files, noop_executor)
    seen = reader.get_job(job_id)
    assert seen is not None
    assert [(file.source_path, file.destination_path) for file in seen.files] == [
        (file["source_path"], file["destination_path"]) for file in files
    ]
    ended = owner.wait(job_id, WAIT)
    assert reader.wait(job_id, WAIT) == ended


def test_a_job_of_more_files_than_one_hset_takes_reads_back_whole(
    owner: tq.TransferQueue, reader: tq.TransferQueue
) -> None:
    """The script writes 1,000 files per HSET: 4,321 files (more values than one
    unpack() can spread at once) cross four of its slices, at creation and in the events
    that follow."""
    files = [{"source_path": f"s{n}", "destination_path": f"d{n}", "size": 1} for n in range(4321)]
    job_id = owner.queue_job("local-upload", files, noop_executor)
    created = reader.get_job(job_id)
    assert created is not None
    assert len(created.files) == 4321
    assert [file.source_path for file in created.files] == [f"s{n}" for n in range(4321)]
    ended = owner.wait(job_id, WAIT)
    assert ended.status is tq.TransferStatus.COMPLETED
    assert reader.wait(job_id, WAIT) == ended


@pytest.mark.parametrize("first", ["event thread", "queue_job"])
def test_a_job_is_sent_whole_once_whichever_thread_writes_it_first(
    redis_url: str,
    reader: tq.TransferQueue,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
) -> None:
    """queue_job writes a job's creation, the event thread its later events: when the
    event thread gets to the job first, it writes the job whole, and the creation is
    not sent again (it was, 50 files of long names here: bytes Redis received, counted
    by Redis); when queue_job writes first, the event after it carries its one changed
    file. Either way another process reads the job complete once queue_job returned."""
    gate = GatedExecutor()
    backend = RedisBackend(redis_url, namespace="w")
    real_publish = backend.publish
    created, event_written = threading.Event(), threading.Event()

    def ordered_publish(events: Sequence[tuple[tq.TransferJob, int, Any]]) -> None:
        if all(len(job.files) == 1 for job, _, _ in events):  # the first job's: as they come
            real_publish(events)
            return
        creation = any(seq == 0 for _, seq, _ in events)
        if creation and first == "event thread":
            assert event_written.wait(WAIT)
        if not creation and first == "queue_job":
            assert created.wait(WAIT)
        real_publish(events)
        (created if creation else event_written).set()

    monkeypatch.setattr(backend, "publish", ordered_publish)
    long_name = "n" * 2000
    files = [
        {"source_path": f"{long_name}{n}", "destination_path": f"d{n}", "size": 1}
        for n in range(50)
    ]
    with redis.Redis.from_url(redis_url) as client, tq.TransferQueue(1, backend=backend) as owner:
        # Scripts loaded first: a pipeline that met an unknown script is sent again.
        reader.wait(owner.queue_job("local-upload", files[:1], noop_executor), WAIT)
        received = int(client.info("stats")["total_net_input_bytes"])
        try:
            job_id = owner.queue_job("local-upload", files, gate)
            job = reader.get_job(job_id)
            assert job is not None
            assert len(job.files) == 50
            gate.wait_running(1)
            assert event_written.wait(WAIT)
            received = int(client.info("stats")["total_net_input_bytes"]) - received
        finally:
            gate.release_all()
        whole = sum(len(encode_file(file)) for file in job.files)
        # An event written whole holds every file twice (the hash, the stream entry); a
        # creation once.
        assert received < (2.5 if first == "event thread" else 1.5) * whole
        assert received > (2 if first == "event thread" else 1) * whole
        assert reader.wait(job_id, WAIT) == owner.wait(job_id, WAIT)


def test_a_job_with_no_event_since_its_creation_is_written_again_after_redis_lost_it(
    redis_url: str,
    reader: tq.TransferQueue,
) -> None:
    """Redis forgets everything: the owner's next heartbeat writes each of its jobs
    again, the one still waiting for a slot (its creation its only write so far) too,
    though its creation was written whole before."""
    gate = GatedExecutor()
    backend = RedisBackend(redis_url, namespace="w", lease=1.0)
    with redis.Redis.from_url(redis_url) as client, tq.TransferQueue(1, backend=backend) as owner:
        try:
            running = owner.queue_job("local-upload", make_files(1), gate)
            gate.wait_running(1)
            waiting = owner.queue_job("local-upload", make_files(2), gate)
            assert reader.get_job(waiting) is not None
            client.flushall()
            wait_until(lambda: reader.get_job(waiting) is not None, "the waiting job is back")
            back = reader.get_job(waiting)
            assert back is not None
            assert back.status is tq.TransferStatus.QUEUED  # written again, not by its start
            assert back == owner.get_job(waiting)
            wait_until(lambda: reader.get_job(running) is not None, "the running job is back")
        finally:
            gate.release_all()
        assert reader.wait(waiting, WAIT) == owner.wait(waiting, WAIT)
