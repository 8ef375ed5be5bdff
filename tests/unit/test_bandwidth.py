"""Issue 14 part 4, the bandwidth cap: the token bucket on an injected clock, the queue's
cap and its change at run time, ``on_progress.throttle``, the local copy under the cap
and ``transferqueue cp --bwlimit``. Nothing here measures time: a wait that must end
early is one that would otherwise last for days (pytest-timeout stops a test that hangs).
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers.metered import Metered
from transferqueue._cli import main as _cli
from transferqueue._cli import run_copy as _cli_copy
from transferqueue._core.bandwidth import (
    WAIT_SLICE,
    Pace,
    TokenBucket,
    check_bandwidth_limit,
    parse_bandwidth,
    step_size,
)
from transferqueue.executors import LocalCopy
from transferqueue.executors._local import kernel_copy as _kernel_copy

MiB = 1 << 20
DAYS = 10**9  # bytes that take years at 1 byte per second


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- the bucket, on an injected clock ------------------------------------------------------


def test_a_new_bucket_lets_a_burst_pass_then_holds_to_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, clock=clock)
    first = bucket.reserve(50)  # the burst: 0.05 s at the rate
    assert first is not None
    assert bucket.delay(first) == 0
    second = bucket.reserve(100)
    assert second is not None
    assert bucket.delay(second) == pytest.approx(0.1)
    clock.advance(0.06)
    assert bucket.delay(second) == pytest.approx(0.04)
    clock.advance(0.04)
    assert bucket.delay(second) == pytest.approx(0, abs=1e-9)


def test_an_idle_spell_saves_up_no_more_than_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, clock=clock)
    clock.advance(3600)  # an hour idle
    ticket = bucket.reserve(1050)
    assert ticket is not None
    assert bucket.delay(ticket) == pytest.approx(1.0)  # only 50 bytes were saved up


def test_requests_are_served_in_the_order_they_came() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock)
    bucket.reserve(5)  # the burst
    tickets = [bucket.reserve(100) for _ in range(3)]
    delays = [bucket.delay(cast(float, ticket)) for ticket in tickets]
    assert delays == pytest.approx([1.0, 2.0, 3.0])
    clock.advance(1.0)
    assert [bucket.delay(cast(float, ticket)) for ticket in tickets] == pytest.approx(
        [0.0, 1.0, 2.0]
    )


def test_a_new_rate_applies_to_waiting_requests_from_the_change() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock)
    bucket.reserve(5)
    ticket = cast(float, bucket.reserve(1000))  # 10 s at 100 B/s
    clock.advance(4.0)  # 400 bytes allowed at the old rate: they stay allowed
    bucket.set_rate(1000)
    assert bucket.rate == 1000
    assert bucket.delay(ticket) == pytest.approx(0.6)  # the other 600 at the new rate
    bucket.set_rate(10)
    assert bucket.delay(ticket) == pytest.approx(60.0)


def test_lifting_the_cap_lets_everyone_through_and_a_new_cap_starts_full() -> None:
    clock = Clock()
    bucket = TokenBucket(1, clock=clock)
    ticket = cast(float, bucket.reserve(DAYS))
    bucket.set_rate(None)
    assert bucket.rate is None
    assert bucket.delay(ticket) == 0
    assert bucket.reserve(DAYS) is None  # nothing counted without a cap
    clock.advance(10.0)
    bucket.set_rate(1000)
    assert bucket.delay(ticket) == 0  # asked under the old cap: not held back again
    burst = cast(float, bucket.reserve(50))
    assert bucket.delay(burst) == 0
    assert bucket.delay(cast(float, bucket.reserve(1000))) == pytest.approx(1.0)


def test_a_refund_lets_those_behind_go_sooner() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock)
    bucket.reserve(5)
    bucket.reserve(DAYS)  # someone who will give up
    behind = cast(float, bucket.reserve(100))
    assert bucket.delay(behind) > 1000
    bucket.refund(DAYS)
    assert bucket.delay(behind) == pytest.approx(1.0)


def test_take_returns_false_at_once_when_cancelled_and_gives_the_bytes_back() -> None:
    clock = Clock()
    bucket = TokenBucket(100, clock=clock)
    cancelled = threading.Event()
    cancelled.set()
    assert not bucket.take(DAYS, cancelled)  # the wait would last for ages
    assert bucket.take(5, cancelled)  # the burst is still there: nothing was kept
    clock.advance(1.0)  # nor was more than the burst saved up by the giving back
    assert bucket.delay(cast(float, bucket.reserve(100))) == pytest.approx(0.95)


def test_take_without_a_cap_or_bytes_returns_at_once() -> None:
    assert TokenBucket(None).take(DAYS)
    assert TokenBucket(1).take(0)
    assert TokenBucket(1).take(-5)


def test_take_lets_bytes_pass_when_the_cap_is_lifted_as_it_asks() -> None:
    """The cap lifted between take's first look and its reservation: nothing to wait for."""

    class LiftedMeanwhile(TokenBucket):
        def reserve(self, amount: int) -> float | None:
            self.set_rate(None)
            return super().reserve(amount)

    assert LiftedMeanwhile(1).take(DAYS)


def test_take_waits_for_the_bytes_then_returns() -> None:
    """A wait of about a twentieth of a second at 1 GiB/s, on the real clock, without a
    cancel event (a direct user of the bucket)."""
    bucket = TokenBucket(1 << 30)
    assert bucket.take(1 << 30 >> 4)
    assert bucket.take(1 << 30 >> 4)


def test_a_waiter_sees_a_change_of_the_cap_within_its_slice() -> None:
    """A request that would wait for years under the old cap goes once the cap is
    lifted, from another thread: the waiter looks again every WAIT_SLICE at most."""
    reserved = threading.Event()
    done = threading.Event()

    class Watched(TokenBucket):
        def reserve(self, amount: int) -> float | None:
            ticket = super().reserve(amount)
            reserved.set()
            return ticket

    bucket = Watched(1)

    def wait_for_the_cap() -> None:
        if bucket.take(DAYS):
            done.set()

    waiter = threading.Thread(target=wait_for_the_cap)
    waiter.start()
    assert reserved.wait(WAIT)
    bucket.set_rate(None)
    waiter.join(WAIT)
    assert done.is_set()
    assert WAIT_SLICE <= 1.0  # "within a second"


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (0, ValueError, "bandwidth_limit must be a finite number of bytes per second > 0"),
        (-1, ValueError, "got -1"),
        (math.nan, ValueError, "got nan"),
        (math.inf, ValueError, "got inf"),
        ("20M", TypeError, "bandwidth_limit must be a number of bytes per second or None"),
        (True, TypeError, "not bool"),
        ([1], TypeError, "not list"),
    ],
)
def test_bad_caps_are_refused_naming_the_problem(
    value: object, kind: type[Exception], text: str
) -> None:
    with pytest.raises(kind, match=text.replace("(", r"\(")):
        check_bandwidth_limit(value)
    with pytest.raises(kind):
        TokenBucket(value)  # type: ignore[arg-type]
    with pytest.raises(kind):
        TokenBucket(1).set_rate(value)  # type: ignore[arg-type]
    with pytest.raises(kind, match="bandwidth_limit"):
        tq.TransferQueue(1, bandwidth_limit=value)  # type: ignore[arg-type]
    queue = tq.TransferQueue(1, bandwidth_limit=5)
    with pytest.raises(kind, match="bytes_per_second"):
        queue.update_bandwidth_limit(value)  # type: ignore[arg-type]
    assert queue.bandwidth_limit == 5  # unchanged
    queue.shutdown()


def test_good_caps_are_numbers_of_bytes_per_second() -> None:
    assert check_bandwidth_limit(None) is None
    assert check_bandwidth_limit(20 * MiB) == 20 * MiB
    assert check_bandwidth_limit(0.5) == 0.5


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20M", 20 * MiB),
        ("20MiB", 20 * MiB),
        ("20MB", 20 * MiB),
        ("20mb/s", 20 * MiB),
        ("20 MiB", 20 * MiB),
        ("1.5G", 1.5 * 1024 * MiB),
        (".5k", 512),
        ("512KiB", 512 * 1024),
        ("2T", 2 * 1024 * 1024 * MiB),
        ("1000", 1000),
        ("1000B", 1000),
    ],
)
def test_bandwidths_read_in_binary_units(text: str, rate: float) -> None:
    assert parse_bandwidth(text) == rate


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not a bandwidth"),
        ("fast", "not a bandwidth"),
        ("20X", "not a bandwidth"),
        ("1e3", "not a bandwidth"),
        ("-5M", "not a bandwidth"),
        ("5iB", "iB needs a K, M, G or T"),
        ("0", "more than 0"),
        ("0.0M", "more than 0"),
        ("9" * 400, "finite"),
    ],
)
def test_bad_bandwidths_are_refused_naming_the_text(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_bandwidth(text)


def test_step_sizes_follow_the_cap() -> None:
    assert step_size(8 * MiB, None) == 8 * MiB
    assert step_size(8 * MiB, 20 * MiB) == MiB  # a twentieth of a second's worth
    assert step_size(8 * MiB, 1) == 16 * 1024  # never below 16 KiB
    assert step_size(4096, 1) == 4096  # nor above the executor's own chunk
    assert step_size(8 * MiB, 1e12) == 8 * MiB


def test_a_pace_without_a_queue_neither_shrinks_nor_waits() -> None:
    seen: list[int] = []
    pace = Pace(seen.append, 4096)  # an executor called directly, with a plain callable
    assert pace.step() == 4096
    pace.moved(DAYS)
    assert seen == []


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
