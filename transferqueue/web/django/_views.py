"""The views behind :mod:`transferqueue.web.django` (routes, names and statuses: see there).

Each view only converts: the Django request into a
:class:`~transferqueue.web.TransferEndpoints` call, and its :class:`Reply` or SSE
stream into a Django response, whose content is the stream itself under WSGI and an
:func:`async_event_stream` of it under ASGI (polled by the event loop where it can be, a
thread per stream otherwise). They are ``csrf_exempt``, for the reason the
package's docstring gives.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from transferqueue._core.queue import TransferQueue
from transferqueue.web._endpoints import (
    SSE_HEADERS,
    AccessHook,
    EventStream,
    Reply,
    TransferEndpoints,
)

from ._async_stream import async_event_stream

_View = Callable[..., HttpResponseBase]

APP_NAME = "transferqueue"
"""The application namespace of the URL patterns: ``reverse("transferqueue:list")``."""


def transfer_urls(
    queue: TransferQueue | None = None,
    *,
    camel_case: bool = True,
    can_access: AccessHook[HttpRequest] | None = None,
    public: bool = False,
    hide_paths: bool = False,
    keepalive: float = 15.0,
) -> tuple[list[URLPattern], str]:
    """Return the URL patterns serving ``queue``'s jobs, with their application namespace.

    Include them under a prefix: ``path("transfers/", include(transfer_urls(queue)))``
    (routes and names: :mod:`transferqueue.web.django`). The answer is ``(patterns,
    "transferqueue")``, what ``include()`` takes for an application namespace; a second
    inclusion needs a namespace of its own: ``include(transfer_urls(other),
    namespace="other")``.
    The options are :class:`~transferqueue.web.TransferEndpoints`'s (``queue`` defaults
    to the process-wide one; ``can_access`` is given the ``django.http.HttpRequest``).
    Without ``can_access`` or ``public=True`` every route answers 403.
    """
    endpoints = TransferEndpoints[HttpRequest](
        queue,
        camel_case=camel_case,
        can_access=can_access,
        public=public,
        hide_paths=hide_paths,
        keepalive=keepalive,
    )

    def list_jobs(request: HttpRequest) -> HttpResponseBase:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return _respond(request, endpoints.list_jobs(request))

    def job(request: HttpRequest, job_id: str) -> HttpResponseBase:
        if request.method == "GET":
            return _respond(request, endpoints.get_job(request, job_id))
        if request.method == "DELETE":
            return _respond(request, endpoints.cancel_job(request, job_id))
        return HttpResponseNotAllowed(["GET", "DELETE"])

    def pause(request: HttpRequest, job_id: str) -> HttpResponseBase:
        if request.method != "PUT":
            return HttpResponseNotAllowed(["PUT"])
        return _respond(request, endpoints.pause_job(request, job_id))

    def resume(request: HttpRequest, job_id: str) -> HttpResponseBase:
        if request.method != "PUT":
            return HttpResponseNotAllowed(["PUT"])
        return _respond(request, endpoints.resume_job(request, job_id))

    def job_events(request: HttpRequest, job_id: str) -> HttpResponseBase:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        last_event_id = request.headers.get("Last-Event-ID")
        return _respond(request, endpoints.job_events(request, job_id, last_event_id))

    def all_events(request: HttpRequest) -> HttpResponseBase:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        return _respond(request, endpoints.all_events(request))

    patterns = [
        path("", _exempt(list_jobs), name="list"),
        # Before "<str:job_id>", which would take "events" for a job id.
        path("events", _exempt(all_events), name="all-events"),
        path("<str:job_id>", _exempt(job), name="detail"),
        path("<str:job_id>/pause", _exempt(pause), name="pause"),
        path("<str:job_id>/resume", _exempt(resume), name="resume"),
        path("<str:job_id>/events", _exempt(job_events), name="events"),
    ]
    return patterns, APP_NAME


def _exempt(view: _View) -> _View:
    # Called, not applied as a decorator: Django is untyped, and mypy --strict refuses
    # untyped decorators.
    exempt: _View = csrf_exempt(view)
    return exempt


def _respond(request: HttpRequest, answer: Reply | EventStream) -> HttpResponseBase:
    if isinstance(answer, Reply):
        if answer.body is None:
            return HttpResponse(status=answer.status)
        return JsonResponse(answer.body, safe=False, status=answer.status)
    # Each handler streams only its own kind of iterator chunk by chunk: WSGI a plain one,
    # ASGI an asynchronous one (either reads the other kind whole before sending it).
    content = async_event_stream(answer) if isinstance(request, ASGIRequest) else answer
    return StreamingHttpResponse(content, content_type="text/event-stream", headers=SSE_HEADERS)
