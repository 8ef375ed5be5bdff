"""Routing a (source, destination) pair to its transfer type,
listing helper and executor (transferqueue.executors._routing)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.fake_hub import FakeHub, RunningHub, start_hub
from tests.helpers.s3_server import s3_client
from transferqueue.executors._files.remote_names import UnsafeRemoteNameError
from transferqueue.executors._routing import (
    Transfer,
    list_files,
    location_kind,
    transfer_type_for,
)

PAYLOAD = os.urandom(200_000)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    """A fake hub with one public model."""
    fake = FakeHub(repos={("model", "owner/model"): {"w.bin": PAYLOAD, "sub/c.txt": b"c\n"}})
    yield from start_hub(fake)


def test_location_kind() -> None:
    """The scheme alone decides the kind of location."""
    assert location_kind("s3://bucket/key") == "s3"
    assert location_kind("hf://owner/repo") == "hf"
    assert location_kind("/tmp/x") == "local"
    assert location_kind("relative/s3://x") == "local"
    assert location_kind(Path("s3:/x")) == "local"


@pytest.mark.parametrize(
    ("source", "destination", "expected"),
    [
        ("/a", "/b", tq.TransferType.LOCAL_UPLOAD),
        ("/a", "s3://bucket/k", tq.TransferType.S3_UPLOAD),
        ("s3://bucket/k", "/b", tq.TransferType.S3_DOWNLOAD),
        ("s3://bucket/k", "s3://other/k", tq.TransferType.CROSS_STORAGE),
        ("hf://owner/repo", "/b", tq.TransferType.HUGGINGFACE),
    ],
)
def test_transfer_type_for_supported_pairs(
    source: str, destination: str, expected: tq.TransferType
) -> None:
    """Each supported pair has its transfer type."""
    assert transfer_type_for(source, destination) is expected


@pytest.mark.parametrize(
    ("source", "destination"),
    [("/a", "hf://owner/repo"), ("hf://owner/repo", "s3://bucket/k"), ("s3://b/k", "hf://o/r")],
)
def test_transfer_type_for_unsupported_pair(source: str, destination: str) -> None:
    """Any other pair is a ValueError naming both and what is supported."""
    with pytest.raises(ValueError, match="supported") as info:
        transfer_type_for(source, destination)
    assert source in str(info.value)
    assert destination in str(info.value)


def test_list_files_local(tmp_path: Path) -> None:
    """A local folder is listed by list_local_files, which takes on_error and no other
    kind's options (and ``client``, for an S3 destination to compare with)."""
    (tmp_path / "src" / "d").mkdir(parents=True)
    (tmp_path / "src" / "d" / "f").write_bytes(b"12345")
    files = list_files(str(tmp_path / "src"), str(tmp_path / "out"))
    assert files == [
        {
            "source_path": str(tmp_path / "src" / "d" / "f"),
            "destination_path": str(tmp_path / "out" / "d" / "f"),
            "size": 5,
        }
    ]
    with pytest.raises(TypeError, match="page_size"):
        list_files(str(tmp_path / "src"), str(tmp_path / "out"), page_size=10)
    skipped: list[Exception] = []
    assert (
        list_files(str(tmp_path / "src"), str(tmp_path / "out"), on_error=skipped.append) == files
    )
    assert skipped == []
    with pytest.raises(ValueError, match="supported"):
        list_files(str(tmp_path / "src"), "hf://owner/repo")


def test_list_files_and_transfer_s3_round_trip(s3_env: str, tmp_path: Path) -> None:
    """Local -> s3 -> s3 -> local through one Transfer executor and a real queue;
    S3 prefixes are listed by list_s3_objects."""
    s3_client().create_bucket(Bucket="bucket")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "w.bin").write_bytes(PAYLOAD)
    transfer = Transfer()
    with tq.TransferQueue(2) as queue:
        steps = [
            (str(tmp_path / "src"), "s3://bucket/up", tq.TransferType.S3_UPLOAD),
            ("s3://bucket/up", "s3://bucket/copy", tq.TransferType.CROSS_STORAGE),
            ("s3://bucket/copy", str(tmp_path / "back"), tq.TransferType.S3_DOWNLOAD),
        ]
        for source, destination, kind in steps:
            files = list_files(source, destination)
            assert [file["size"] for file in files] == [len(PAYLOAD)]
            job = queue.wait(queue.queue_job(kind, files, transfer), timeout=WAIT)
            assert job.status is tq.TransferStatus.COMPLETED, job.files
    assert sha(tmp_path / "back" / "w.bin") == DIGEST


def test_list_files_gives_on_error_to_the_s3_listing(
    s3_env: str,
    tmp_path: Path,
) -> None:
    """``on_error`` reaches the S3 listing too: a key that cannot become a path
    below the destination is reported there and left out; without it, it raises."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    client.put_object(Bucket="bucket", Key="p/../x", Body=b"x")
    client.put_object(Bucket="bucket", Key="p/ok", Body=b"ok")
    refused: list[Exception] = []
    files = list_files("s3://bucket/p", str(tmp_path), on_error=refused.append)
    assert [file["destination_path"] for file in files] == [str(tmp_path / "ok")]
    assert [(type(error), str(error)) for error in refused] == [
        (
            UnsafeRemoteNameError,
            "refusing the name '../x' from s3://bucket/p/: has a '.' or '..' segment",
        )
    ]
    with pytest.raises(UnsafeRemoteNameError):
        list_files("s3://bucket/p", str(tmp_path))


# list_hf_files takes on_error once the Hugging Face listing checks its names:
# list_files passes it on the same way; its test belongs there.


def test_list_files_and_transfer_hf(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hf:// sources are listed by list_hf_files (options passed through) and
    downloaded by the Transfer's HuggingFaceDownload."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    files = list_files("hf://owner/model", str(tmp_path / "out"), endpoint=hub.url)
    assert sorted(file["size"] for file in files) == [2, len(PAYLOAD)]
    with tq.TransferQueue(2) as queue:
        job_id = queue.queue_job("huggingface", files, Transfer())
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert sha(tmp_path / "out" / "w.bin") == DIGEST
    assert (tmp_path / "out" / "sub" / "c.txt").read_bytes() == b"c\n"


def test_transfer_local_copy_and_overwrite(tmp_path: Path) -> None:
    """Local -> local goes to LocalCopy with the Transfer's overwrite setting."""
    source = tmp_path / "a.bin"
    source.write_bytes(PAYLOAD)
    target = tmp_path / "b.bin"
    target.write_bytes(b"old")
    files = list_files(str(source), str(target))
    with tq.TransferQueue(1) as queue:
        refused = queue.wait(queue.queue_job("local-upload", files, Transfer()), timeout=WAIT)
        assert refused.status is tq.TransferStatus.FAILED
        assert "exists" in (refused.files[0].error or "")
        assert target.read_bytes() == b"old"
        job_id = queue.queue_job("local-upload", files, Transfer(overwrite=True))
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert sha(target) == DIGEST


def test_transfer_unsupported_pair_fails_the_file(tmp_path: Path) -> None:
    """A file whose pair is unsupported fails with the ValueError's text."""
    files = [{"source_path": str(tmp_path / "a"), "destination_path": "hf://o/r", "size": 1}]
    with tq.TransferQueue(1) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, Transfer()), timeout=WAIT)
    assert job.status is tq.TransferStatus.FAILED
    assert "supported" in (job.files[0].error or "")


def test_transfer_uses_given_executors() -> None:
    """S3= and huggingface= replace the default executors."""
    seen: list[str] = []

    def s3(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        seen.append("s3:" + file.source_path)

    def hf(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        seen.append("hf:" + file.source_path)

    files: list[dict[str, Any]] = [
        {"source_path": "s3://bucket/k", "destination_path": "/tmp/x", "size": 0},
        {"source_path": "hf://o/r/f", "destination_path": "/tmp/y", "size": 0},
    ]
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("cross-storage", files, Transfer(s3=s3, huggingface=hf))
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED
    assert seen == ["s3:s3://bucket/k", "hf:hf://o/r/f"]
    with pytest.raises(TypeError):
        Transfer(s3=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Transfer(overwrite="yes")  # type: ignore[arg-type]


def test_transfer_makes_each_executor_once_across_threads() -> None:
    """Many threads asking at once get one and the same executor."""
    transfer = Transfer()
    barrier = threading.Barrier(8)
    made: list[object] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait(WAIT)
        executor = transfer._executor("hf")
        with lock:
            made.append(executor)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(made) == 8
    assert len({id(executor) for executor in made}) == 1
    assert transfer._executor("local") is transfer._executor("local")
    assert transfer.overwrite is False
