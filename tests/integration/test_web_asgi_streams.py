"""Django's ASGI job streams driven by the event loop, under a real uvicorn on 127.0.0.1
read by real HTTP clients: no thread per stream, and everything the threaded streams do.

uvicorn runs in a thread of this process, so that a test can see the server's threads
and the loop's :class:`~transferqueue.web.django._async_stream.LoopHub`. Every test
checks that no stream got a thread of its own (``transferqueue-sse``, the threaded path).
"""

from __future__ import annotations

import concurrent.futures
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.web_apps import JobControl, django_asgi_app, uvicorn_server
from tests.helpers.web_servers import Event, Server
from transferqueue.web.django import _async_stream

CLIENTS = 40


@pytest.fixture(scope="module")
def control() -> Iterator[JobControl]:
    control = JobControl(tq.TransferQueue(8))
    try:
        yield control
    finally:
        control.close()
        control.queue.shutdown(wait=True, cancel_jobs=True)


@pytest.fixture(scope="module")
def server(control: JobControl) -> Iterator[Server]:
    with uvicorn_server(django_asgi_app(control)) as port:
        yield Server(port, lambda: "(uvicorn in this process: see captured log)")


@pytest.fixture
def jobs(server: Server) -> Iterator[list[str]]:
    """The ids of the jobs a test made; each is released after it, finished or not."""
    made: list[str] = []
    yield made
    for job_id in made:
        server.request("POST", f"/test/jobs/{job_id}/release")


def _stream_threads() -> list[str]:
    """The threads of the threaded path (one per stream), which must not exist."""
    return [t.name for t in threading.enumerate() if t.name.startswith("transferqueue-sse")]


def _hub_wakeups() -> int:
    """The loop hubs' cross-thread wake-ups so far (uvicorn's loop, the only one here)."""
    return sum(hub.wakeups for hub in list(_async_stream._HUBS.values()))


def test_many_clients_get_every_update_in_order(server: Server, jobs: list[str]) -> None:
    """40 clients on one job each get the job whole, then its updates in order (ids
    rising, each message rebuilding the job as the server has it), the terminal snapshot
    and ``end``; the streams have no thread, and each event cost the loop about one
    wake-up from the event thread, not one per stream."""
    job_id = server.create_job(files=4)
    jobs.append(job_id)
    watches = server.counts()["watches"]
    subscribed = threading.Barrier(CLIENTS + 1, timeout=WAIT)

    def client() -> list[tuple[str | None, Event]]:
        stream = server.stream(f"/transfers/{job_id}/events")
        try:
            first = stream.first()
            events = [(stream.last_id, first)]
            subscribed.wait()
            while events[-1][1][0] != "end":
                event = stream.next()
                assert event is not None, "the stream ended before its end event"
                if event[0] != "comment":
                    events.append((stream.last_id, event))
            assert stream.next() is None, "the stream went on after end"
            return events
        except BaseException:
            subscribed.abort()
            raise
        finally:
            stream.close()

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client) for _ in range(CLIENTS)]
        try:
            subscribed.wait()
            open_threads = _stream_threads()
            assert server.counts()["watches"] == watches + CLIENTS
            wakeups = _hub_wakeups()
            for file in range(4):
                server.release(job_id, file)
        except BaseException:
            subscribed.abort()
            raise
        finally:  # no client is left waiting for an end (a 404 once the job is done)
            server.request("POST", f"/test/jobs/{job_id}/release")
        results = [future.result(timeout=WAIT) for future in futures]
    assert open_threads == [], "a stream got a thread of its own"
    final = server.json("GET", f"/transfers/{job_id}")
    for events in results:
        ids = [int(event_id or -1) for event_id, (name, _) in events if name != "end"]
        assert ids == sorted(set(ids)), f"not in order: {ids}"
        assert events[0][1][1]["status"] == "active"
        assert [event for _, event in events[-2:]] == [
            (None, final),
            ("end", {"jobId": job_id, "status": "completed"}),
        ]
    events_sent = max(int(events[-2][0] or 0) for events in results)
    # One per loop per event (a few more where the loop took the due streams while the
    # event thread was still offering): far fewer than one per stream and event.
    assert _hub_wakeups() - wakeups <= 2 * events_sent < CLIENTS
    server.wait_counts({**server.counts(), "watches": watches})


def test_resume_from_last_event_id(server: Server, jobs: list[str]) -> None:
    """A client reconnecting with the ``Last-Event-ID`` of the job's current snapshot is
    sent nothing again, then the changes of the next update; with ``end`` it gets 204."""
    job_id = server.create_job(files=2)
    jobs.append(job_id)
    first = server.stream(f"/transfers/{job_id}/events")
    try:
        first.first()
        last_id = first.last_id
        assert last_id is not None
    finally:
        first.close()
    resumed = server.stream(f"/transfers/{job_id}/events", headers={"Last-Event-ID": last_id})
    try:
        resumed.pictures = first.pictures.copy()
        # Nothing due: the first thing the client reads is a keep-alive comment.
        assert resumed.next() == ("comment", "keep-alive")
        assert _stream_threads() == []
        server.release(job_id, 0)
        update = resumed.events(lambda e: e[1]["progress"]["completedFiles"] == 1)[-1]
        assert resumed.last_id is not None
        assert int(resumed.last_id) > int(last_id)
        assert update[1]["files"][0]["status"] == "completed"
        assert update[1]["files"][1]["status"] != "completed"
        server.release(job_id)
        assert resumed.to_end()[-1][0] == "end"
    finally:
        resumed.close()
    conn = server.connect()
    try:
        conn.request("GET", f"/transfers/{job_id}/events", headers={"Last-Event-ID": "end"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (204, b"")
    finally:
        conn.close()


def test_quiet_stream_sends_keepalives(server: Server, jobs: list[str]) -> None:
    """A stream with nothing to send sends keep-alive comments (the loop's timer), then
    the next update when one comes."""
    job_id = server.create_job(files=2)
    jobs.append(job_id)
    stream = server.stream(f"/transfers/{job_id}/events")
    try:
        stream.first()
        assert stream.next() == ("comment", "keep-alive")
        assert stream.next() == ("comment", "keep-alive")
        server.release(job_id, 1)
        update = stream.events(lambda e: e[1]["progress"]["completedFiles"] == 1)[-1]
        assert update[1]["files"][1]["status"] == "completed"
        assert _stream_threads() == []
    finally:
        stream.close()


def test_dropped_client_is_unsubscribed(server: Server, jobs: list[str]) -> None:
    """A client that disconnects leaves no watch (its feed is gone from the queue)
    while the job runs on, and the others' streams go on."""
    job_id = server.create_job(files=2)
    jobs.append(job_id)
    before = server.counts()
    staying = server.stream(f"/transfers/{job_id}/events")
    try:
        staying.first()
        leaving = [server.stream(f"/transfers/{job_id}/events") for _ in range(5)]
        for stream in leaving:
            stream.first()
        assert server.counts()["watches"] == before["watches"] + 6
        assert _stream_threads() == []
        for stream in leaving:
            stream.close()
        server.wait_counts({**before, "watches": before["watches"] + 1})
        server.release(job_id)
        assert staying.to_end()[-1] == ("end", {"jobId": job_id, "status": "completed"})
    finally:
        staying.close()
    server.wait_counts(before)


def test_slow_client_does_not_hold_up_the_others(
    control: JobControl, server: Server, jobs: list[str]
) -> None:
    """A client that reads nothing, its socket and uvicorn's buffer full with a
    1,000-file job's first message, does not delay the other streams of the job: they get
    the end while it has read nothing; it then reads its stream to the end."""
    go = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        assert go.wait(WAIT)
        on_progress(file.size)

    files = [
        {"source_path": f"/in/{i:04}/{'x' * 200}", "destination_path": f"/out/{i}", "size": 1}
        for i in range(1000)
    ]
    job_id = control.queue.queue_job("local-upload", files, executor)
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    try:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(f"GET /transfers/{job_id}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        others = [server.stream(f"/transfers/{job_id}/events") for _ in range(3)]
        try:
            for stream in others:
                assert len(stream.first()[1]["files"]) == 1000
            assert _stream_threads() == []
            go.set()
            for stream in others:
                assert stream.to_end()[-1] == ("end", {"jobId": job_id, "status": "completed"})
        finally:
            go.set()
            for stream in others:
                stream.close()
        received = bytearray()
        while not received.endswith(b"0\r\n\r\n"):  # the chunked body's end
            chunk = slow.recv(65536)
            assert chunk, "the slow client's stream was closed before its end"
            received += chunk
    finally:
        slow.close()
    assert b"event: end\n" in received
    assert received.count(b"\ndata: ") >= 2  # the job whole, at least the last snapshot
    assert len(received) > 200_000


def test_cancel_and_pause_routes_unaffected(server: Server, jobs: list[str]) -> None:
    """With a loop-driven stream open, pause, resume and cancel answer as ever, and the
    stream shows each and ends with the cancel."""
    job_id = server.create_job(files=1)
    jobs.append(job_id)
    stream = server.stream(f"/transfers/{job_id}/events")
    try:
        stream.first()
        assert _stream_threads() == []
        assert server.json("PUT", f"/transfers/{job_id}/pause")["status"] == "paused"
        stream.events(lambda e: e[1]["status"] == "paused")
        assert server.json("PUT", f"/transfers/{job_id}/resume")["status"] != "paused"
        stream.events(lambda e: e[1]["status"] != "paused")
        assert server.json("DELETE", f"/transfers/{job_id}")["status"] == "cancelled"
        events: list[Any] = stream.to_end()
        assert events[-1] == ("end", {"jobId": job_id, "status": "cancelled"})
    finally:
        stream.close()
