"""WSGI apps for the real-server tests (tests/integration/test_web_servers.py), in Flask
and in Django.

Both serve the transfer routes of one queue three times (a keep-alive every ``KEEPALIVE``
seconds): public under ``/transfers/``, public with ``hide_paths=True`` under ``/hidden/``,
and with neither an access hook nor ``public`` under ``/closed/``; and the same test-only
routes, through which a test drives the app's queue even when that queue lives in a
gunicorn worker:

``POST /test/jobs?files=N``
    queue a job of N files whose executors block until released (or the job is
    cancelled); answers ``{"id": ...}`` once all N executors are running, so the job
    stands still (``active``, nothing loaded) until the test moves it. File I is copied
    from ``SERVER_FOLDER/in/I`` to ``SERVER_FOLDER/out/I``.
``POST /test/jobs/<id>/release[?file=I]``
    let file I (every file without ``file``) finish; 404 for a job not made here.
``GET /test/counts``
    ``{"watches", "created_receivers", "updated_receivers"}``: the queue's subscribed
    watches and the receivers of both signals, which every closed stream must give back.

gunicorn serves ``tests.helpers.web_apps:serve("flask")`` or ``serve("django")`` with a queue of
the worker's own; the in-process tests build ``flask_app(control)`` or
``django_app(control)`` around a :class:`JobControl` of their own queue.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import flask
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

import transferqueue as tq
from transferqueue.web import transfer_blueprint

KEEPALIVE = 0.2
"""Quiet seconds before a stream writes a comment: how soon a server notices a drop."""

WAIT = 10.0
"""Bound of every wait in here; an unreleased executor fails its file after it."""

SERVER_FOLDER = "/srv/transferqueue-server-folder"
"""Where the test jobs' paths point (nothing is read or written there): a server path
that ``hide_paths=True`` must keep out of every answer."""

WSGIApp = Callable[..., Any]
ASGIApp = Callable[..., Any]


class JobControl:
    """A queue and the gates of the jobs made through it: what the test routes do.

    Each file's executor blocks on its own Event. A receiver of ``job_updated`` opens every
    gate of a job that became terminal, so that a cancelled job's executors return at once
    (and a queue shutting down is not held up); call :meth:`close` to disconnect it.
    """

    def __init__(self, queue: tq.TransferQueue) -> None:
        self.queue = queue
        # Guards _gates; nothing is called while it is held.
        self._lock = threading.Lock()
        self._gates: dict[str, list[threading.Event]] = {}
        tq.job_updated.connect(self._on_updated, sender=queue, weak=False)

    def close(self) -> None:
        """Disconnect the receiver (without a sender, which blinker would otherwise keep)."""
        tq.job_updated.disconnect(self._on_updated)

    def create_job(self, files: int) -> str:
        """Queue a job of ``files`` gated files; return its id once all of them run."""
        if not 1 <= files <= self.queue.concurrency_limit:
            raise ValueError(f"files must be 1..{self.queue.concurrency_limit}, not {files}")
        gates = [threading.Event() for _ in range(files)]
        running = threading.Semaphore(0)

        def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            running.release()
            if not gates[int(file.source_path.rpartition("/")[2])].wait(WAIT):
                raise TimeoutError(f"file {file.source_path} was never released")
            on_progress(file.size)  # raises TransferCancelled once the job is cancelled

        mappings = [
            {
                "source_path": f"{SERVER_FOLDER}/in/{i}",
                "destination_path": f"{SERVER_FOLDER}/out/{i}",
                "size": 10,
            }
            for i in range(files)
        ]
        job_id = self.queue.queue_job("local-upload", mappings, executor)
        with self._lock:
            self._gates[job_id] = gates
        for _ in range(files):
            if not running.acquire(timeout=WAIT):
                raise TimeoutError(f"the files of job {job_id} did not start")
        return job_id

    def release(self, job_id: str, file: int | None = None) -> bool:
        """Let one file (or every file) of a job finish; False for a job not made here."""
        with self._lock:
            gates = self._gates.get(job_id)
        if gates is None:
            return False
        for gate in gates if file is None else [gates[file]]:
            gate.set()
        return True

    def counts(self) -> dict[str, int]:
        """The subscribed watches of the queue and the receivers of both signals."""
        # The lock that guards the queue's feeds, so the count sees no half-made change.
        with self.queue._lock:
            watches = self.queue._delivery.watch_count()
        return {
            "watches": watches,
            "created_receivers": len(tq.job_created.receivers),
            "updated_receivers": len(tq.job_updated.receivers),
        }

    def _on_updated(self, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.status.is_terminal and self.release(job.id):
            with self._lock:
                self._gates.pop(job.id, None)


_MOUNTS: list[tuple[str, str, dict[str, Any]]] = [
    ("transfers", "/transfers", {"public": True}),
    ("hidden", "/hidden", {"public": True, "hide_paths": True}),
    ("closed", "/closed", {}),
]
"""The transfer routes of both apps: (name, URL prefix, options)."""


# -- Flask ------------------------------------------------------------------------------


def flask_app(control: JobControl) -> flask.Flask:
    """A Flask app serving ``control``'s queue and the test routes."""
    app = flask.Flask(__name__)
    for name, prefix, options in _MOUNTS:
        app.register_blueprint(
            transfer_blueprint(control.queue, name=name, keepalive=KEEPALIVE, **options),
            url_prefix=prefix,
        )

    @app.post("/test/jobs")
    def create_job() -> dict[str, str]:
        return {"id": control.create_job(int(flask.request.args.get("files", "1")))}

    @app.post("/test/jobs/<job_id>/release")
    def release(job_id: str) -> tuple[dict[str, str], int]:
        file = flask.request.args.get("file")
        if not control.release(job_id, None if file is None else int(file)):
            return {"error": f"no test job {job_id}"}, 404
        return {"released": job_id}, 200

    @app.get("/test/counts")
    def counts() -> dict[str, int]:
        return control.counts()

    return app


# -- Django -----------------------------------------------------------------------------


def django_app(control: JobControl) -> WSGIApp:
    """A Django WSGI handler serving ``control``'s queue and the test routes."""
    # Django resolves a request that carries a urlconf with it (as a middleware may set
    # one): each app has its own routes, and the process's settings stay untouched. Built
    # with type(), since Django's classes are untyped (Any) to mypy.
    request_class = type("Request", (WSGIRequest,), {"urlconf": _django_urls(control)})
    handler: WSGIApp = type("Handler", (WSGIHandler,), {"request_class": request_class})()
    return handler


def django_asgi_app(control: JobControl) -> ASGIApp:
    """A Django ASGI handler serving ``control``'s queue and the test routes."""
    request_class = type("Request", (ASGIRequest,), {"urlconf": _django_urls(control)})
    handler: ASGIApp = type("Handler", (ASGIHandler,), {"request_class": request_class})()
    return handler


def _django_urls(control: JobControl) -> URLConf:
    from django.urls import URLPattern, URLResolver, include, path

    from tests.helpers import django_project
    from transferqueue.web.django import transfer_urls

    django_project.configure()

    def create_job(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"id": control.create_job(int(request.GET.get("files", "1")))})

    def release(request: HttpRequest, job_id: str) -> HttpResponse:
        file = request.GET.get("file")
        if not control.release(job_id, None if file is None else int(file)):
            return JsonResponse({"error": f"no test job {job_id}"}, status=404)
        return JsonResponse({"released": job_id})

    def counts(request: HttpRequest) -> HttpResponse:
        return JsonResponse(control.counts())

    urls: list[URLPattern | URLResolver] = [
        path(
            f"{prefix.strip('/')}/",
            include(transfer_urls(control.queue, keepalive=KEEPALIVE, **options), namespace=name),
        )
        for name, prefix, options in _MOUNTS
    ]
    urls += [
        path("test/jobs", create_job),
        path("test/jobs/<str:job_id>/release", release),
        path("test/counts", counts),
    ]
    return URLConf(urls)


class URLConf:
    """A URLconf that is not a module: Django reads only its ``urlpatterns``."""

    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns


# -- uvicorn ----------------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_server(app: ASGIApp) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a thread of this process on 127.0.0.1; the port.

    The socket is bound before uvicorn runs, so a request made at once waits in its
    backlog until uvicorn accepts it. On leaving, uvicorn stops (it gives open connections
    2 s) and its thread is joined.
    """
    import uvicorn

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="uvicorn-test-server"
        )
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            server.should_exit = True
            thread.join(WAIT)
            assert not thread.is_alive(), "the uvicorn server did not stop"
    finally:
        listener.close()


# -- gunicorn ---------------------------------------------------------------------------


def serve(framework: str) -> WSGIApp:
    """The app gunicorn loads: ``tests.helpers.web_apps:serve("flask")`` or ``serve("django")``.

    Its queue belongs to the worker process and lives as long as it does.
    """
    control = JobControl(tq.TransferQueue(8))
    if framework == "flask":
        return flask_app(control)
    if framework == "django":
        return django_app(control)
    raise ValueError(f"unknown framework {framework!r}")
