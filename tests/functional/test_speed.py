"""Speed and ETA of a job (issue 3, part 4): ``bytes_per_second`` and ``eta_seconds``.

The rule under test (``Job._sample``/``Job._speed``, ``DEFAULT_SPEED_WINDOW``): a sample
``(time, loaded bytes)`` is taken when the job becomes active and at every change of its
loaded bytes; the newest sample follows every change and a new one is begun once the
newest lies a tenth of the window after the one before it; samples before the window's
start are dropped except the last one at or before it (the anchor). The speed is
``(newest bytes - oldest bytes) / (newest time - oldest time)``, ``None`` with fewer than two
samples or no time between them, and never below 0; the ETA is the bytes left at that
speed, ``None`` when the speed is ``None`` or 0. Both are ``None`` unless the job is active.

Every number is exact: the clock is frozen and moved by whole ticks, and the expected
values are computed with the same float operations as the library's.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files
from transferqueue._core.failure import Failure
from transferqueue._core.job import Job

T = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
RESET = Failure("connection reset", "ConnectionResetError")


# -- helpers ---------------------------------------------------------------------------


def noop(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    """An executor for Job unit tests, which never run it."""


def new_job(sizes: list[int], window: float) -> Job:
    """A Job (the queue's internal state) with files of ``sizes`` bytes, created now."""
    files = [tq.TransferFile(f"src/{i}", f"dst/{i}", size) for i, size in enumerate(sizes)]
    return Job(
        tq.TransferType.S3_UPLOAD,
        files,
        noop,
        datetime.now(timezone.utc),
        speed_window=timedelta(seconds=window),
    )


def rate(job: Job) -> tuple[float | None, float | None]:
    """The job's ``(bytes_per_second, eta_seconds)`` in a fresh snapshot."""
    progress = job.snapshot().progress
    return progress.bytes_per_second, progress.eta_seconds


def queue_rate(q: tq.TransferQueue, job_id: str) -> tuple[float | None, float | None]:
    """The job's ``(bytes_per_second, eta_seconds)`` as ``get_job`` reports them."""
    job = q.get_job(job_id)
    assert job is not None
    return job.progress.bytes_per_second, job.progress.eta_seconds


def kept_samples(job: Job) -> int:
    samples = job._samples  # private, read to prove the state stays small
    assert samples is not None
    return len(samples)


class Stepper:
    """An executor driven from the test thread, one ``on_progress`` call at a time.

    ``report(n)`` makes the running executor call ``on_progress(n)`` and returns once that
    call returned, so the test can move the frozen clock between reports; ``finish()``
    makes it return. ``close()`` releases every call for good (teardown).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._commands: deque[int | None] = deque()
        self._acks = 0
        self._closed = False
        self.calls = 0

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        with self._cond:
            self.calls += 1
            self._cond.notify_all()
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._commands or self._closed, WAIT):
                    raise AssertionError("the test sent no command")
                if self._closed:
                    return
                command = self._commands.popleft()
            if command is None:
                return
            try:
                on_progress(command)
            finally:
                with self._cond:
                    self._acks += 1
                    self._cond.notify_all()

    def report(self, loaded: int) -> None:
        with self._cond:
            target = self._acks + 1
            self._commands.append(loaded)
            self._cond.notify_all()
            assert self._cond.wait_for(lambda: self._acks >= target, WAIT), "report not made"

    def finish(self) -> None:
        with self._cond:
            self._commands.append(None)
            self._cond.notify_all()

    def wait_calls(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.calls >= count, WAIT), "executor not called"

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def one_file(size: int) -> list[dict[str, object]]:
    return [{"source_path": "src/a", "destination_path": "dst/a", "size": size}]


# -- Job unit tests ----------------------------------------------------------------------


def test_unknown_until_two_samples_lie_apart() -> None:
    """S20: a queued job, a job just started and a job whose only report came at the
    instant it started have no speed and no ETA; the first report a time after the start
    gives bytes over that time."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=10)
        assert rate(job) == (None, None)  # queued
        frozen.tick(3 * SECOND)
        job.start_next_file()
        assert job.snapshot().status == "active"
        assert rate(job) == (None, None)  # one sample: nothing measured yet
        job.report_progress(0, 1, 100)
        assert rate(job) == (None, None)  # two samples at one instant: no time span
        frozen.tick(2 * SECOND)
        job.report_progress(0, 1, 300)
        assert rate(job) == (150.0, 700 / 150.0)


def test_first_report_after_start() -> None:
    """S20: the speed is measured from the moment the job became active (its first
    file started), not from its creation."""
    with freeze_time(T) as frozen:
        job = new_job([10_000], window=10)
        frozen.tick(60 * SECOND)  # queued for a minute: not part of the measure
        job.start_next_file()
        frozen.tick(4 * SECOND)
        job.report_progress(0, 1, 1000)
        assert rate(job) == (250.0, 36.0)


def test_steady_rate_is_exact_and_keeps_few_samples() -> None:
    """S20: 100 bytes every second read as exactly 100 B/s at every report, before and
    after the window fills, with the ETA of the bytes left; a dozen samples at most."""
    with freeze_time(T) as frozen:
        job = new_job([5000], window=10)
        job.start_next_file()
        for second in range(1, 31):
            frozen.tick(SECOND)
            job.report_progress(0, 1, 100 * second)
            assert rate(job) == (100.0, (5000 - 100 * second) / 100.0)
            assert kept_samples(job) <= 12


def test_window_slides_to_the_recent_rate() -> None:
    """S20: after 20 s at 100 B/s the rate becomes 300 B/s; k seconds later the speed
    is averaged over the last window only (anchor at 10 + k s): (1000 + 200k) / 10, which
    reaches exactly 300 once the window holds only the new rate (a cumulative average
    would still say 5000 / 30)."""
    with freeze_time(T) as frozen:
        job = new_job([20_000], window=10)
        job.start_next_file()
        for second in range(1, 21):
            frozen.tick(SECOND)
            job.report_progress(0, 1, 100 * second)
        assert rate(job) == (100.0, 18_000 / 100.0)
        for k in range(1, 16):
            frozen.tick(SECOND)
            loaded = 2000 + 300 * k
            job.report_progress(0, 1, loaded)
            speed = (1000 + 200 * min(k, 10)) / 10.0
            assert rate(job) == (speed, (20_000 - loaded) / speed), f"{k} s after the change"
        assert rate(job)[0] == 300.0


def test_stall_then_progress() -> None:
    """S20: 100 B/s for 5 s, nothing for 15 s, then 100 bytes: the anchor is the last
    sample before the window (at 5 s), so the speed is 100 / 15; as reports resume every
    second, the stall leaves the window and the speed is 100 B/s again."""
    with freeze_time(T) as frozen:
        job = new_job([10_000], window=10)
        job.start_next_file()
        for second in range(1, 6):
            frozen.tick(SECOND)
            job.report_progress(0, 1, 100 * second)
        frozen.tick(15 * SECOND)
        job.report_progress(0, 1, 600)
        assert rate(job) == (100 / 15.0, 9400 / (100 / 15.0))
        frozen.tick(SECOND)
        job.report_progress(0, 1, 700)
        assert rate(job) == (200 / 16.0, 9300 / (200 / 16.0))
        for second in range(22, 31):
            frozen.tick(SECOND)
            job.report_progress(0, 1, 700 + 100 * (second - 21))
        # At 30 s the anchor is the sample at 20 s (600 bytes); 1600 bytes now.
        assert rate(job) == (100.0, 8400 / 100.0)


def test_settle_speed_after_a_whole_window_without_bytes() -> None:
    """S20: a job whose bytes have not moved for a whole window settles at 0 B/s and no
    ETA, once (a second look changes nothing); before that it keeps its rate and says
    how long until the window is up; a job not active has nothing to settle."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=4)
        assert job.settle_speed() is None  # queued
        job.start_next_file()
        frozen.tick(SECOND)
        job.report_progress(0, 1, 100)
        assert rate(job) == (100.0, 9.0)
        frozen.tick(3 * SECOND)
        assert job.settle_speed() == (False, 1.0)  # 3 of 4 s idle
        assert rate(job) == (100.0, 9.0)
        frozen.tick(SECOND)
        assert job.settle_speed() == (True, 4.0)
        assert rate(job) == (0.0, None)
        frozen.tick(10 * SECOND)
        assert job.settle_speed() == (False, 4.0)  # still 0: nothing new to tell
        assert rate(job) == (0.0, None)
        # Bytes again, at 16 s: measured from when it was found stalled (5 s, 100 bytes),
        # the last sample at or before the window's start.
        frozen.tick(SECOND)
        job.report_progress(0, 1, 300)
        assert rate(job) == (200 / 11.0, 700 / (200 / 11.0))
        assert job.settle_speed() == (False, 4.0)


def test_settle_speed_of_a_job_that_never_moved() -> None:
    """S20: an active job without a byte for a whole window reads 0 B/s (known: nothing
    moved), not "unknown"."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=2)
        job.start_next_file()
        frozen.tick(2 * SECOND)
        assert job.settle_speed() == (True, 2.0)
        assert rate(job) == (0.0, None)


def test_settle_speed_of_a_job_reading_zero_already_tells_nothing() -> None:
    """S20 with S19: a job whose speed reads 0 already (a retry took its bytes back) is
    settled without a new snapshot: nothing changed for its watchers."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=2)
        job.start_next_file()
        frozen.tick(SECOND)
        job.report_progress(0, 1, 500)
        frozen.tick(SECOND)
        job.wait_to_retry(0, RESET, T + timedelta(seconds=60))
        before = job.snapshot()
        assert rate(job) == (0.0, None)
        frozen.tick(2 * SECOND)
        assert job.settle_speed() == (False, 2.0)
        assert job.snapshot() is before
        frozen.tick(2 * SECOND)
        assert job.settle_speed() == (False, 2.0)


def test_queue_tells_watchers_when_a_job_stalls() -> None:
    """S20: the queue itself settles a stalled job: its watchers get a snapshot with 0 B/s
    and no ETA once a whole window passed without bytes, and only one while it stays
    stalled; get_job() agrees. (The window is short so that the queue, which looks at
    each active job once a window, looks soon; the frozen clock decides what is seen.)"""
    stepper = Stepper()
    window = 0.05
    # update_interval=0: every change is its own event, so none is still on its way when
    # the clock moves, and the stalled snapshot can only come from the queue's look.
    with (
        freeze_time(T) as frozen,
        tq.TransferQueue(1, speed_window=window, update_interval=0) as q,
    ):
        try:
            job_id = q.queue_job("s3-download", one_file(1000), stepper)
            stepper.wait_calls(1)
            with q.watch(job_id, timeout=WAIT, keepalive=window * 20) as watch:
                started = next(watch)
                assert started is not None
                assert started.progress.bytes_per_second is None
                frozen.tick(timedelta(seconds=0.01))
                stepper.report(10)
                moving = next(watch)
                assert moving is not None
                assert moving.progress.bytes_per_second == 10 / 0.01
                frozen.tick(SECOND)  # a window and more without a byte
                stalled = next(watch)
                assert stalled is not None
                assert (stalled.progress.bytes_per_second, stalled.progress.eta_seconds) == (
                    0.0,
                    None,
                )
                assert queue_rate(q, job_id) == (0.0, None)
                frozen.tick(SECOND)
                # Twenty windows of looking: nothing new to tell, so a keep-alive comes.
                assert next(watch) is None
            stepper.finish()
            final = q.wait(job_id, timeout=WAIT)
        finally:
            stepper.close()
    assert final.status == "completed"


def test_stall_event_carries_the_file_changes_pending_with_it() -> None:
    """S20 with S8: the snapshot announcing a stall also reports the file changes still
    waiting for update_interval (a file done, the next begun), so they are not announced
    a second time when that interval comes."""
    events: list[tq.TransferJob] = []
    got = threading.Condition()

    def on_updated(sender: tq.TransferQueue, *, job: tq.TransferJob, **extra: object) -> None:
        with got:
            events.append(job)
            got.notify_all()

    def stalled() -> bool:
        return any(event.progress.bytes_per_second == 0.0 for event in events)

    stepper = Stepper()
    files = [one_file(10)[0], {"source_path": "src/b", "destination_path": "dst/b", "size": 10}]
    with (
        freeze_time(T) as frozen,
        tq.TransferQueue(1, speed_window=0.05, update_interval=0.3) as q,
        tq.job_updated.connected_to(on_updated, sender=q),
    ):
        try:
            job_id = q.queue_job("s3-download", files, stepper)
            stepper.wait_calls(1)
            frozen.tick(timedelta(seconds=0.01))
            stepper.report(10)
            stepper.finish()
            stepper.wait_calls(2)  # the second file has begun, without a byte yet
            frozen.tick(SECOND)
            with got:
                assert got.wait_for(stalled, WAIT)
                seen = len(events)
                # Longer than update_interval: the pending changes came with the stall.
                assert not got.wait_for(lambda: len(events) > seen, 1.0), events[seen:]
            last = events[-1]
            assert last.progress.completed_files == 1
            assert last.files[1].status == tq.TransferFileStatus.TRANSFERRING
            stepper.finish()
            assert q.wait(job_id, timeout=WAIT).status == "completed"
        finally:
            stepper.close()


def test_retry_reset_gives_zero_speed_not_negative() -> None:
    """S20 with S19: a file that goes back to wait for a retry takes its bytes back;
    the speed is then 0 (not negative) and the ETA unknown, until the new attempt's
    bytes outweigh the anchor again."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=2)
        job.start_next_file()
        for loaded in (500, 800, 900):
            frozen.tick(SECOND)
            job.report_progress(0, 1, loaded)
        assert rate(job) == (200.0, 100 / 200.0)  # over 2 s: anchor 500 at 1 s
        frozen.tick(SECOND)
        job.wait_to_retry(0, RESET, T + timedelta(seconds=10))
        snapshot = job.snapshot()
        assert snapshot.status == "active"
        assert snapshot.progress.loaded_bytes == 0
        assert rate(job) == (0.0, None)  # raw (0 - 800) / 2 would be -400
        job.retry_due(0)
        job.start_next_file()  # the second attempt: no new sample, the job stays active
        frozen.tick(SECOND)
        job.report_progress(0, 2, 200)
        assert rate(job) == (0.0, None)  # anchor 900 at 3 s: still below
        frozen.tick(SECOND)
        job.report_progress(0, 2, 600)
        assert rate(job) == (300.0, 400 / 300.0)  # anchor 0 at 4 s


def test_restart_with_a_smaller_value_gives_zero_not_negative() -> None:
    """S20 with S7: an executor that restarts its file (reports fewer bytes than
    before) makes the speed 0, never negative, and the ETA unknown."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=2)
        job.start_next_file()
        for loaded in (500, 800, 900, 100):
            frozen.tick(SECOND)
            job.report_progress(0, 1, loaded)
        assert rate(job) == (0.0, None)


def test_speed_spans_files_and_counts_a_completed_file() -> None:
    """S20 with S6: a file completing adds its remaining bytes at that moment, and the
    next file's start takes no sample: the speed is the job's, across its files."""
    with freeze_time(T) as frozen:
        job = new_job([400, 600], window=10)
        job.start_next_file()
        frozen.tick(SECOND)
        job.report_progress(0, 1, 200)
        frozen.tick(SECOND)
        assert job.finish_file(0, None) is False  # +200 bytes at 2 s
        assert rate(job) == (200.0, 600 / 200.0)
        frozen.tick(5 * SECOND)
        job.start_next_file()
        assert rate(job) == (200.0, 600 / 200.0)  # a start is no change of bytes
        frozen.tick(SECOND)
        job.report_progress(1, 1, 400)
        assert rate(job) == (800 / 8.0, 200 / (800 / 8.0))


def test_eta_is_zero_when_every_byte_is_loaded_but_the_job_is_active() -> None:
    """S20: the last file reported all its bytes but its executor has not returned:
    the job is active, nothing is left, so the ETA is 0 (not None)."""
    with freeze_time(T) as frozen:
        job = new_job([500], window=10)
        job.start_next_file()
        frozen.tick(2 * SECOND)
        job.report_progress(0, 1, 500)
        assert job.snapshot().status == "active"
        assert rate(job) == (250.0, 0.0)


@pytest.mark.parametrize("end", ["completed", "failed", "cancelled"])
def test_terminal_job_has_no_speed(end: str) -> None:
    """S20: once the job is terminal, speed and ETA are None, whatever it measured."""
    with freeze_time(T) as frozen:
        job = new_job([1000], window=10)
        job.start_next_file()
        frozen.tick(SECOND)
        job.report_progress(0, 1, 400)
        assert rate(job) == (400.0, 1.5)
        frozen.tick(SECOND)
        if end == "completed":
            job.finish_file(0, None)
        elif end == "failed":
            job.finish_file(0, Failure("disk full", "OSError"))
        else:
            job.cancel("Cancelled by user")
        snapshot = job.snapshot()
    assert snapshot.status == end
    assert (snapshot.progress.bytes_per_second, snapshot.progress.eta_seconds) == (None, None)


def test_samples_stay_few_after_ten_thousand_reports() -> None:
    """S20 (bounded memory): 10,000 reports 1 ms apart keep at most a dozen samples
    (a tenth of the 10 s window apart, plus the anchor and the newest), and the speed is
    exactly the 10 bytes per ms reported."""
    with freeze_time(T) as frozen:
        job = new_job([10**9], window=10)
        job.start_next_file()
        most = 0
        for n in range(1, 10_001):
            frozen.tick(timedelta(milliseconds=1))
            job.report_progress(0, 1, 10 * n)
            most = max(most, kept_samples(job))
        assert most <= 12
        assert rate(job) == (10_000.0, (10**9 - 100_000) / 10_000.0)


def test_samples_stay_a_tenth_of_the_window_apart_at_coarse_reports() -> None:
    """S20 (DEFAULT_SPEED_WINDOW: 'Samples are kept a tenth of the window apart'):
    with reports 0.6 s apart and a 10 s window, the kept samples but the newest lie at
    least 1 s apart, so at most a dozen are kept."""
    with freeze_time(T) as frozen:
        job = new_job([10**9], window=10)
        job.start_next_file()
        for n in range(1, 201):
            frozen.tick(timedelta(milliseconds=600))
            job.report_progress(0, 1, 60 * n)
        assert rate(job)[0] == pytest.approx(100.0)
        samples = job._samples
        assert samples is not None
        kept = list(samples)[:-1]
        gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(kept)]
        assert min(gaps) >= 1.0, gaps
        assert len(samples) <= 12


# -- through a real queue ------------------------------------------------------------------


def test_queue_reports_exact_speed_and_eta() -> None:
    """S20: a running queue's get_job() reports the exact speed over a 4 s window
    (given in seconds) and the ETA as the executor reports, moved by frozen ticks; the
    terminal snapshot has neither."""
    stepper = Stepper()
    with freeze_time(T) as frozen, tq.TransferQueue(1, speed_window=4) as q:
        try:
            job_id = q.queue_job("s3-download", one_file(1000), stepper)
            stepper.wait_calls(1)
            assert queue_rate(q, job_id) == (None, None)  # active at T, nothing measured
            expected = [
                (100, 100 / 1.0),  # at 1 s
                (200, 200 / 2.0),
                (500, 500 / 3.0),
                (600, 600 / 4.0),  # the window (4 s) is full: anchor still the start
                (700, (700 - 100) / 4.0),  # anchor: 100 at 1 s
                (1000, (1000 - 200) / 4.0),  # anchor: 200 at 2 s
            ]
            for loaded, speed in expected:
                frozen.tick(SECOND)
                stepper.report(loaded)
                assert queue_rate(q, job_id) == (speed, (1000 - loaded) / speed), loaded
            stepper.finish()
            final = q.wait(job_id, timeout=WAIT)
        finally:
            stepper.close()
    assert final.status == "completed"
    assert (final.progress.bytes_per_second, final.progress.eta_seconds) == (None, None)


def test_queue_default_window_is_ten_seconds() -> None:
    """S20: DEFAULT_SPEED_WINDOW is 10 s and a queue without the option averages over
    it: after 10 s at 100 B/s and 2 s at 300 B/s the anchor is the sample at 2 s."""
    assert tq.DEFAULT_SPEED_WINDOW == 10.0
    stepper = Stepper()
    with freeze_time(T) as frozen, tq.TransferQueue(1) as q:
        try:
            job_id = q.queue_job("s3-upload", one_file(10_000), stepper)
            stepper.wait_calls(1)
            for second in range(1, 11):
                frozen.tick(SECOND)
                stepper.report(100 * second)
            assert queue_rate(q, job_id) == (100.0, 9000 / 100.0)
            frozen.tick(SECOND)
            stepper.report(1300)
            frozen.tick(SECOND)
            stepper.report(1600)
            assert queue_rate(q, job_id) == ((1600 - 200) / 10.0, 8400 / ((1600 - 200) / 10.0))
            stepper.finish()
            q.wait(job_id, timeout=WAIT)
        finally:
            stepper.close()


def test_queue_window_as_timedelta_and_restart_clamps_to_zero() -> None:
    """S20 with S7: speed_window accepts a timedelta (2 s here); an executor that starts
    its file over makes the speed 0 and the ETA None in get_job()."""
    stepper = Stepper()
    with freeze_time(T) as frozen, tq.TransferQueue(1, speed_window=timedelta(seconds=2)) as q:
        try:
            job_id = q.queue_job("s3-upload", one_file(1000), stepper)
            stepper.wait_calls(1)
            for loaded in (500, 800, 900):
                frozen.tick(SECOND)
                stepper.report(loaded)
            assert queue_rate(q, job_id) == (200.0, 100 / 200.0)  # over 2 s, not 3
            frozen.tick(SECOND)
            stepper.report(100)
            assert queue_rate(q, job_id) == (0.0, None)
            stepper.finish()
            q.wait(job_id, timeout=WAIT)
        finally:
            stepper.close()


def test_queue_speed_across_the_files_of_a_job() -> None:
    """S20: one job, two files run one after the other: the end of the first counts
    its remaining bytes when it ends, and the speed carries on over the second."""
    stepper = Stepper()
    with freeze_time(T) as frozen, tq.TransferQueue(1) as q:
        try:
            job_id = q.queue_job("s3-upload", make_files(2, size=500), stepper)
            stepper.wait_calls(1)
            frozen.tick(SECOND)
            stepper.report(200)
            assert queue_rate(q, job_id) == (200.0, 800 / 200.0)
            frozen.tick(SECOND)
            stepper.finish()  # +300 bytes at 2 s
            stepper.wait_calls(2)  # the first file's end is recorded before the second starts
            assert queue_rate(q, job_id) == (250.0, 500 / 250.0)
            frozen.tick(2 * SECOND)
            stepper.report(500)
            assert queue_rate(q, job_id) == (250.0, 0.0)
            stepper.finish()
            final = q.wait(job_id, timeout=WAIT)
        finally:
            stepper.close()
    assert final.status == "completed"
    assert final.progress.bytes_per_second is None


def test_queued_and_failed_jobs_in_a_queue_have_no_speed() -> None:
    """S20: a job still queued behind a full limit, and a job that failed, report
    neither speed nor ETA."""
    gate = GatedExecutor()

    def failing(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        raise OSError("disk full")

    with freeze_time(T), tq.TransferQueue(1) as q:
        try:
            running = q.queue_job("s3-upload", make_files(1, prefix="run"), gate)
            gate.wait_running(1)
            waiting = q.queue_job("s3-upload", make_files(1, prefix="wait"), gate)
            queued = q.get_job(waiting)
            assert queued is not None
            assert queued.status == "queued"
            assert (queued.progress.bytes_per_second, queued.progress.eta_seconds) == (None, None)
        finally:
            gate.release_all()
        q.wait(running, timeout=WAIT)
        q.wait(waiting, timeout=WAIT)
        failed = q.wait(q.queue_job("s3-upload", make_files(1, prefix="bad"), failing), WAIT)
    assert failed.status == "failed"
    assert (failed.progress.bytes_per_second, failed.progress.eta_seconds) == (None, None)


@pytest.mark.parametrize(
    ("window", "error"),
    [
        (0, ValueError),
        (0.0, ValueError),
        (-1, ValueError),
        (timedelta(0), ValueError),
        (timedelta(seconds=-5), ValueError),
        (math.inf, ValueError),
        (math.nan, ValueError),
        (1e-7, ValueError),  # rounds to a 0 timedelta
        (0.000999, ValueError),
        (86_400.001, ValueError),
        (1e15, ValueError),  # would overflow a timedelta
        ("10", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_speed_window_validation(window: object, error: type[Exception]) -> None:
    """S20 (S12 style): speed_window must be a duration from 1 ms to a day, in seconds or
    a timedelta: TypeError for a wrong type, ValueError for 0, negative, non-finite or out
    of that range (a shorter one would have the queue look at its jobs without pause)."""
    with pytest.raises(error, match="speed_window"):
        tq.TransferQueue(1, speed_window=window)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "window", [0.001, 0.5, 3, timedelta(milliseconds=250), 86_400, timedelta(days=1)]
)
def test_speed_window_accepts_positive_durations(window: float | timedelta) -> None:
    """S20: any duration from 1 ms to a day is a valid window."""
    with tq.TransferQueue(1, speed_window=window) as q:
        assert q.get_all_jobs() == []
