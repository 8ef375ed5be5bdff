"""Issue 12: the streams send a job whole once, then its totals and the files that changed.

Through :class:`TransferEndpoints` called directly (as test_web_endpoints.py does), and the
message cache and change history underneath: what an update costs on the wire for a big
job, that the messages rebuild the job exactly (also after events a receiver missed, and
after reconnects), and that hostile ``Last-Event-ID`` values get the job whole.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from tests.helpers.sse_pictures import Pictures
from transferqueue.web import EventStream, TransferEndpoints, _messages
from transferqueue.web._messages import ChangeHistory, MessageCache, changed_between

REQUEST = object()


def data_of(chunk: str) -> Any:
    """The JSON of one SSE message's data line."""
    data = chunk.rpartition("data: ")[2]
    return json.loads(data)


def next_message(stream: EventStream) -> str:
    """The next message that is not a keep-alive."""
    for chunk in stream:
        if not chunk.startswith(":"):
            return chunk
    raise AssertionError("the stream ended")


class Stepper:
    """An executor that completes every file at once except ``src/file-0``, which reports
    one more byte each time :meth:`step` is called and ends after ``size`` steps."""

    def __init__(self) -> None:
        self._steps = threading.Semaphore(0)

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path != "src/file-0":
            return
        for done in range(1, file.size + 1):
            assert self._steps.acquire(timeout=WAIT), "never stepped"
            on_progress(done)

    def step(self) -> None:
        self._steps.release()


def wait_for(queue: tq.TransferQueue, job_id: str, done: Callable[[tq.TransferJob], bool]) -> None:
    """Until the job's events (as a watch sees them, after every receiver) satisfy ``done``."""
    with queue.watch(job_id, timeout=WAIT) as watch:
        for job in watch:
            if done(job):
                return
    raise AssertionError("the job ended first")


def test_an_update_of_a_big_job_costs_what_changed() -> None:
    """Issue 12: after the whole job when the stream opens, an update of a 10,000-file job
    in which one file moved is under 2 KB, on the job's stream and on the all-jobs
    stream, and the messages rebuild the job exactly."""
    stepper = Stepper()
    with tq.TransferQueue(4, update_interval=0) as queue:
        job_id = queue.queue_job("local-upload", make_files(10_000, size=4), stepper)
        wait_for(queue, job_id, lambda job: job.progress.completed_files == 9_999)
        # Once a later job's end was delivered, so were the events of those files: the
        # streams below start after them.
        queue.wait(queue.queue_job("local-upload", make_files(1), noop_executor), timeout=WAIT)
        endpoints = TransferEndpoints[object](queue, public=True, keepalive=WAIT)
        job_stream = endpoints.job_events(REQUEST, job_id)
        all_stream = endpoints.all_events(REQUEST)
        assert isinstance(job_stream, EventStream)
        assert isinstance(all_stream, EventStream)
        own, everyone = Pictures(), Pictures()
        whole = next(job_stream)
        assert len(whole) > 1_000_000  # the whole job, once
        own.apply(data_of(whole))
        everyone.take_list(data_of(next(all_stream)))
        for step in range(1, 4):
            stepper.step()
            for stream, pictures in ((job_stream, own), (all_stream, everyone)):
                # Until the step shows (an event of files the stream has already may
                # come first, with nothing to send but the totals).
                loaded = 0
                while loaded < step:
                    message = next_message(stream)
                    assert len(message.encode()) < 2_000, message
                    loaded = pictures.apply(data_of(message))["files"][0]["loaded"]
        stepper.step()  # the last byte: the job ends
        queue.wait(job_id, timeout=WAIT)
        ending = [chunk for chunk in job_stream if not chunk.startswith(":")]
        assert own.apply(data_of(ending[0])) == queue_dict(queue, job_id)
        while (rebuilt := everyone.apply(data_of(next_message(all_stream))))["status"] != (
            "completed"
        ):
            pass
        assert rebuilt == queue_dict(queue, job_id)
        all_stream.close()


def queue_dict(queue: tq.TransferQueue, job_id: str) -> dict[str, Any]:
    job = queue.get_job(job_id)
    assert job is not None
    return job.to_dict(camel_case=True)


def test_a_job_stream_does_not_resend_what_its_first_snapshot_had() -> None:
    """Issue 12: a stream opened while changes wait to be sent as an event (held back by
    the update interval) has them in its first message, the job whole; the event that then
    brings them lists them again as changed, and the stream leaves them out."""
    with tq.TransferQueue(3, update_interval=60) as queue:
        gate = GatedExecutor()
        job_id = queue.queue_job("local-upload", make_files(3), gate)
        gate.wait_running(3)  # active: that status change went out at once
        gate.release("src/file-1")
        gate.release("src/file-2")
        deadline = time.monotonic() + WAIT
        # Polled: no event tells of these two files for a minute (that is the point).
        while queue_dict(queue, job_id)["progress"]["completedFiles"] < 2:
            assert time.monotonic() < deadline, "the two files never completed"
            time.sleep(0.01)
        endpoints = TransferEndpoints[object](queue, public=True, keepalive=WAIT)
        stream = endpoints.job_events(REQUEST, job_id)
        assert isinstance(stream, EventStream)
        pictures = Pictures()
        first = pictures.apply(data_of(next(stream)))
        assert [file["status"] for file in first["files"]] == [
            "transferring",
            "completed",
            "completed",
        ]
        assert queue.cancel_job(job_id)  # a status change: an event at once
        gate.release_all()
        message = data_of(next_message(stream))
        assert [entry["index"] for entry in message["changedFiles"]] == [0]
        assert pictures.apply(message) == queue_dict(queue, job_id)
        stream.close()


def test_all_jobs_stream_is_right_after_events_its_receiver_missed(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Issue 12: the all-jobs stream sends what changed since the snapshot the client has,
    not since the job's previous event: an event muted (or one on its way when the list was
    taken) cannot leave the client with a file as it was."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    stream = TransferEndpoints[object](queue, public=True, keepalive=WAIT).all_events(REQUEST)
    assert isinstance(stream, EventStream)
    pictures = Pictures()
    pictures.take_list(data_of(next(stream)))
    with tq.job_updated.muted():
        gate.release("src/file-0")
        wait_for(queue, job_id, lambda job: job.files[0].status.value == "completed")
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    message = data_of(next_message(stream))
    stream.close()
    # The job's last event tells of the second file only; the client is sent both.
    assert [entry["index"] for entry in message["changedFiles"]] == [0, 1]
    assert pictures.apply(message) == queue_dict(queue, job_id)


def test_a_job_hidden_for_a_while_is_sent_whole_again(
    queue: tq.TransferQueue, gate: GatedExecutor
) -> None:
    """Issue 12: an update the client may not see is not sent; when it may see the job
    again, the job comes whole (the changes in between were never sent to it)."""
    visible = threading.Event()
    visible.set()

    def may_view(request: object, job: tq.TransferJob | None, action: str) -> bool:
        return job is None or visible.is_set()

    job_id = queue.queue_job("local-upload", make_files(3), gate)
    gate.wait_running(2)
    endpoints = TransferEndpoints[object](queue, can_access=may_view, keepalive=0.05)
    stream = endpoints.all_events(REQUEST)
    assert isinstance(stream, EventStream)
    assert [job["id"] for job in data_of(next(stream))] == [job_id]
    visible.clear()
    gate.release("src/file-0")
    wait_for(queue, job_id, lambda job: job.files[0].status.value == "completed")
    assert next(stream) == ": keep-alive\n\n"  # the update was taken, and not sent
    visible.set()
    gate.release_all()
    queue.wait(job_id, timeout=WAIT)
    last = data_of(next_message(stream))
    while last["job"]["status"] != "completed":
        last = data_of(next_message(stream))
    stream.close()
    assert last == {"job": queue_dict(queue, job_id)}


@pytest.mark.parametrize(
    "last_event_id", ["007", "-1", "+1", "1e3", "1.0", " 1", "\u0661", "9" * 19, "", "99999"]
)
def test_a_reconnect_with_an_id_it_cannot_trust_gets_the_job_whole(
    queue: tq.TransferQueue, gate: GatedExecutor, last_event_id: str
) -> None:
    """Issue 12: a ``Last-Event-ID`` that is not an event number as the stream writes them
    (other digits, signs, spaces, too long), or one the job has not reached, is answered
    with the job whole, never with changes against a picture the client cannot have."""
    job_id = queue.queue_job("local-upload", make_files(2), gate)
    gate.wait_running(2)
    endpoints = TransferEndpoints[object](queue, public=True, keepalive=WAIT)
    stream = endpoints.job_events(REQUEST, job_id, last_event_id)
    assert isinstance(stream, EventStream)
    assert data_of(next(stream)) == {"job": queue_dict(queue, job_id)}
    stream.close()


def test_hidden_paths_in_changed_files(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 12: with ``hide_paths`` the changed files carry their names only, their
    errors too."""
    files = make_files(2, prefix="secret")
    files[1]["source_path"] = "/srv/in/missing.bin"
    job_id = queue.queue_job("local-upload", files, gate)
    gate.wait_running(2)
    endpoints = TransferEndpoints[object](queue, public=True, hide_paths=True, keepalive=WAIT)
    stream = endpoints.job_events(REQUEST, job_id)
    assert isinstance(stream, EventStream)
    next(stream)
    assert queue.cancel_job(job_id)
    gate.notify()
    chunks = [chunk for chunk in stream if not chunk.startswith(":")]
    changed = [entry["file"] for chunk in chunks[:-1] for entry in data_of(chunk)["changedFiles"]]
    assert {(file["sourcePath"], file["destinationPath"]) for file in changed} == {
        ("secret-0", "secret-0"),
        ("missing.bin", "secret-1"),
    }
    assert not any("/srv" in chunk or "src/" in chunk for chunk in chunks)


# --- the parts ---------------------------------------------------------------------------


def finished_jobs(count: int) -> list[tq.TransferJob]:
    with tq.TransferQueue(1) as queue:
        ids = [queue.queue_job("local-upload", make_files(2), noop_executor) for _ in range(count)]
        return [queue.wait(job_id, timeout=WAIT) for job_id in ids]


def test_message_cache_is_by_snapshot_and_changes_weak_and_bounded() -> None:
    """Issue 5 and 12: a snapshot's data line is encoded once per set of changes (None: the
    whole job), whatever the event or id it goes out with; another snapshot object is
    encoded afresh; the cache keeps no snapshot alive and keeps its most recent jobs."""
    encoded: list[str] = []

    def encoder(text: str) -> Callable[[tuple[int, ...] | None], str]:
        def encode(changes: tuple[int, ...] | None) -> str:
            encoded.append(f"{text}{changes}")
            return f"data: {text}{changes}\n\n"

        return encode

    cache = MessageCache(size=2)
    a, b, c = finished_jobs(3)
    line = cache.message(a, None, encoder("a"))
    assert line == "data: aNone\n\n"
    assert cache.message(a, None, encoder("again")) is line
    assert cache.message(a, "updated", encoder("again")) == "event: updated\ndata: aNone\n\n"
    assert cache.message(a, None, encoder("a"), changes=(1,)) == "data: a(1,)\n\n"
    assert cache.message(a, "updated", encoder("again"), changes=(1,)) == (
        "event: updated\ndata: a(1,)\n\n"
    )
    copy = attrs.evolve(a)  # equal, but another snapshot object
    assert cache.message(copy, None, encoder("copy")) == "data: copyNone\n\n"
    assert list(cache._entries) == [a.id]
    del copy  # the only reference: its entry goes with the next one
    cache.message(b, None, encoder("b"))
    assert list(cache._entries) == [b.id]
    cache.message(a, None, encoder("a again"))
    cache.message(c, None, encoder("c"))  # the least recent job, b, goes
    assert list(cache._entries) == [a.id, c.id]
    assert encoded == ["aNone", "a(1,)", "copyNone", "bNone", "a againNone", "cNone"]

    # With ids: each id's message is made once per snapshot, and few are kept.
    first = cache.message(c, None, encoder("never"), "7")
    assert first == "id: 7\ndata: cNone\n\n"
    assert cache.message(c, None, encoder("never"), "7") is first
    for number in range(8, 16):
        cache.message(c, None, encoder("never"), str(number))
    assert list(cache._entries[c.id].with_ids) == [(None, "15")]  # cleared at the ninth
    for changes in range(9):
        cache.message(c, None, encoder("c"), changes=(changes,))
    assert list(cache._entries[c.id].lines) == [(7,), (8,)]  # cleared at the ninth
    assert encoded[-1] == "c(8,)"


def test_changes_between_two_snapshots() -> None:
    """Issue 12: the files whose records differ, by identity first, then by value (a job
    read afresh from Redis has new but equal records); None when the files differ in
    number; each pair compared once for every stream."""
    a, _ = finished_jobs(2)
    same_values = attrs.evolve(a, files=tuple(attrs.evolve(file) for file in a.files))
    assert changed_between(a, same_values) == ()
    moved = attrs.evolve(a.files[1], loaded=a.files[1].loaded - 1)
    other = attrs.evolve(a, files=(a.files[0], moved))
    assert changed_between(a, other) == (1,)
    assert changed_between(a, attrs.evolve(a, files=a.files[:1])) is None

    cache = MessageCache()
    assert cache.changes_since(a, other) == (1,)
    assert cache.changes_since(a, other) is cache.changes_since(a, other)  # remembered
    earlier = [attrs.evolve(a) for _ in range(10)]  # kept: their ids stay theirs
    for before in earlier:  # many earlier snapshots: the remembered ones are bounded
        assert cache.changes_since(before, other) == (1,)
    assert len(cache._entries[a.id].diffs) == 3  # cleared at the ninth pair, then three more


def test_change_history() -> None:
    """Issue 12: the files that differ between the job at one event and a snapshot of a
    later one, from the steps streams recorded and what changed since that event; None
    where a step in between is unknown, or that event's snapshot is gone; bounded per
    job and in jobs."""
    a, b, c = finished_jobs(3)  # a's files, two of them
    moved = attrs.evolve(a, files=(attrs.evolve(a.files[0], loaded=1), a.files[1]))
    history = ChangeHistory(jobs=2, steps=3)
    history.record(3, 5, (1,), a)
    history.record(5, 6, (0,), a)
    history.record(6, 6, (9,), a)  # not a step: ignored
    history.record(6, 4, (9,), a)
    assert history.changes(3, 6, a) == (0, 1)
    assert history.changes(5, 6, a) == (0,)
    assert history.changes(4, 6, a) == (0, 1)  # from within a step: all of that step
    assert history.changes(2, 6, a) is None  # from before what is known
    assert history.changes(6, 6, a) == ()
    assert history.changes(5, 6, moved) == (0,)  # changed since event 6, not sent yet
    assert history.changes(5, 5, moved) == (0,)
    assert history.changes(3, 7, a) is None  # no step to 7
    assert history.changes(1, 2, b) is None  # nothing of b
    fewer = attrs.evolve(a, files=a.files[:1])
    assert history.changes(5, 6, fewer) is None  # not comparable file by file
    history.record(6, 7, (1,), a)
    history.record(7, 8, (1,), a)  # the oldest step, 3 to 5, goes
    assert history.changes(3, 8, a) is None
    assert history.changes(5, 8, a) == (0, 1)
    history.record(1, 2, (), b)
    history.record(1, 2, (0,), c)  # the least recent job, a, goes
    assert history.changes(7, 8, a) is None
    assert history.changes(1, 2, c) == (0,)
    gone = attrs.evolve(c)
    history.record(2, 3, (), gone)
    del gone  # the snapshot of event 3 is gone: nothing to compare a snapshot with
    assert history.changes(1, 3, c) is None
    assert _messages._VARIANTS == 8
