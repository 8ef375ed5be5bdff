"""A Redis-backed queue through the web front: four gunicorn (gthread) workers serve the
transfer routes of a Redis-backed queue each (tests/helpers/web_cluster_app.py). A job queued
through one worker is listed, streamed, resumed after a reconnect (``Last-Event-ID``) and
cancelled through requests that land on the other workers; the all-jobs stream of one
worker shows the jobs of the others."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, cast

import pytest

from tests.helpers.gunicorn_cluster import TRIES, ClusterServer, data_events, gunicorn_cluster
from tests.helpers.redis_server import MISSING, REQUIRED, RedisServer, wait_until

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis


@pytest.fixture(scope="module", params=["flask", "django"])
def cluster(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClusterServer]:
    """``gunicorn -k gthread -w 4`` serving the cluster app of one framework."""
    log_path = tmp_path_factory.mktemp("gunicorn-cluster") / "log"
    env = {**os.environ, "TRANSFERQUEUE_TEST_REDIS_URL": redis_server.url}
    with gunicorn_cluster(
        f'tests.helpers.web_cluster_app:serve("{request.param}")', env, log_path
    ) as one:
        yield one


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url) as plain:
        yield plain


def test_a_job_is_listed_streamed_resumed_and_cancelled_through_other_workers(
    cluster: ClusterServer, client: redis.Redis
) -> None:
    status, owner, made = cluster.answer("POST", "/test/jobs?files=2")
    assert status == 200, made
    job_id, token = made["id"], made["token"]

    def listed_elsewhere_as(status: str) -> bool:
        # The owner writes the job's events to Redis from its event thread, after the
        # POST's answer: another worker sees them soon, not at once.
        answer, _, listed = cluster.elsewhere(owner, "GET", "/transfers/")
        assert answer == 200
        return [job["status"] for job in listed if job["id"] == job_id] == [status]

    wait_until(lambda: listed_elsewhere_as("active"), "the job listed active by another worker")
    status, _, one = cluster.elsewhere(owner, "GET", f"/transfers/{job_id}")
    assert (status, one["id"]) == (200, job_id)

    # A stream from another worker follows the job; it is dropped, then resumed.
    _, first = cluster.stream_elsewhere(owner, f"/transfers/{job_id}/events")
    data_events(first, lambda job: job["progress"]["loadedBytes"] == 10)
    seen_before = first.last_id
    had_before = first.pictures.copy()  # what a browser resuming from seen_before has
    client.set(f"web:test:go:{token}:0", 1)
    [*_, moved] = data_events(first, lambda job: job["files"][0]["status"] == "completed")
    assert moved["progress"]["completedFiles"] == 1
    seen = first.last_id
    assert seen is not None
    assert seen_before is not None
    assert int(seen) > int(seen_before)
    first.close()

    _, resumed = cluster.stream_elsewhere(
        owner, f"/transfers/{job_id}/events", {"Last-Event-ID": seen}
    )
    resumed.pictures = first.pictures  # the browser keeps its job across the reconnect
    assert resumed.next() == ("comment", "keep-alive")  # nothing new: nothing sent again

    status, _, cancelled = cluster.delete_elsewhere(owner, f"/transfers/{job_id}")
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"
    [*_, ended] = data_events(resumed, lambda job: job["status"] == "cancelled")
    assert int(resumed.last_id or 0) > int(seen)
    assert resumed.next() == ("end", {"jobId": job_id, "status": "cancelled"})
    assert resumed.next() is None
    resumed.close()
    assert ended["files"][0]["status"] == "completed"
    assert ended["files"][1]["errorType"] == "transferqueue.TransferCancelled"
    noted = [row.decode() for row in cast(list[bytes], client.lrange("web:test:cancelled", 0, -1))]
    assert [row for row in noted if row.startswith(token)] == [f"{token}:1"]

    # Reconnecting from before all that gets the job as it stands (whole, or the changes
    # since seen_before where that worker saw them all), then the end.
    _, behind = cluster.stream_elsewhere(
        owner, f"/transfers/{job_id}/events", {"Last-Event-ID": seen_before}
    )
    behind.pictures = had_before
    assert behind.next() == (None, ended)
    assert behind.next() == ("end", {"jobId": job_id, "status": "cancelled"})
    behind.close()
    status, _, _ = cluster.elsewhere(
        owner, "GET", f"/transfers/{job_id}/events", {"Last-Event-ID": "end"}
    )
    assert status == 204
    status, _, again = cluster.delete_elsewhere(owner, f"/transfers/{job_id}")
    assert status == 409, again


def test_the_all_jobs_stream_of_one_worker_shows_the_jobs_of_the_others(
    cluster: ClusterServer, client: redis.Redis
) -> None:
    """A job of another worker is in the stream's first list and its updates follow; a
    job queued on another worker afterwards comes as ``created``, then ``updated``."""
    status, owner, made = cluster.answer("POST", "/test/jobs?files=1")
    assert status == 200
    listed_id, listed_token = made["id"], made["token"]
    feed_pid, feed = cluster.stream_elsewhere(owner, "/transfers/events")
    event, jobs = feed.next() or ("", [])
    assert event == "jobs"
    assert listed_id in [job["id"] for job in jobs]
    client.set(f"web:test:go:{listed_token}:0", 1)
    feed.events(lambda e: e[0] == "updated" and e[1]["id"] == listed_id and done(e[1]))

    for _ in range(TRIES):  # a new job, on a worker other than the stream's
        status, owner, made = cluster.answer("POST", "/test/jobs?files=1")
        assert status == 200
        client.set(f"web:test:go:{made['token']}:0", 1)
        if owner != feed_pid:
            break
    job_id = made["id"]
    events = feed.events(lambda e: e[1]["id"] == job_id and done(e[1]))
    kinds = [kind for kind, job in events if job["id"] == job_id]
    assert kinds[0] == "created"
    assert kinds[-1] in ("created", "updated")  # it may have ended before it was read
    feed.close()


def done(job: Any) -> bool:
    return bool(job["status"] == "completed")
