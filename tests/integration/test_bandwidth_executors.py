"""The S3 and Hugging Face executors draw every byte they move from
their queue's bandwidth cap, and a cancel or a pause reaches them while they wait for it
(against the moto server and the fake hub on 127.0.0.1). Nothing here measures time: a
cap of 1 byte per second holds a transfer for days unless the test lifts it, or pauses
or cancels the job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from boto3.s3.transfer import TransferConfig

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.fake_hub import WEIGHTS, RunningHub, sample_hub, start_hub
from tests.helpers.job_waits import wait_for_job
from tests.helpers.metered import Metered
from tests.helpers.s3_server import s3_client
from transferqueue.executors import HuggingFaceDownload, S3Transfer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


MiB = 1 << 20
BUCKET = "capped"
SIZE = 12 * MiB + 7  # three parts of 5 MiB at most


@pytest.fixture
def client(s3_env: str) -> S3Client:
    made = s3_client()
    made.create_bucket(Bucket=BUCKET)
    return made


@pytest.fixture
def s3(client: S3Client) -> Iterator[S3Transfer]:
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB)
    with S3Transfer(client=client, transfer_config=config, overwrite=True) as executor:
        yield executor


def _run(
    executor: tq.Executor, kind: str, source: str, destination: str, size: int, cap: float
) -> tuple[tq.TransferQueue, str]:
    queue = tq.TransferQueue(1, bandwidth_limit=cap)
    files = [{"source_path": source, "destination_path": destination, "size": size}]
    return queue, queue.queue_job(kind, files, executor)


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_s3_transfers_draw_every_byte_from_the_cap(
    s3: S3Transfer, client: S3Client, tmp_path: Path, direction: str
) -> None:
    """A multipart upload or download held at 1 byte per second until the test raises
    the cap: every byte s3transfer moved was drawn from it, from its request threads."""
    data = os.urandom(SIZE)
    local = tmp_path / "data.bin"
    url = f"s3://{BUCKET}/data.bin"
    if direction == "upload":
        local.write_bytes(data)
        source, destination, kind = str(local), url, "s3-upload"
    else:
        client.put_object(Bucket=BUCKET, Key="data.bin", Body=data)
        source, destination, kind = url, str(local), "s3-download"
    meter = Metered(s3)
    queue, job_id = _run(meter, kind, source, destination, SIZE, 1)
    with queue:
        assert meter.throttling.wait(WAIT)
        queue.update_bandwidth_limit(1 << 40)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    if direction == "upload":
        assert client.get_object(Bucket=BUCKET, Key="data.bin")["Body"].read() == data
    else:
        assert local.read_bytes() == data
    assert sum(meter.amounts) >= SIZE  # a request retried by botocore counts twice


def test_an_s3_upload_waiting_for_the_cap_is_cancelled_leaving_nothing(
    s3: S3Transfer, client: S3Client, tmp_path: Path
) -> None:
    local = tmp_path / "data.bin"
    local.write_bytes(os.urandom(SIZE))
    meter = Metered(s3)
    queue, job_id = _run(meter, "s3-upload", str(local), f"s3://{BUCKET}/data.bin", SIZE, 1)
    with queue:
        assert meter.throttling.wait(WAIT)  # a request thread waits: for days at 1 B/s
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "cancelled"
    assert client.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def _paused_and_stopped(job: tq.TransferJob) -> bool:
    return (
        job.status is tq.TransferStatus.PAUSED
        and job.files[0].status is tq.TransferFileStatus.QUEUED
    )


def test_an_s3_upload_waiting_for_the_cap_is_paused_then_resumed(
    s3: S3Transfer, client: S3Client, tmp_path: Path
) -> None:
    """A request thread waiting at 1 B/s wakes at the pause as at a cancel, so that the
    executor can stop the upload (no part left behind); resumed without a cap, the file
    is sent again, whole."""
    local = tmp_path / "data.bin"
    data = os.urandom(SIZE)
    local.write_bytes(data)
    meter = Metered(s3)
    queue, job_id = _run(meter, "s3-upload", str(local), f"s3://{BUCKET}/data.bin", SIZE, 1)
    with queue:
        assert meter.throttling.wait(WAIT)  # a request thread waits: for days at 1 B/s
        queue.pause_job(job_id)
        wait_for_job(queue, job_id, _paused_and_stopped)
        assert client.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
        assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        queue.update_bandwidth_limit(None)
        queue.resume_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert client.get_object(Bucket=BUCKET, Key="data.bin")["Body"].read() == data


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    yield from start_hub(sample_hub())


def test_a_hub_download_draws_every_byte_from_the_cap(hub: RunningHub, tmp_path: Path) -> None:
    meter = Metered(HuggingFaceDownload(endpoint=hub.url))
    destination = tmp_path / "weights.bin"
    source = "hf://owner/model/weights.bin"
    queue, job_id = _run(meter, "huggingface", source, str(destination), len(WEIGHTS), 1)
    with queue:
        assert meter.throttling.wait(WAIT)
        assert meter.amounts[0] <= 16 * 1024  # read in steps of the cap's size
        queue.update_bandwidth_limit(None)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == WEIGHTS
    assert sum(meter.amounts) == len(WEIGHTS)


def test_a_hub_download_waiting_for_the_cap_is_cancelled_leaving_nothing(
    hub: RunningHub, tmp_path: Path
) -> None:
    meter = Metered(HuggingFaceDownload(endpoint=hub.url))
    destination = tmp_path / "out" / "weights.bin"
    source = "hf://owner/model/weights.bin"
    queue, job_id = _run(meter, "huggingface", source, str(destination), len(WEIGHTS), 1)
    with queue:
        assert meter.throttling.wait(WAIT)
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "cancelled"
    assert list(destination.parent.iterdir()) == []  # no file, no partial, no record


def test_a_hub_download_waiting_for_the_cap_is_paused_then_resumed(
    hub: RunningHub, tmp_path: Path
) -> None:
    """The download waits at 1 B/s after its first piece: a pause ends the wait at once;
    resumed without a cap, the file arrives whole."""
    meter = Metered(HuggingFaceDownload(endpoint=hub.url))
    destination = tmp_path / "out" / "weights.bin"
    source = "hf://owner/model/weights.bin"
    queue, job_id = _run(meter, "huggingface", source, str(destination), len(WEIGHTS), 1)
    with queue:
        assert meter.throttling.wait(WAIT)
        queue.pause_job(job_id)
        wait_for_job(queue, job_id, _paused_and_stopped)
        assert not destination.exists()
        queue.update_bandwidth_limit(None)
        queue.resume_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == WEIGHTS
    assert sorted(path.name for path in destination.parent.iterdir()) == ["weights.bin"]


def test_the_s3_throttle_skips_retries_and_leaves_a_cancel_to_the_executor() -> None:
    """s3transfer reports a retried request's bytes as negative: nothing is drawn for
    them; a cancelled job's TransferCancelled, or a paused one's TransferPaused, does not
    escape into s3transfer's thread."""
    from transferqueue.executors._s3 import _Throttle

    asked: list[int] = []

    def throttle(amount: int) -> None:
        asked.append(amount)
        if amount == 13:
            raise tq.TransferCancelled("cancelled")
        if amount == 17:
            raise tq.TransferPaused("paused")

    subscriber = _Throttle(throttle)
    subscriber.on_progress(None, -100)  # type: ignore[arg-type]
    subscriber.on_progress(None, 0)  # type: ignore[arg-type]
    subscriber.on_progress(None, 5)  # type: ignore[arg-type]
    subscriber.on_progress(None, 13)  # type: ignore[arg-type]
    subscriber.on_progress(None, 17)  # type: ignore[arg-type]
    assert asked == [5, 13, 17]
