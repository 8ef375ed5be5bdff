"""Checking an S3 transfer against its source (``S3Transfer(checksum=True)``): a copy
that differs fails the file, names it and both checksums, and is removed (a download) or
deleted (an upload, a copy between buckets).

The corruption is real: a proxy on 127.0.0.1 in front of the moto server inverts one byte
of a reply's or a request's body (tests/helpers/corrupting_proxy.py). Each test also
shows that without the check the damage goes unnoticed. The local copy's check is in
tests/functional/test_verify_local.py, the pure checksum code in
tests/unit/test_verify_checksums.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.corrupting_proxy import ByteFlippingProxy, byte_flipping_proxy
from tests.helpers.s3_server import s3_client
from transferqueue.executors import S3Transfer, Transfer, _s3
from transferqueue.executors._verify import Expected

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


MiB = 1 << 20
BUCKET = "checked"


def _one_file(source: str, destination: str, size: int) -> list[dict[str, Any]]:
    return [{"source_path": source, "destination_path": destination, "size": size}]


def _run(executor: tq.Executor, kind: str, files: list[dict[str, Any]]) -> tq.TransferJob:
    with tq.TransferQueue(1) as queue:
        return queue.wait(queue.queue_job(kind, files, executor), timeout=WAIT)


# -- S3, through a proxy that corrupts a byte -----------------------------------------------

SMALL = 3000
BIG = 12 * MiB + 5  # 3 parts of 5 MiB at most


@pytest.fixture
def direct(s3_env: str) -> S3Client:
    """A client straight to moto (no proxy), with the test bucket made."""
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    return client


def _proxied_s3(proxy: ByteFlippingProxy, *, checksum: bool, calculation: str) -> S3Transfer:
    client = s3_client(
        endpoint_url=proxy.url,
        config=Config(
            request_checksum_calculation=cast(Any, calculation),
            response_checksum_validation="when_required",
        ),
    )
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    return S3Transfer(client=client, transfer_config=config, checksum=checksum, overwrite=True)


@pytest.fixture
def corrupt_get(moto_endpoint: str, direct: S3Client) -> Iterator[ByteFlippingProxy]:
    yield from byte_flipping_proxy(moto_endpoint, f"GET /{BUCKET}/data".encode(), 100)


@pytest.fixture
def corrupt_put(moto_endpoint: str, direct: S3Client) -> Iterator[ByteFlippingProxy]:
    yield from byte_flipping_proxy(
        moto_endpoint, f"PUT /{BUCKET}/data".encode(), 100, in_request=True
    )


@pytest.mark.parametrize(
    ("size", "put_options", "name"),
    [
        (SMALL, {}, "ETag (MD5)"),
        (BIG, {}, "ETag (MD5 of 3 parts)"),
    ],
)
def test_a_download_corrupted_on_the_way_fails_and_leaves_nothing(
    corrupt_get: ByteFlippingProxy,
    direct: S3Client,
    tmp_path: Path,
    size: int,
    put_options: dict[str, Any],
    name: str,
) -> None:
    data = os.urandom(size)
    if size > SMALL:
        _upload_in_parts(direct, data)
    else:
        direct.put_object(Bucket=BUCKET, Key="data", Body=data, **put_options)
    destination = tmp_path / "out" / "data"
    files = _one_file(f"s3://{BUCKET}/data", str(destination), size)
    with _proxied_s3(corrupt_get, checksum=True, calculation="when_supported") as s3:
        job = _run(s3, "s3-download", files)
    assert corrupt_get.flipped.is_set()
    (file,) = job.files
    assert file.status == "error"
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    assert file.error.startswith(f"{destination}: the copy does not match its source: {name} ")
    assert file.error.endswith(f"; the download of s3://{BUCKET}/data was removed")
    assert list(destination.parent.iterdir()) == []


def test_an_unchecked_download_keeps_the_corrupted_byte(
    corrupt_get: ByteFlippingProxy, direct: S3Client, tmp_path: Path
) -> None:
    """Without the check the proxy's damage arrives: what the test above catches."""
    data = os.urandom(SMALL)
    direct.put_object(Bucket=BUCKET, Key="data", Body=data)
    destination = tmp_path / "data"
    files = _one_file(f"s3://{BUCKET}/data", str(destination), SMALL)
    with _proxied_s3(corrupt_get, checksum=False, calculation="when_supported") as s3:
        job = _run(s3, "s3-download", files)
    assert job.status == "completed"
    arrived = destination.read_bytes()
    assert arrived != data
    assert [i for i in range(SMALL) if arrived[i] != data[i]] == [100]


def test_a_corrupted_download_is_retried_whole(
    corrupt_get: ByteFlippingProxy, direct: S3Client, tmp_path: Path
) -> None:
    data = os.urandom(SMALL)
    direct.put_object(Bucket=BUCKET, Key="data", Body=data)
    destination = tmp_path / "data"
    files = _one_file(f"s3://{BUCKET}/data", str(destination), SMALL)
    with (
        _proxied_s3(corrupt_get, checksum=True, calculation="when_supported") as s3,
        tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=2, initial_delay=0)) as queue,
    ):
        job = queue.wait(queue.queue_job("s3-download", files, s3), timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert job.files[0].attempts == 2
    assert destination.read_bytes() == data


@pytest.mark.parametrize(
    ("size", "calculation"),
    [
        (SMALL, "when_required"),  # no checksum header: nothing else would notice
        (SMALL, "when_supported"),  # a CRC32 that moto stores without checking it
        (BIG, "when_supported"),
    ],
)
def test_an_upload_corrupted_on_the_way_fails_and_is_deleted(
    corrupt_put: ByteFlippingProxy, direct: S3Client, tmp_path: Path, size: int, calculation: str
) -> None:
    data = os.urandom(size)
    source = tmp_path / "data"
    source.write_bytes(data)
    files = _one_file(str(source), f"s3://{BUCKET}/data", size)
    with _proxied_s3(corrupt_put, checksum=True, calculation=calculation) as s3:
        job = _run(s3, "s3-upload", files)
    assert corrupt_put.flipped.is_set()
    (file,) = job.files
    assert file.status == "error"
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    assert re.fullmatch(
        rf"s3://{BUCKET}/data: the copy does not match its source: ETag \(MD5[^)]*\) "
        r"([0-9a-f]{32}(-3)?), expected (?!\1)[0-9a-f]{32}(-3)?; the object was deleted",
        file.error,
    ), file.error
    assert direct.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []


def test_an_unchecked_upload_stores_the_corrupted_byte(
    corrupt_put: ByteFlippingProxy, direct: S3Client, tmp_path: Path
) -> None:
    data = os.urandom(SMALL)
    source = tmp_path / "data"
    source.write_bytes(data)
    files = _one_file(str(source), f"s3://{BUCKET}/data", SMALL)
    with _proxied_s3(corrupt_put, checksum=False, calculation="when_required") as s3:
        job = _run(s3, "s3-upload", files)
    assert job.status == "completed"
    assert direct.get_object(Bucket=BUCKET, Key="data")["Body"].read() != data


@pytest.mark.parametrize(
    ("size", "put_options"),
    [
        (SMALL, {}),
        (SMALL, {"ChecksumAlgorithm": "SHA256"}),
        (BIG, {}),
    ],
)
def test_checked_transfers_that_arrive_whole_pass(
    direct: S3Client, tmp_path: Path, size: int, put_options: dict[str, Any]
) -> None:
    data = os.urandom(size)
    source = tmp_path / "data"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    with S3Transfer(client=direct, transfer_config=config, checksum=True) as s3:
        up = _run(s3, "s3-upload", _one_file(str(source), f"s3://{BUCKET}/data", size))
        assert up.status == "completed", up.files[0].error
        down = tmp_path / "down"
        job = _run(s3, "s3-download", _one_file(f"s3://{BUCKET}/data", str(down), size))
        assert job.status == "completed", job.files[0].error
        assert down.read_bytes() == data
        if put_options:
            direct.put_object(Bucket=BUCKET, Key="other", Body=data, **put_options)
            again = tmp_path / "again"
            files = _one_file(f"s3://{BUCKET}/other", str(again), size)
            assert _run(s3, "s3-download", files).status == "completed"
            assert again.read_bytes() == data


def _upload_in_parts(client: S3Client, data: bytes) -> None:
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    from io import BytesIO

    client.upload_fileobj(BytesIO(data), BUCKET, "data", Config=config)


def test_a_checked_download_of_a_missing_object_names_it(direct: S3Client, tmp_path: Path) -> None:
    with S3Transfer(client=direct, checksum=True) as s3:
        job = _run(s3, "s3-download", _one_file(f"s3://{BUCKET}/gone", str(tmp_path / "g"), 1))
    assert job.files[0].error_type == "FileNotFoundError"
    assert job.files[0].error == f"s3://{BUCKET}/gone: cannot download: no such key 'gone'"


def test_a_corrupted_upload_that_cannot_be_deleted_says_so(
    corrupt_put: ByteFlippingProxy, direct: S3Client, tmp_path: Path
) -> None:
    source = tmp_path / "data"
    source.write_bytes(os.urandom(SMALL))
    files = _one_file(str(source), f"s3://{BUCKET}/data", SMALL)
    with _proxied_s3(corrupt_put, checksum=True, calculation="when_required") as s3:

        def refuse(**kwargs: Any) -> None:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=corrupt_put.url)

        s3.client.meta.events.register("before-call.s3.DeleteObject", refuse)
        job = _run(s3, "s3-upload", files)
    (file,) = job.files
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    assert "; the object could not be deleted: s3://checked/data: cannot delete: " in file.error
    assert [o["Key"] for o in direct.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["data"]


class _Unreadable(Expected):
    def of_file(self, fd: int, size: int | None, check_cancelled: Any) -> str:
        raise PermissionError(13, "Permission denied")


def test_checks_that_cannot_read_the_local_side_say_so(
    direct: S3Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "data"
    source.write_bytes(b"abc")
    monkeypatch.setattr(_s3, "expected_of_object", lambda head, part: _Unreadable("md5", "x"))
    with S3Transfer(client=direct, checksum=True, overwrite=True) as s3:
        up = _run(s3, "s3-upload", _one_file(str(source), f"s3://{BUCKET}/data", 3))
        down = _run(s3, "s3-download", _one_file(f"s3://{BUCKET}/data", str(tmp_path / "d"), 3))
    assert up.files[0].error_type == "PermissionError"
    assert up.files[0].error == (
        f"{source}: cannot read the file to check its upload: [Errno 13] Permission denied"
    )
    assert down.files[0].error_type == "PermissionError"
    assert down.files[0].error == (
        f"{tmp_path / 'd'}: cannot read the download to check it: [Errno 13] Permission denied"
    )
    assert not (tmp_path / "d").exists()


def test_an_object_with_nothing_to_check_is_transferred_unchecked(
    direct: S3Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "data"
    source.write_bytes(b"abc")
    monkeypatch.setattr(_s3, "expected_of_object", lambda head, part: None)
    with S3Transfer(client=direct, checksum=True) as s3:
        up = _run(s3, "s3-upload", _one_file(str(source), f"s3://{BUCKET}/data", 3))
        down = _run(s3, "s3-download", _one_file(f"s3://{BUCKET}/data", str(tmp_path / "d"), 3))
    assert (up.status, down.status) == ("completed", "completed")
    assert (tmp_path / "d").read_bytes() == b"abc"


class _Meta:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def provide_transfer_size(self, size: object) -> None:
        self.calls.append(("size", size))

    def provide_object_etag(self, etag: object) -> None:
        self.calls.append(("etag", etag))


class _Future:
    def __init__(self) -> None:
        self.meta = _Meta()


@pytest.mark.parametrize(
    ("size", "etag", "calls"),
    [
        (5, '"abc"', [("size", 5), ("etag", '"abc"')]),
        (-1, "bad\nvalue", []),
        ("5", None, []),
        (True, 7, []),
    ],
)
def test_what_a_head_said_reaches_s3transfer_only_when_valid(
    size: object, etag: object, calls: list[tuple[str, object]]
) -> None:
    future = _Future()
    _s3._KnownObject(size, etag).on_queued(future)  # type: ignore[arg-type]
    assert future.meta.calls == calls


def test_transfer_hands_the_checksum_option_on() -> None:
    with Transfer(checksum=True) as transfer:
        assert transfer._executor("local").checksum  # type: ignore[attr-defined]
        assert transfer._executor("s3").checksum  # type: ignore[attr-defined]
    with Transfer() as transfer:
        assert not transfer._executor("local").checksum  # type: ignore[attr-defined]


# -- copies between buckets ----------------------------------------------------------------


@pytest.mark.parametrize("size", [SMALL, BIG])
def test_a_checked_server_side_copy_passes(direct: S3Client, size: int) -> None:
    data = os.urandom(size)
    _upload_in_parts(direct, data) if size > SMALL else direct.put_object(
        Bucket=BUCKET, Key="data", Body=data
    )
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    with S3Transfer(client=direct, transfer_config=config, checksum=True) as s3:
        files = _one_file(f"s3://{BUCKET}/data", f"s3://{BUCKET}/copy", size)
        job = _run(s3, "cross-storage", files)
        missing = _one_file(f"s3://{BUCKET}/gone", f"s3://{BUCKET}/copy2", 1)
        gone = _run(s3, "cross-storage", missing)
    assert job.status == "completed", job.files[0].error
    assert direct.get_object(Bucket=BUCKET, Key="copy")["Body"].read() == data
    assert gone.files[0].error == f"s3://{BUCKET}/gone: cannot copy: no such key 'gone'"


@pytest.mark.parametrize("checksum", [True, False])
def test_a_streamed_copy_corrupted_on_the_way_fails_and_is_deleted(
    corrupt_get: ByteFlippingProxy, direct: S3Client, checksum: bool
) -> None:
    """The source is read through the proxy (another endpoint, as far as the executor
    knows): its damage reaches the copy, which the check finds by the ETags."""
    data = os.urandom(SMALL)
    direct.put_object(Bucket=BUCKET, Key="data", Body=data)
    reader = _proxied_s3(corrupt_get, checksum=False, calculation="when_supported")
    files = _one_file(f"s3://{BUCKET}/data", f"s3://{BUCKET}/copy", SMALL)
    with (
        reader,
        S3Transfer(client=direct, source_client=reader.client, checksum=checksum) as s3,
    ):
        job = _run(s3, "cross-storage", files)
    assert corrupt_get.flipped.is_set()
    keys = [entry["Key"] for entry in direct.list_objects_v2(Bucket=BUCKET)["Contents"]]
    if not checksum:
        assert job.status == "completed"
        assert direct.get_object(Bucket=BUCKET, Key="copy")["Body"].read() != data
        return
    (file,) = job.files
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    assert re.fullmatch(
        rf"s3://{BUCKET}/copy: the copy does not match its source: ETag \(MD5\) "
        rf"([0-9a-f]{{32}}), expected (?!\1)[0-9a-f]{{32}}; the object was deleted "
        rf"\(s3://{BUCKET}/data\)",
        file.error,
    ), file.error
    assert keys == ["data"]
