"""A Flask blueprint serving a queue's jobs as JSON and their progress as Server-Sent Events.

Routes, relative to the prefix the app registers the blueprint under:

``GET /``
    every job the caller may view, as a JSON list.
``GET /<job_id>``
    one job; 404 with a JSON error for an unknown id or one the caller may not view (so
    that ids do not leak).
``DELETE /<job_id>``
    cancel it: 200 with the cancelled snapshot; 404 unknown (or not viewable), 403 when
    the caller may view but not cancel it, 409 when it has finished already.
``GET /<job_id>/events``
    ``text/event-stream``: ``data: <job>`` with the job as it stands at once, then each
    update, ``: keep-alive`` comments while quiet, and after the terminal snapshot an
    ``event: end`` (call ``es.close()`` on it, or the browser reconnects), then the end of
    the stream. A finished job gets its terminal snapshot and ``end`` at once.
``GET /events``
    ``text/event-stream`` for every job the caller may view: first ``event: jobs`` with
    the list of the current jobs, then ``event: created`` and ``event: updated`` with one
    job each, and keep-alive comments; it never ends by itself.

The access hook ``can_access(request, job, action)`` is consulted on every route, in the
request's thread: ``action`` is ``"view"`` or ``"cancel"``; ``job`` is None for the
collection routes (``GET /`` and ``GET /events``, answered 403 when denied), and then each
job is filtered with its own ``"view"`` call.

A client that disconnects is noticed by the WSGI server only at the stream's next write, so
its subscription lives at most ``keepalive`` seconds longer.
"""

from __future__ import annotations

import json
import queue as queue_module
from collections.abc import Callable, Iterator
from typing import Any

import flask

import transferqueue
from transferqueue._errors import JobNotFoundError
from transferqueue._queue import TransferQueue
from transferqueue._records import TransferJob
from transferqueue._signals import job_created, job_updated
from transferqueue._validation import check_positive_seconds

AccessHook = Callable[[flask.Request, "TransferJob | None", str], bool]
"""``can_access(request, job, action)``: may this request do ``action`` to ``job``?"""

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_KEEPALIVE = ": keep-alive\n\n"


def _allow_all(request: flask.Request, job: TransferJob | None, action: str) -> bool:
    return True


def _sse(data: Any, event: str | None = None) -> str:
    body = json.dumps(data, separators=(",", ":"))
    return f"data: {body}\n\n" if event is None else f"event: {event}\ndata: {body}\n\n"


def transfer_blueprint(
    queue: TransferQueue | None = None,
    *,
    name: str = "transfers",
    camel_case: bool = True,
    can_access: AccessHook | None = None,
    keepalive: float = 15.0,
) -> flask.Blueprint:
    """Return a blueprint serving ``queue``'s jobs (see the module's docstring for routes).

    ``queue`` defaults to the process-wide ``transferqueue.transfer_queue``, looked up at
    each request. ``camel_case`` picks the JSON keys (``to_dict(camel_case=...)``, also
    for the error bodies' ``jobId``/``job_id``). ``can_access`` defaults to allowing
    everything. ``keepalive`` is the number of quiet seconds after which an SSE stream
    sends a comment, which also bounds how long a dropped client stays subscribed.
    """
    quiet = check_positive_seconds(keepalive, "keepalive")
    allowed: AccessHook = _allow_all if can_access is None else can_access
    id_key = "jobId" if camel_case else "job_id"
    bp = flask.Blueprint(name, __name__)

    def the_queue() -> TransferQueue:
        return transferqueue.transfer_queue if queue is None else queue

    def as_dict(job: TransferJob) -> dict[str, Any]:
        return job.to_dict(camel_case=camel_case)

    def error(status: int, message: str, job_id: str | None = None) -> flask.Response:
        body: dict[str, Any] = {"error": message}
        if job_id is not None:
            body[id_key] = job_id
        response = flask.jsonify(body)
        response.status_code = status
        return response

    def not_found(job_id: str) -> flask.Response:
        return error(404, f"no transfer job {job_id}", job_id)

    def viewable(job_id: str) -> TransferJob | None:
        job = the_queue().get_job(job_id)
        if job is None or not allowed(flask.request, job, "view"):
            return None
        return job

    def stream(body: Iterator[str]) -> flask.Response:
        return flask.Response(
            flask.stream_with_context(body), mimetype="text/event-stream", headers=_SSE_HEADERS
        )

    @bp.get("/", strict_slashes=False)
    def list_jobs() -> flask.Response:
        if not allowed(flask.request, None, "view"):
            return error(403, "not allowed to list transfer jobs")
        jobs = the_queue().get_all_jobs()
        return flask.jsonify([as_dict(job) for job in jobs if allowed(flask.request, job, "view")])

    @bp.get("/<job_id>")
    def get_job(job_id: str) -> flask.Response:
        job = viewable(job_id)
        return not_found(job_id) if job is None else flask.jsonify(as_dict(job))

    @bp.delete("/<job_id>")
    def cancel_job(job_id: str) -> flask.Response:
        q = the_queue()
        job = viewable(job_id)
        if job is None:
            return not_found(job_id)
        if not allowed(flask.request, job, "cancel"):
            return error(403, f"not allowed to cancel transfer job {job_id}", job_id)
        if job.status.is_terminal or not q.cancel_job(job_id):
            return error(409, f"transfer job {job_id} has finished already", job_id)
        cancelled = q.get_job(job_id)
        if cancelled is None:  # dropped by retention in between
            return not_found(job_id)
        return flask.jsonify(as_dict(cancelled))

    @bp.get("/<job_id>/events")
    def job_events(job_id: str) -> flask.Response:
        if viewable(job_id) is None:
            return not_found(job_id)
        try:
            watch = the_queue().watch(job_id, keepalive=quiet)
        except JobNotFoundError:  # dropped by retention in between
            return not_found(job_id)

        def body() -> Iterator[str]:
            with watch:  # closed by the server when the client is gone
                for job in watch:
                    if job is None:
                        yield _KEEPALIVE
                        continue
                    yield _sse(as_dict(job))
                    if job.status.is_terminal:
                        yield _sse({id_key: job.id, "status": job.status.value}, "end")

        return stream(body())

    @bp.get("/events")
    def all_events() -> flask.Response:
        if not allowed(flask.request, None, "view"):
            return error(403, "not allowed to list transfer jobs")
        q = the_queue()

        def body() -> Iterator[str]:
            pending: queue_module.Queue[tuple[str, TransferJob]] = queue_module.Queue()

            def on_created(sender: Any, *, job: TransferJob, **extra: Any) -> None:
                pending.put(("created", job))

            def on_updated(sender: Any, *, job: TransferJob, **extra: Any) -> None:
                pending.put(("updated", job))

            job_created.connect(on_created, sender=q, weak=False)
            job_updated.connect(on_updated, sender=q, weak=False)
            try:
                request = flask.request
                jobs = q.get_all_jobs()
                yield _sse([as_dict(j) for j in jobs if allowed(request, j, "view")], "jobs")
                while True:
                    try:
                        event, job = pending.get(timeout=quiet)
                    except queue_module.Empty:
                        yield _KEEPALIVE
                        continue
                    if allowed(request, job, "view"):
                        yield _sse(as_dict(job), event)
            finally:
                # Without a sender: disconnecting with one leaves blinker holding them.
                job_created.disconnect(on_created)
                job_updated.disconnect(on_updated)

        return stream(body())

    return bp
