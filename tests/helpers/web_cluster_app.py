"""The app of the cluster test (tests/integration/test_redis_web.py): the transfer routes of a
Redis-backed queue, served by several gunicorn workers at once.

``gunicorn ... 'tests.helpers.web_cluster_app:serve("flask")'`` (or ``"django"``) serves, in each
worker, a queue whose backend is ``TRANSFERQUEUE_TEST_REDIS_URL`` (namespace ``web``):

``/transfers/...``
    the public transfer routes (a keep-alive every ``KEEPALIVE`` seconds);
``POST /test/jobs?files=N``
    queue a job of N files in this worker; answers ``{"id", "token"}`` once all N run.
    File I reports 5 of its 10 bytes, then waits until the Redis key
    ``web:test:go:<token>:<I>`` exists; should its job be cancelled first, its next report
    raises TransferCancelled, which it notes in the list ``web:test:cancelled`` before it
    lets it go.

Every answer has the header ``X-Worker-Pid``: which worker served it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import redis

import transferqueue as tq
from tests.helpers.web_apps import KEEPALIVE, WAIT, URLConf, WSGIApp
from transferqueue.redis import RedisBackend

NAMESPACE = "web"
StartResponse = Callable[..., Any]


def serve(framework: str) -> WSGIApp:
    """The WSGI app of one gunicorn worker."""
    url = os.environ["TRANSFERQUEUE_TEST_REDIS_URL"]
    queue = tq.TransferQueue(8, backend=RedisBackend(url, namespace=NAMESPACE))
    client = redis.Redis.from_url(url)
    transfers = _flask(queue) if framework == "flask" else _django(queue)
    pid = str(os.getpid())

    def create_job(files: int) -> dict[str, str]:
        token = secrets.token_hex(4)
        running = threading.Semaphore(0)

        def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            running.release()
            on_progress(5)
            index = file.source_path.rpartition("/")[2]
            go = f"{NAMESPACE}:test:go:{token}:{index}"
            deadline = time.monotonic() + WAIT
            # Polled: the test moves the file from its own process, through Redis.
            while not client.exists(go):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"file {index} of {token} was never released")
                if on_progress.wait_cancelled(0.01):
                    try:
                        on_progress(5)
                    except tq.TransferCancelled:
                        client.rpush(f"{NAMESPACE}:test:cancelled", f"{token}:{index}")
                        raise
            on_progress(10)

        listed = [
            {"source_path": f"/srv/{token}/in/{i}", "destination_path": f"/srv/out/{i}", "size": 10}
            for i in range(files)
        ]
        job_id = queue.queue_job("local-upload", listed, executor)
        for _ in range(files):
            if not running.acquire(timeout=WAIT):
                raise TimeoutError(f"the files of job {job_id} did not start")
        return {"id": job_id, "token": token}

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def respond(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker-Pid", pid)], *rest)

        if environ["PATH_INFO"] == "/test/jobs" and environ["REQUEST_METHOD"] == "POST":
            files = int(parse_qs(environ.get("QUERY_STRING", "")).get("files", ["1"])[0])
            body = json.dumps(create_job(files)).encode()
            respond("200 OK", [("Content-Type", "application/json")])
            return [body]
        result: Iterable[bytes] = transfers(environ, respond)
        return result

    return app


def _flask(queue: tq.TransferQueue) -> WSGIApp:
    import flask

    from transferqueue.web import transfer_blueprint

    app = flask.Flask(__name__)
    blueprint = transfer_blueprint(queue, public=True, keepalive=KEEPALIVE)
    app.register_blueprint(blueprint, url_prefix="/transfers")
    return app


def _django(queue: tq.TransferQueue) -> WSGIApp:
    from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
    from django.urls import include, path

    from tests.helpers import django_project
    from transferqueue.web.django import transfer_urls

    django_project.configure()
    urls = [path("transfers/", include(transfer_urls(queue, public=True, keepalive=KEEPALIVE)))]
    # As tests/helpers/web_apps.py does: the request carries its urlconf, the settings stay.
    request_class = type("Request", (WSGIRequest,), {"urlconf": URLConf(urls)})
    handler: WSGIApp = type("Handler", (WSGIHandler,), {"request_class": request_class})()
    return handler
