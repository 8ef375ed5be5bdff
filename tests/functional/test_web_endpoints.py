"""TransferEndpoints, the framework-neutral core under the Flask and Django adapters.

Called directly with a stand-in request object: what no adapter test can pin down
deterministically (what a slow all-jobs client is sent, events older than its first list,
the 204 after a job stream's end).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.executors import GatedExecutor, noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.sse_pictures import Pictures
from transferqueue.web import END_EVENT_ID, EventStream, Reply, TransferEndpoints, sse_message
from transferqueue.web._hidden_paths import file_name, folders, hidden_error

REQUEST = object()  # the hooks below never look at it


def events_until_keepalive(stream: EventStream) -> list[tuple[str, dict[str, Any]]]:
    """``(event, job)`` for each message up to the next keep-alive comment: the job whole,
    or its totals when the message has the changed files only."""
    events = []
    while not (chunk := next(stream)).startswith(":"):
        head, _, data = chunk.rpartition("data: ")
        assert head.startswith("event: "), chunk
        events.append((head.removeprefix("event: ").strip(), json.loads(data)["job"]))
    return events


def test_sse_message_format() -> None:
    """One message per chunk: optional id and event lines, compact JSON data."""
    assert sse_message({"a": [1, 2]}) == 'data: {"a":[1,2]}\n\n'
    assert sse_message("x", "end", "end") == 'id: end\nevent: end\ndata: "x"\n\n'
    assert sse_message(None, "jobs") == "event: jobs\ndata: null\n\n"


def test_slow_all_jobs_client_gets_each_jobs_latest_news() -> None:
    """A client that reads nothing while a job sends a hundred updates is then sent
    that job once, as it stands last: what waits for a slow client is one entry per job."""
    steps = 100

    def chatty(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        for done in range(1, steps + 1):
            on_progress(done)

    with tq.TransferQueue(1, update_interval=0) as queue:
        endpoints = TransferEndpoints[object](queue, public=True, keepalive=0.05)
        stream = endpoints.all_events(REQUEST)
        assert isinstance(stream, EventStream)
        assert next(stream) == sse_message([], "jobs")
        chatty_id = queue.queue_job("local-upload", make_files(1, size=steps), chatty)
        # One slot: the second job starts after the first ended, so its terminal event is
        # delivered after every event of the first.
        last_id = queue.queue_job("local-upload", make_files(1), noop_executor)
        queue.wait(last_id, timeout=WAIT)
        events = events_until_keepalive(stream)
        stream.close()
    assert [(event, job["id"], job["status"]) for event, job in events] == [
        ("created", chatty_id, "completed"),
        ("created", last_id, "completed"),
    ]
    assert events[0][1]["progress"]["loadedBytes"] == steps


def test_all_jobs_stream_drops_events_older_than_its_list(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """An update posted before the stream listed a finished job, but delivered after,
    is not sent: the client never sees a finished job as running again."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    running = queue.get_job(job_id)
    assert running is not None
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    endpoints = TransferEndpoints[object](queue, public=True, camel_case=False, keepalive=0.05)
    stream = endpoints.all_events(REQUEST)
    assert isinstance(stream, EventStream)
    first = next(stream)
    assert '"status":"completed"' in first
    # What the event thread does when an older event was still on its way.
    tq.job_updated.send(queue, job=running)
    other = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(other, timeout=WAIT)
    events = events_until_keepalive(stream)
    stream.close()
    assert [job["id"] for _, job in events] == [other]


def test_reconnect_after_the_end_is_204(queue: tq.TransferQueue) -> None:
    """A job stream's end carries the id a browser sends back when it reconnects,
    and that reconnect is answered 204 (EventSource then stops); other ids stream again."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    endpoints = TransferEndpoints[object](queue, public=True)
    stream = endpoints.job_events(REQUEST, job_id)
    assert not isinstance(stream, Reply)
    chunks = list(stream)
    assert chunks[-1].startswith(f"id: {END_EVENT_ID}\nevent: end\n")
    assert endpoints.job_events(REQUEST, job_id, END_EVENT_ID) == Reply(204, None)
    again = endpoints.job_events(REQUEST, job_id, "something-else")
    assert not isinstance(again, Reply)
    assert list(again) == chunks
    # An unknown or hidden job stays a 404, whatever the header says.
    assert endpoints.job_events(REQUEST, "nope", END_EVENT_ID).status == 404  # type: ignore[union-attr]


def delivered(queue: tq.TransferQueue) -> None:
    """Until the queue's event thread has no change of any job left to post (polled: the
    coalescing holds changes back for up to the update interval, with no event to wait
    on for it)."""
    deadline = time.monotonic() + WAIT
    while True:
        with queue._lock:
            if not queue._delivery._pending and not queue._delivery._outbox:
                return
        assert time.monotonic() < deadline, "changes still pending"
        time.sleep(0.01)


def split_message(chunk: str) -> tuple[str | None, dict[str, Any]]:
    """A job stream's data message as ``(id, message)``."""
    head, _, data = chunk.rpartition("data: ")
    assert head.startswith("id: "), chunk
    return head.removeprefix("id: ").strip(), json.loads(data)


def test_job_stream_messages_carry_the_jobs_event_numbers_and_resume_after_them(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Each message of a job's stream has ``id: <n>``, the job's last event it
    includes. A reconnect with the id of the job's current snapshot is not sent that
    snapshot again (the next update comes); with an older id it is sent what changed since
    when the endpoints saw every event in between, else the job whole; with
    the terminal snapshot's id it gets only the end."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    delivered(queue)  # so that the job's snapshot is its last event's
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=0.05)
    stream = endpoints.job_events(REQUEST, job_id)
    assert isinstance(stream, EventStream)
    first_id, first = split_message(next(stream))
    assert first_id is not None
    assert int(first_id) >= 1  # it is active: one update at least
    assert first["job"]["status"] == "active"
    assert len(first["job"]["files"]) == 2  # the stream opens with the job whole
    stream.close()

    resumed = endpoints.job_events(REQUEST, job_id, first_id)
    assert isinstance(resumed, EventStream)
    assert next(resumed) == ": keep-alive\n\n"  # nothing new: no snapshot again
    gate.release("src/file-0")
    news_id, news = split_message(next(chunk for chunk in resumed if chunk[0] != ":"))
    assert int(news_id or 0) > int(first_id)
    assert "files" not in news["job"]  # only what changed: the first file, at least
    assert {entry["index"]: entry["file"]["status"] for entry in news["changedFiles"]}[0] == (
        "completed"
    )
    pictures = Pictures()
    pictures.apply(first)
    assert pictures.apply(news) == queue_dict(queue, job_id)
    resumed.close()

    behind = endpoints.job_events(REQUEST, job_id, first_id)
    assert isinstance(behind, EventStream)
    assert split_message(next(behind)) == (news_id, news)  # everything it missed, at once
    behind.close()
    # Endpoints that did not see the events in between send the job whole.
    elsewhere = TransferEndpoints[object](queue, public=True, keepalive=0.05)
    whole_again = elsewhere.job_events(REQUEST, job_id, first_id)
    assert isinstance(whole_again, EventStream)
    assert split_message(next(whole_again)) == (news_id, {"job": queue_dict(queue, job_id)})
    whole_again.close()

    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    whole = endpoints.job_events(REQUEST, job_id, "not-a-number")
    assert isinstance(whole, EventStream)
    chunks = list(whole)
    last_id, last = split_message(chunks[0])
    assert last["job"]["status"] == "completed"
    assert chunks[1].startswith(f"id: {END_EVENT_ID}\nevent: end\n")
    ended = endpoints.job_events(REQUEST, job_id, last_id)
    assert isinstance(ended, EventStream)
    assert list(ended) == chunks[1:]


def queue_dict(queue: tq.TransferQueue, job_id: str) -> dict[str, Any]:
    """The job as the queue has it now, as the streams' camelCase JSON."""
    job = queue.get_job(job_id)
    assert job is not None
    return job.to_dict(camel_case=True)


def test_hook_sees_the_request_object(queue: tq.TransferQueue) -> None:
    """The access hook is given the adapter's request object and the job."""
    calls: list[tuple[object, str | None, str]] = []

    def hook(request: object, job: tq.TransferJob | None, action: str) -> bool:
        calls.append((request, None if job is None else job.id, action))
        return action == "view"

    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    endpoints = TransferEndpoints[object](queue, can_access=hook)
    assert endpoints.cancel_job(REQUEST, job_id).status == 403
    assert calls == [(REQUEST, job_id, "view"), (REQUEST, job_id, "cancel")]


def test_default_queue_is_looked_up_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a queue the endpoints serve the process-wide one of the moment."""
    endpoints = TransferEndpoints[object](public=True)
    with tq.TransferQueue(1) as first, tq.TransferQueue(1) as second:
        monkeypatch.setattr(tq, "transfer_queue", first)
        assert endpoints.queue is first
        monkeypatch.setattr(tq, "transfer_queue", second)
        assert endpoints.queue is second


@pytest.mark.parametrize("keepalive", [0, -1, float("nan")])
def test_keepalive_must_be_positive(keepalive: float) -> None:
    """A keep-alive interval that is not a positive number is refused by name."""
    with pytest.raises(ValueError, match="keepalive"):
        TransferEndpoints[object](public=True, keepalive=keepalive)


def test_job_dropped_between_check_and_watch_is_404(queue: tq.TransferQueue) -> None:
    """A finished job that cleanup drops while its stream is being set up (here by
    the access hook itself) is a 404, not an error."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)

    def cleaning_hook(request: object, job: tq.TransferJob | None, action: str) -> bool:
        queue.cleanup_old_jobs(0)
        return True

    endpoints = TransferEndpoints[object](queue, can_access=cleaning_hook)
    answer = endpoints.job_events(REQUEST, job_id)
    assert answer == Reply(404, {"error": f"no transfer job {job_id}", "jobId": job_id})


def test_cancelled_job_dropped_by_retention_is_404(gate: GatedExecutor) -> None:
    """With no finished job kept, a cancelled job is gone by the time its snapshot
    would be answered: 404 naming it (the cancel itself took effect)."""
    with tq.TransferQueue(1, max_finished_jobs=0) as queue:
        job_id = queue.queue_job("local-upload", make_files(1), gate)
        gate.wait_running(1)
        endpoints = TransferEndpoints[object](queue, public=True)
        answer = endpoints.cancel_job(REQUEST, job_id)
        assert answer == Reply(404, {"error": f"no transfer job {job_id}", "jobId": job_id})
        assert queue.get_job(job_id) is None
        gate.notify()


def subscribed(queue: tq.TransferQueue) -> int:
    with queue._lock:
        return queue._delivery.watch_count()


def test_closing_a_job_stream_unsubscribes_at_once(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Closing a job stream, started or not, unsubscribes its watch then and there
    (not later, when the stream object is collected)."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=0.05)
    unstarted = endpoints.job_events(REQUEST, job_id)
    started = endpoints.job_events(REQUEST, job_id)
    assert isinstance(unstarted, EventStream)
    assert isinstance(started, EventStream)
    assert next(started).startswith("id: ")
    assert subscribed(queue) == 2
    unstarted.close()
    assert subscribed(queue) == 1
    started.close()
    assert subscribed(queue) == 0
    with pytest.raises(StopIteration):
        next(started)
    gate.release_all()


def test_job_created_while_listing_is_not_lost(
    queue: tq.TransferQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The all-jobs stream subscribes before it lists, so a job created just after
    the list was taken still comes, as created."""
    take_list = queue.get_all_jobs
    made: list[str] = []

    def list_then_create() -> list[tq.TransferJob]:
        jobs = take_list()
        made.append(queue.queue_job("local-upload", make_files(1), noop_executor))
        queue.wait(made[0], timeout=WAIT)  # its events went out after the list was taken
        return jobs

    monkeypatch.setattr(queue, "get_all_jobs", list_then_create)
    stream = TransferEndpoints[object](queue, public=True, keepalive=0.05).all_events(REQUEST)
    assert isinstance(stream, EventStream)
    assert next(stream) == sse_message([], "jobs")
    events = events_until_keepalive(stream)
    stream.close()
    assert [(event, job["id"], job["status"]) for event, job in events] == [
        ("created", made[0], "completed")
    ]


def test_streams_of_one_job_share_its_encoded_snapshot(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Every stream of a job sends the message encoded once for its snapshot (a big
    job with many viewers is encoded once per update, not once per viewer)."""
    job_id = queue.queue_job("local-upload", make_files(3), gate)
    gate.wait_running(2)
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=0.05)
    first, second = (endpoints.job_events(REQUEST, job_id) for _ in range(2))
    assert isinstance(first, EventStream)
    assert isinstance(second, EventStream)
    assert next(first) is next(second)
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    first_chunks, second_chunks = list(first), list(second)
    # Each ends with its terminal snapshot and end; the terminal message is shared.
    assert first_chunks[-2] is second_chunks[-2]
    assert '"status":"completed"' in first_chunks[-2]


# --- closed by default, hidden paths ---------------------------------------------------------


def test_closed_endpoints_hook_denies_too(queue: tq.TransferQueue) -> None:
    """Endpoints given neither a hook nor public=True answer 403 on every route,
    and the hook they keep inside denies everything too, so a route that forgot to check
    first would still refuse."""
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    job = queue.wait(job_id, timeout=WAIT)
    endpoints = TransferEndpoints[object](queue)
    assert endpoints.get_job(REQUEST, job_id).status == 403
    assert endpoints._allowed(REQUEST, None, "view") is False
    assert endpoints._allowed(REQUEST, job, "view") is False
    assert endpoints._allowed(REQUEST, job, "cancel") is False


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/srv/in/a.bin", "a.bin"),
        ("s3://bucket/key/a.bin", "a.bin"),
        ("hf://owner/repo/data/train.csv", "train.csv"),
        ("C:\\data\\a.bin", "a.bin"),
        ("relative/a.bin", "a.bin"),
        ("a.bin", "a.bin"),
        ("/srv/folder/", "folder"),
    ],
)
def test_file_name(path: str, name: str) -> None:
    """A hidden path is shown as its last component, after / or \\."""
    assert file_name(path) == name


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/in/a.bin", ["/srv/in", "/srv"]),
        ("s3://bucket/key/a.bin", ["s3://bucket/key", "s3://bucket"]),
        ("dst/a.bin", []),
        ("/a.bin", []),
        ("a.bin", []),
        ("C:\\data\\in\\a.bin", ["C:\\data\\in", "C:\\data"]),
    ],
)
def test_folders(path: str, expected: list[str]) -> None:
    """The folders above a path that name a place (never the root, an URL's
    scheme or a single relative component), deepest first."""
    assert list(folders(path)) == expected


def test_hidden_error() -> None:
    """In an error, a file's paths become their names and the folders above them
    "…", a deeper folder whole (not its parent followed by the rest); other text stays,
    except that a longer name starting with a folder's path loses that part too (hiding
    errs on the side of hiding)."""
    file = tq.TransferFile("/srv/in/a.bin", "/data/out/sub/b.bin", 1)
    error = (
        "cannot write destination /data/out/sub/b.bin: Not a directory, at /data/out/sub "
        "(read from /srv/in/a.bin, below /srv and /srv/in; see /data/outside)"
    )
    assert hidden_error(file, error) == (
        "cannot write destination b.bin: Not a directory, at … "
        "(read from a.bin, below … and …; see …side)"
    )


def test_hiding_and_plain_endpoints_never_share_a_message(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Endpoints that hide paths and endpoints that do not, streaming the same
    snapshots at once, each send their own encoding (each has its own message cache):
    the paths never reach the hiding streams, and the plain ones keep them."""
    job_id = queue.queue_job("local-upload", make_files(2, prefix="secret"), gate)
    gate.wait_running(2)
    plain = TransferEndpoints[object](queue, public=True, keepalive=0.05)
    hiding = TransferEndpoints[object](queue, public=True, hide_paths=True, keepalive=0.05)
    streams = {
        name: (endpoints.job_events(REQUEST, job_id), endpoints.all_events(REQUEST))
        for name, endpoints in (("plain", plain), ("hiding", hiding))
    }
    sent: dict[str, list[str]] = {"plain": [], "hiding": []}
    for name, (job_stream, all_stream) in streams.items():
        assert isinstance(job_stream, EventStream)
        assert isinstance(all_stream, EventStream)
        sent[name] += [next(job_stream), next(all_stream)]
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    for name, (job_stream, all_stream) in streams.items():
        assert isinstance(job_stream, EventStream)
        assert isinstance(all_stream, EventStream)
        sent[name] += list(job_stream)
        while not (chunk := next(all_stream)).startswith(":"):
            sent[name].append(chunk)
        all_stream.close()
    assert all("src/secret-" in chunk for chunk in sent["plain"] if '"sourcePath"' in chunk)
    assert not any("src/" in chunk or "dst/" in chunk for chunk in sent["hiding"])
    assert any('"sourcePath":"secret-0"' in chunk for chunk in sent["hiding"])
    for name in sent:  # both job streams went to their end
        assert any(chunk.startswith("id: end\nevent: end\n") for chunk in sent[name])


def test_job_stream_polled_gives_the_chunks_of_next(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """A job's stream of this process's queue can be polled (what the event-loop
    streams do): the job whole at once, then None while nothing is due, the listener
    called when an update comes, its changes, and after the terminal one the end, then
    StopIteration; the all-jobs stream cannot be polled."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=60)
    stream = endpoints.job_events(REQUEST, job_id)
    assert isinstance(stream, EventStream)
    assert stream.can_poll
    assert stream.keepalive == 60
    announced = threading.Semaphore(0)
    stream.listen(announced.release)
    first = stream.poll()
    assert first is not None
    pictures = Pictures()
    pictures.apply(split_message(first)[1])
    assert stream.poll() is None
    gate.release("src/file-0")
    assert announced.acquire(timeout=WAIT)
    while (chunk := stream.poll()) is None:  # the announced snapshot may be the start's
        assert announced.acquire(timeout=WAIT)
    assert pictures.apply(split_message(chunk)[1])["files"][0]["status"] == "completed"
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    chunks: list[str] = []
    while not chunks or "event: end" not in chunks[-1]:
        chunk = stream.poll()
        if chunk is None:
            assert announced.acquire(timeout=WAIT)
        else:
            chunks.append(chunk)
    data, _, end = chunks[-1].partition("\n\nid: end")
    assert pictures.apply(split_message(data)[1]) == queue_dict(queue, job_id)
    assert end.startswith("\nevent: end\n")
    with pytest.raises(StopIteration):
        stream.poll()
    stream.close()
    assert subscribed(queue) == 0
    all_jobs = endpoints.all_events(REQUEST)
    assert isinstance(all_jobs, EventStream)
    assert not all_jobs.can_poll
    with pytest.raises(TypeError):
        all_jobs.poll()
    all_jobs.close()
