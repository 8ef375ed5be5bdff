"""Requests per object, counted in the real moto server's request log.

An upload without overwrite is one conditional PUT (``If-None-Match: *``), refused by the
server with 412 when the object exists; a download is one GET (no HEAD first); the command
line makes one boto3 client for its listings and its transfers; and an executor that
``Transfer`` made is closed with it (its request threads end).
"""

from __future__ import annotations

import errno
import hashlib
import threading
from pathlib import Path
from typing import Any, cast

import pytest
from boto3.s3.transfer import TransferConfig

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.direct_calls import FakeProgress
from tests.helpers.s3_server import MotoServer, s3_client
from tests.helpers.stall_proxy import body_cutting_proxy
from transferqueue._cli import main as _cli
from transferqueue.executors import S3Transfer, Transfer, _s3, list_s3_objects

MiB = 1 << 20
BUCKET = "bucket"


def _multipart() -> TransferConfig:
    """Parts of 5 MiB (S3's smallest) above 8 MiB."""
    return TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)


@pytest.fixture
def client(s3_env: str) -> Any:
    """A boto3 client on the moto server, with the test bucket created."""
    made = s3_client()
    made.create_bucket(Bucket=BUCKET)
    return made


def _files(tmp_path: Path, count: int, size: int = 1000) -> list[dict[str, Any]]:
    files = []
    for index in range(count):
        source = tmp_path / f"f{index}"
        source.write_bytes(bytes([index]) * size)
        files.append(
            {
                "source_path": str(source),
                "destination_path": f"s3://{BUCKET}/f{index}",
                "size": size,
            }
        )
    return files


class Uncancelled:
    """``on_progress`` for a direct call: a job never cancelled."""

    cancelled = False

    def __call__(self, loaded: int) -> None:
        pass

    def raise_if_cancelled(self) -> None:
        pass


def _uncancelled() -> tq.ProgressCallback:
    return cast(tq.ProgressCallback, Uncancelled())


def _run(executor: tq.Executor, type_: str, files: list[dict[str, Any]]) -> tq.TransferJob:
    with tq.TransferQueue(2) as queue:
        return queue.wait(queue.queue_job(type_, files, executor), timeout=WAIT)


def test_an_upload_without_overwrite_is_one_conditional_put(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """Each small upload without overwrite is a single PUT; no HEAD of the
    object (nor of the bucket) comes first."""
    files = _files(tmp_path, 3)
    jobs: list[tq.TransferJob] = []
    with S3Transfer() as executor:
        requests = moto_server.requests_during(
            lambda: jobs.append(_run(executor, "s3-upload", files))
        )
    assert jobs[0].status == "completed", jobs[0].error
    assert sorted(requests) == [f"PUT /{BUCKET}/f{index}" for index in range(3)]
    for index in range(3):
        body = client.get_object(Bucket=BUCKET, Key=f"f{index}")["Body"].read()
        assert body == bytes([index]) * 1000


class _Throttled(FakeProgress):
    """``on_progress`` under a bandwidth cap: records what each ``throttle`` call let
    through, and cancels the job at the first one when ``cancel_at_first`` (a cancel
    that lands while the bytes are on their way)."""

    def __init__(self, cancel_at_first: bool = False) -> None:
        super().__init__()
        self.throttled: list[int] = []
        self.cancel_at_first = cancel_at_first

    def throttle(self, amount: int) -> None:
        self.throttled.append(amount)
        if self.cancel_at_first:
            self.cancel()


def test_a_small_upload_is_one_put_from_the_worker_thread(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """A file below the multipart threshold goes in one PUT made by the thread that
    called the executor: no s3transfer thread starts (each file used to pass through a
    submission thread and a request thread). Under a cap, the bytes sent are throttled
    once (not those botocore reads for its checksum and signature), and progress comes
    each MiB, from the calling thread."""
    size = 3 * MiB + 5
    source = tmp_path / "f"
    source.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    before = set(threading.enumerate())
    progress = _Throttled()
    with S3Transfer() as executor:
        requests = moto_server.requests_during(
            lambda: executor(
                tq.TransferFile(str(source), f"s3://{BUCKET}/f", size), progress.as_callback()
            )
        )
        assert set(threading.enumerate()) == before
    assert requests == [f"PUT /{BUCKET}/f"]
    assert client.get_object(Bucket=BUCKET, Key="f")["Body"].read() == source.read_bytes()
    assert sum(progress.throttled) == size
    assert progress.values == [0, MiB, 2 * MiB, 3 * MiB, size]
    assert progress.threads == {threading.current_thread().name}


def test_a_cancel_while_a_small_put_sends_stops_it(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """A job cancelled while its single PUT sends stops the request at the next chunk:
    TransferCancelled naming the URL, raised once (no retry of the PUT), no object."""
    (file,) = _files(tmp_path, 1, 2 * MiB)
    progress = _Throttled(cancel_at_first=True)
    with S3Transfer() as executor, pytest.raises(tq.TransferCancelled) as info:
        executor(
            tq.TransferFile(file["source_path"], file["destination_path"], 2 * MiB),
            progress.as_callback(),
        )
    assert str(info.value) == f"s3://{BUCKET}/f0: transfer cancelled"
    assert len(progress.throttled) == 1
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET)


def test_an_existing_object_is_refused_by_the_put_itself(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """The server refuses the conditional PUT onto an existing object (412),
    which is a FileExistsError naming the URL and the way out; the object is kept. One
    request; through the queue the file fails with error_type FileExistsError."""
    client.put_object(Bucket=BUCKET, Key="f0", Body=b"old")
    (file,) = _files(tmp_path, 1)
    record = tq.TransferFile(file["source_path"], file["destination_path"], 1000)
    raised: list[FileExistsError] = []

    def upload() -> None:
        try:
            executor(record, _uncancelled())
        except FileExistsError as exc:
            raised.append(exc)

    with S3Transfer() as executor:
        requests = moto_server.requests_during(upload)
        job = _run(executor, "s3-upload", [file])
    (error,) = raised
    assert error.errno == errno.EEXIST
    assert str(error) == (
        f"[Errno 17] destination object exists (pass overwrite=True to replace it): "
        f"'s3://{BUCKET}/f0'"
    )
    assert requests == [f"PUT /{BUCKET}/f0"]
    assert job.status == "failed"
    assert job.files[0].error_type == "FileExistsError"
    assert client.get_object(Bucket=BUCKET, Key="f0")["Body"].read() == b"old"


def test_an_upload_with_overwrite_is_one_plain_put(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """With overwrite, one PUT replaces the object."""
    client.put_object(Bucket=BUCKET, Key="f0", Body=b"old")
    files = _files(tmp_path, 1)
    with S3Transfer(overwrite=True) as executor:
        requests = moto_server.requests_during(lambda: _run(executor, "s3-upload", files))
    assert requests == [f"PUT /{BUCKET}/f0"]
    assert client.get_object(Bucket=BUCKET, Key="f0")["Body"].read() == b"\0" * 1000


def test_a_multipart_upload_without_overwrite_asks_first(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """A multipart upload cannot carry the condition through s3transfer (it
    would give it to CreateMultipartUpload, which has none), so a HEAD asks first, and
    an existing object is refused before any part is sent."""
    source = tmp_path / "big"
    source.write_bytes(b"x" * (12 * MiB))
    file = {"source_path": str(source), "destination_path": f"s3://{BUCKET}/big", "size": 12 * MiB}
    with S3Transfer(transfer_config=_multipart()) as executor:
        requests = moto_server.requests_during(lambda: _run(executor, "s3-upload", [file]))
        assert requests[0] == f"HEAD /{BUCKET}/big"
        assert requests[1] == f"POST /{BUCKET}/big?uploads"
        assert len(requests) == 2 + 3 + 1  # 3 parts of at most 5 MiB, then the completion
        job = _run(executor, "s3-upload", [file])
    assert job.status == "failed"
    assert job.files[0].error_type == "FileExistsError"


def test_a_download_is_one_get(
    moto_server: MotoServer, client: Any, s3_env: str, tmp_path: Path
) -> None:
    """With the default client, each object listed is downloaded by one GET
    (its first part's range tells s3transfer the size), with no HEAD first; an empty
    object too."""
    sizes = {"a": 1000, "b": 300_000, "empty": 0}
    for key, size in sizes.items():
        client.put_object(Bucket=BUCKET, Key=f"dir/{key}", Body=b"z" * size)
    files = list_s3_objects(f"s3://{BUCKET}/dir", tmp_path / "out")
    jobs: list[tq.TransferJob] = []
    with S3Transfer() as executor:
        requests = moto_server.requests_during(
            lambda: jobs.append(_run(executor, "s3-download", files))
        )
    assert jobs[0].status == "completed", jobs[0].error
    assert sorted(requests) == [f"GET /{BUCKET}/dir/{key}" for key in sorted(sizes)]
    for key, size in sizes.items():
        assert (tmp_path / "out" / key).read_bytes() == b"z" * size


def test_a_small_download_is_one_get_from_the_worker_thread(
    moto_server: MotoServer, client: Any, tmp_path: Path
) -> None:
    """An object listed below the multipart threshold comes in one GET made by the
    thread that called the executor, written by that thread: no s3transfer thread
    starts. Under a cap, the bytes received are throttled once; progress comes each MiB
    from the calling thread."""
    size = 3 * MiB + 5
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    client.put_object(Bucket=BUCKET, Key="f", Body=data)
    before = set(threading.enumerate())
    progress = _Throttled()
    with S3Transfer() as executor:
        requests = moto_server.requests_during(
            lambda: executor(
                tq.TransferFile(f"s3://{BUCKET}/f", str(tmp_path / "f"), size),
                progress.as_callback(),
            )
        )
        assert set(threading.enumerate()) == before
    assert requests == [f"GET /{BUCKET}/f"]
    assert (tmp_path / "f").read_bytes() == data
    assert sum(progress.throttled) == size
    assert progress.values == [0, MiB, 2 * MiB, 3 * MiB, size]
    assert progress.threads == {threading.current_thread().name}


def test_a_cancel_while_a_small_get_reads_stops_it(client: Any, tmp_path: Path) -> None:
    """A job cancelled while its single GET's body arrives stops at the next chunk:
    TransferCancelled naming the URL, and neither the file nor a temporary is left."""
    client.put_object(Bucket=BUCKET, Key="f", Body=b"z" * (2 * MiB))
    progress = _Throttled(cancel_at_first=True)
    out = tmp_path / "out"
    with S3Transfer() as executor, pytest.raises(tq.TransferCancelled) as info:
        executor(
            tq.TransferFile(f"s3://{BUCKET}/f", str(out / "f"), 2 * MiB), progress.as_callback()
        )
    assert str(info.value) == f"s3://{BUCKET}/f: transfer cancelled"
    assert len(progress.throttled) == 1
    assert list(out.iterdir()) == []


def test_a_small_get_cut_short_is_read_again_if_unchanged(
    moto_endpoint: str, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection lost while a small object's body arrives starts the GET again,
    with If-Match on the ETag the first reply carried: the file arrives whole."""
    data = bytes(range(256)) * 4096  # 1 MiB
    etag = client.put_object(Bucket=BUCKET, Key="f", Body=data)["ETag"]
    proxy_runs = body_cutting_proxy(moto_endpoint, 300_000)
    proxy = next(proxy_runs)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        proxied = s3_client()
        sent: list[dict[str, Any]] = []
        proxied.meta.events.register(
            "before-parameter-build.s3.GetObject",
            lambda params, **kwargs: sent.append(dict(params)),
        )
        with S3Transfer(client=proxied) as executor:
            executor(
                tq.TransferFile(f"s3://{BUCKET}/f", str(tmp_path / "f"), len(data)),
                _uncancelled(),
            )
    finally:
        next(proxy_runs, None)
    assert proxy.cut.is_set()
    assert (tmp_path / "f").read_bytes() == data
    assert [params.get("IfMatch") for params in sent] == [None, etag]


def test_a_multipart_download_needs_no_head(
    moto_server: MotoServer, client: Any, s3_env: str, tmp_path: Path
) -> None:
    """A large object comes in ranged GETs, the first of which tells its size
    and ETag (the others are made conditional on it); no HEAD."""
    data = hashlib.sha256(b"seed").digest() * (12 * MiB // 32)
    client.put_object(Bucket=BUCKET, Key="big", Body=data)
    file: dict[str, Any] = {
        "source_path": f"s3://{BUCKET}/big",
        "destination_path": str(tmp_path / "big"),
        "size": len(data),
    }
    with S3Transfer(transfer_config=_multipart()) as executor:
        requests = moto_server.requests_during(lambda: _run(executor, "s3-download", [file]))
    assert requests == [f"GET /{BUCKET}/big"] * 3
    assert (tmp_path / "big").read_bytes() == data


def test_transfer_closes_the_executor_it_made(client: Any, tmp_path: Path) -> None:
    """``Transfer.close()`` closes the S3 executor it made, whose request threads
    then end (they were left running before); a later file fails with RuntimeError. An
    executor given to it is the caller's, left open."""
    before = set(threading.enumerate())
    files = _files(tmp_path, 2)
    # A file above the multipart threshold goes through s3transfer's request threads (a
    # smaller one goes in one PUT from the queue's worker thread).
    (tmp_path / "big").write_bytes(b"b" * (9 * MiB))
    big: dict[str, Any] = {"source_path": str(tmp_path / "big"), "size": 9 * MiB}
    big["destination_path"] = f"s3://{BUCKET}/big"
    with Transfer() as transfer:
        assert _run(transfer, "s3-upload", [*files, big]).status == "completed"
        assert set(threading.enumerate()) - before  # s3transfer's request threads
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError, match="this S3Transfer is closed"):
        transfer(tq.TransferFile(files[0]["source_path"], "s3://bucket/x", 1000), _uncancelled())
    with pytest.raises(RuntimeError, match="this Transfer is closed"):  # a local copy's
        transfer(
            tq.TransferFile(files[0]["source_path"], str(tmp_path / "x"), 1000), _uncancelled()
        )
    with S3Transfer(overwrite=True) as given:
        with Transfer(s3=given) as other:
            assert _run(other, "s3-upload", files).status == "completed"
        assert _run(given, "s3-upload", files).status == "completed"


def test_cp_makes_one_client_and_one_request_per_object(
    moto_server: MotoServer,
    client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cp`` makes one boto3 client for its listings and its transfers (it
    made one per S3 source listed and one more for the transfers), and sends one request
    per object each way beside the listing's."""
    made: list[Any] = []
    real = _s3.make_s3_client

    def counted(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(_s3, "make_s3_client", counted)
    source = tmp_path / "src"
    source.mkdir()
    for index in range(3):
        (source / f"f{index}").write_bytes(b"u" * 100)
    up = moto_server.requests_during(
        lambda: _cli.main(["cp", "-q", str(source), f"s3://{BUCKET}/up"])
    )
    # Beside the PUTs, one listing of the destination, to skip what is there.
    puts = sorted(line for line in up if not line.startswith(f"GET /{BUCKET}?"))
    assert puts == [f"PUT /{BUCKET}/up/f{index}" for index in range(3)]
    assert len(up) == 4
    assert len(made) == 1
    made.clear()
    moto_server.requests_during(
        lambda: _cli.main(["cp", "-q", f"s3://{BUCKET}/up", f"s3://{BUCKET}/up", str(tmp_path)])
    )
    assert len(made) == 1  # a usage error (the source twice), found with the one client
    made.clear()
    down = moto_server.requests_during(
        lambda: _cli.main(["cp", "-q", f"s3://{BUCKET}/up", str(tmp_path / "down")])
    )
    gets = sorted(line for line in down if not line.startswith(f"GET /{BUCKET}?"))
    assert gets == [f"GET /{BUCKET}/up/f{index}" for index in range(3)]
    assert len(made) == 1
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == ["f0", "f1", "f2"]


def test_local_cp_makes_no_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local copy makes no S3 client (boto3 is not even asked)."""

    def refused(*args: Any) -> Any:
        raise AssertionError("an S3 client was made")

    monkeypatch.setattr(_s3, "make_s3_client", refused)
    (tmp_path / "a").write_bytes(b"a")
    assert _cli.main(["cp", "-q", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b").read_bytes() == b"a"
