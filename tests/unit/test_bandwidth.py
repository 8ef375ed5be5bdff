"""The bandwidth cap's pieces on their own: the token bucket on an injected clock, the
reading of caps and bandwidths, the step sizes, and a pace without a queue. Nothing here
measures time: a wait that must end early is one that would otherwise last for days
(pytest-timeout stops a test that hangs).
"""

from __future__ import annotations

import math
import threading
from typing import cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from transferqueue._core.bandwidth import (
    WAIT_SLICE,
    Pace,
    TokenBucket,
    check_bandwidth_limit,
    parse_bandwidth,
    step_size,
)
from transferqueue._executor import GO_ON

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


def test_a_refund_after_a_long_wait_lets_no_burst_through() -> None:
    """A wait stopped when the cap had nearly allowed its bytes gives back only what is
    left to allow: the next request still waits at the cap's rate."""
    clock = Clock()
    bucket = TokenBucket(1000, clock=clock)
    waited = cast(float, bucket.reserve(10_000))
    clock.advance(9.9)
    assert bucket.delay(waited) == pytest.approx(0.05)  # 9,950 of its bytes allowed
    bucket.refund(10_000)  # paused or cancelled then
    after = cast(float, bucket.reserve(9000))
    assert bucket.delay(after) == pytest.approx(8.95)


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


# -- on_progress.throttle against its job's stop event, without a queue --------------------


class _JobState:
    """What a ProgressCallback reads of its job."""

    def __init__(self, status: tq.TransferStatus) -> None:
        self.id = "job-1"
        self.status = status


def _callback(
    status: tq.TransferStatus,
    stop_events: list[threading.Event | None],
    bucket: TokenBucket,
    cancel_event: threading.Event | None = None,
) -> tuple[tq.ProgressCallback, list[threading.Event | None]]:
    """A callback whose job has ``status`` and whose stop event is, at each look, the next
    of ``stop_events`` (None: the job is finished); also the events handed out so far."""
    handed: list[threading.Event | None] = []

    def stop_event() -> threading.Event | None:
        handed.append(stop_events[len(handed)])
        return handed[-1]

    callback = tq.ProgressCallback(
        lambda index, attempt, loaded: GO_ON,
        _JobState(status),
        0,
        1,
        threading.Event() if cancel_event is None else cancel_event,
        stop_event,
        bucket,
    )
    return callback, handed


def _set() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def test_throttle_raises_transfer_paused_when_its_job_is_paused() -> None:
    bucket = TokenBucket(1)
    on_progress, handed = _callback(tq.TransferStatus.PAUSED, [_set()], bucket)
    with pytest.raises(tq.TransferPaused, match="transfer job job-1 was paused"):
        on_progress.throttle(DAYS)
    assert on_progress.told_to_pause  # what the executor raises next is the pause
    assert len(handed) == 1
    assert bucket.delay(cast(float, bucket.reserve(0))) == 0  # the bytes were given back


def test_a_throttle_woken_by_a_pause_left_already_asks_again() -> None:
    """The stop event was set by a pause that ended before the waiter looked at its job
    (active again): the bytes it gave back are asked for again, and then they pass. At
    1 GiB/s, a burst and 1 MiB more is a wait of about a millisecond."""
    bucket = TokenBucket(1 << 30)
    on_progress, handed = _callback(tq.TransferStatus.ACTIVE, [_set(), threading.Event()], bucket)
    on_progress.throttle(int((1 << 30) * 0.05) + MiB)
    assert len(handed) == 2
    assert not on_progress.told_to_pause


def test_a_throttle_of_a_finished_job_waits_on_its_cancel_event() -> None:
    """A finished job has no stop event left: a late call from a thread the executor
    left running waits on the cancel event, which a cancelled job has set."""
    on_progress, handed = _callback(
        tq.TransferStatus.CANCELLED, [None], TokenBucket(1), cancel_event=_set()
    )
    with pytest.raises(tq.TransferCancelled):
        on_progress.throttle(DAYS)
    assert handed == [None]
