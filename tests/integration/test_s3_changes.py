"""The S3 executor when things change under a transfer, against the real moto server:
an object replaced during a multipart download or copy, a file that grows between the
executor's look at its size and the upload, and a conditional PUT whose reply was lost
(botocore's retry then meets the object the first attempt stored)."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.exceptions
import pytest
from botocore.config import Config

from tests.helpers.direct_calls import FakeProgress, transfer_file
from tests.helpers.s3_payloads import MiB, multipart_config, open_uploads, payload, read_object
from tests.helpers.s3_server import MotoServer, s3_client
from tests.helpers.stall_proxy import ReplyDroppingProxy, reply_dropping_proxy
from transferqueue.executors import S3Transfer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


BUCKET = "bucket"


@pytest.fixture
def client(s3_env: str) -> S3Client:
    """A boto3 client on the moto server, with the test bucket created."""
    made = s3_client()
    made.create_bucket(Bucket=BUCKET)
    return made


def replace_before(client: S3Client, operation: str, condition: str, key: str) -> list[str]:
    """Make ``client`` replace ``key`` (same size, other bytes) with another client just
    before its first ``operation`` request that carries ``condition`` (the ETag the
    transfer's first request saw) goes out; returns the list of ETags it carried."""
    other = s3_client()
    carried: list[str] = []
    lock = threading.Lock()

    def replace(params: dict[str, Any], **kwargs: Any) -> None:
        with lock:
            if condition not in params or carried:
                return
            carried.append(params[condition])
            size = other.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
            other.put_object(Bucket=BUCKET, Key=key, Body=payload(size, seed=99))

    client.meta.events.register(f"before-parameter-build.s3.{operation}", replace)
    return carried


def test_an_object_replaced_during_a_download_is_reported_as_changed(
    client: S3Client, tmp_path: Path
) -> None:
    """The later ranged GETs of a multipart download carry the first one's ETag: an
    object replaced after the first part fails the download with an OSError saying that
    the source changed (it was a FileExistsError about a "destination object"); no file
    is left."""
    data = payload(12 * MiB, seed=1)
    client.put_object(Bucket=BUCKET, Key="big", Body=data)
    downloading = s3_client()
    carried = replace_before(downloading, "GetObject", "IfMatch", "big")
    config = multipart_config(max_concurrency=1)
    with (
        S3Transfer(client=downloading, transfer_config=config) as executor,
        pytest.raises(OSError, match="changed") as info,
    ):
        executor(
            transfer_file(f"s3://{BUCKET}/big", tmp_path / "big", len(data)),
            FakeProgress().as_callback(),
        )
    assert type(info.value) is OSError
    assert str(info.value) == (
        f"s3://{BUCKET}/big: cannot download: the source object changed during the transfer"
    )
    assert len(carried) == 1
    assert list(tmp_path.iterdir()) == []


def precondition_failed(operation: str) -> botocore.exceptions.ClientError:
    """The error botocore raises for a 412 answer to ``operation``."""
    response: Any = {
        "Error": {"Code": "PreconditionFailed", "Message": "At least one ... did not hold"},
        "ResponseMetadata": {"HTTPStatusCode": 412},
    }
    return botocore.exceptions.ClientError(response, operation)


def wrapped_by_s3transfer(error: Exception) -> Exception:
    """``error`` as newer s3transfer (0.19) reports it: another exception raised while
    handling it (S3CopyFailedError, S3DownloadFailedError: "did not match expected ETag")."""
    try:
        raise error
    except botocore.exceptions.ClientError:
        try:
            raise RuntimeError("Contents of stored object did not match expected ETag.")
        except RuntimeError as wrapper:
            return wrapper


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "wrapped"])
def test_a_412_of_a_copy_or_download_names_the_changed_source(wrapped: bool) -> None:
    """The parts of a multipart server-side copy carry the source's ETag
    (CopySourceIfMatch), as the later GETs of a download do (IfMatch): their 412 is
    reported as the source having changed, naming the source (it was a FileExistsError
    about the destination). moto ignores CopySourceIfMatch on UploadPartCopy, so the
    copy is checked on the error s3transfer raises; the download is checked for real
    above. A 412 of an upload without the condition is an error like any other."""
    with S3Transfer(client=s3_client(region_name="us-east-1")) as executor:
        for operation, fail in [
            ("UploadPartCopy", executor._copy_failure("s3://src/big", "s3://dst/copy")),
            ("GetObject", executor._failure("s3://src/big", "download", source_changed=True)),
        ]:
            error: Exception = precondition_failed(operation)
            if wrapped:
                error = wrapped_by_s3transfer(error)
            reported = fail(error)
            assert type(reported) is OSError
            action = "copy" if operation == "UploadPartCopy" else "download"
            assert str(reported) == (
                f"s3://src/big: cannot {action}: the source object changed during the transfer"
            )
        # Another failure of s3transfer's, raised while handling no 412, is not a change.
        other = executor._failure("s3://src/big", "download", source_changed=True)
        assert str(other(RuntimeError("boom"))) == (
            "s3://src/big: cannot download: RuntimeError: boom"
        )
        plain = executor._failure("s3://dst/k", "upload to")(precondition_failed("PutObject"))
        assert type(plain) is OSError
        assert "PreconditionFailed" in str(plain)


def grow_after_stat(monkeypatch: pytest.MonkeyPatch, path: Path, more: bytes) -> threading.Event:
    """Append ``more`` to ``path`` right after the first ``os.stat`` of it returned: the
    file grows in the window between the executor's measure and s3transfer's."""
    real_stat = os.stat
    grown = threading.Event()

    def stat_then_grow(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(name, *args, **kwargs)
        if os.fspath(name) == str(path) and not grown.is_set():
            grown.set()
            with open(path, "ab") as stream:
                stream.write(more)
        return info

    monkeypatch.setattr(os, "stat", stat_then_grow)
    return grown


def test_a_file_that_grows_past_the_threshold_still_goes_in_one_put(
    moto_server: MotoServer,
    client: S3Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file measured below multipart_threshold that grows past it before s3transfer
    measures it again still goes in the one conditional PUT, as long as it was when
    measured (s3transfer chose a multipart upload and handed it If-None-Match, which
    CreateMultipartUpload refused: ParamValidationError). An existing object is still
    refused by that PUT."""
    source = tmp_path / "grows"
    source.write_bytes(b"a" * 1000)
    grown = grow_after_stat(monkeypatch, source, b"b" * (9 * MiB))
    progress = FakeProgress()
    with S3Transfer(transfer_config=multipart_config()) as executor:
        requests = moto_server.requests_during(
            lambda: executor(
                transfer_file(source, f"s3://{BUCKET}/grows", 1000), progress.as_callback()
            )
        )
        assert grown.is_set()
        assert requests == [f"PUT /{BUCKET}/grows"]
        assert read_object(client, BUCKET, "grows") == b"a" * 1000
        assert progress.values[-1] == 1000
        source.write_bytes(b"c" * 1000)
        grown = grow_after_stat(monkeypatch, source, b"d" * (9 * MiB))
        with pytest.raises(FileExistsError):
            executor(transfer_file(source, f"s3://{BUCKET}/grows", 1000), progress.as_callback())
        assert grown.is_set()
    assert read_object(client, BUCKET, "grows") == b"a" * 1000
    assert open_uploads(client, BUCKET) == []


@pytest.fixture
def put_reply_dropped(moto_endpoint: str) -> Iterator[ReplyDroppingProxy]:
    """A proxy in front of the moto server that loses the reply to the first PUT."""
    yield from reply_dropping_proxy(moto_endpoint, "PUT")


def proxied_client(proxy: ReplyDroppingProxy) -> S3Client:
    """A client through ``proxy``, retrying as botocore does by default (legacy mode:
    up to 4 retries of a lost connection)."""
    return s3_client(
        endpoint_url=proxy.url, config=Config(retries={"mode": "legacy", "max_attempts": 4})
    )


def test_a_retried_put_that_meets_its_own_object_succeeds(
    client: S3Client, tmp_path: Path, put_reply_dropped: ReplyDroppingProxy
) -> None:
    """The server stores the first conditional PUT but its reply is lost; botocore sends
    the PUT again, which the server refuses (412: the object exists). The object holds
    the file's bytes (its ETag is their MD5), so the upload is ours and succeeds (it was
    a FileExistsError)."""
    source = tmp_path / "f"
    source.write_bytes(payload(300_000, seed=3))
    progress = FakeProgress()
    with S3Transfer(client=proxied_client(put_reply_dropped)) as executor:
        executor(transfer_file(source, f"s3://{BUCKET}/f", 300_000), progress.as_callback())
    assert put_reply_dropped.dropped.is_set()
    assert read_object(client, BUCKET, "f") == source.read_bytes()
    assert progress.values[-1] == 300_000


@pytest.mark.parametrize("meanwhile", ["replaced", "file removed"])
def test_a_retried_put_that_meets_another_object_is_refused(
    client: S3Client, tmp_path: Path, put_reply_dropped: ReplyDroppingProxy, meanwhile: str
) -> None:
    """A retried PUT refused with 412 stays a FileExistsError when the object does not
    hold the file's bytes (it was replaced before the retry) or the file cannot be read
    to tell (removed meanwhile); the object is kept."""
    source = tmp_path / "f"
    source.write_bytes(b"mine")
    uploading = proxied_client(put_reply_dropped)
    attempts: list[int] = []

    def before_retry(**kwargs: Any) -> None:
        attempts.append(1)
        if len(attempts) == 2:
            if meanwhile == "replaced":
                client.put_object(Bucket=BUCKET, Key="f", Body=b"theirs")
            else:
                source.unlink()

    uploading.meta.events.register("before-send.s3.PutObject", before_retry)
    with S3Transfer(client=uploading) as executor, pytest.raises(FileExistsError) as info:
        executor(transfer_file(source, f"s3://{BUCKET}/f", 4), FakeProgress().as_callback())
    assert info.value.errno == errno.EEXIST
    assert put_reply_dropped.dropped.is_set()
    assert len(attempts) == 2
    expected = b"theirs" if meanwhile == "replaced" else b"mine"
    assert read_object(client, BUCKET, "f") == expected


def test_a_file_that_shrinks_before_its_put_fails_it_at_once(
    client: S3Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file cut short after the executor measured it fails its single PUT with an
    OSError naming the URL and where the file ended, without retries and without
    waiting on a server that expects the measured length; no object appears."""
    source = tmp_path / "shrinks"
    source.write_bytes(b"a" * 1000)
    real_stat = os.stat
    cut = threading.Event()

    def stat_then_cut(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(name, *args, **kwargs)
        if os.fspath(name) == str(source) and not cut.is_set():
            cut.set()
            os.truncate(source, 400)
        return info

    monkeypatch.setattr(os, "stat", stat_then_cut)
    with S3Transfer() as executor, pytest.raises(OSError, match="ended at byte 400") as info:
        executor(
            transfer_file(source, f"s3://{BUCKET}/shrinks", 1000), FakeProgress().as_callback()
        )
    assert cut.is_set()
    assert f"s3://{BUCKET}/shrinks: cannot upload to" in str(info.value)
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET)
