"""The demo page served by Django's ASGI handler, for the browser test under uvicorn.

The same page, files and routes as ``transferqueue.web._demo.demo_app`` (the Flask demo),
with the same sample jobs (its ``_Samples``): ``/`` the page, ``/static/<name>`` its
three files, ``POST /demo/<kind>`` a sample job (JSON only), and the transfer routes under
``/transfers/`` (public, as the demo's are). Its only client is the test's own browser on
127.0.0.1, so the demo's host and origin guard is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

import transferqueue.web
from tests.helpers import django_project
from tests.helpers.web_apps import URLConf
from transferqueue._core.queue import TransferQueue
from transferqueue.web._demo import DEMO_KINDS, _Samples
from transferqueue.web.django import transfer_urls

STATIC = Path(transferqueue.web.__file__).parent / "static"
_CONTENT_TYPES = {
    "demo.html": "text/html; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
}


def django_demo_app(
    queue: TransferQueue, workdir: str, *, pause: float, slow_pause: float, keepalive: float
) -> Any:
    """An ASGI app: the demo on ``queue`` in ``workdir`` (options as ``demo_app``'s)."""
    django_project.configure()
    samples = _Samples(queue, Path(workdir), pause, slow_pause)

    def static(name: str) -> HttpResponseBase:
        if name not in _CONTENT_TYPES:
            raise Http404(name)
        # Read whole: a FileResponse is a synchronous stream, which ASGI warns about.
        return HttpResponse((STATIC / name).read_bytes(), content_type=_CONTENT_TYPES[name])

    def page(request: HttpRequest) -> HttpResponseBase:
        return static("demo.html")

    def static_file(request: HttpRequest, name: str) -> HttpResponseBase:
        return static(name)

    def start_demo(request: HttpRequest, kind: str) -> HttpResponseBase:
        if request.method != "POST" or request.content_type != "application/json":
            return JsonResponse({"error": "POST the request with a JSON body"}, status=415)
        sample = DEMO_KINDS.get(kind)
        if sample is None:
            return JsonResponse({"error": f"no demo job {kind!r}"}, status=404)
        job_id = samples.start(kind, sample)
        job = queue.get_job(job_id)
        body = {"id": job_id} if job is None else job.to_dict(camel_case=True)
        return JsonResponse(body, status=201, headers={"Location": f"/transfers/{job_id}"})

    exempt_start: Any = csrf_exempt(start_demo)
    urls = [
        path("", page),
        path("static/<str:name>", static_file),
        path("demo/<str:kind>", exempt_start),
        path("transfers/", include(transfer_urls(queue, public=True, keepalive=keepalive))),
    ]
    # As tests/helpers/web_apps.py does: the request carries its urlconf, the settings stay.
    request_class = type("Request", (ASGIRequest,), {"urlconf": URLConf(urls)})
    return type("Handler", (ASGIHandler,), {"request_class": request_class})()
