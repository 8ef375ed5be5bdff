"""JSON-ready dicts: ``to_dict()`` of the records, in snake_case and in the camelCase of the
original TypeScript module this library was ported from.

The camelCase mode must produce what that module's front end expects, i.e. what
``JSON.stringify`` gives for its TypeScript objects. The TypeScript source is not part of
this repository, so its interfaces are copied below.
"""

from __future__ import annotations

import enum
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.file_lists import make_files

# -- The types of the original TypeScript module (backend/src/utils/transferQueue.ts).
# Each field maps to (TypeScript type, optional?); ``error?: string`` is optional,
# ``createdAt: Date`` not.

# export type TransferStatus = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';
TS_TRANSFER_STATUS = {"queued", "active", "completed", "failed", "cancelled"}
# export type TransferFileStatus = 'queued' | 'transferring' | 'completed' | 'error';
TS_TRANSFER_FILE_STATUS = {"queued", "transferring", "completed", "error"}
# This library's file status beyond the original module's (a file whose destination was
# already up to date), a plain string as well.
EXTRA_FILE_STATUS = {"skipped"}
# export type TransferType = 's3-upload' | 's3-download' | 'local-upload'
#                          | 'cross-storage' | 'huggingface';
TS_TRANSFER_TYPE = {"s3-upload", "s3-download", "local-upload", "cross-storage", "huggingface"}

# export interface TransferFileJob { ... }
TS_TRANSFER_FILE_JOB: dict[str, tuple[str, bool]] = {
    "sourcePath": ("string", False),
    "destinationPath": ("string", False),
    "size": ("number", False),
    "loaded": ("number", False),
    "status": ("TransferFileStatus", False),
    "error": ("string", True),
}
# export interface TransferProgress { ... }
TS_TRANSFER_PROGRESS: dict[str, tuple[str, bool]] = {
    "totalFiles": ("number", False),
    "completedFiles": ("number", False),
    "failedFiles": ("number", False),
    "totalBytes": ("number", False),
    "loadedBytes": ("number", False),
    "percentage": ("number", False),
}
# export interface TransferJob { ... }
TS_TRANSFER_JOB: dict[str, tuple[str, bool]] = {
    "id": ("string", False),
    "type": ("TransferType", False),
    "status": ("TransferStatus", False),
    "files": ("TransferFileJob[]", False),
    "progress": ("TransferProgress", False),
    "createdAt": ("Date", False),
    "startedAt": ("Date", True),
    "completedAt": ("Date", True),
    "error": ("string", True),
}

# This library's fields beyond the TypeScript ones, under the same naming rules.
EXTRA_FILE: dict[str, tuple[str, bool]] = {
    "attempts": ("number", False),
    "retryAt": ("Date", True),
    "errorType": ("string", True),
}
EXTRA_PROGRESS: dict[str, tuple[str, bool]] = {
    "bytesPerSecond": ("number", True),
    "etaSeconds": ("number", True),
    "skippedFiles": ("number", False),
}

INTERFACES: dict[type[Any], dict[str, tuple[str, bool]]] = {
    tq.TransferFile: {**TS_TRANSFER_FILE_JOB, **EXTRA_FILE},
    tq.TransferProgress: {**TS_TRANSFER_PROGRESS, **EXTRA_PROGRESS},
    tq.TransferJob: TS_TRANSFER_JOB,
}

# Date.prototype.toISOString(): always UTC, always milliseconds.
JS_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
JS_ISO_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

T0 = datetime(2026, 11, 29, 17, 0, 0, 123456, tzinfo=timezone.utc)


def camel(name: str) -> str:
    """``source_path`` -> ``sourcePath``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def js_time(value: datetime) -> datetime:
    """The instant a JavaScript Date made from ``value`` holds: UTC, whole milliseconds."""
    utc = value.astimezone(timezone.utc)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def parse_js_iso(text: Any) -> datetime:
    assert type(text) is str
    assert JS_ISO_PATTERN.fullmatch(text), text
    return datetime.strptime(text, JS_ISO_FORMAT).replace(tzinfo=timezone.utc)


def full_job() -> tq.TransferJob:
    """A job with every optional field of every record set (and a non-UTC aware time)."""
    plus_two = timezone(timedelta(hours=2))
    files = (
        tq.TransferFile(
            "src/a",
            "dst/a",
            100,
            40,
            tq.TransferFileStatus.QUEUED,
            "timed out",
            2,
            T0 + timedelta(seconds=5),
            "TimeoutError",
        ),
        tq.TransferFile(
            "src/b",
            "dst/b",
            50,
            50,
            tq.TransferFileStatus.ERROR,
            "disk full",
            3,
            None,
            "botocore.exceptions.ClientError",
        ),
    )
    progress = tq.TransferProgress(2, 0, 1, 150, 90, 60, 1536.5, 39.0)
    return tq.TransferJob(
        id="transfer-7-1",
        type=tq.TransferType.CROSS_STORAGE,
        status=tq.TransferStatus.FAILED,
        files=files,
        progress=progress,
        created_at=T0,
        started_at=(T0 + timedelta(seconds=1)).astimezone(plus_two),
        completed_at=T0 + timedelta(seconds=9, microseconds=999999),
        error="1 of 2 files failed",
    )


def bare_job() -> tq.TransferJob:
    """A job with every optional field of every record left unset (None)."""
    return tq.TransferJob(
        id="transfer-7-2",
        type=tq.TransferType.S3_UPLOAD,
        status=tq.TransferStatus.QUEUED,
        files=(tq.TransferFile("src/c", "dst/c", 10),),
        progress=tq.TransferProgress(1, 0, 0, 10, 0, 0),
        created_at=T0,
    )


# -- Checkers, independent of the implementation -----------------------------------------


def check_ts_value(value: Any, ts_type: str) -> None:
    """Assert that ``value`` is what JSON.stringify writes for a value of ``ts_type``."""
    if ts_type == "string":
        assert type(value) is str
    elif ts_type == "number":
        assert type(value) in (int, float)
    elif ts_type == "Date":
        parse_js_iso(value)
    elif ts_type == "TransferStatus":
        assert type(value) is str
        assert value in TS_TRANSFER_STATUS
    elif ts_type == "TransferFileStatus":
        assert type(value) is str
        assert value in TS_TRANSFER_FILE_STATUS | EXTRA_FILE_STATUS
    elif ts_type == "TransferType":
        assert type(value) is str
        assert value in TS_TRANSFER_TYPE
    elif ts_type == "TransferProgress":
        check_ts_shape(value, INTERFACES[tq.TransferProgress])
    elif ts_type == "TransferFileJob[]":
        assert type(value) is list
        for item in value:
            check_ts_shape(item, INTERFACES[tq.TransferFile])
    else:  # pragma: no cover - a typo in the tables above
        raise AssertionError(f"unknown TypeScript type {ts_type}")


def check_ts_shape(data: Any, interface: dict[str, tuple[str, bool]]) -> None:
    """Assert that ``data`` has every required key of ``interface``, no unknown key, and
    the right JSON type under each."""
    assert type(data) is dict
    required = {key for key, (_, optional) in interface.items() if not optional}
    assert required <= data.keys(), f"missing {required - data.keys()}"
    assert data.keys() <= interface.keys(), f"unknown {data.keys() - interface.keys()}"
    for key, value in data.items():
        check_ts_value(value, interface[key][0])


def check_camel(data: Any, record: Any) -> None:
    """Assert that ``data`` holds ``record``'s values under camelCase names, and leaves
    out exactly the fields that are None."""
    assert type(data) is dict
    set_fields = [f for f in attrs.fields(type(record)) if getattr(record, f.name) is not None]
    assert list(data) == [camel(f.name) for f in set_fields]
    for field in set_fields:
        value, got = getattr(record, field.name), data[camel(field.name)]
        check_value(got, value, check_camel, lambda text, dt: parse_js_iso(text) == js_time(dt))


def check_snake(data: Any, record: Any) -> None:
    """Assert that ``data`` holds every attrs field of ``record`` under its Python name."""
    assert type(data) is dict
    assert list(data) == [f.name for f in attrs.fields(type(record))]
    for field in attrs.fields(type(record)):
        value, got = getattr(record, field.name), data[field.name]
        check_value(got, value, check_snake, snake_time_matches)


def snake_time_matches(text: Any, value: datetime) -> bool:
    assert type(text) is str
    parsed = datetime.fromisoformat(text)
    return parsed == value and parsed.utcoffset() == timedelta(0)


def check_value(got: Any, value: Any, check_record: Any, time_matches: Any) -> None:
    if value is None:
        assert got is None
    elif isinstance(value, enum.Enum):
        assert type(got) is str
        assert got == value.value
    elif isinstance(value, datetime):
        assert time_matches(got, value), (got, value)
    elif isinstance(value, tuple):
        assert type(got) is list
        assert len(got) == len(value)
        for item_got, item in zip(got, value, strict=True):
            check_record(item_got, item)
    elif attrs.has(type(value)):
        check_record(got, value)
    else:
        assert type(got) is type(value)
        assert got == value


# -- Tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [tq.TransferFile, tq.TransferProgress, tq.TransferJob])
def test_every_attrs_field_has_a_camel_case_name(cls: type[Any]) -> None:
    """The TypeScript interface plus our extras name every attrs field, no more, no less,
    so a new field fails here until it gets a camelCase name and a place in the JSON."""
    assert [camel(field.name) for field in attrs.fields(cls)] == list(INTERFACES[cls])


def test_camel_case_full_job_has_every_typescript_field() -> None:
    """With every optional field set, camel mode writes every field of the TypeScript
    TransferJob, TransferProgress and TransferFileJob, with their JSON types."""
    job = full_job()
    data = job.to_dict(camel_case=True)
    assert data.keys() == TS_TRANSFER_JOB.keys()
    assert data["progress"].keys() == TS_TRANSFER_PROGRESS.keys() | EXTRA_PROGRESS.keys()
    assert data["files"][0].keys() == TS_TRANSFER_FILE_JOB.keys() | EXTRA_FILE.keys()
    check_ts_shape(data, TS_TRANSFER_JOB)
    check_camel(data, job)


def test_camel_case_leaves_out_unset_optional_fields() -> None:
    """Optional fields that are None are left out, as JSON.stringify drops undefined;
    the required ones are all there."""
    job = bare_job()
    data = job.to_dict(camel_case=True)
    assert data.keys() == {"id", "type", "status", "files", "progress", "createdAt"}
    # skippedFiles is a count, never None: always written.
    assert data["progress"].keys() == TS_TRANSFER_PROGRESS.keys() | {"skippedFiles"}
    assert data["files"][0].keys() == {
        "sourcePath",
        "destinationPath",
        "size",
        "loaded",
        "status",
        "attempts",
    }
    check_ts_shape(data, TS_TRANSFER_JOB)
    check_camel(data, job)


@pytest.mark.parametrize("job", [full_job(), bare_job()], ids=["full", "bare"])
def test_snake_case_has_every_attrs_field(job: tq.TransferJob) -> None:
    """Snake mode has every attrs field of every record under its Python name; None
    stays None, enums are their values, datetimes read back with fromisoformat, in UTC."""
    check_snake(job.to_dict(), job)


@pytest.mark.parametrize("cls", [tq.TransferFile, tq.TransferProgress])
def test_nested_records_convert_alone(cls: type[Any]) -> None:
    """A file and a progress record have to_dict too, giving their part of the job's."""
    job = full_job()
    record = job.files[0] if cls is tq.TransferFile else job.progress
    key = "files" if cls is tq.TransferFile else "progress"
    for camel_case in (False, True):
        part = job.to_dict(camel_case=camel_case)[key]
        assert record.to_dict(camel_case=camel_case) == (part[0] if key == "files" else part)
    check_snake(record.to_dict(), record)
    check_camel(record.to_dict(camel_case=True), record)


@pytest.mark.parametrize(
    ("status", "transfer_type", "file_status"),
    [
        *(
            (status, tq.TransferType.S3_UPLOAD, tq.TransferFileStatus.QUEUED)
            for status in tq.TransferStatus
        ),
        *(
            (tq.TransferStatus.ACTIVE, kind, tq.TransferFileStatus.QUEUED)
            for kind in tq.TransferType
        ),
        *(
            (tq.TransferStatus.ACTIVE, tq.TransferType.S3_UPLOAD, fs)
            for fs in tq.TransferFileStatus
        ),
    ],
)
@pytest.mark.parametrize("camel_case", [False, True], ids=["snake", "camel"])
def test_every_enum_member_is_a_plain_typescript_string(
    status: tq.TransferStatus,
    transfer_type: tq.TransferType,
    file_status: tq.TransferFileStatus,
    camel_case: bool,
) -> None:
    """Every enum member becomes a plain str (not the enum), one of the TypeScript values."""
    job = attrs.evolve(
        bare_job(),
        status=status,
        type=transfer_type,
        files=(tq.TransferFile("src/x", "dst/x", 1, status=file_status),),
    )
    data = job.to_dict(camel_case=camel_case)
    written = (data["status"], data["type"], data["files"][0]["status"])
    assert all(type(value) is str for value in written)
    assert written == (status.value, transfer_type.value, file_status.value)
    # "paused" is this library's own, beyond the original module's: pause_job added it.
    assert data["status"] in TS_TRANSFER_STATUS | {"paused"}
    assert data["type"] in TS_TRANSFER_TYPE
    assert data["files"][0]["status"] in TS_TRANSFER_FILE_STATUS | EXTRA_FILE_STATUS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (T0, "2026-11-29T17:00:00.123Z"),
        # Truncated, not rounded: a JavaScript Date has no sub-millisecond part.
        (datetime(2026, 11, 29, 17, 0, 0, 999999, tzinfo=timezone.utc), "2026-11-29T17:00:00.999Z"),
        (
            datetime(2026, 12, 31, 23, 59, 59, 999500, tzinfo=timezone.utc),
            "2026-12-31T23:59:59.999Z",
        ),
        (datetime(2026, 11, 29, 17, 0, 0, tzinfo=timezone.utc), "2026-11-29T17:00:00.000Z"),
        # An aware non-UTC time is converted to UTC (here across midnight and a year).
        (
            datetime(2027, 1, 1, 4, 30, 0, 5000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-12-31T23:00:00.005Z",
        ),
        (
            datetime(2026, 11, 29, 9, 0, 0, 1999, tzinfo=timezone(timedelta(hours=-8))),
            "2026-11-29T17:00:00.001Z",
        ),
        # toISOString pads the year to four digits.
        (datetime(1, 1, 1, tzinfo=timezone.utc), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_camel_case_datetimes_are_js_iso_strings(value: datetime, expected: str) -> None:
    """Camel mode writes datetimes like Date.prototype.toISOString(): UTC, ms, 'Z'."""
    job = attrs.evolve(bare_job(), created_at=value, started_at=value, completed_at=value)
    file = tq.TransferFile("src/x", "dst/x", 1, retry_at=value)
    data = attrs.evolve(job, files=(file,)).to_dict(camel_case=True)
    written = [data["createdAt"], data["startedAt"], data["completedAt"]]
    written.append(data["files"][0]["retryAt"])
    assert written == [expected] * 4
    assert parse_js_iso(expected) == js_time(value)


@pytest.mark.parametrize(
    "value",
    [
        T0,
        datetime(2026, 11, 29, 17, 0, 0, tzinfo=timezone.utc),
        datetime(2026, 11, 29, 22, 30, 0, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_snake_case_datetimes_round_trip_in_utc(value: datetime) -> None:
    """Snake mode writes isoformat() of the UTC time, which fromisoformat reads back
    to the same instant, microseconds included."""
    file = tq.TransferFile("src/x", "dst/x", 1, retry_at=value)
    job = attrs.evolve(bare_job(), created_at=value, completed_at=value, files=(file,))
    data = job.to_dict()
    written = [data["created_at"], data["completed_at"], data["files"][0]["retry_at"]]
    expected = value.astimezone(timezone.utc).isoformat()
    assert written == [expected] * 3
    assert datetime.fromisoformat(expected) == value
    assert datetime.fromisoformat(expected).utcoffset() == timedelta(0)


@pytest.mark.parametrize("camel_case", [False, True], ids=["snake", "camel"])
@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("created_at", "TransferJob.created_at"),
        ("started_at", "TransferJob.started_at"),
        ("completed_at", "TransferJob.completed_at"),
        ("retry_at", "TransferFile.retry_at"),
    ],
)
def test_naive_datetimes_are_refused(field: str, where: str, camel_case: bool) -> None:
    """A naive datetime raises ValueError naming the field, rather than being read as
    local time or written without a zone."""
    naive = datetime(2026, 11, 29, 17, 0)
    job = bare_job()
    if field == "retry_at":
        job = attrs.evolve(job, files=(attrs.evolve(job.files[0], retry_at=naive),))
    else:
        changes: dict[str, Any] = {field: naive}
        job = attrs.evolve(job, **changes)
    with pytest.raises(ValueError, match=re.escape(where)):
        job.to_dict(camel_case=camel_case)


@pytest.mark.parametrize("job", [full_job(), bare_job()], ids=["full", "bare"])
@pytest.mark.parametrize("camel_case", [False, True], ids=["snake", "camel"])
def test_json_dumps_round_trips(job: tq.TransferJob, camel_case: bool) -> None:
    """The dict goes through json.dumps with no custom encoder, unchanged."""
    data = job.to_dict(camel_case=camel_case)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data


@pytest.mark.parametrize("camel_case", [False, True], ids=["snake", "camel"])
def test_each_call_returns_independent_dicts(camel_case: bool) -> None:
    """Every call builds new dicts and lists; mutating one changes neither the
    record nor a later result."""
    job = full_job()
    first = job.to_dict(camel_case=camel_case)
    pristine = json.loads(json.dumps(first))
    first["id"] = "changed"
    first["files"][0]["size"] = 999
    first["files"].append({"bogus": True})
    first["progress"]["percentage"] = 1
    second = job.to_dict(camel_case=camel_case)
    assert second == pristine
    assert second is not first
    assert second["files"] is not first["files"]
    assert second["files"][0] is not first["files"][0]
    assert second["progress"] is not first["progress"]
    assert job == full_job()
    assert job.files[0].to_dict(camel_case=camel_case) is not job.files[0].to_dict(
        camel_case=camel_case
    )


def test_real_queue_job_converts_in_both_modes(queue: tq.TransferQueue) -> None:
    """A failed job from a real queue (one file raised) converts in both modes and
    carries the queue's values: status, timestamps, the failed file's error."""
    failing = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        if file.source_path.endswith("-1"):
            failing.set()
            raise OSError("disk full")
        on_progress(file.size)

    job_id = queue.queue_job(tq.TransferType.S3_DOWNLOAD, make_files(3, size=100), executor)
    job = queue.wait(job_id, timeout=WAIT)
    assert failing.is_set()
    assert job.status == tq.TransferStatus.FAILED
    assert job.started_at is not None
    assert job.completed_at is not None

    snake = job.to_dict()
    check_snake(snake, job)
    assert snake["status"] == "failed"
    assert [f["error"] for f in snake["files"]] == [None, "disk full", None]
    assert [f["error_type"] for f in snake["files"]] == [None, "OSError", None]
    assert json.loads(json.dumps(snake)) == snake

    camel_data = job.to_dict(camel_case=True)
    check_ts_shape(camel_data, TS_TRANSFER_JOB)
    check_camel(camel_data, job)
    assert camel_data["id"] == job_id
    assert camel_data["type"] == "s3-download"
    assert camel_data["status"] == "failed"
    assert camel_data["error"] == job.error
    assert [f.get("error") for f in camel_data["files"]] == [None, "disk full", None]
    assert [f.get("errorType") for f in camel_data["files"]] == [None, "OSError", None]
    assert "error" not in camel_data["files"][0]
    assert "errorType" not in camel_data["files"][0]
    assert camel_data["progress"]["failedFiles"] == 1
    assert camel_data["progress"]["completedFiles"] == 2
    assert parse_js_iso(camel_data["completedAt"]) == js_time(job.completed_at)
    assert json.loads(json.dumps(camel_data)) == camel_data
