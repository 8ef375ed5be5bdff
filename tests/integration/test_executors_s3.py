"""The S3 executor and listing helper against a real S3 endpoint (moto's server on
127.0.0.1) through real boto3 clients; every test checks the bytes that arrived.

Covered: absolute progress, cancellation reaching the executor, a failure becoming the
file's error text, and the executor's S3 behaviour (multipart, ranged downloads, errors)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.direct_calls import FakeProgress, transfer_file
from tests.helpers.s3_payloads import (
    MiB,
    multipart_config,
    open_uploads,
    payload,
    read_object,
)
from tests.helpers.s3_server import MotoServer, free_port, s3_client
from transferqueue.executors import S3Transfer, list_s3_objects, parse_s3_url
from transferqueue.executors._files.file_lock import FileBusyError, open_locked
from transferqueue.executors._files.remote_names import UnsafeRemoteNameError
from transferqueue.executors._s3 import s3_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The moto server's fixtures, made visible to pytest in this module.

BUCKET = "bucket"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    return sha256(path.read_bytes())


def keys(client: S3Client, bucket: str) -> list[str]:
    return [entry["Key"] for entry in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def run_job(executor: tq.Executor, type_: str, files: list[dict[str, Any]]) -> tq.TransferJob:
    with tq.TransferQueue(2) as queue:
        job_id = queue.queue_job(type_, files, executor)
        return queue.wait(job_id, timeout=WAIT)


@pytest.fixture
def client(s3_env: str) -> S3Client:
    """A boto3 client on the moto server, with the test bucket created."""
    made = s3_client()
    made.create_bucket(Bucket=BUCKET)
    return made


@pytest.fixture
def s3(client: S3Client) -> Iterator[S3Transfer]:
    """An S3Transfer on the moto server with small multipart parts, closed afterwards."""
    with S3Transfer(client=client, transfer_config=multipart_config()) as executor:
        yield executor


# -- URLs ------------------------------------------------------------------------------


def test_parse_s3_url_splits_bucket_and_key() -> None:
    """``s3://bucket/key`` names a bucket and a key (which may hold slashes)."""
    assert parse_s3_url("s3://my-bucket/a/b/c.txt") == ("my-bucket", "a/b/c.txt")
    assert parse_s3_url("s3://my.bucket") == ("my.bucket", "")
    assert parse_s3_url("s3://abc/") == ("abc", "")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://bucket/key", "not an S3 URL"),
        ("bucket/key", "not an S3 URL"),
        ("s3://", "no bucket"),
        ("s3:///key", "no bucket"),
        ("s3://ab/key", "invalid bucket name"),
        ("s3://Upper/key", "invalid bucket name"),
        ("s3://-bucket/key", "invalid bucket name"),
        ("s3://bu_cket/key", "invalid bucket name"),
    ],
)
def test_parse_s3_url_rejects_bad_urls(url: str, problem: str) -> None:
    """A bad URL is a ValueError that names the URL and the problem."""
    with pytest.raises(ValueError, match=problem) as info:
        parse_s3_url(url)
    assert repr(url) in str(info.value)


def test_executor_refuses_paths_without_s3(s3: S3Transfer, tmp_path: Path) -> None:
    """A pair with no s3:// side is refused with a message naming both paths."""
    with pytest.raises(ValueError, match="needs an s3:// source or destination"):
        s3(transfer_file(tmp_path / "a", tmp_path / "b", 1), FakeProgress().as_callback())
    with pytest.raises(ValueError, match="names no object"):
        s3(transfer_file(tmp_path / "a", "s3://bucket/dir/", 1), FakeProgress().as_callback())


def test_s3_names_need_boto3_only_when_used() -> None:
    """boto3 is an extra: without it the other executors import, S3 URLs are parsed
    (plain string code), and the S3 names that need the SDK raise an ImportError that
    says what to install."""
    script = (
        "import sys; sys.modules['boto3'] = None\n"
        "import transferqueue.executors as e\n"
        "assert e.LocalCopy is not None\n"
        "assert e.parse_s3_url('s3://bucket/a/b') == ('bucket', 'a/b')\n"
        "assert e.is_s3_url('s3://bucket') and not e.is_s3_url('/s3:/x')\n"
        "assert 'boto3' not in sys.modules or sys.modules['boto3'] is None\n"
        "try:\n"
        "    e.S3Transfer\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert done.stdout.strip() == (
        "transferqueue.executors.S3Transfer needs boto3: pip install 'transferqueue[s3]'"
    )


# -- uploads and downloads ---------------------------------------------------------------


def test_small_upload_called_directly(s3: S3Transfer, client: S3Client, tmp_path: Path) -> None:
    """A small upload arrives whole; progress is reported from the caller's thread
    in absolute bytes, ending at the size."""
    data = payload(300_000)
    source = tmp_path / "small.bin"
    source.write_bytes(data)
    progress = FakeProgress()
    s3(transfer_file(source, f"s3://{BUCKET}/dir/small.bin", len(data)), progress.as_callback())
    arrived = read_object(client, BUCKET, "dir/small.bin")
    assert (len(arrived), sha256(arrived)) == (len(data), sha256(data))
    assert progress.values[-1] == len(data)
    assert all(0 <= value <= len(data) for value in progress.values)
    assert progress.threads == {threading.current_thread().name}


def test_multipart_upload_through_a_queue(s3: S3Transfer, client: S3Client, tmp_path: Path) -> None:
    """20 MiB goes up in 4 parts through a real queue; the object's
    checksum matches and the progress the executor reported is absolute, ending at size."""
    data = payload(20 * MiB, seed=1)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    seen: list[int] = []
    wrappers: list[RecordingProgress] = []
    reached = threading.Event()  # parts 2.. wait until the executor reported part 1
    hold_requests(client, "UploadPart", lambda params: params["PartNumber"] >= 2, reached)

    def recording(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        wrapper = RecordingProgress(on_progress, seen, 5 * MiB, reached)
        wrappers.append(wrapper)
        s3(file, cast(tq.ProgressCallback, wrapper))

    job = run_job(
        recording,
        "s3-upload",
        [{"source_path": source, "destination_path": f"s3://{BUCKET}/big.bin", "size": len(data)}],
    )
    assert job.status == "completed", job.files[0].error
    head = client.head_object(Bucket=BUCKET, Key="big.bin")
    assert head["ETag"].strip('"').endswith("-4")  # a multipart upload of 4 parts
    arrived = read_object(client, BUCKET, "big.bin")
    assert (len(arrived), sha256(arrived)) == (len(data), sha256(data))
    assert seen[-1] == len(data)
    assert any(5 * MiB <= value < len(data) for value in seen)  # along the way
    assert seen == sorted(seen)  # absolute totals, not increments
    assert job.progress.loaded_bytes == len(data)


def test_small_and_multipart_download(s3: S3Transfer, client: S3Client, tmp_path: Path) -> None:
    """A small and a 20 MiB (ranged, multipart) download through a real queue
    arrive whole in new subfolders, and no temporary file is left beside them."""
    small, big = payload(1000, seed=2), payload(20 * MiB, seed=3)
    client.put_object(Bucket=BUCKET, Key="small.txt", Body=small)
    client.upload_file(
        str(_write(tmp_path / "up.bin", big)), BUCKET, "deep/big.bin", Config=TransferConfig()
    )
    out = tmp_path / "out"
    job = run_job(
        s3,
        "s3-download",
        [
            {
                "source_path": f"s3://{BUCKET}/small.txt",
                "destination_path": out / "a" / "small.txt",
                "size": len(small),
            },
            {
                "source_path": f"s3://{BUCKET}/deep/big.bin",
                "destination_path": out / "b" / "big.bin",
                "size": len(big),
            },
        ],
    )
    assert job.status == "completed", [f.error for f in job.files]
    assert file_sha256(out / "a" / "small.txt") == sha256(small)
    assert (out / "b" / "big.bin").stat().st_size == len(big)
    assert file_sha256(out / "b" / "big.bin") == sha256(big)
    assert sorted(p.name for p in out.rglob("*")) == ["a", "b", "big.bin", "small.txt"]
    assert job.progress.loaded_bytes == len(small) + len(big)


def test_download_called_directly_reports_progress(
    s3: S3Transfer, client: S3Client, tmp_path: Path
) -> None:
    """A direct multipart download reports absolute bytes ending at the size."""
    data = payload(12 * MiB, seed=4)
    client.put_object(Bucket=BUCKET, Key="k.bin", Body=data)
    progress = FakeProgress()
    target = tmp_path / "k.bin"
    s3(transfer_file(f"s3://{BUCKET}/k.bin", target, len(data)), progress.as_callback())
    assert file_sha256(target) == sha256(data)
    assert progress.values[-1] == len(data)
    assert progress.values == sorted(progress.values)


def test_download_refuses_to_overwrite_unless_asked(client: S3Client, tmp_path: Path) -> None:
    """An existing destination is kept (FileExistsError naming it) unless the
    executor was made with overwrite=True, which replaces it."""
    data = payload(5000, seed=5)
    client.put_object(Bucket=BUCKET, Key="k", Body=data)
    target = tmp_path / "k"
    target.write_bytes(b"precious")
    file = transfer_file(f"s3://{BUCKET}/k", target, len(data))
    with S3Transfer(client=client) as keep:
        with pytest.raises(FileExistsError, match="destination exists") as info:
            keep(file, FakeProgress().as_callback())
        assert str(target) in str(info.value)
        assert target.read_bytes() == b"precious"
        job = run_job(keep, "s3-download", [attrs_dict(file)])
        assert job.status == "failed"
        assert "destination exists" in (job.files[0].error or "")
        assert target.read_bytes() == b"precious"
    with S3Transfer(client=client, overwrite=True) as replace:
        replace(file, FakeProgress().as_callback())
    assert file_sha256(target) == sha256(data)
    assert os.listdir(tmp_path) == ["k"]


def test_upload_refuses_an_existing_object_unless_asked(client: S3Client, tmp_path: Path) -> None:
    """Overwrite=False also keeps an existing object (FileExistsError naming
    its URL); overwrite=True replaces it."""
    client.put_object(Bucket=BUCKET, Key="k", Body=b"old")
    data = payload(2000, seed=6)
    file = transfer_file(_write(tmp_path / "new", data), f"s3://{BUCKET}/k", len(data))
    with (
        S3Transfer(client=client) as keep,
        pytest.raises(FileExistsError, match=f"s3://{BUCKET}/k"),
    ):
        keep(file, FakeProgress().as_callback())
    assert read_object(client, BUCKET, "k") == b"old"
    with S3Transfer(client=client, overwrite=True) as replace:
        replace(file, FakeProgress().as_callback())
    assert sha256(read_object(client, BUCKET, "k")) == sha256(data)


def test_default_client_comes_from_the_environment(s3_env: str, tmp_path: Path) -> None:
    """Without a client, boto3's usual configuration (AWS_ENDPOINT_URL, the
    credentials in the environment) decides where the bytes go."""
    check = s3_client()
    check.create_bucket(Bucket="env-bucket")
    data = payload(4096, seed=7)
    with S3Transfer() as executor:
        executor(
            transfer_file(_write(tmp_path / "f", data), "s3://env-bucket/f", len(data)),
            FakeProgress().as_callback(),
        )
        assert executor.client.meta.endpoint_url == s3_env
        # Room for 10 request + 5 submission threads and the queue workers' HEADs. (Config
        # keeps its options as instance attributes, which botocore-stubs do not declare.)
        assert vars(executor.client.meta.config)["max_pool_connections"] == 25
    assert sha256(read_object(check, "env-bucket", "f")) == sha256(data)


# -- copies -------------------------------------------------------------------------------


def test_server_side_copy_small_and_multipart(s3: S3Transfer, client: S3Client) -> None:
    """S3-to-S3 copies (one request, and 4 copied parts) through a real queue
    arrive with the source's bytes, and report progress up to the size."""
    client.create_bucket(Bucket="other")
    small, big = payload(777, seed=8), payload(20 * MiB, seed=9)
    client.put_object(Bucket=BUCKET, Key="small", Body=small)
    client.put_object(Bucket=BUCKET, Key="big", Body=big)
    job = run_job(
        s3,
        "cross-storage",
        [
            {
                "source_path": f"s3://{BUCKET}/small",
                "destination_path": "s3://other/copy/small",
                "size": len(small),
            },
            {
                "source_path": f"s3://{BUCKET}/big",
                "destination_path": "s3://other/copy/big",
                "size": len(big),
            },
        ],
    )
    assert job.status == "completed", [f.error for f in job.files]
    assert sha256(read_object(client, "other", "copy/small")) == sha256(small)
    assert sha256(read_object(client, "other", "copy/big")) == sha256(big)
    assert client.head_object(Bucket="other", Key="copy/big")["ETag"].strip('"').endswith("-4")
    assert job.progress.loaded_bytes == len(small) + len(big)


def test_streamed_copy_with_a_source_client(client: S3Client) -> None:
    """With source_client the copy streams (GET with one client, multipart
    upload with the other) and arrives whole, progress ending at the size."""
    data = payload(11 * MiB, seed=10)
    client.put_object(Bucket=BUCKET, Key="src", Body=data)
    client.create_bucket(Bucket="target")
    progress = FakeProgress()
    with S3Transfer(
        client=client, source_client=s3_client(), transfer_config=multipart_config()
    ) as executor:
        executor(
            transfer_file(f"s3://{BUCKET}/src", "s3://target/dst", len(data)),
            progress.as_callback(),
        )
    assert sha256(read_object(client, "target", "dst")) == sha256(data)
    assert progress.values[-1] == len(data)
    assert client.head_object(Bucket="target", Key="dst")["ETag"].strip('"').endswith("-3")


# -- cancellation -------------------------------------------------------------------------


class RecordingProgress:
    """Wraps the queue's on_progress: records values, sets ``reached`` once ``threshold``
    bytes were reported, and sets ``saw_cancel`` once the executor learnt of a cancel."""

    def __init__(
        self,
        real: tq.ProgressCallback,
        seen: list[int],
        threshold: int | None = None,
        reached: threading.Event | None = None,
    ) -> None:
        self.real = real
        self.seen = seen
        self.threshold = threshold
        self.reached = reached if reached is not None else threading.Event()
        self.saw_cancel = threading.Event()

    def __call__(self, loaded: int) -> None:
        self.seen.append(loaded)
        if self.threshold is not None and loaded >= self.threshold:
            self.reached.set()
        try:
            self.real(loaded)
        except tq.TransferCancelled:
            self.saw_cancel.set()
            raise

    @property
    def cancelled(self) -> bool:
        if self.real.cancelled:
            self.saw_cancel.set()
            return True
        return False

    def raise_if_cancelled(self) -> None:
        try:
            self.real.raise_if_cancelled()
        except tq.TransferCancelled:
            self.saw_cancel.set()
            raise

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        if self.real.wait_cancelled(timeout):
            self.saw_cancel.set()
            return True
        return False


def hold_requests(client: S3Client, operation: str, hold: Any, release: threading.Event) -> None:
    """Make ``client``'s requests of ``operation`` for which ``hold(params)`` is true wait
    (in s3transfer's threads) until ``release`` is set: the transfer cannot finish before
    the executor has seen the cancel."""

    def handler(params: dict[str, Any], **kwargs: Any) -> None:
        if hold(params):
            release.wait(WAIT)

    client.meta.events.register(f"before-parameter-build.s3.{operation}", handler)


def run_cancelled_job(
    executor: S3Transfer,
    type_: str,
    file: dict[str, Any],
    threshold: int,
    release: threading.Event,
) -> tuple[tq.TransferJob, list[int]]:
    """Queue ``file``; cancel the job once ``threshold`` bytes were reported; let held
    requests go once the executor has seen the cancel; return the job and the values."""
    seen: list[int] = []
    wrappers: list[RecordingProgress] = []
    started = threading.Event()
    done = threading.Event()

    def wrapped(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        wrapper = RecordingProgress(on_progress, seen, threshold)
        wrappers.append(wrapper)
        started.set()
        try:
            executor(file, cast(tq.ProgressCallback, wrapper))
        finally:
            done.set()

    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job(type_, [file], wrapped)
        assert started.wait(WAIT)
        assert wrappers[0].reached.wait(WAIT), seen
        assert queue.cancel_job(job_id)
        assert wrappers[0].saw_cancel.wait(WAIT)
        release.set()
        assert done.wait(WAIT)
        job = queue.wait(job_id, timeout=WAIT)
    return job, seen


def test_cancel_mid_multipart_upload_leaves_no_upload(client: S3Client, tmp_path: Path) -> None:
    """Cancelling the job after the first 5 MiB part aborts the multipart
    upload: no open upload and no object remain in the bucket."""
    data = payload(20 * MiB, seed=11)
    source = _write(tmp_path / "big.bin", data)
    release = threading.Event()
    hold_requests(client, "UploadPart", lambda params: params["PartNumber"] >= 2, release)
    config = multipart_config(max_concurrency=1)
    with S3Transfer(client=client, transfer_config=config) as executor:
        job, seen = run_cancelled_job(
            executor,
            "s3-upload",
            {"source_path": source, "destination_path": f"s3://{BUCKET}/big", "size": len(data)},
            5 * MiB,
            release,
        )
    assert job.status == "cancelled"
    assert job.files[0].error == "Cancelled by user"
    assert 5 * MiB <= max(seen) < len(data)
    assert open_uploads(client, BUCKET) == []
    assert keys(client, BUCKET) == []
    # The same executor still uploads after a cancel, whole.
    with S3Transfer(client=client, transfer_config=config) as executor:
        executor(
            transfer_file(source, f"s3://{BUCKET}/big", len(data)), FakeProgress().as_callback()
        )
    assert sha256(read_object(client, BUCKET, "big")) == sha256(data)


def test_cancel_mid_download_leaves_no_file(client: S3Client, tmp_path: Path) -> None:
    """Cancelling a download after its first part leaves neither the
    destination nor a temporary file in the folder."""
    data = payload(20 * MiB, seed=12)
    client.put_object(Bucket=BUCKET, Key="big", Body=data)
    release = threading.Event()
    hold_requests(
        client,
        "GetObject",
        lambda params: not str(params.get("Range", "bytes=0-")).startswith("bytes=0-"),
        release,
    )
    out = tmp_path / "out"
    config = multipart_config(max_concurrency=1)
    with S3Transfer(client=client, transfer_config=config) as executor:
        job, seen = run_cancelled_job(
            executor,
            "s3-download",
            {
                "source_path": f"s3://{BUCKET}/big",
                "destination_path": out / "big",
                "size": len(data),
            },
            4 * MiB,
            release,
        )
    assert job.status == "cancelled"
    assert 4 * MiB <= max(seen) < len(data)
    assert list(out.iterdir()) == []
    # Nothing blocks a later download of the same file.
    with S3Transfer(client=client) as executor:
        executor(transfer_file(f"s3://{BUCKET}/big", out / "big", 0), FakeProgress().as_callback())
    assert file_sha256(out / "big") == sha256(data)


def test_a_download_writes_into_one_locked_temporary(client: S3Client, tmp_path: Path) -> None:
    """S3transfer writes straight into atomic_destination's temporary (given a
    file name, it would write a ``NAME.<random>`` of its own, which a process killed
    mid-download leaves behind under a name nothing recognises): while the download
    runs, the folder holds that one ``.NAME.<8 hex>.part``, locked; then the file."""
    data = payload(12 * MiB, seed=21)
    client.put_object(Bucket=BUCKET, Key="big", Body=data)
    release, held = threading.Event(), threading.Event()

    def second_part(params: dict[str, Any]) -> bool:
        if str(params.get("Range", "bytes=0-")).startswith("bytes=0-"):
            return False
        held.set()
        return True

    hold_requests(client, "GetObject", second_part, release)
    out = tmp_path / "out"
    failures: list[BaseException] = []
    config = multipart_config(max_concurrency=1)
    with S3Transfer(client=client, transfer_config=config) as executor:

        def run() -> None:
            try:
                file = transfer_file(f"s3://{BUCKET}/big", out / "big", len(data))
                executor(file, FakeProgress().as_callback())
            except BaseException as exc:  # noqa: BLE001 - inspected below
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        try:
            assert held.wait(WAIT)
            (name,) = os.listdir(out)
            assert re.fullmatch(r"\.big\.[0-9a-f]{8}\.part", name), name
            with pytest.raises(FileBusyError):
                os.close(open_locked(out / name, os.O_RDONLY))
        finally:
            release.set()
            thread.join(WAIT)
    assert failures == []
    assert os.listdir(out) == ["big"]
    assert file_sha256(out / "big") == sha256(data)


def test_direct_cancel_raises_transfer_cancelled(client: S3Client, tmp_path: Path) -> None:
    """An executor called directly raises TransferCancelled (naming the URL) once its
    on_progress says cancelled, and the aborted upload leaves nothing behind."""
    data = payload(20 * MiB, seed=13)
    source = _write(tmp_path / "f", data)
    release = threading.Event()
    progress = FakeProgress()

    def hold(params: dict[str, Any]) -> bool:
        if params["PartNumber"] >= 2:
            progress.cancel()  # cancelled while part 2 is held back
            return True
        return False

    hold_requests(client, "UploadPart", hold, release)
    failures: list[BaseException] = []
    config = multipart_config(max_concurrency=1)
    with S3Transfer(client=client, transfer_config=config) as executor:

        def run() -> None:
            try:
                executor(
                    transfer_file(source, f"s3://{BUCKET}/f", len(data)), progress.as_callback()
                )
            except BaseException as exc:  # noqa: BLE001 - inspected below
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        assert progress.saw_cancel.wait(WAIT)
        release.set()
        thread.join(WAIT)
        assert not thread.is_alive()
    assert len(failures) == 1
    assert isinstance(failures[0], tq.TransferCancelled), failures
    assert f"s3://{BUCKET}/f" in str(failures[0])
    assert open_uploads(client, BUCKET) == []
    assert keys(client, BUCKET) == []


# -- failures -----------------------------------------------------------------------------


def test_missing_bucket_and_key_give_clear_errors(s3: S3Transfer, tmp_path: Path) -> None:
    """A missing bucket or key fails the file in a real queue job with
    FileNotFoundError-like text naming the URL and what is missing; nothing is written."""
    source = _write(tmp_path / "f", b"data")
    out = tmp_path / "out"
    job = run_job(
        s3,
        "s3-upload",
        [{"source_path": source, "destination_path": "s3://no-such-bucket/f", "size": 4}],
    )
    assert job.status == "failed"
    assert job.files[0].error == (
        "s3://no-such-bucket/f: cannot upload to: no such bucket 'no-such-bucket'"
    )
    job = run_job(
        s3,
        "s3-download",
        [
            {"source_path": "s3://no-such-bucket/f", "destination_path": out / "a", "size": 4},
            {"source_path": f"s3://{BUCKET}/missing", "destination_path": out / "b", "size": 4},
        ],
    )
    errors = [f.error for f in job.files]
    assert errors == [
        "s3://no-such-bucket/f: cannot download: no such bucket 'no-such-bucket'",
        f"s3://{BUCKET}/missing: cannot download: no such key 'missing'",
    ]
    assert not out.exists() or list(out.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="no such key 'missing'") as info:
        s3(
            transfer_file(f"s3://{BUCKET}/missing", "s3://bucket/copy", 4),
            FakeProgress().as_callback(),
        )
    assert info.value.__cause__ is not None  # the botocore error, kept
    with S3Transfer(client=s3.client, overwrite=True) as blind:
        job = run_job(
            blind,
            "s3-upload",
            [{"source_path": source, "destination_path": "s3://no-such-bucket/f", "size": 4}],
        )
    assert job.files[0].error == (
        "s3://no-such-bucket/f: cannot upload to: no such bucket 'no-such-bucket'"
    )
    with pytest.raises(FileNotFoundError, match="source file does not exist"):
        s3(transfer_file(tmp_path / "nope", f"s3://{BUCKET}/x", 4), FakeProgress().as_callback())


def test_wrong_credentials_give_permission_errors(
    moto_server: MotoServer, client: S3Client, tmp_path: Path
) -> None:
    """With credentials the server refuses, uploads and downloads fail
    with a PermissionError naming the URL; the right credentials then work."""
    data = payload(3000, seed=14)
    client.put_object(Bucket=BUCKET, Key="k", Body=data)
    source = _write(tmp_path / "f", data)
    good = moto_server.enable_auth()
    try:
        bad_client = s3_client(
            aws_access_key_id=good["aws_access_key_id"], aws_secret_access_key="wrong"
        )
        with S3Transfer(client=bad_client) as bad:
            job = run_job(
                bad,
                "s3-download",
                [
                    {
                        "source_path": f"s3://{BUCKET}/k",
                        "destination_path": tmp_path / "out" / "k",
                        "size": len(data),
                    }
                ],
            )
            assert job.status == "failed"
            error = job.files[0].error or ""
            # The GET's refusal, whose body names the server's code.
            assert error.startswith(
                f"s3://{BUCKET}/k: cannot download: permission denied (SignatureDoesNotMatch: "
            )
            with pytest.raises(PermissionError, match="permission denied") as info:
                bad(
                    transfer_file(source, f"s3://{BUCKET}/up", len(data)),
                    FakeProgress().as_callback(),
                )
            assert f"s3://{BUCKET}/up" in str(info.value)
        # Past the HEAD request (overwrite=True), the server's error code is shown.
        with (
            S3Transfer(client=bad_client, overwrite=True) as bad,
            pytest.raises(PermissionError, match="SignatureDoesNotMatch"),
        ):
            bad(
                transfer_file(source, f"s3://{BUCKET}/up", len(data)),
                FakeProgress().as_callback(),
            )
        unknown = s3_client(aws_access_key_id="AKIAUNKNOWN", aws_secret_access_key="x")
        with (
            S3Transfer(client=unknown, overwrite=True) as bad,
            pytest.raises(PermissionError, match="InvalidAccessKeyId"),
        ):
            bad(
                transfer_file(source, f"s3://{BUCKET}/up", len(data)),
                FakeProgress().as_callback(),
            )
        assert not (tmp_path / "out" / "k").exists()
        with S3Transfer(client=s3_client(**good)) as right:
            right(
                transfer_file(f"s3://{BUCKET}/k", tmp_path / "out" / "k", len(data)),
                FakeProgress().as_callback(),
            )
        assert file_sha256(tmp_path / "out" / "k") == sha256(data)
        assert keys(s3_client(**good), BUCKET) == ["k"]  # nothing was uploaded
    finally:
        moto_server.disable_auth()


# -- listing ------------------------------------------------------------------------------


def test_list_s3_objects_pages_through_a_prefix(client: S3Client, tmp_path: Path) -> None:
    """A prefix lists every object below it (over several pages), with sizes
    and destinations below the given folder; folder markers and sibling prefixes are left
    out; each listed file then downloads whole."""
    contents = {f"data/f{i:02d}": payload(100 + i, seed=i) for i in range(11)}
    contents["data/sub/deep.txt"] = b"deep"
    for key, body in contents.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=body)
    client.put_object(Bucket=BUCKET, Key="data/empty/", Body=b"")
    client.put_object(Bucket=BUCKET, Key="data2/other", Body=b"x")
    out = tmp_path / "out"
    files = list_s3_objects(f"s3://{BUCKET}/data", out, client=client, page_size=4)
    assert files == [
        {
            "source_path": f"s3://{BUCKET}/{key}",
            "destination_path": os.path.join(out, *key.split("/")[1:]),
            "size": len(body),
        }
        for key, body in sorted(contents.items())
    ]
    assert list_s3_objects(f"s3://{BUCKET}/data/", out, client=client) == files
    with S3Transfer(client=client) as executor:
        job = run_job(executor, "s3-download", files)
    assert job.status == "completed", [f.error for f in job.files]
    for key, body in contents.items():
        assert file_sha256(out.joinpath(*key.split("/")[1:])) == sha256(body)


def test_list_s3_objects_exact_key_bucket_and_errors(client: S3Client) -> None:
    """A key that exists is one file with the destination as given; a whole
    bucket lists everything (an S3 destination joins with '/'); nothing below a prefix is
    an empty list; a missing bucket is a FileNotFoundError naming it."""
    client.put_object(Bucket=BUCKET, Key="a/b", Body=b"12345")
    client.put_object(Bucket=BUCKET, Key="a/b2", Body=b"1")
    assert list_s3_objects(f"s3://{BUCKET}/a/b", "/tmp/x/y", client=client) == [
        {"source_path": f"s3://{BUCKET}/a/b", "destination_path": "/tmp/x/y", "size": 5}
    ]
    assert list_s3_objects(f"s3://{BUCKET}", "s3://other/copy/", client=client) == [
        {"source_path": f"s3://{BUCKET}/a/b", "destination_path": "s3://other/copy/a/b", "size": 5},
        {
            "source_path": f"s3://{BUCKET}/a/b2",
            "destination_path": "s3://other/copy/a/b2",
            "size": 1,
        },
    ]
    assert list_s3_objects(f"s3://{BUCKET}/nothing", "/tmp/x", client=client) == []
    with pytest.raises(FileNotFoundError, match="no such bucket 'no-bucket'"):
        list_s3_objects("s3://no-bucket/p", "/tmp/x", client=client)


# Keys that moto stores as they are, and that no local path below a folder may come from.
HOSTILE_KEYS = {
    "p/a//b": "has an empty segment",
    "p/../x": "has a '.' or '..' segment",
    "p/a/../../x": "has a '.' or '..' segment",
    "p/./y": "has a '.' or '..' segment",
    "p//abs": "absolute",
    "p/a\\b": "contains a backslash",
    "p/nul\x00x": "contains a NUL character",
}


def test_list_s3_objects_refuses_unsafe_keys(client: S3Client, tmp_path: Path) -> None:
    """Every key below the prefix passes the one check of remote names before
    it becomes a path: a key with an empty, '.' or '..' segment, a leading '/', a
    backslash or a NUL raises UnsafeRemoteNameError naming it and where it came from
    (for a local and for an S3 destination alike); with on_error each is reported there
    and left out, and the safe keys are still listed, below the destination."""
    for key in [*HOSTILE_KEYS, "p/good.txt", "p/sub/ok.bin"]:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"data")
    out = tmp_path / "out"
    for destination in (out, "s3://other/copy/"):
        with pytest.raises(UnsafeRemoteNameError) as raised:
            list_s3_objects(f"s3://{BUCKET}/p", destination, client=client)
        assert raised.value.name == "../x"  # the first in the listing's (byte) order
        assert raised.value.where == f"s3://{BUCKET}/p/"
        assert isinstance(raised.value, ValueError)
        refused: list[UnsafeRemoteNameError] = []
        files = list_s3_objects(
            f"s3://{BUCKET}/p", destination, client=client, on_error=refused.append
        )
        assert {error.name: error.reason for error in refused} == {
            key[len("p/") :]: reason for key, reason in HOSTILE_KEYS.items()
        }
        assert [file["source_path"] for file in files] == [
            f"s3://{BUCKET}/p/good.txt",
            f"s3://{BUCKET}/p/sub/ok.bin",
        ]
        if destination == out:
            expected = [str(out / "good.txt"), str(out / "sub" / "ok.bin")]
        else:
            expected = ["s3://other/copy/good.txt", "s3://other/copy/sub/ok.bin"]
        assert [file["destination_path"] for file in files] == expected
    assert not out.exists()


def test_list_s3_objects_checks_keys_of_a_whole_bucket(client: S3Client, tmp_path: Path) -> None:
    """Listing a whole bucket, a key is the name: '/abs' and '../top' are
    refused there too."""
    for key in ("/abs", "../top", "fine"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    refused: list[UnsafeRemoteNameError] = []
    files = list_s3_objects(f"s3://{BUCKET}", tmp_path, client=client, on_error=refused.append)
    assert [file["destination_path"] for file in files] == [str(tmp_path / "fine")]
    assert sorted((error.name, error.where) for error in refused) == [
        ("../top", f"s3://{BUCKET}/"),
        ("/abs", f"s3://{BUCKET}/"),
    ]


def test_list_s3_objects_keys_ending_in_a_slash(client: S3Client, tmp_path: Path) -> None:
    """A zero-byte key ending in '/' is a folder marker and is skipped; one
    that holds data cannot become a file name, so it is refused as an unsafe name
    (raised, or reported to on_error), not silently dropped."""
    client.put_object(Bucket=BUCKET, Key="p/marker/", Body=b"")
    client.put_object(Bucket=BUCKET, Key="p/data/", Body=b"12345")
    client.put_object(Bucket=BUCKET, Key="p/marker/f", Body=b"f")
    with pytest.raises(UnsafeRemoteNameError, match="holds 5 bytes") as raised:
        list_s3_objects(f"s3://{BUCKET}/p", tmp_path, client=client)
    assert raised.value.name == "data/"
    refused: list[UnsafeRemoteNameError] = []
    files = list_s3_objects(f"s3://{BUCKET}/p/", tmp_path, client=client, on_error=refused.append)
    assert [error.name for error in refused] == ["data/"]
    assert files == [
        {
            "source_path": f"s3://{BUCKET}/p/marker/f",
            "destination_path": str(tmp_path / "marker" / "f"),
            "size": 1,
        }
    ]


# -- more failures --------------------------------------------------------------------------


def test_constructor_and_closed_instance_errors(tmp_path: Path) -> None:
    """A wrong transfer_config, a non-threaded one (which could not be
    cancelled), a closed instance and a non-str URL are refused with clear messages."""
    with pytest.raises(TypeError, match="TransferConfig"):
        S3Transfer(transfer_config=cast(Any, {"max_concurrency": 2}))
    with pytest.raises(ValueError, match="use_threads"):
        S3Transfer(transfer_config=TransferConfig(use_threads=False))
    with pytest.raises(TypeError, match="not PosixPath"):
        parse_s3_url(cast(Any, tmp_path))
    closed = S3Transfer(client=s3_client())
    closed.close()
    closed.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        closed(transfer_file(f"s3://{BUCKET}/k", tmp_path / "k", 1), FakeProgress().as_callback())
    assert not (tmp_path / "k").exists()


def test_upload_of_a_folder_is_refused(s3: S3Transfer, client: S3Client, tmp_path: Path) -> None:
    """A folder as an upload's source fails with IsADirectoryError naming it."""
    with pytest.raises(IsADirectoryError, match="source is a folder") as info:
        s3(transfer_file(tmp_path, f"s3://{BUCKET}/k", 1), FakeProgress().as_callback())
    assert str(tmp_path) in str(info.value)
    assert keys(client, BUCKET) == []


def test_unreachable_endpoint_is_a_connection_error(s3_env: str, tmp_path: Path) -> None:
    """An endpoint nobody listens on gives ConnectionError naming the URL."""
    nobody = f"http://127.0.0.1:{free_port()}"
    client = s3_client(endpoint_url=nobody, config=Config(retries={"max_attempts": 1}))
    data = b"x" * 10
    with S3Transfer(client=client, overwrite=True) as executor:
        job = run_job(
            executor,
            "s3-upload",
            [
                {
                    "source_path": _write(tmp_path / "f", data),
                    "destination_path": f"s3://{BUCKET}/f",
                    "size": len(data),
                }
            ],
        )
        assert (job.files[0].error or "").startswith(f"s3://{BUCKET}/f: cannot upload to: ")
        assert nobody in (job.files[0].error or "")
        with pytest.raises(ConnectionError, match="Could not connect"):
            executor(
                transfer_file(f"s3://{BUCKET}/f", tmp_path / "out", len(data)),
                FakeProgress().as_callback(),
            )
        with pytest.raises(ConnectionError, match=f"s3://{BUCKET}/f: cannot upload to"):
            S3Transfer(client=client)(
                transfer_file(tmp_path / "f", f"s3://{BUCKET}/f", len(data)),
                FakeProgress().as_callback(),
            )
    assert not (tmp_path / "out").exists()


def test_local_write_failure_names_the_url(
    s3: S3Transfer, client: S3Client, tmp_path: Path
) -> None:
    """A download whose destination folder vanishes while the object is requested
    fails with an OSError naming the URL and the local problem, and leaves nothing."""
    client.put_object(Bucket=BUCKET, Key="k", Body=b"abc")
    out = tmp_path / "out"
    release = threading.Event()
    release.set()

    def remove_folder(params: dict[str, Any]) -> bool:
        shutil.rmtree(out)
        return False

    hold_requests(client, "GetObject", remove_folder, release)
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/k: cannot download: .*out"):
        s3(transfer_file(f"s3://{BUCKET}/k", out / "k", 3), FakeProgress().as_callback())
    assert list(tmp_path.iterdir()) == []


def test_copy_errors_name_the_side_that_failed(client: S3Client) -> None:
    """A copy from a missing key names the source; a copy into a missing bucket
    names the destination; a streamed copy from a missing key names the source."""
    client.put_object(Bucket=BUCKET, Key="k", Body=b"abc")
    with S3Transfer(client=client, overwrite=True) as executor:
        with pytest.raises(FileNotFoundError) as info:
            executor(
                transfer_file(f"s3://{BUCKET}/nope", f"s3://{BUCKET}/c", 3),
                FakeProgress().as_callback(),
            )
        assert str(info.value) == f"s3://{BUCKET}/nope: cannot copy: no such key 'nope'"
        with pytest.raises(FileNotFoundError) as info:
            executor(
                transfer_file(f"s3://{BUCKET}/k", "s3://no-bucket/c", 3),
                FakeProgress().as_callback(),
            )
        assert str(info.value) == "s3://no-bucket/c: cannot copy to: no such bucket 'no-bucket'"
    with S3Transfer(client=client, source_client=s3_client()) as streaming:
        with pytest.raises(FileNotFoundError) as info:
            streaming(
                transfer_file(f"s3://{BUCKET}/nope", f"s3://{BUCKET}/c", 3),
                FakeProgress().as_callback(),
            )
        assert str(info.value) == f"s3://{BUCKET}/nope: cannot read: no such key 'nope'"
    assert keys(client, BUCKET) == ["k"]


class RaisingProgress(FakeProgress):
    """Its ``cancelled`` stays False, but reporting raises TransferCancelled from
    ``threshold`` bytes on: a cancel that lands between the check and the report."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def __call__(self, loaded: int) -> None:
        self.values.append(loaded)
        if loaded >= self.threshold:
            self.saw_cancel.set()
            raise tq.TransferCancelled("cancelled during the report")


def test_cancel_raised_by_a_report_aborts_the_upload(client: S3Client, tmp_path: Path) -> None:
    """When on_progress itself raises TransferCancelled, the executor cancels the
    transfer before re-raising it: the multipart upload is aborted, no object appears."""
    data = payload(20 * MiB, seed=15)
    progress = RaisingProgress(5 * MiB)
    hold_requests(
        client, "UploadPart", lambda params: params["PartNumber"] >= 2, progress.saw_cancel
    )
    config = multipart_config(max_concurrency=1)
    with (
        S3Transfer(client=client, transfer_config=config) as executor,
        pytest.raises(tq.TransferCancelled, match="during the report"),
    ):
        executor(
            transfer_file(_write(tmp_path / "f", data), f"s3://{BUCKET}/f", len(data)),
            progress.as_callback(),
        )
    assert open_uploads(client, BUCKET) == []
    assert keys(client, BUCKET) == []


@pytest.mark.parametrize(
    ("error", "kind", "text"),
    [
        (
            botocore.exceptions.ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The key does not exist"}}, "GetObject"
            ),
            FileNotFoundError,
            "s3://bkt/a/b: cannot read: no such key 'a/b'",
        ),
        (
            botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"
            ),
            PermissionError,
            "s3://bkt/a/b: cannot read: permission denied (AccessDenied: Access Denied)",
        ),
        (
            botocore.exceptions.ClientError(
                {
                    "Error": {"Code": "SlowDown", "Message": "Reduce your request rate"},
                    "ResponseMetadata": {
                        "RequestId": "",
                        "HostId": "",
                        "HTTPStatusCode": 503,
                        "HTTPHeaders": {},
                        "RetryAttempts": 0,
                    },
                },
                "PutObject",
            ),
            OSError,
            "s3://bkt/a/b: cannot read: SlowDown: Reduce your request rate",
        ),
        (
            botocore.exceptions.NoCredentialsError(),
            PermissionError,
            "s3://bkt/a/b: cannot read: Unable to locate credentials",
        ),
        (
            botocore.exceptions.ReadTimeoutError(endpoint_url="http://h"),
            OSError,
            'ReadTimeoutError: Read timeout on endpoint URL: "http://h"',
        ),
    ],
)
def test_s3_error_mapping(error: Exception, kind: type[OSError], text: str) -> None:
    """Botocore failures become OSError subclasses whose text names the URL and the
    problem (unit check of the mapping, for codes moto does not produce)."""
    mapped = s3_error(error, "s3://bkt/a/b", "read")
    assert type(mapped) is kind
    assert text in str(mapped)


def test_list_s3_objects_default_client_and_hidden_names(s3_env: str, tmp_path: Path) -> None:
    """Without a client the listing uses boto3's usual configuration."""
    check = s3_client()
    check.create_bucket(Bucket="env-bucket")
    check.put_object(Bucket="env-bucket", Key="p/q", Body=b"12")
    assert list_s3_objects("s3://env-bucket/p", tmp_path) == [
        {
            "source_path": "s3://env-bucket/p/q",
            "destination_path": str(tmp_path / "q"),
            "size": 2,
        }
    ]


# -- helpers ------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def attrs_dict(file: tq.TransferFile) -> dict[str, Any]:
    return {
        "source_path": file.source_path,
        "destination_path": file.destination_path,
        "size": file.size,
    }


# -- pausing ---------------- --------------------------------------------------------------


class PausedProgress(RecordingProgress):
    """RecordingProgress that also passes the queue's pause check through, setting
    ``saw_pause`` once it raised."""

    def __init__(self, real: tq.ProgressCallback, seen: list[int], threshold: int) -> None:
        super().__init__(real, seen, threshold)
        self.saw_pause = threading.Event()

    def raise_if_paused(self) -> None:
        try:
            self.real.raise_if_paused()
        except tq.TransferPaused:
            self.saw_pause.set()
            raise


def test_pause_mid_multipart_upload_restarts_it_whole(client: S3Client, tmp_path: Path) -> None:
    """Paused after the first part, the upload is aborted (s3transfer cannot keep its
    parts for a later call): no open upload is left while paused; resumed, the file is
    uploaded again from byte 0, whole, and the job completes."""
    from tests.helpers.job_waits import wait_for_job

    data = payload(20 * MiB, seed=21)
    source = _write(tmp_path / "big.bin", data)
    release = threading.Event()
    hold_requests(client, "UploadPart", lambda params: params["PartNumber"] >= 2, release)
    seen: list[int] = []
    wrappers: list[PausedProgress] = []
    started = threading.Event()

    with S3Transfer(client=client, transfer_config=multipart_config(max_concurrency=1)) as s3:

        def wrapped(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            wrappers.append(PausedProgress(on_progress, seen, 5 * MiB))
            started.set()
            s3(file, cast(tq.ProgressCallback, wrappers[-1]))

        files = [
            {"source_path": source, "destination_path": f"s3://{BUCKET}/big", "size": len(data)}
        ]
        with tq.TransferQueue(1) as queue:
            job_id = queue.queue_job("s3-upload", files, wrapped)
            assert started.wait(WAIT)
            assert wrappers[0].reached.wait(WAIT)
            queue.pause_job(job_id)
            assert wrappers[0].saw_pause.wait(WAIT)
            release.set()  # the held part may go now: the upload is being aborted
            paused = wait_for_job(
                queue, job_id, lambda job: job.files[0].status is tq.TransferFileStatus.QUEUED
            )
            assert paused.status is tq.TransferStatus.PAUSED
            assert paused.files[0].error is None
            assert open_uploads(client, BUCKET) == []
            assert keys(client, BUCKET) == []
            queue.resume_job(job_id)
            done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert done.files[0].attempts == 2
    assert sha256(read_object(client, BUCKET, "big")) == sha256(data)
    assert open_uploads(client, BUCKET) == []
