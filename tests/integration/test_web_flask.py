"""Issue 5 (Flask): what only the blueprint of transferqueue.web has, through Flask's test client.

The routes themselves are tested under both frameworks in test_web_routes.py. Flask's test
client runs a stream's generator to its first chunk inside ``get()``: a response closed
before its first chunk is taken is a HEAD request's here.
"""

from __future__ import annotations

import re
import sys

import flask
import pytest

import transferqueue as tq
from tests.conftest import WAIT, GatedExecutor, make_files, noop_executor
from tests.helpers.web_clients import (
    KEEPALIVE,
    FlaskWebClient,
    deny_header,
    keep_watches,
    read_events,
    read_until_comment,
    subscribed_watches,
)
from tests.integration.test_readme import _code_block_after
from transferqueue.web._endpoints import NOT_CONFIGURED


def test_list_without_trailing_slash(queue: tq.TransferQueue, gate: GatedExecutor) -> None:
    """Issue 5: the list is served at the prefix with and without its trailing slash
    (strict_slashes=False), with the same options and access checks."""
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    client = FlaskWebClient(queue, can_access=deny_header)
    status, body = client.get("/transfers")
    assert status == 200
    assert [job["id"] for job in body] == [job_id]
    assert client.get("/transfers/") == (200, body)
    assert client.get("/transfers", headers={"X-Deny": job_id}) == (200, [])
    assert client.get("/transfers", headers={"X-Deny": "list"})[0] == 403
    closed = FlaskWebClient(queue)
    assert closed.get("/transfers") == (403, {"error": NOT_CONFIGURED})


def test_unknown_attribute_of_the_web_package() -> None:
    """Issue 5: transferqueue.web's lazy import of Flask answers only for the blueprint."""
    import transferqueue.web

    with pytest.raises(AttributeError, match="no_such_thing"):
        transferqueue.web.no_such_thing  # noqa: B018


def test_blueprint_without_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 5: without Flask, asking for the blueprint names the extra to install."""
    import transferqueue.web

    monkeypatch.setitem(sys.modules, "flask", None)
    monkeypatch.delitem(sys.modules, "transferqueue.web._flask")
    with pytest.raises(ImportError, match=re.escape("pip install 'transferqueue[flask]'")):
        transferqueue.web.transfer_blueprint  # noqa: B018


def test_hook_may_read_the_request_context_in_streams(queue: tq.TransferQueue) -> None:
    """Issue 5: the all-jobs stream checks each event in the request's context, so a hook
    may use flask.request (or g, or a login manager's current user) as in a view."""

    def header_hook(request: flask.Request, job: tq.TransferJob | None, action: str) -> bool:
        return flask.request.headers.get("X-User") == "alice"

    client = FlaskWebClient(queue, can_access=header_hook, keepalive=KEEPALIVE)
    stream = client.stream("/transfers/events", headers={"X-User": "alice"})
    assert read_events(stream, 1) == [("jobs", [])]
    job_id = queue.queue_job("local-upload", make_files(1), noop_executor)
    queue.wait(job_id, timeout=WAIT)
    seen = read_until_comment(stream)
    stream.close()
    assert seen
    assert {data["id"] for _, data in seen} == {job_id}


def test_head_of_a_job_stream_leaves_no_watch(
    queue: tq.TransferQueue, gate: GatedExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 5: a response closed before its stream's first chunk (a HEAD request, whose body
    is never sent) unsubscribes when it is closed, not when its watch is collected."""
    watches = keep_watches(queue, monkeypatch)  # only close() can unsubscribe them
    job_id = queue.queue_job("local-upload", make_files(1), gate)
    gate.wait_running(1)
    response = FlaskWebClient(queue, public=True).client.head(f"/transfers/{job_id}/events")
    assert response.status_code == 200
    assert response.data == b""
    assert len(watches) == 1
    response.close()  # what a server does once it has sent the (empty) body
    assert subscribed_watches(queue) == 0
    gate.release_all()


def test_readme_flask_sketch_serves_through_its_hook() -> None:
    """Issue 10: README's Flask sketch, run as written in an app, gives the routes its
    access hook: the jobs are served to a user it lets in, refused to anyone else (it
    would be 403 for everyone, whoever asked, had it passed neither hook nor public)."""
    job_id = tq.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    tq.transfer_queue.wait(job_id, timeout=WAIT)
    app = flask.Flask(__name__)
    exec(_code_block_after("\nThe web front\n"), {"app": app})
    client = app.test_client()
    assert client.get(f"/transfers/{job_id}", headers={"X-User": "alice"}).status_code == 200
    assert client.get(f"/transfers/{job_id}").status_code == 404
    assert client.get("/transfers/", headers={"X-User": "alice"}).status_code == 200
    assert client.delete(f"/transfers/{job_id}", headers={"X-User": "alice"}).status_code == 403
