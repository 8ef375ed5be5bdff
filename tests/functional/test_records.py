"""The immutable records."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import noop_executor
from tests.helpers.file_lists import make_files

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_file(**changes: Any) -> tq.TransferFile:
    return attrs.evolve(tq.TransferFile("src/a", "dst/a", 10), **changes)


def make_progress() -> tq.TransferProgress:
    return tq.TransferProgress(
        total_files=1,
        completed_files=0,
        failed_files=0,
        total_bytes=10,
        loaded_bytes=0,
        percentage=0,
    )


def make_job(files: Any = None) -> tq.TransferJob:
    return tq.TransferJob(
        id="transfer-1-1",
        type=tq.TransferType.S3_UPLOAD,
        status=tq.TransferStatus.QUEUED,
        files=(make_file(),) if files is None else files,
        progress=make_progress(),
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (
            tq.TransferFile,
            # The documented fields, then the retry bookkeeping, then the error's kind.
            (
                "source_path",
                "destination_path",
                "size",
                "loaded",
                "status",
                "error",
                "attempts",
                "retry_at",
                "error_type",
            ),
        ),
        (
            tq.TransferProgress,
            (
                "total_files",
                "completed_files",
                "failed_files",
                "total_bytes",
                "loaded_bytes",
                "percentage",
                "bytes_per_second",  # then speed and ETA
                "eta_seconds",
                "skipped_files",  # files whose destination was up to date
            ),
        ),
        (
            tq.TransferJob,
            (
                "id",
                "type",
                "status",
                "files",
                "progress",
                "created_at",
                "started_at",
                "completed_at",
                "error",
            ),
        ),
    ],
)
def test_field_names_are_the_contracts(cls: type[Any], fields: tuple[str, ...]) -> None:
    """Each record has exactly the documented fields, in order."""
    assert tuple(field.name for field in attrs.fields(cls)) == fields


def test_transfer_file_defaults() -> None:
    """A new file record is queued, nothing loaded, no error."""
    record = tq.TransferFile("src/a", "dst/a", 10)
    assert record.loaded == 0
    assert record.status == tq.TransferFileStatus.QUEUED
    assert record.error is None
    assert record.error_type is None


@pytest.mark.parametrize(
    ("record", "field", "value"),
    [
        (make_file(), "loaded", 5),
        (make_file(), "status", tq.TransferFileStatus.COMPLETED),
        (make_progress(), "percentage", 50),
        (make_job(), "status", tq.TransferStatus.ACTIVE),
        (make_job(), "files", ()),
    ],
    ids=["file.loaded", "file.status", "progress.percentage", "job.status", "job.files"],
)
def test_records_are_frozen(record: object, field: str, value: object) -> None:
    """Assigning to any record's field raises FrozenInstanceError."""
    before = getattr(record, field)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(record, field, value)
    assert getattr(record, field) == before


def test_records_have_no_instance_dict() -> None:
    """No new attribute can be attached to a record either."""
    with pytest.raises((AttributeError, attrs.exceptions.FrozenInstanceError)):
        make_file().extra = 1  # type: ignore[attr-defined]


def test_job_files_is_a_tuple_from_a_real_queue(queue: tq.TransferQueue) -> None:
    """The ``files`` of a snapshot handed out by a queue is a tuple of TransferFile."""
    job = queue.wait(queue.queue_job("s3-upload", make_files(2), noop_executor), timeout=WAIT)
    assert len(job.files) == 2
    assert type(job.files) is tuple
    assert all(type(record) is tq.TransferFile for record in job.files)
    assert type(job.progress) is tq.TransferProgress


def test_equality_and_hash() -> None:
    """Records compare by value and can be hashed (usable as dict keys / in sets)."""
    assert make_file() == make_file()
    assert hash(make_file()) == hash(make_file())
    assert make_file() != make_file(loaded=1)
    assert make_progress() == make_progress()
    assert hash(make_progress()) == hash(make_progress())
    assert make_job() == make_job()
    assert hash(make_job()) == hash(make_job())
    assert make_job() != make_job(files=())
    assert len({make_job(), make_job(), make_job(files=())}) == 2
