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
    ``event: end`` (call ``es.close()`` on it), then the end of the stream. A finished
    job gets its terminal snapshot and ``end`` at once; a browser reconnecting after the
    end gets 204 No Content, which stops ``EventSource``.
``GET /events``
    ``text/event-stream`` for every job the caller may view: first ``event: jobs`` with
    the list of the current jobs, then ``event: created`` and ``event: updated`` with one
    job each, and keep-alive comments; it never ends by itself.

The access hook ``can_access(request, job, action)`` (the ``flask.Request``) is consulted
on every route, in the request's thread: ``action`` is ``"view"`` or ``"cancel"``; ``job``
is None for the collection routes (``GET /`` and ``GET /events``, answered 403 when
denied), and then each job is filtered with its own ``"view"`` call.
"""

from __future__ import annotations

from collections.abc import Iterator

import flask

from transferqueue._queue import TransferQueue

from ._endpoints import SSE_HEADERS, AccessHook, Reply, TransferEndpoints


def transfer_blueprint(
    queue: TransferQueue | None = None,
    *,
    name: str = "transfers",
    camel_case: bool = True,
    can_access: AccessHook[flask.Request] | None = None,
    keepalive: float = 15.0,
) -> flask.Blueprint:
    """Return a blueprint serving ``queue``'s jobs (see the module's docstring for routes).

    ``queue`` defaults to the process-wide ``transferqueue.transfer_queue``, looked up at
    each request. ``camel_case`` picks the JSON keys (``to_dict(camel_case=...)``, also
    for the error bodies' ``jobId``/``job_id``). ``can_access`` defaults to allowing
    everything. ``keepalive`` is the number of quiet seconds after which an SSE stream
    sends a comment, which also bounds how long a dropped client stays subscribed (a
    server notices a closed connection only when it writes).
    """
    endpoints = TransferEndpoints[flask.Request](
        queue, camel_case=camel_case, can_access=can_access, keepalive=keepalive
    )
    bp = flask.Blueprint(name, __name__)

    def request() -> flask.Request:
        # The request object itself, not the context-local proxy: streams use it later.
        return flask.request._get_current_object()  # type: ignore[attr-defined,no-any-return]

    def respond(answer: Reply | Iterator[str]) -> flask.Response:
        if isinstance(answer, Reply):
            if answer.body is None:
                return flask.Response(status=answer.status)
            response = flask.jsonify(answer.body)
            response.status_code = answer.status
            return response
        return flask.Response(
            flask.stream_with_context(answer), mimetype="text/event-stream", headers=SSE_HEADERS
        )

    @bp.get("/", strict_slashes=False)
    def list_jobs() -> flask.Response:
        return respond(endpoints.list_jobs(request()))

    @bp.get("/<job_id>")
    def get_job(job_id: str) -> flask.Response:
        return respond(endpoints.get_job(request(), job_id))

    @bp.delete("/<job_id>")
    def cancel_job(job_id: str) -> flask.Response:
        return respond(endpoints.cancel_job(request(), job_id))

    @bp.get("/<job_id>/events")
    def job_events(job_id: str) -> flask.Response:
        last_event_id = flask.request.headers.get("Last-Event-ID")
        return respond(endpoints.job_events(request(), job_id, last_event_id))

    @bp.get("/events")
    def all_events() -> flask.Response:
        return respond(endpoints.all_events(request()))

    return bp
