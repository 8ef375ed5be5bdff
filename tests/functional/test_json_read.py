"""``TransferJob.from_dict()`` and its siblings: the records back from ``to_dict()``'s
JSON, every field checked, since such data comes from elsewhere (another process, through
Redis) and is untrusted."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.file_lists import make_files

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


def a_job() -> tq.TransferJob:
    """A job with every kind of field set somewhere: an error, a retry time, a speed."""
    return tq.TransferJob(
        id="transfer-1-2-abc",
        type=tq.TransferType.S3_UPLOAD,
        status=tq.TransferStatus.ACTIVE,
        files=(
            tq.TransferFile("a", "b", 10, 10, tq.TransferFileStatus.COMPLETED, attempts=1),
            tq.TransferFile(
                "c",
                "d",
                20,
                0,
                tq.TransferFileStatus.QUEUED,
                "timed out",
                2,
                NOW + timedelta(seconds=5),
                "TimeoutError",
            ),
        ),
        progress=tq.TransferProgress(2, 1, 0, 30, 10, 33, 12.5, 1.6),
        created_at=NOW,
        started_at=NOW + timedelta(seconds=1),
    )


def test_a_job_comes_back_from_its_json_equal() -> None:
    job = a_job()
    assert tq.TransferJob.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    assert tq.TransferFile.from_dict(job.files[1].to_dict()) == job.files[1]
    assert tq.TransferProgress.from_dict(job.progress.to_dict()) == job.progress


def test_a_real_terminal_job_comes_back_equal() -> None:
    with tq.TransferQueue(2) as queue:
        job = queue.wait(queue.queue_job("s3-upload", make_files(3), lambda f, p: None), WAIT)
    back = tq.TransferJob.from_dict(json.loads(json.dumps(job.to_dict())))
    assert back == job
    assert isinstance(back.files, tuple)


def test_an_offset_other_than_utc_is_read_as_the_same_moment_in_utc() -> None:
    data = a_job().to_dict()
    data["created_at"] = "2026-03-01T14:00:00.123456+02:00"
    assert tq.TransferJob.from_dict(data).created_at == NOW
    assert tq.TransferJob.from_dict(data).created_at.tzinfo == timezone.utc


def test_a_progress_without_skipped_files_has_none() -> None:
    """``skipped_files`` came after the first records, which Redis may still
    hold: a progress without the key reads as 0 skipped (and a job with a skipped file
    but no count is refused, as any count that does not match)."""
    data = a_job().to_dict()
    del data["progress"]["skipped_files"]
    assert tq.TransferJob.from_dict(data) == a_job()
    data["files"][1]["status"] = "skipped"
    with pytest.raises(ValueError, match="job has 1 skipped files but its progress counts 0"):
        tq.TransferJob.from_dict(data)


def spoil(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the field at ``path`` (dots and list indexes) to ``value``."""

    def apply(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return apply


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


def add(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update({key: 1})


CASES = [
    (drop("id"), "job lacks id"),
    (add("owner"), "job has unknown keys: owner"),
    (spoil("id", ""), "job.id must be a non-empty string, not ''"),
    (spoil("id", 7), "job.id must be a non-empty string, not 7"),
    (spoil("type", "ftp"), "job.type must be one of s3-upload,"),
    (spoil("status", "ACTIVE"), "job.status must be one of queued, active,"),
    (spoil("status", None), "job.status must be one of"),
    (spoil("created_at", None), "job.created_at must be an ISO 8601 date and time with its"),
    (spoil("created_at", "2026-03-01T12:00:00"), "job.created_at must be an ISO 8601"),
    (spoil("created_at", "yesterday"), "job.created_at must be an ISO 8601"),
    (spoil("started_at", "x" * 100), "job.started_at must be an ISO 8601 date and time"),
    (spoil("started_at", 1700000000), "or null, not 1700000000"),
    (spoil("error", ""), "job.error must be a non-empty string or null, not ''"),
    (spoil("files", {}), "job.files must be a JSON array, not dict"),
    (spoil("files.0", []), "job.files[0] must be a JSON object, not list"),
    (drop("progress"), "job lacks progress"),
    (spoil("progress", None), "job.progress must be a JSON object, not NoneType"),
    (spoil("progress.total_files", 3), "job has 2 files but its progress counts 3"),
    (spoil("progress.total_files", True), "job.progress.total_files must be an int >= 0"),
    (spoil("progress.completed_files", -1), "completed_files must be an int >= 0, not -1"),
    (spoil("progress.failed_files", 2), "counts 1 completed, 2 failed and 0 skipped of 2"),
    (spoil("progress.skipped_files", 2), "counts 1 completed, 0 failed and 2 skipped of 2"),
    (spoil("progress.skipped_files", 1), "job has 0 skipped files but its progress counts 1"),
    (spoil("progress.skipped_files", None), "job.progress.skipped_files must be an int >= 0"),
    (spoil("files.0.status", "skipped"), "job.files[0] is skipped but has 10 bytes loaded"),
    (spoil("progress.loaded_bytes", 31), "job.progress.loaded_bytes (31) exceeds total_bytes"),
    (spoil("progress.percentage", 101), "job.progress.percentage must be at most 100, not 101"),
    (spoil("progress.percentage", 33.0), "job.progress.percentage must be an int >= 0"),
    (spoil("progress.bytes_per_second", float("nan")), "must be a finite number >= 0 or null"),
    (spoil("progress.bytes_per_second", float("inf")), "must be a finite number >= 0 or null"),
    (spoil("progress.eta_seconds", -1.0), "job.progress.eta_seconds must be a finite number"),
    (spoil("progress.eta_seconds", "1"), "job.progress.eta_seconds must be a finite number"),
    (spoil("progress.eta_seconds", False), "job.progress.eta_seconds must be a finite number"),
    (spoil("files.1.size", "20"), "job.files[1].size must be an int >= 0, not '20'"),
    (spoil("files.1.loaded", 21), "job.files[1].loaded (21) exceeds its size (20)"),
    (spoil("files.1.status", "done"), "job.files[1].status must be one of queued, transferring"),
    (spoil("files.1.source_path", ""), "job.files[1].source_path must be a non-empty string"),
    (spoil("files.1.destination_path", None), "destination_path must be a non-empty string,"),
    (spoil("files.1.attempts", 2.0), "job.files[1].attempts must be an int >= 0, not 2.0"),
    (spoil("files.1.retry_at", "soon"), "job.files[1].retry_at must be an ISO 8601"),
    (spoil("files.1.error_type", 3), "job.files[1].error_type must be a non-empty string"),
    (spoil("files.1.error", ["x"]), "job.files[1].error must be a non-empty string or null"),
    (lambda data: data["files"][1].pop("attempts"), "job.files[1] lacks attempts"),
    (lambda data: data["files"][1].update(extra=1, more=2), "unknown keys: extra, more"),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_every_field_is_checked(change: Callable[[dict[str, Any]], None], message: str) -> None:
    data = copy.deepcopy(a_job().to_dict())
    change(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        tq.TransferJob.from_dict(data)


def test_long_values_are_shortened_in_the_message() -> None:
    data = a_job().to_dict()
    data["status"] = "x" * 1000
    with pytest.raises(ValueError, match=r"not 'x{50,57}\.\.\.$"):
        tq.TransferJob.from_dict(data)


def test_not_a_mapping_is_refused_at_every_level() -> None:
    with pytest.raises(ValueError, match=r"^job must be a JSON object, not list$"):
        tq.TransferJob.from_dict([])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^file must be a JSON object, not str$"):
        tq.TransferFile.from_dict("a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^progress lacks bytes_per_second, completed_files,"):
        tq.TransferProgress.from_dict({"total_files": 1})


def test_many_unknown_keys_are_named_five_at_most_and_shortened() -> None:
    data = a_job().to_dict()
    data.update({f"{n}{'k' * 50}": n for n in range(7)})
    with pytest.raises(ValueError, match=r"unknown keys: 0k{36}\.\.\., .* and 2 more$"):
        tq.TransferJob.from_dict(data)
