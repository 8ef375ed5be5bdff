"""Measure what the SSE streams cost: bytes per update, and many browsers on one big job
(issue 12; issue 5 for the streams themselves).

Run ``python -m benchmarks.web`` from the repository root (needs Flask, the ``flask``
extra). Two parts, each beside its target, and beside the same figures for the streams as
they were before (every update sent the job whole), run in the same script:

* bytes of one update message in which one file moved, for jobs of 100, 1,000 and 10,000
  files, on a job's stream and on the all-jobs stream (read from
  :class:`~transferqueue.web.TransferEndpoints` directly);
* ``CLIENTS`` browsers (threads of this process, one HTTP connection each) on the job
  stream of a 1,000-file job served by the Flask blueprint under gunicorn ``-k gthread``
  (a thread per stream) in a server process, while one file reports progress ``STEPS``
  times, every ``STEP_SECONDS``, at the default ``update_interval``: the server process's
  CPU seconds per second of the job, and the delay from an ``on_progress`` call to each client's
  reading a message that shows it (p50, p99), on one machine's monotonic clock; beside
  them, the same figures for the Django views under its ASGI handler and uvicorn (the
  library's event-loop streams, no thread per stream: the setup recommended for many
  viewers), and for the sketch of streams on one event loop that preceded them
  (:mod:`benchmarks.web_asgi`, not part of the library).

The exit status is 1 if a target is missed (the CPU and delay targets: by the ASGI row).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import flask

import transferqueue as tq
from transferqueue.web import EventStream, TransferEndpoints, transfer_blueprint

CLIENTS = 200
FILES = 1_000
STEPS = 60
STEP_SECONDS = 0.05
ROUNDS = 3
UPDATE_BYTES_TARGET = 2_000  # a 10,000-file job's update in which one file moved
CPU_TARGET = 0.15  # server CPU seconds per second of job
P99_TARGET = 0.150  # seconds from on_progress to a client
_LOADED = re.compile(rb'"loaded":(\d+)')  # the first file's, whole or changed: it comes first


def _files(count: int, size: int = 1) -> list[dict[str, Any]]:
    return [
        {"source_path": f"/srv/data/in/{i:05}.bin", "destination_path": f"/srv/out/{i:05}.bin"}
        | {"size": size}
        for i in range(count)
    ]


def _no_copy(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    pass


class _Stepper:
    """Completes every file at once but the first, which reports a byte per :meth:`step`
    (or, once :meth:`go` was called, every ``STEP_SECONDS``) and records when."""

    def __init__(self) -> None:
        self._steps = threading.Semaphore(0)
        self._go = threading.Event()
        self.sent: list[float] = []  # monotonic time of each on_progress call, by step

    def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if not file.source_path.endswith("/00000.bin"):
            return
        for done in range(1, file.size + 1):
            if self._go.is_set():
                on_progress.wait_cancelled(STEP_SECONDS)
            elif not self._steps.acquire(timeout=60):
                raise TimeoutError("never stepped")
            self.sent.append(time.monotonic())
            on_progress(done)

    def step(self) -> None:
        self._steps.release()

    def go(self) -> None:
        self._go.set()
        self._steps.release()


def _always_whole(original: Callable[..., str]) -> Callable[..., str]:
    """``TransferEndpoints._message`` sending every update as the job whole, as before."""

    def whole_message(
        self: Any, job: Any, event: Any = None, event_id: Any = None, **_: Any
    ) -> str:
        return original(self, job, event, event_id)

    return whole_message


@contextlib.contextmanager
def _whole_jobs(whole: bool) -> Iterator[None]:
    """With ``whole``, the streams send every update as the job whole, as they did before."""
    original = TransferEndpoints._message
    if whole:
        TransferEndpoints._message = _always_whole(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransferEndpoints._message = original  # type: ignore[method-assign]


def _next_message(stream: EventStream) -> str:
    return next(chunk for chunk in stream if not chunk.startswith(":"))


def update_bytes(files: int, *, whole: bool) -> tuple[int, int]:
    """Bytes of the update message of a ``files``-file job in which one file moved, on a
    job's stream and on the all-jobs stream."""
    stepper = _Stepper()
    with _whole_jobs(whole), tq.TransferQueue(4, update_interval=0) as queue:
        job_id = queue.queue_job("local-upload", _files(files, size=3), stepper)
        with queue.watch(job_id) as watch:  # until every other file is done
            next(job for job in watch if job.progress.completed_files == files - 1)
        # A later job's end delivered, so were the events of those files: the streams
        # start after them.
        queue.wait(queue.queue_job("local-upload", _files(1), _no_copy))
        endpoints = TransferEndpoints[object](queue, public=True, keepalive=60)
        job_stream = endpoints.job_events(object(), job_id)
        all_stream = endpoints.all_events(object())
        assert isinstance(job_stream, EventStream)
        assert isinstance(all_stream, EventStream)
        next(job_stream)
        next(all_stream)
        stepper.step()
        sizes = (len(_next_message(job_stream).encode()), len(_next_message(all_stream).encode()))
        job_stream.close()
        all_stream.close()
        stepper.step()
        stepper.step()
    return sizes


# -- many browsers over HTTP ----------------------------------------------------------------


def bench_app(whole: str = "no") -> flask.Flask:
    """The server's app (``gunicorn 'benchmarks.web:bench_app("no")'``): the transfer
    routes of a queue of its own, and routes to start the job, set it going and report
    the process's CPU time and when each step was reported."""
    if whole == "yes":  # for the server process's lifetime
        TransferEndpoints._message = _always_whole(TransferEndpoints._message)  # type: ignore[method-assign]
    queue = tq.TransferQueue(4)
    stepper = _Stepper()
    app = flask.Flask(__name__)
    app.register_blueprint(
        transfer_blueprint(queue=queue, public=True, keepalive=60), url_prefix="/transfers"
    )

    @app.post("/bench/job")
    def start() -> dict[str, str]:
        job_id = queue.queue_job("local-upload", _files(FILES, size=STEPS), stepper)
        with queue.watch(job_id) as watch:  # until every other file is done
            next(job for job in watch if job.progress.completed_files == FILES - 1)
        queue.wait(queue.queue_job("local-upload", _files(1), _no_copy))  # see update_bytes
        return {"id": job_id}

    @app.post("/bench/go")
    def go() -> dict[str, float]:
        stepper.go()
        return _cpu()

    @app.get("/bench/state")
    def state() -> dict[str, Any]:
        return {"sent": stepper.sent} | _cpu()

    return app


def bench_django_asgi() -> Any:
    """The same routes in Django, served by its ASGI handler
    (``uvicorn --factory benchmarks.web:bench_django_asgi``): the job streams are the
    library's event-loop streams (:mod:`transferqueue.web.django`), no thread each."""
    import django
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.http import HttpRequest, JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    from transferqueue.web.django import transfer_urls

    queue = tq.TransferQueue(4)
    stepper = _Stepper()

    def start(request: HttpRequest) -> JsonResponse:
        job_id = queue.queue_job("local-upload", _files(FILES, size=STEPS), stepper)
        with queue.watch(job_id) as watch:  # until every other file is done
            next(job for job in watch if job.progress.completed_files == FILES - 1)
        queue.wait(queue.queue_job("local-upload", _files(1), _no_copy))  # see update_bytes
        return JsonResponse({"id": job_id})

    def go(request: HttpRequest) -> JsonResponse:
        stepper.go()
        return JsonResponse(_cpu())

    def state(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sent": stepper.sent} | _cpu())

    urls = type(
        "URLConf",
        (),
        {
            "urlpatterns": [
                path("transfers/", include(transfer_urls(queue, public=True, keepalive=60))),
                path("bench/job", csrf_exempt(start)),
                path("bench/go", csrf_exempt(go)),
                path("bench/state", state),
            ]
        },
    )
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["transferqueue.web.django"],
        MIDDLEWARE=[],
        ROOT_URLCONF=urls,
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()
    return ASGIHandler()


def _cpu() -> dict[str, float]:
    times = os.times()
    return {"user": times.user, "system": times.system}


def _gunicorn(whole: bool) -> contextlib.AbstractContextManager[int]:
    """A gunicorn server of :func:`bench_app` (one process, a thread per stream, as
    README.rst recommends); its port."""
    command = [
        sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1",
        "--threads", str(CLIENTS + 16), "--no-control-socket", "-b", "127.0.0.1:0",
        "--graceful-timeout", "2", f'benchmarks.web:bench_app("{"yes" if whole else "no"}")',
    ]  # fmt: skip
    return _server(
        command,
        rb"Listening at: http://127\.0\.0\.1:(\d+)",
    )


def _uvicorn(app: str) -> contextlib.AbstractContextManager[int]:
    """A uvicorn server of ``app``, a factory (one process, one event loop for every
    stream); its port."""
    command = [
        sys.executable, "-m", "uvicorn", "--factory", app,
        "--host", "127.0.0.1", "--port", "0", "--no-access-log",
    ]  # fmt: skip
    return _server(
        command,
        rb"Uvicorn running on http://127\.0\.0\.1:(\d+)",
    )


@contextlib.contextmanager
def _server(command: list[str], listening: bytes) -> Iterator[int]:
    """A server process started with ``command``; its port, read from its log."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                log.seek(0)
                found = re.search(listening, log.read())
                if found is not None:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start: {log.read().decode()}")
                time.sleep(0.05)
            yield int(found[1])
        finally:
            process.terminate()
            process.wait(10)


def _call(port: int, method: str, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def many_clients(*, whole: bool, asgi: str = "") -> tuple[float, float, float, float, int]:
    """CPU seconds of the server per second of job (and of them in the kernel), p50 and
    p99 delay from on_progress to a client, and the bytes the clients read; with
    ``asgi``, of that app factory under uvicorn rather than Flask under gunicorn."""
    with _uvicorn(asgi) if asgi else _gunicorn(whole) as port:
        job_id = _call(port, "POST", "/bench/job")["id"]
        seen: list[list[tuple[float, int]]] = [[] for _ in range(CLIENTS)]
        read = [0] * CLIENTS
        ready = threading.Barrier(CLIENTS + 1)

        def client(index: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", f"/transfers/{job_id}/events")
            response = conn.getresponse()
            loaded = -1
            first = True
            while line := response.readline():
                read[index] += len(line)
                if line.startswith(b"event: end"):
                    break
                if not line.startswith(b"data: "):
                    continue
                if first:
                    first = False
                    ready.wait()
                match = _LOADED.search(line)
                if match is not None and int(match[1]) > loaded:
                    loaded = int(match[1])
                    seen[index].append((time.monotonic(), loaded))
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        ready.wait()  # every client has the job whole
        started = time.monotonic()
        cpu = _call(port, "POST", "/bench/go")
        for thread in threads:
            thread.join(120)
        ended = max(times[-1][0] for times in seen if times)
        state = _call(port, "GET", "/bench/state")
    delays = []
    for times in seen:
        # For each step, the first time the client saw it or a later one (coalesced).
        position = 0
        for step, sent in enumerate(state["sent"], start=1):
            while position < len(times) and times[position][1] < step:
                position += 1
            if position == len(times):
                raise RuntimeError(f"a client never saw step {step}")
            delays.append(times[position][0] - sent)
    cuts = statistics.quantiles(delays, n=100)
    seconds = ended - started
    user, system = (state[key] - cpu[key] for key in ("user", "system"))
    return (user + system) / seconds, system / seconds, cuts[49], cuts[98], sum(read)


def main() -> int:
    """Print the figures, before and now, beside the targets."""
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}")
    ok = True
    print("bytes of an update in which one file moved (job stream / all-jobs stream):")
    sizes = {}
    for files in (100, 1_000, 10_000):
        sizes[files] = now = update_bytes(files, whole=False)
        before = update_bytes(files, whole=True)
        print(f"  {files:>6,} files: {now[0]:>5,} / {now[1]:>5,} B   before: {before[0]:>9,} B")
    biggest = max(sizes[10_000])
    grows = biggest / max(sizes[100])
    met = biggest < UPDATE_BYTES_TARGET and grows < 1.1
    ok &= met
    print(
        f"  10,000 files: {biggest:,} B, {grows:.2f}x the 100-file job's"
        f"  target < {UPDATE_BYTES_TARGET:,} B and independent of the size  "
        f"{'ok' if met else 'MISSED'}"
    )
    print(
        f"{CLIENTS} clients of a {FILES:,}-file job's stream over HTTP, {STEPS} steps of "
        f"{STEP_SECONDS * 1000:.0f} ms, medians of {ROUNDS} (interleaved):"
    )
    contenders: dict[str, dict[str, Any]] = {
        "Django ASGI, uvicorn": {"whole": False, "asgi": "benchmarks.web:bench_django_asgi"},
        "WSGI, gunicorn gthread": {"whole": False},
        "WSGI, every update whole": {"whole": True},
        "sketch: one event loop": {"whole": False, "asgi": "benchmarks.web_asgi:bench_asgi"},
    }
    runs: dict[str, list[tuple[float, float, float, float, int]]] = {c: [] for c in contenders}
    for _ in range(ROUNDS):
        for label, options in contenders.items():
            runs[label].append(many_clients(**options))
    for label in contenders:
        cpu, system, p50, p99, sent = (
            statistics.median(run[i] for run in runs[label]) for i in range(5)
        )
        print(
            f"  {label:<30} CPU {cpu:.3f} s/s (kernel {system:.3f})   delay p50"
            f" {p50 * 1000:6.1f} ms  p99 {p99 * 1000:7.1f} ms   {sent / 1e6:6.1f} MB read"
        )
        if label in ("Django ASGI, uvicorn", "WSGI, gunicorn gthread"):
            met = cpu < CPU_TARGET and p99 < P99_TARGET
            ok &= label != "Django ASGI, uvicorn" or met  # the setup recommended for many
            print(
                f"  {label}: target CPU < {CPU_TARGET} s/s, p99 < {P99_TARGET * 1000:.0f} ms  "
                f"{'ok' if met else 'MISSED'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
