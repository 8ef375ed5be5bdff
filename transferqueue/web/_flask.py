"""A Flask blueprint serving a queue's jobs as JSON and their progress as Server-Sent Events.

The routes, statuses and stream format are :mod:`transferqueue.web`'s; relative to the
prefix the app registers the blueprint under, they are ``/`` (both with and without the
trailing slash), ``/<job_id>``, ``/<job_id>/events`` and ``/events``. The access hook is
given the ``flask.Request``.
"""

from __future__ import annotations

import flask

from transferqueue._core.queue import TransferQueue

from ._endpoints import SSE_HEADERS, AccessHook, EventStream, Reply, TransferEndpoints


def transfer_blueprint(
    queue: TransferQueue | None = None,
    *,
    name: str = "transfers",
    camel_case: bool = True,
    can_access: AccessHook[flask.Request] | None = None,
    public: bool = False,
    hide_paths: bool = False,
    keepalive: float = 15.0,
) -> flask.Blueprint:
    """Return a blueprint serving ``queue``'s jobs (routes: :mod:`transferqueue.web`).

    The options are :class:`TransferEndpoints`'s (``queue`` defaults to the process-wide
    one; ``can_access`` is given the ``flask.Request``); ``name`` is the blueprint's.
    Without ``can_access`` or ``public=True`` every route answers 403.
    """
    endpoints = TransferEndpoints[flask.Request](
        queue,
        camel_case=camel_case,
        can_access=can_access,
        public=public,
        hide_paths=hide_paths,
        keepalive=keepalive,
    )
    bp = flask.Blueprint(name, __name__)

    def request() -> flask.Request:
        # The request object itself, not the context-local proxy: streams use it later.
        return flask.request._get_current_object()  # type: ignore[attr-defined,no-any-return]

    def respond(answer: Reply | EventStream) -> flask.Response:
        if isinstance(answer, Reply):
            if answer.body is None:
                return flask.Response(status=answer.status)
            response = flask.jsonify(answer.body)
            response.status_code = answer.status
            return response
        response = flask.Response(
            flask.stream_with_context(answer), mimetype="text/event-stream", headers=SSE_HEADERS
        )
        # stream_with_context closes the stream only once its first chunk was taken; a
        # response closed before that (a HEAD request, a client gone at once) closes it here.
        response.call_on_close(answer.close)
        return response

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
