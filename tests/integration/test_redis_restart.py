"""Issue 11, part 6: Redis faults of a Redis-backed queue. Redis stopped mid-run: the
running file finishes, no new file starts, the queue reconnects; restarted without its
data, the owner writes its jobs again within a heartbeat; restarted with its data after a
long outage, nobody is declared lost for it. Nothing reads a job as finished that is not."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers.redis_server import (
    MISSING,
    REQUIRED,
    RedisServer,
    start_redis_server,
    wait_until,
)

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

from transferqueue.redis import RedisBackend

LEASE = 1.0
# A server that keeps its data across a restart: every write appended and synced.
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")


class FileGates:
    """An executor whose files each run until their own gate opens."""

    def __init__(self) -> None:
        self.started = {name: threading.Event() for name in ("a", "b")}
        self.gates = {name: threading.Event() for name in ("a", "b")}

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        self.started[file.source_path].set()
        on_progress(1)
        assert self.gates[file.source_path].wait(WAIT), f"{file.source_path} never let go"
        on_progress(file.size)


FILES = [
    {"source_path": "a", "destination_path": "x/a", "size": 5},
    {"source_path": "b", "destination_path": "x/b", "size": 5},
]


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_redis_restarted_without_its_data_gets_the_jobs_again_within_a_heartbeat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="transferqueue")
    server = start_redis_server()
    restarted: RedisServer | None = None
    files = FileGates()
    try:
        backend = RedisBackend(server.url, namespace="q", lease=LEASE)
        with tq.TransferQueue(1, backend=backend) as owner:
            job_id = owner.queue_job("s3-upload", FILES, files)
            assert files.started["a"].wait(WAIT)
            server.terminate()
            # Redis is away: the running file finishes, the next one does not start.
            files.gates["a"].set()
            wait_until(
                lambda: any("waits for a cluster-wide slot" in m for m in messages(caplog)),
                "the next file waits for its slot",
            )
            assert not files.started["b"].is_set()
            job = owner.get_job(job_id)
            assert job is not None
            assert [file.status for file in job.files] == [
                tq.TransferFileStatus.COMPLETED,
                tq.TransferFileStatus.QUEUED,
            ]
            wait_until(
                lambda: any("could not send a heartbeat" in m for m in messages(caplog)),
                "a heartbeat fails",
            )
            restarted = start_redis_server(server.port)  # empty
            with tq.TransferQueue(1, backend=RedisBackend(restarted.url, namespace="q")) as reader:
                # At its next heartbeat the owner sees that Redis lost its data, and
                # writes its job again, as it stands.
                wait_until(
                    lambda: any(
                        "writing this process's 1 jobs again" in m for m in messages(caplog)
                    ),
                    "the owner writes its job again",
                )
                wait_until(lambda: reader.get_job(job_id) is not None, "the job is back")
                again = reader.get_job(job_id)
                assert again is not None
                assert again.status is tq.TransferStatus.ACTIVE  # not finished: it is not
                assert again.files[0].status is tq.TransferFileStatus.COMPLETED
                # The queue reconnects: the next file gets its slot and runs.
                assert files.started["b"].wait(WAIT)
                files.gates["b"].set()
                assert reader.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
            assert owner.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
    finally:
        for gate in files.gates.values():
            gate.set()
        server.stop()
        if restarted is not None:
            restarted.stop()
    logged = messages(caplog)
    assert any(m.startswith("heartbeats reach Redis at") for m in logged)
    assert any("got its cluster-wide slot again" in m for m in logged)


def test_a_long_outage_of_redis_with_its_data_declares_nobody_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis away for longer than every lease, then back with its data: the owners' leases
    have all ended by the server's clock, yet the owner is not declared lost: its job
    goes on and completes."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    server = start_redis_server(None, *PERSISTENT)
    restarted: RedisServer | None = None
    files = FileGates()
    try:
        backend = RedisBackend(server.url, namespace="q", lease=LEASE)
        with tq.TransferQueue(1, backend=backend) as owner:
            job_id = owner.queue_job("s3-upload", FILES[:1], files)
            assert files.started["a"].wait(WAIT)
            owner_name = backend.owner_id
            server.terminate()
            # The outage itself is what is tested: longer than twice the lease, and than
            # the lease and 2 s (nothing to wait for but time).
            time.sleep(LEASE + 2.5)
            restarted = start_redis_server(server.port, *PERSISTENT, folder=server.log_path.parent)
            with tq.TransferQueue(1, backend=RedisBackend(restarted.url, namespace="q")) as reader:
                job = reader.get_job(job_id)  # a read looks for lost owners first
                assert job is not None
                assert job.status is tq.TransferStatus.ACTIVE
                files.gates["a"].set()
                assert reader.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
            assert backend.owner_id == owner_name  # never declared lost
    finally:
        for gate in files.gates.values():
            gate.set()
        server.stop()
        if restarted is not None:
            restarted.stop()
    assert not any("was lost" in m or "declared lost" in m for m in messages(caplog))


def test_a_job_that_ended_while_redis_was_away_is_written_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The job's last event could not be written, and no event follows it: the owner's
    heartbeat writes it once Redis answers again."""
    caplog.set_level(logging.INFO, logger="transferqueue")
    server = start_redis_server(None, *PERSISTENT)
    restarted: RedisServer | None = None
    files = FileGates()
    try:
        backend = RedisBackend(server.url, namespace="q", lease=LEASE)
        with tq.TransferQueue(1, backend=backend) as owner:
            job_id = owner.queue_job("s3-upload", FILES[:1], files)
            assert files.started["a"].wait(WAIT)
            server.terminate()
            files.gates["a"].set()
            owner.wait(job_id, WAIT)  # its end was delivered here, and not written
            wait_until(
                lambda: any("could not write job events" in m for m in messages(caplog)),
                "the end's write fails",
            )
            restarted = start_redis_server(server.port, *PERSISTENT, folder=server.log_path.parent)
            with tq.TransferQueue(1, backend=RedisBackend(restarted.url, namespace="q")) as reader:
                assert reader.wait(job_id, WAIT).status is tq.TransferStatus.COMPLETED
    finally:
        for gate in files.gates.values():
            gate.set()
        server.stop()
        if restarted is not None:
            restarted.stop()
    assert any("job events are written to Redis again" in m for m in messages(caplog))


def test_a_queue_shut_down_while_redis_is_away_says_it_could_not_leave(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = start_redis_server()
    try:
        queue = tq.TransferQueue(1, backend=RedisBackend(server.url, namespace="q"))
        job_id = queue.queue_job("s3-upload", [], FileGates())
        queue.wait(job_id, WAIT)
        server.terminate()
        queue.shutdown()
    finally:
        server.stop()
    assert any(
        "could not leave the cluster (its lease runs out by itself)" in m for m in messages(caplog)
    )
