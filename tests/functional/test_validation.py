"""Bad input through the public API (contract S12): rejected calls leave no trace."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterator
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, make_files, noop_executor

GOOD_FILE: dict[str, Any] = {"source_path": "src/a", "destination_path": "dst/a", "size": 10}


def file_with(**changes: Any) -> dict[str, Any]:
    return {**GOOD_FILE, **changes}


def file_without(key: str) -> dict[str, Any]:
    return {name: value for name, value in GOOD_FILE.items() if name != key}


def assert_no_trace(queue: tq.TransferQueue, recorder: EventRecorder) -> None:
    """Nothing registered, and no event sent: a valid job queued afterwards is the only one
    whose events arrive (its terminal event is delivered by the time ``wait`` returns)."""
    assert queue.get_all_jobs() == []
    assert queue.get_active_job_ids() == []
    job_id = queue.queue_job(tq.TransferType.S3_UPLOAD, [], noop_executor)
    assert queue.wait(job_id, timeout=WAIT).status == tq.TransferStatus.COMPLETED
    assert [(name, job.id) for name, job in recorder.events] == [
        ("job-created", job_id),
        ("job-updated", job_id),
    ]
    assert [job.id for job in queue.get_all_jobs()] == [job_id]


# -- the concurrency limit -------------------------------------------------------------

BAD_LIMITS: list[tuple[object, type[Exception]]] = [
    (True, TypeError),
    (False, TypeError),
    (1.0, TypeError),
    ("2", TypeError),
    (None, TypeError),
    (0, ValueError),
    (-3, ValueError),
]


@pytest.mark.parametrize(("limit", "error"), BAD_LIMITS)
def test_constructor_rejects_bad_limit(limit: object, error: type[Exception]) -> None:
    """S12: the limit is an int >= 1 (bool refused): TypeError for a type, ValueError below 1."""
    with pytest.raises(error, match="concurrency limit"):
        tq.TransferQueue(limit)  # type: ignore[arg-type]


@pytest.mark.parametrize(("limit", "error"), BAD_LIMITS)
def test_update_rejects_bad_limit_and_keeps_the_old(
    queue: tq.TransferQueue, limit: object, error: type[Exception]
) -> None:
    """S12/S2: a rejected update_concurrency_limit leaves the limit unchanged."""
    queue.update_concurrency_limit(3)
    with pytest.raises(error, match="concurrency limit"):
        queue.update_concurrency_limit(limit)  # type: ignore[arg-type]
    assert queue.concurrency_limit == 3


@pytest.mark.parametrize("interval", [-1, math.nan, "1", True, None])
def test_constructor_rejects_bad_update_interval(interval: object) -> None:
    """S8/S12: update_interval is a finite number of seconds >= 0 or a timedelta."""
    with pytest.raises((TypeError, ValueError), match="update_interval"):
        tq.TransferQueue(2, update_interval=interval)  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [0, 0.5, timedelta(milliseconds=50)])
def test_constructor_accepts_update_interval(interval: float | timedelta) -> None:
    """S8: 0, a float and a timedelta are valid intervals."""
    with tq.TransferQueue(2, update_interval=interval) as q:
        assert q.concurrency_limit == 2


# -- queue_job -------------------------------------------------------------------------


class _BytesPath:
    """An os.PathLike whose path is bytes: not a text path."""

    def __fspath__(self) -> bytes:
        return b"src/a"


BAD_JOBS: list[Any] = [
    # (type, files, executor, exception, message fragment)
    pytest.param("s3-sync", [], noop_executor, ValueError, "s3-sync", id="unknown-type"),
    pytest.param("", [], noop_executor, ValueError, "type", id="empty-type"),
    pytest.param("S3-UPLOAD", [], noop_executor, ValueError, "type", id="wrong-case-type"),
    pytest.param(1, [], noop_executor, ValueError, "type", id="int-type"),
    pytest.param(None, [], noop_executor, ValueError, "type", id="none-type"),
    pytest.param(b"s3-upload", [], noop_executor, ValueError, "type", id="bytes-type"),
    pytest.param(
        tq.TransferStatus.QUEUED, [], noop_executor, ValueError, "type", id="other-enum-type"
    ),
    pytest.param("s3-upload", "src/a", noop_executor, TypeError, "files", id="files-str"),
    pytest.param("s3-upload", GOOD_FILE, noop_executor, TypeError, "files", id="files-dict"),
    pytest.param("s3-upload", 3, noop_executor, TypeError, "files", id="files-int"),
    pytest.param("s3-upload", None, noop_executor, TypeError, "files", id="files-none"),
    pytest.param(
        "s3-upload", [("a", "b", 1)], noop_executor, TypeError, "mapping", id="item-tuple"
    ),
    pytest.param(
        "s3-upload", [GOOD_FILE, "x"], noop_executor, TypeError, r"files\[1\]", id="item-2-str"
    ),
    *(
        pytest.param(
            "s3-upload",
            [file_without(key)],
            noop_executor,
            (TypeError, ValueError),
            key,
            id=f"missing-{key}",
        )
        for key in GOOD_FILE
    ),
    pytest.param(
        "s3-upload",
        [file_with(checksum="abc")],
        noop_executor,
        (TypeError, ValueError),
        "checksum",
        id="unknown-key",
    ),
    *(
        pytest.param(
            "s3-upload", [file_with(size=size)], noop_executor, TypeError, "size", id=f"size-{tag}"
        )
        for tag, size in [("float", 10.0), ("str", "10"), ("bool", True), ("none", None)]
    ),
    pytest.param(
        "s3-upload", [file_with(size=-1)], noop_executor, ValueError, "size", id="size-negative"
    ),
    *(
        pytest.param(
            "s3-upload",
            [file_with(**{key: path})],
            noop_executor,
            TypeError,
            key,
            id=f"{key}-{tag}",
        )
        for key in ("source_path", "destination_path")
        for tag, path in [
            ("int", 5),
            ("bytes", b"src/a"),
            ("none", None),
            ("bytes-pathlike", _BytesPath()),
        ]
    ),
    *(
        pytest.param(
            "s3-upload", [file_with(**{key: ""})], noop_executor, ValueError, key, id=f"{key}-empty"
        )
        for key in ("source_path", "destination_path")
    ),
    pytest.param("s3-upload", [], "run", TypeError, "executor", id="executor-str"),
    pytest.param("s3-upload", [], None, TypeError, "executor", id="executor-none"),
]


@pytest.mark.parametrize(("type_", "files", "executor", "error", "match"), BAD_JOBS)
def test_queue_job_rejects_and_leaves_no_trace(
    queue: tq.TransferQueue,
    recorder: EventRecorder,
    type_: Any,
    files: Any,
    executor: Any,
    error: type[Exception] | tuple[type[Exception], ...],
    match: str,
) -> None:
    """S12: a bad type, files or executor raises naming the problem; nothing is registered
    and no event is sent."""
    with pytest.raises(error, match=match):
        queue.queue_job(type_, files, executor)
    assert_no_trace(queue, recorder)


def test_bad_file_in_a_generator_leaves_no_trace(
    queue: tq.TransferQueue, recorder: EventRecorder
) -> None:
    """S12: a generator whose third item is bad rejects the whole job, not a prefix of it."""

    def files() -> Iterator[dict[str, Any]]:
        yield GOOD_FILE
        yield GOOD_FILE
        yield file_with(size=-5)

    with pytest.raises(ValueError, match="size"):
        queue.queue_job("s3-upload", files(), noop_executor)
    assert_no_trace(queue, recorder)


@pytest.mark.parametrize("type_", [*tq.TransferType, *(member.value for member in tq.TransferType)])
def test_queue_job_accepts_member_and_value(
    queue: tq.TransferQueue, type_: tq.TransferType | str
) -> None:
    """Names/S12: every API that takes a type accepts the enum member or its string value."""
    job = queue.wait(queue.queue_job(type_, make_files(1), noop_executor), timeout=WAIT)
    assert job.type is tq.TransferType(type_)
    assert job.status == tq.TransferStatus.COMPLETED


def test_path_like_paths_become_str(queue: tq.TransferQueue, tmp_path: pathlib.Path) -> None:
    """S12: source_path and destination_path may be os.PathLike; snapshots hold str."""
    source, destination = tmp_path / "a.bin", pathlib.PurePosixPath("bucket/a.bin")
    given: list[tq.TransferFile] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        given.append(file)

    job_id = queue.queue_job(
        "local-upload",
        [{"source_path": source, "destination_path": destination, "size": 0}],
        executor,
    )
    (record,) = queue.wait(job_id, timeout=WAIT).files
    assert type(record.source_path) is str
    assert type(record.destination_path) is str
    assert record.source_path == str(source)
    assert record.destination_path == "bucket/a.bin"
    assert given[0].source_path == str(source)


def test_generator_of_mappings_is_accepted(queue: tq.TransferQueue) -> None:
    """S12: files may be any iterable of mappings: a generator, a read-only mapping."""
    files = (MappingProxyType(item) for item in make_files(3))
    job = queue.wait(queue.queue_job("s3-download", files, noop_executor), timeout=WAIT)
    assert [record.source_path for record in job.files] == [
        "src/file-0",
        "src/file-1",
        "src/file-2",
    ]
    assert job.progress.total_files == 3
    assert job.status == tq.TransferStatus.COMPLETED


# -- durations: cleanup_old_jobs(max_age) and wait(timeout) -------------------------------

BAD_DURATIONS: list[tuple[object, type[Exception]]] = [
    (-1, ValueError),
    (-0.5, ValueError),
    (math.nan, ValueError),
    (timedelta(seconds=-1), ValueError),
    ("1", TypeError),
    (True, TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize(("max_age", "error"), BAD_DURATIONS)
def test_cleanup_rejects_bad_max_age(
    queue: tq.TransferQueue, max_age: object, error: type[Exception]
) -> None:
    """S11/S12: max_age is seconds >= 0 or a timedelta; a rejected call removes nothing."""
    job_id = queue.queue_job("s3-upload", [], noop_executor)
    queue.wait(job_id, timeout=WAIT)
    with pytest.raises(error, match="max_age"):
        queue.cleanup_old_jobs(max_age)  # type: ignore[arg-type]
    assert [job.id for job in queue.get_all_jobs()] == [job_id]


def test_cleanup_accepts_timedelta(queue: tq.TransferQueue) -> None:
    """S11: a timedelta max_age works like its number of seconds."""
    job_id = queue.queue_job("s3-upload", [], noop_executor)
    queue.wait(job_id, timeout=WAIT)
    assert queue.cleanup_old_jobs(timedelta(hours=1)) == 0
    assert queue.get_job(job_id) is not None
    assert queue.cleanup_old_jobs(timedelta(0)) == 1
    assert queue.get_job(job_id) is None


@pytest.mark.parametrize(("timeout", "error"), BAD_DURATIONS[:-1])  # None means "no timeout"
def test_wait_rejects_bad_timeout(
    queue: tq.TransferQueue, timeout: object, error: type[Exception]
) -> None:
    """S12: wait's timeout is seconds >= 0, a timedelta or None."""
    job_id = queue.queue_job("s3-upload", [], noop_executor)
    with pytest.raises(error, match="timeout"):
        queue.wait(job_id, timeout=timeout)  # type: ignore[arg-type]


def test_wait_accepts_timedelta(queue: tq.TransferQueue) -> None:
    """Names: wait(timeout=) takes a timedelta."""
    job_id = queue.queue_job("s3-upload", make_files(2), noop_executor)
    job = queue.wait(job_id, timeout=timedelta(seconds=WAIT))
    assert job.status == tq.TransferStatus.COMPLETED
