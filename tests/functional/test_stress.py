"""Many client threads queueing, cancelling and waiting at once (S2, S4, S6, S8, S9, S15)."""

from __future__ import annotations

import random
import threading

import attrs
import pytest

import transferqueue as tq
from tests.conftest import WAIT, EventRecorder, queue_threads

LIMIT = 4
CLIENTS = 20
JOBS_PER_CLIENT = 15


@attrs.define
class Plan:
    """What a client decided for one job before queueing it."""

    client: int
    number: int
    sizes: list[int]
    failing: set[int]  # indices of the files whose executor raises
    cancel: str  # "no", "at once" or "after start"
    started: threading.Event = attrs.field(factory=threading.Event)
    job_id: str = ""
    cancel_result: bool | None = None


class Concurrency:
    """Counts the executors inside their call; records every instant above the limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.violations: list[int] = []

    def enter(self) -> None:
        with self._lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            if self.running > self._limit:
                self.violations.append(self.running)

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


def _executor(plan: Plan, concurrency: Concurrency) -> tq.Executor:
    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        concurrency.enter()
        try:
            index = int(file.source_path.rsplit("-", 1)[1])
            if index == 0 and plan.cancel == "after start":
                plan.started.set()
                # Held until the client cancels: the job cannot finish before that.
                assert on_progress.wait_cancelled(WAIT), "the client never cancelled"
                on_progress(1)  # raises TransferCancelled
            steps = 3
            for step in range(1, steps + 1):
                on_progress(file.size * step // steps)
                if step == 2 and index in plan.failing:
                    raise RuntimeError(f"boom {plan.client}/{plan.number}/{index}")
        finally:
            concurrency.leave()

    return executor


def _plan_jobs(client: int, seed: int) -> list[Plan]:
    rng = random.Random(seed * CLIENTS + client)
    plans = []
    for number in range(JOBS_PER_CLIENT):
        count = rng.randint(1, 8)
        sizes = [rng.choice([0, rng.randint(1, 10_000)]) for _ in range(count)]
        failing = {i for i in range(count) if rng.random() < 0.1}
        cancel = rng.choices(["no", "at once", "after start"], weights=[2, 0.5, 0.5])[0]
        plans.append(Plan(client, number, sizes, failing, cancel))
    return plans


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("update_interval", [0.1, 0])
def test_many_clients_queue_cancel_and_wait_at_once(seed: int, update_interval: float) -> None:
    """S2, S4, S6, S8, S9, S15: 20 threads queue 300 jobs at once and cancel a third of
    them; the limit holds, every job ends consistently, events are complete and in order,
    and shutdown leaves no thread of the queue alive."""
    before = queue_threads()
    queue = tq.TransferQueue(LIMIT, update_interval=update_interval)
    recorder = EventRecorder(queue)
    concurrency = Concurrency(LIMIT)
    plans = [_plan_jobs(client, seed) for client in range(CLIENTS)]
    barrier = threading.Barrier(CLIENTS)
    errors: list[BaseException] = []

    def client(mine: list[Plan]) -> None:
        try:
            barrier.wait(WAIT)
            for plan in mine:
                files = [
                    {
                        "source_path": f"src/c{plan.client}-j{plan.number}-{i}",
                        "destination_path": f"dst/c{plan.client}-j{plan.number}-{i}",
                        "size": size,
                    }
                    for i, size in enumerate(plan.sizes)
                ]
                plan.job_id = queue.queue_job("cross-storage", files, _executor(plan, concurrency))
                if plan.cancel == "at once":
                    plan.cancel_result = queue.cancel_job(plan.job_id)
                elif plan.cancel == "after start":
                    assert plan.started.wait(WAIT), f"{plan.job_id} never started"
                    plan.cancel_result = queue.cancel_job(plan.job_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=client, args=(mine,), name=f"client-{n}")
        for n, mine in enumerate(plans)
    ]
    try:
        with (
            tq.job_created.connected_to(recorder.created, sender=queue),
            tq.job_updated.connected_to(recorder.updated, sender=queue),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT)
            assert not any(thread.is_alive() for thread in threads)
            assert errors == []
            finals = {
                plan.job_id: queue.wait(plan.job_id, timeout=WAIT)
                for mine in plans
                for plan in mine
            }
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)

    all_plans = [plan for mine in plans for plan in mine]
    assert len(finals) == CLIENTS * JOBS_PER_CLIENT
    for plan in all_plans:
        job = finals[plan.job_id]
        _check_job(plan, job)
        _check_events(recorder.for_job(plan.job_id), job)
    assert concurrency.violations == []
    assert concurrency.max_running <= LIMIT
    assert concurrency.running == 0
    assert queue.get_active_job_ids() == []
    assert queue_threads() - before == set()
    # The run really mixed outcomes; a degenerate schedule would prove little.
    statuses = {job.status for job in finals.values()}
    assert statuses == {
        tq.TransferStatus.COMPLETED,
        tq.TransferStatus.FAILED,
        tq.TransferStatus.CANCELLED,
    }


def _check_job(plan: Plan, job: tq.TransferJob) -> None:
    assert job.status.is_terminal
    assert job.completed_at is not None
    total = len(plan.sizes)
    progress = job.progress
    assert progress.total_files == total
    assert progress.total_bytes == sum(plan.sizes)
    assert progress.completed_files + progress.failed_files == total, job
    assert progress.loaded_bytes == sum(f.loaded for f in job.files)
    completed = [f for f in job.files if f.status == tq.TransferFileStatus.COMPLETED]
    errored = [f for f in job.files if f.status == tq.TransferFileStatus.ERROR]
    assert len(completed) == progress.completed_files
    assert len(errored) == progress.failed_files
    assert all(f.loaded == f.size and f.error is None for f in completed)
    assert all(f.error for f in errored)
    if plan.cancel == "after start":
        assert plan.cancel_result is True  # its first file was held until the cancel
    if plan.cancel_result:
        assert job.status == tq.TransferStatus.CANCELLED, job
    elif job.status == tq.TransferStatus.COMPLETED:
        assert not plan.failing
        assert progress.percentage == 100
        assert progress.loaded_bytes == progress.total_bytes
    else:
        assert job.status == tq.TransferStatus.FAILED, job
        assert plan.failing
        assert job.error == f"{len(plan.failing)} of {total} files failed"
        assert {i for i, f in enumerate(job.files) if f.error} == plan.failing
        assert progress.percentage < 100
    if job.status == tq.TransferStatus.CANCELLED:
        assert len(completed) < total
        assert progress.percentage < 100


def _check_events(events: list[tuple[str, tq.TransferJob]], final: tq.TransferJob) -> None:
    names = [name for name, _ in events]
    assert names.count("job-created") == 1
    assert names[0] == "job-created"
    terminal = [job for _, job in events if job.status.is_terminal]
    assert terminal == [final]
    assert events[-1] == ("job-updated", final)
    # In order: the number of finished files never goes back (S8).
    finished = [job.progress.completed_files + job.progress.failed_files for _, job in events]
    assert finished == sorted(finished)
