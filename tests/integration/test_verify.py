"""Issue 14 part 3, verification: a copy is compared with its source before it counts, and
a mismatch fails the file, names it and both checksums, and removes the copy.

The corruption is real: a proxy on 127.0.0.1 in front of the moto server inverts one byte
of a reply's or a request's body (tests/helpers/corrupting_proxy.py), and a local source whose
bytes differ at every read (``/proc/self/io``, the process's I/O counters, which the
copy's own reads move on) stands for a source that changed under the copy. Each test
also shows that without the check the damage goes unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers import s3_server
from tests.helpers.corrupting_proxy import ByteFlippingProxy, byte_flipping_proxy
from tests.helpers.s3_server import s3_client
from transferqueue._cli import main as _cli
from transferqueue.executors import ChecksumMismatchError, LocalCopy, S3Transfer, Transfer, _s3
from transferqueue.executors._verify import (
    Expected,
    compare_objects,
    expected_of_object,
    file_sha256,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

moto_server = s3_server.moto_server
moto_endpoint = s3_server.moto_endpoint
s3_env = s3_server.s3_env

MiB = 1 << 20
BUCKET = "checked"
# This process's I/O counters: every read of it counts, so no two reads hold the same.
COUNTERS = Path("/proc/self/io")

needs_counters = pytest.mark.skipif(
    not COUNTERS.exists(), reason="needs Linux's /proc with I/O accounting"
)


def _never() -> None:
    """No cancel."""


def _one_file(source: str, destination: str, size: int) -> list[dict[str, Any]]:
    return [{"source_path": source, "destination_path": destination, "size": size}]


def _run(executor: tq.Executor, kind: str, files: list[dict[str, Any]]) -> tq.TransferJob:
    with tq.TransferQueue(1) as queue:
        return queue.wait(queue.queue_job(kind, files, executor), timeout=WAIT)


# -- local copies ----------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
def test_a_checked_local_copy_arrives_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    if not kernel:
        from transferqueue.executors._local import kernel_copy as _kernel_copy

        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    data = os.urandom(3 * MiB + 11)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    destination = tmp_path / "out" / "copy.bin"
    job = _run(
        LocalCopy(checksum=True, chunk_size=MiB),
        "local-upload",
        _one_file(str(source), str(destination), len(data)),
    )
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data


@needs_counters
def test_a_local_copy_that_differs_from_its_source_fails_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    destination = tmp_path / "out" / "io"
    job = _run(
        LocalCopy(checksum=True), "local-upload", _one_file(str(COUNTERS), str(destination), 0)
    )
    (file,) = job.files
    assert file.status == "error"
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    match = re.fullmatch(
        rf"{re.escape(str(destination))}: the copy does not match its source: sha256 "
        r"([0-9a-f]{64}), expected ([0-9a-f]{64}); the copy was removed",
        file.error,
    )
    assert match is not None, file.error
    assert match.group(1) != match.group(2)
    assert list(destination.parent.iterdir()) == []  # no copy, no temporary

    unchecked = _run(LocalCopy(), "local-upload", _one_file(str(COUNTERS), str(destination), 0))
    assert unchecked.status == "completed"  # without the check, nothing noticed


@needs_counters
def test_a_direct_call_raises_the_mismatch_with_both_checksums(tmp_path: Path) -> None:
    destination = tmp_path / "io"
    file = tq.TransferFile(source_path=str(COUNTERS), destination_path=str(destination), size=0)
    with pytest.raises(ChecksumMismatchError) as raised:
        LocalCopy(checksum=True)(file, lambda loaded: None)
    error = raised.value
    assert (error.path, error.algorithm) == (str(destination), "sha256")
    assert error.expected != error.actual
    assert error.actual in str(error)
    assert error.expected in str(error)
    assert isinstance(error, OSError)
    assert tq.RetryPolicy(max_attempts=2).is_transient(error)  # worth another attempt
    assert not destination.exists()


def test_a_checked_copy_reads_the_source_it_cannot_read_as_a_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the source for the check that fails is reported as the source's."""
    source = tmp_path / "a.bin"
    source.write_bytes(b"abc")
    real = os.pread
    reads = {"count": 0}

    def pread(fd: int, size: int, offset: int) -> bytes:
        reads["count"] += 1
        if reads["count"] == 1:  # the check's first read: the source's
            raise OSError(5, "Input/output error")
        return real(fd, size, offset)

    monkeypatch.setattr(os, "pread", pread)
    file = tq.TransferFile(
        source_path=str(source), destination_path=str(tmp_path / "b.bin"), size=3
    )
    with pytest.raises(OSError, match=r"cannot read source .*a\.bin: Input/output error"):
        LocalCopy(checksum=True)(file, lambda loaded: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.bin"]


def test_local_copy_checksum_option() -> None:
    assert LocalCopy(checksum=True).checksum
    assert not LocalCopy().checksum
    with pytest.raises(TypeError, match="checksum must be a bool, not str"):
        LocalCopy(checksum="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checksum must be a bool, not int"):
        Transfer(checksum=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checksum must be a bool, not NoneType"):
        S3Transfer(checksum=None)  # type: ignore[arg-type]


@needs_counters
def test_cp_checksum_fails_a_copy_that_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "io"
    assert _cli.main(["cp", "-q", "--checksum", str(COUNTERS), str(destination)]) == 1
    err = capsys.readouterr().err
    assert f"failed {COUNTERS}: {destination}: the copy does not match its source: sha256" in err
    assert not destination.exists()
    assert _cli.main(["cp", "-q", str(COUNTERS), str(destination)]) == 0  # unchecked: copied


def test_cp_checksum_copies_what_matches(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    assert _cli.main(["cp", "-q", "--checksum", str(tmp_path / "a.txt"), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b").read_bytes() == b"hello"


# -- what an S3 object's headers say -------------------------------------------------------


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


DATA = b"the quick brown fox"
MD5 = hashlib.md5(DATA).hexdigest()
SHA256 = _b64(hashlib.sha256(DATA).digest())
SHA1 = _b64(hashlib.sha1(DATA).digest())
CRC32 = _b64(zlib.crc32(DATA).to_bytes(4, "big"))


def _no_parts() -> object:
    raise AssertionError("no HEAD of part 1 expected")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ({"ETag": f'"{MD5}"', "ChecksumSHA256": SHA256}, Expected("md5", MD5)),
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "AES256"}, Expected("md5", MD5)),
        (
            {"ETag": '"0123"', "ServerSideEncryption": "aws:kms", "ChecksumSHA256": SHA256},
            Expected("sha256", SHA256),
        ),
        (
            {"ETag": f'"{MD5}"', "SSECustomerAlgorithm": "AES256", "ChecksumSHA1": SHA1},
            Expected("sha1", SHA1),
        ),
        ({"ChecksumCRC32": CRC32}, Expected("crc32", CRC32)),
        ({"ChecksumSHA256": "not base64!", "ChecksumCRC32": CRC32}, Expected("crc32", CRC32)),
        ({"ChecksumSHA256": _b64(b"short")}, None),  # the wrong length for a sha256
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "aws:kms"}, None),
        ({"ETag": "garbage", "ChecksumCRC64NVME": "AAAAAAAAAAA="}, None),
        ({}, None),
        ({"ETag": 17}, None),
        (
            {"ETag": f'"{MD5}-2"', "ChecksumType": "FULL_OBJECT", "ChecksumCRC32": CRC32},
            Expected("crc32", CRC32),
        ),
        # A composite checksum of parts cannot be recomputed: the ETag of parts then.
        (
            {
                "ETag": f'"{MD5}-2"',
                "ChecksumType": "COMPOSITE",
                "ChecksumCRC32": CRC32,
                "ServerSideEncryption": "aws:kms",
            },
            None,
        ),
    ],
)
def test_what_an_objects_headers_say_it_holds(
    head: dict[str, Any], expected: Expected | None
) -> None:
    assert expected_of_object(head, _no_parts) == expected


@pytest.mark.parametrize(
    ("etag", "size", "part", "expected"),
    [
        (f"{MD5}-3", 25, 10, Expected("md5", f"{MD5}-3", part_size=10, parts=3)),
        (f"{MD5}-3", 30, 10, Expected("md5", f"{MD5}-3", part_size=10, parts=3)),
        (f"{MD5}-3", 31, 10, None),  # more than 3 parts of 10 hold
        (f"{MD5}-3", 20, 10, None),  # 2 parts would do: the parts are of other sizes
        (f"{MD5}-3", 25, "10", None),  # a part size that is no int
        (f"{MD5}-3", 25, 0, None),
        (f"{MD5}-3", "25", 10, None),
        (f"{MD5}-0", 25, 10, None),
        (f"{MD5}-10001", 25, 10, None),  # more parts than S3 allows
    ],
)
def test_a_multipart_etag_needs_parts_that_fit(
    etag: str, size: object, part: object, expected: Expected | None
) -> None:
    head = {"ETag": f'"{etag}"', "ContentLength": size}
    assert expected_of_object(head, lambda: part) == expected


def test_checksums_of_files_as_s3_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "data"
    data = os.urandom(25)
    path.write_bytes(data)
    parts = [data[:10], data[10:20], data[20:]]
    composite = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    fd = os.open(path, os.O_RDONLY)
    try:
        assert Expected("crc32", "").of_file(fd, None, _never) == _b64(
            zlib.crc32(data).to_bytes(4, "big")
        )
        assert Expected("sha256", "").of_file(fd, 5, _never) == _b64(
            hashlib.sha256(data[:5]).digest()
        )
        assert Expected("md5", "").of_file(fd, None, _never) == hashlib.md5(data).hexdigest()
        multipart = Expected("md5", "", part_size=10, parts=3)
        assert multipart.of_file(fd, None, _never) == f"{composite}-3"
        assert Expected("md5", "", part_size=5, parts=5).of_file(fd, None, _never).endswith("-5")
        assert file_sha256(fd, _never) == hashlib.sha256(data).hexdigest()
    finally:
        os.close(fd)
    assert multipart.name == "ETag (MD5 of 3 parts)"
    assert Expected("md5", "x").name == "ETag (MD5)"
    assert Expected("crc32", "x").name == "CRC32"


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


@pytest.mark.parametrize(
    ("source", "copy", "compared"),
    [
        ({"ETag": f'"{MD5}"'}, {"ETag": f'"{MD5}"'}, ("ETag (MD5)", MD5, MD5)),
        (
            {"ETag": f'"{MD5}"', "ChecksumCRC32": CRC32},
            {"ETag": f'"{MD5}-2"', "ChecksumType": "FULL_OBJECT", "ChecksumCRC32": "AAAAAA=="},
            ("CRC32", CRC32, "AAAAAA=="),
        ),
        (
            {"ETag": '"x"', "ChecksumCRC64NVME": "AAAAAAAAAAA=", "ChecksumSHA256": SHA256},
            {"ETag": '"y"', "ChecksumCRC64NVME": "AAAAAAAAAAE="},
            ("CRC64NVME", "AAAAAAAAAAA=", "AAAAAAAAAAE="),
        ),
        ({"ETag": f'"{MD5}-2"', "ChecksumCRC32": CRC32}, {"ChecksumCRC32": CRC32}, None),
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "aws:kms"}, {"ETag": f'"{MD5}"'}, None),
        ({"ChecksumCRC32": "not base64!"}, {"ChecksumCRC32": CRC32}, None),
        ({"ChecksumCRC32": 5}, {"ChecksumCRC32": CRC32}, None),
        ({"ChecksumSHA1": SHA1}, {"ChecksumCRC32": CRC32}, None),
        ({}, {}, None),
    ],
)
def test_two_objects_are_compared_by_a_checksum_both_carry(
    source: dict[str, Any], copy: dict[str, Any], compared: tuple[str, str, str] | None
) -> None:
    assert compare_objects(source, copy) == compared
