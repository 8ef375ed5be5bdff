"""``PUT /<id>/pause`` and ``PUT /<id>/resume``, the same under Flask
and under Django (each test runs once per framework, as in test_web_routes.py)."""

from __future__ import annotations

from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.web_clients import DjangoWebClient, FlaskWebClient, Serve, deny_header
from transferqueue.web._endpoints import NOT_CONFIGURED


def test_pause_and_resume(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    """PUT pause answers the paused job; again, the same (it is as asked); PUT resume
    answers it active again, and again the same; then it runs to its end."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, public=True)
    for _ in range(2):
        status, body = client.put(f"/transfers/{job_id}/pause")
        assert status == 200
        assert body["id"] == job_id
        assert body["status"] == "paused"
    for _ in range(2):
        status, body = client.put(f"/transfers/{job_id}/resume")
        assert status == 200
        assert body["status"] == "active"
    gate.release_all()
    assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.COMPLETED


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_finished_job_is_a_conflict(queue: tq.TransferQueue, serve: Serve, action: str) -> None:
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    status, body = serve(queue, public=True).put(f"/transfers/{job_id}/{action}")
    assert status == 409
    assert body == {"error": f"transfer job {job_id} has finished already", "jobId": job_id}


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_unknown_job(queue: tq.TransferQueue, serve: Serve, action: str) -> None:
    status, body = serve(queue, public=True).put(f"/transfers/nope/{action}")
    assert status == 404
    assert body["jobId"] == "nope"


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_denied(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, action: str) -> None:
    """The hook is asked with the action "pause" or "resume": denied, 403 and nothing
    changes."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    if action == "resume":
        queue.pause_job(job_id)
    before = queue.get_job(job_id)
    assert before is not None
    client = serve(queue, can_access=deny_header)
    status, body = client.put(f"/transfers/{job_id}/{action}", headers={"X-Deny": action})
    assert status == 403
    assert body["error"] == f"not allowed to {action} transfer job {job_id}"
    after = queue.get_job(job_id)
    assert after is not None
    assert after.status is before.status


def test_closed_routes_refuse(queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve) -> None:
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = serve(queue)
    for action in ("pause", "resume"):
        assert client.put(f"/transfers/{job_id}/{action}") == (403, {"error": NOT_CONFIGURED})
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status is not tq.TransferStatus.PAUSED


def test_shut_down_queue_is_a_conflict(serve: Serve) -> None:
    queue = tq.TransferQueue(1)
    gate = GatedExecutor()
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    queue.shutdown(wait=False)
    try:
        status, body = serve(queue, public=True).put(f"/transfers/{job_id}/pause")
        assert status == 409
        assert body["error"] == "the transfer queue is shut down"
    finally:
        gate.release_all()
        queue.shutdown(wait=True)


def test_refused_by_the_queue_is_a_conflict(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue refuses (as it does another process's job): 409 with its reason."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)

    def refuse(job: str) -> None:
        raise tq.JobStateError(job, "active in another process", "pause")

    monkeypatch.setattr(queue, "pause_job", refuse)
    status, body = serve(queue, public=True).put(f"/transfers/{job_id}/pause")
    assert status == 409
    assert body["error"] == f"cannot pause transfer job {job_id}: it is active in another process"


def test_paused_meanwhile_by_another_request(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request paused the job between this one's look and its pause: the queue
    refuses the second pause, but the job is as asked, so 200."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    real_pause = queue.pause_job

    def raced(job: str) -> None:
        real_pause(job)  # the other request's
        real_pause(job)  # this one's: JobStateError

    monkeypatch.setattr(queue, "pause_job", raced)
    status, body = serve(queue, public=True).put(f"/transfers/{job_id}/pause")
    assert status == 200
    assert body["status"] == "paused"


def test_dropped_in_between(
    queue: tq.TransferQueue, gate: GatedExecutor, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention dropped the job between the route's look and its pause, or right after
    it: 404 either way."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    client = serve(queue, public=True)

    def gone(job: str) -> None:
        raise tq.JobNotFoundError(job)

    with monkeypatch.context() as patch:
        patch.setattr(queue, "pause_job", gone)
        assert client.put(f"/transfers/{job_id}/pause")[0] == 404
    real_get = queue.get_job
    looks: list[str] = []

    def forgetting(job: str) -> tq.TransferJob | None:
        looks.append(job)
        return real_get(job) if len(looks) == 1 else None

    monkeypatch.setattr(queue, "get_job", forgetting)
    assert client.put(f"/transfers/{job_id}/pause")[0] == 404
    assert len(looks) == 2


def test_other_methods_are_not_allowed(queue: tq.TransferQueue, serve: Serve) -> None:
    client = serve(queue, public=True)
    for action in ("pause", "resume"):
        if isinstance(client, FlaskWebClient):
            answer: Any = client.client.post(f"/transfers/x/{action}")
            assert answer.status_code == 405
        else:
            assert isinstance(client, DjangoWebClient)
            answer = client.client.get(f"/transfers/x/{action}")
            assert answer.status_code == 405
            assert answer["Allow"] == "PUT"
