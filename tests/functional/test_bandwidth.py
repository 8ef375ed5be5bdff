"""The bandwidth cap on a running queue: its change at run time, ``on_progress.throttle``
(which a cancel or a pause of the job ends at once), the local copy under the cap (a
paused copy resumed under it included) and ``transferqueue cp --bwlimit``. Nothing here
measures time: a wait that must end early is one that would otherwise last for days
(pytest-timeout stops a test that hangs).
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.job_waits import wait_for_job
from tests.helpers.metered import Metered
from transferqueue._cli import main as _cli
from transferqueue._cli import run_copy as _cli_copy
from transferqueue._core.bandwidth import TokenBucket
from transferqueue.executors import LocalCopy
from transferqueue.executors._local import kernel_copy as _kernel_copy

MiB = 1 << 20
DAYS = 10**9  # bytes that take years at 1 byte per second


# -- on_progress.throttle and the queue's cap -----------------------------------------------


class Throttled:
    """An executor that asks ``on_progress.throttle`` for ``amount`` bytes; ``entered`` is
    set just before it asks, ``passed`` once it got them, ``error`` holds what it raised."""

    def __init__(self, amount: int) -> None:
        self.amount = amount
        self.entered = threading.Event()
        self.passed = threading.Event()
        self.error: BaseException | None = None
        self.callbacks: list[tq.ProgressCallback] = []

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        self.callbacks.append(on_progress)
        self.entered.set()
        try:
            on_progress.throttle(self.amount)
        except BaseException as exc:
            self.error = exc
            raise
        self.passed.set()


ONE_FILE = [{"source_path": "a", "destination_path": "b", "size": 1}]


def test_cancel_reaches_an_executor_waiting_for_the_cap() -> None:
    """An executor that would wait for decades at 1 byte per second ends as soon as its
    job is cancelled, with TransferCancelled."""
    executor = Throttled(DAYS)
    with tq.TransferQueue(1, bandwidth_limit=1) as queue:
        job_id = queue.queue_job("local-upload", ONE_FILE, executor)
        assert executor.entered.wait(WAIT)
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "cancelled"
    assert isinstance(executor.error, tq.TransferCancelled)
    assert not executor.passed.is_set()


def _paused_and_stopped(job: tq.TransferJob) -> bool:
    return (
        job.status is tq.TransferStatus.PAUSED
        and job.files[0].status is tq.TransferFileStatus.QUEUED
    )


def test_pause_reaches_an_executor_waiting_for_the_cap() -> None:
    """An executor that would wait for decades at 1 byte per second stops as soon as its
    job is paused, with TransferPaused (the job's stop event, set at a pause as at a
    cancel, ends the wait); resumed once the cap is lifted, it runs again and completes."""
    executor = Throttled(DAYS)
    with tq.TransferQueue(1, bandwidth_limit=1) as queue:
        job_id = queue.queue_job("local-upload", ONE_FILE, executor)
        assert executor.entered.wait(WAIT)
        queue.pause_job(job_id)
        paused = wait_for_job(queue, job_id, _paused_and_stopped)
        assert isinstance(executor.error, tq.TransferPaused)
        assert not executor.passed.is_set()
        assert paused.files[0].error is None  # a pause is no failure
        queue.update_bandwidth_limit(None)
        queue.resume_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert executor.passed.is_set()
    assert len(executor.callbacks) == 2  # the paused attempt, then the resumed one


@pytest.mark.parametrize("new", [None, 1 << 40])
def test_a_new_cap_reaches_executors_waiting_for_the_old_one(new: float | None) -> None:
    executor = Throttled(DAYS)
    with tq.TransferQueue(1, bandwidth_limit=1) as queue:
        assert queue.bandwidth_limit == 1
        job_id = queue.queue_job("local-upload", ONE_FILE, executor)
        assert executor.entered.wait(WAIT)
        queue.update_bandwidth_limit(new)
        assert queue.bandwidth_limit == new
        assert executor.callbacks[0].bandwidth_limit == new
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert executor.passed.is_set()


def test_every_executor_of_a_queue_draws_from_one_cap() -> None:
    """Two jobs' executors at once: both calls carry the queue's one bucket."""
    first, second = Throttled(0), Throttled(0)
    with tq.TransferQueue(2, bandwidth_limit=123) as queue:
        jobs = [queue.queue_job("local-upload", ONE_FILE, ex) for ex in (first, second)]
        for job_id in jobs:
            assert queue.wait(job_id, timeout=WAIT).status == "completed"
        buckets = {id(ex.callbacks[0]._bandwidth) for ex in (first, second)}
        assert buckets == {id(queue._bandwidth)}
        assert first.callbacks[0].bandwidth_limit == 123


def test_throttle_checks_its_argument_and_the_cancel() -> None:
    executor = Throttled(0)
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("local-upload", ONE_FILE, executor)
        queue.wait(job_id, timeout=WAIT)
    on_progress = executor.callbacks[0]
    assert on_progress.bandwidth_limit is None
    on_progress.throttle(DAYS)  # no cap: at once
    on_progress.throttle(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="throttle takes a number of bytes >= 0, not -1"):
        on_progress.throttle(-1)
    with pytest.raises(TypeError, match="throttle takes a number of bytes, not str"):
        on_progress.throttle("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="throttle takes a finite number"):
        on_progress.throttle(math.inf)  # type: ignore[arg-type]

    cancelled = Throttled(0)
    gate = threading.Event()

    def hold(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        cancelled.callbacks.append(on_progress)
        gate.set()
        on_progress.wait_cancelled(WAIT)

    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("local-upload", ONE_FILE, hold)
        assert gate.wait(WAIT)
        queue.cancel_job(job_id)
        with pytest.raises(tq.TransferCancelled):
            cancelled.callbacks[0].throttle(0)  # no cap, nothing asked: still cancelled


def test_a_forked_child_gets_a_bucket_of_its_own() -> None:
    queue = tq.TransferQueue(1, bandwidth_limit=77)
    before = queue._bandwidth
    queue.before_fork()
    queue.after_fork_in_child()
    assert queue._bandwidth is not before
    assert queue.bandwidth_limit == 77
    queue.shutdown()


# -- the local copy under the cap ------------------------------------------------------------


def _local_job(
    tmp_path: Path, executor: tq.Executor, cap: float, size: int
) -> tuple[tq.TransferQueue, str, Path, bytes]:
    data = os.urandom(size)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    destination = tmp_path / "out" / "copy.bin"
    files = [{"source_path": str(source), "destination_path": str(destination), "size": size}]
    queue = tq.TransferQueue(1, bandwidth_limit=cap)
    return queue, queue.queue_job("local-upload", files, executor), destination, data


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
def test_a_local_copy_draws_every_byte_from_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    if not kernel:
        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    meter = Metered(LocalCopy())
    cap = 1 << 40  # high: nothing waits, and the steps are the executor's own
    queue, job_id, destination, data = _local_job(tmp_path, meter, cap, 3 * MiB + 5)
    with queue:
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data
    assert sum(meter.amounts) == len(data)
    assert all(0 < amount <= 8 * MiB for amount in meter.amounts)


@pytest.mark.parametrize("checksum", [False, True], ids=["copy", "copy-and-check"])
def test_a_local_copy_handed_a_plain_wrapper_still_draws_from_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checksum: bool
) -> None:
    """An application's function around ``on_progress`` (one that logs and passes the
    bytes on, say) leaves the cap in force: every byte the copy moves is drawn from the
    queue's bucket all the same."""
    drawn: list[int] = []
    take = TokenBucket.take

    def counting(bucket: TokenBucket, amount: int, stop: threading.Event | None = None) -> bool:
        drawn.append(amount)
        return take(bucket, amount, stop)

    monkeypatch.setattr(TokenBucket, "take", counting)
    copy = LocalCopy(checksum=checksum)

    def wrapped(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        copy(file, cast(tq.ProgressCallback, lambda loaded: on_progress(loaded)))

    cap = 1 << 40  # high: nothing waits
    queue, job_id, destination, data = _local_job(tmp_path, wrapped, cap, 3 * MiB + 5)
    with queue:
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data
    assert sum(drawn) == len(data)


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
def test_a_local_copy_uses_steps_of_a_twentieth_of_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    """At 20 MiB/s a 3 MiB file goes in steps of 1 MiB; the cap is lifted by the test
    once the copy waits for it, so that nothing here takes time."""
    if not kernel:
        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    meter = Metered(LocalCopy())
    queue, job_id, destination, data = _local_job(tmp_path, meter, 1, 3 * MiB)
    with queue:
        assert meter.throttling.wait(WAIT)  # the first step moved: it waits at 1 B/s
        queue.update_bandwidth_limit(20 * MiB)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data
    assert meter.amounts[0] == 16 * 1024  # at 1 B/s: the smallest step
    assert meter.amounts[1:] != []
    assert set(meter.amounts[1:]) <= {MiB, MiB - 16 * 1024}
    assert sum(meter.amounts) == len(data)


def test_a_local_copy_waiting_for_the_cap_is_cancelled_leaving_nothing(
    tmp_path: Path,
) -> None:
    meter = Metered(LocalCopy())
    queue, job_id, destination, _ = _local_job(tmp_path, meter, 1, MiB)
    with queue:
        assert meter.throttling.wait(WAIT)
        assert queue.cancel_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "cancelled"
    assert list(destination.parent.iterdir()) == []  # no copy, no temporary


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
def test_a_local_copy_waiting_for_the_cap_is_paused_and_resumes_from_its_kept_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    """At 1 B/s the copy writes its first step (16 KiB), then waits for the cap: a pause
    ends the wait at once and keeps the 16 KiB written; resumed under a higher cap, the
    copy goes on from there, in steps of the new cap. No byte is drawn from the cap, or
    copied, twice."""
    if not kernel:
        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    meter = Metered(LocalCopy())
    queue, job_id, destination, data = _local_job(tmp_path, meter, 1, 3 * MiB)
    with queue:
        assert meter.throttling.wait(WAIT)  # the first step moved: it waits at 1 B/s
        queue.pause_job(job_id)
        wait_for_job(queue, job_id, _paused_and_stopped)
        (kept,) = destination.parent.iterdir()  # only the hidden temporary file
        assert kept.name.startswith(".copy.bin.")
        assert kept.stat().st_size == 16 * 1024
        queue.update_bandwidth_limit(20 * MiB)
        queue.resume_job(job_id)
        job = queue.wait(job_id, timeout=WAIT)
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data
    assert meter.amounts[0] == 16 * 1024  # at 1 B/s: the smallest step
    assert set(meter.amounts[1:]) <= {MiB, 3 * MiB - 16 * 1024 - 2 * MiB}
    assert sum(meter.amounts) == len(data)  # the kept bytes were not copied again
    assert list(destination.parent.iterdir()) == [destination]


# -- transferqueue cp --bwlimit --------------------------------------------------------------


def test_cp_bwlimit_caps_the_copys_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[tq.TransferQueue] = []

    class Recorded(tq.TransferQueue):
        def __init__(self, *args: Any, **options: Any) -> None:
            super().__init__(*args, **options)
            made.append(self)

    monkeypatch.setattr(_cli_copy, "TransferQueue", Recorded)
    (tmp_path / "a.txt").write_bytes(b"hello")
    status = _cli.main(
        ["cp", "-q", "--bwlimit", "20MiB", str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    )
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "b.txt").read_bytes() == b"hello"
    assert [queue.bandwidth_limit for queue in made] == [20 * MiB]
    status = _cli.main(["cp", "-q", str(tmp_path / "a.txt"), str(tmp_path / "c.txt")])
    assert status == 0
    assert made[-1].bandwidth_limit is None


@pytest.mark.parametrize("value", ["0", "fast", "-1M", "20X"])
def test_cp_refuses_a_bad_bwlimit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    status = _cli.main(["cp", f"--bwlimit={value}", str(tmp_path / "a.txt"), str(tmp_path / "b")])
    assert status == 2
    err = capsys.readouterr().err
    assert "--bwlimit" in err
    assert repr(value) in err
    assert not (tmp_path / "b").exists()
