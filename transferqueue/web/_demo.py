"""The demo web app: a page that starts sample copies and follows them live over SSE.

``demo_app(queue, workdir)`` returns a Flask app serving the page at ``/``, its files at
``/static/``, the transfer blueprint at ``/transfers`` and one ``POST /demo/<kind>`` route
per sample job (see :data:`DEMO_KINDS`). Each sample job gets a fresh folder in
``workdir`` with generated source files, copied by :class:`LocalCopy` slowed down on
purpose so that a person can watch the bars move and press Cancel in time.
``transferqueue demo --web`` runs it (see :mod:`transferqueue._cli.demo`).

The demo has no login: its transfer routes are public, for the one person at this
machine, and the app answers only requests that name it by a local name (see
:mod:`transferqueue.web._local_only`), which keeps other sites' pages out.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import flask

from transferqueue._core.queue import TransferQueue
from transferqueue._executor import ProgressCallback
from transferqueue._records.enums import TransferType
from transferqueue._records.records import TransferFile
from transferqueue.executors import LocalCopy

from ._flask import transfer_blueprint
from ._local_only import LOCAL_NAMES, guard_local_only

_KiB = 1024
_MiB = 1024 * _KiB
_CHUNK = 256 * _KiB  # progress is reported, and the copy paused, after each chunk


@attrs.frozen
class DemoKind:
    """One sample job the page can start: its files, and whether it is the slow one.

    ``sizes`` maps each file's name to its size; a name in ``missing`` is listed with its
    size but never created, so its copy fails with ``FileNotFoundError``.
    """

    sizes: tuple[tuple[str, int], ...]
    missing: frozenset[str] = frozenset()
    slow: bool = False


DEMO_KINDS: dict[str, DemoKind] = {
    "copy": DemoKind(
        (
            ("report.pdf", 3 * _MiB),
            ("photo-01.jpg", 3 * _MiB // 2),
            ("dataset.csv", 6 * _MiB),
            ("notes.txt", _MiB // 2),
        ),
    ),
    "failing": DemoKind(
        (
            ("part-1.bin", 2 * _MiB),
            ("part-2.bin", _MiB),
            ("missing.bin", _MiB),
            ("part-3.bin", 2 * _MiB),
        ),
        missing=frozenset({"missing.bin"}),
    ),
    # Two files, so that one of the queue's three slots stays free for the other samples.
    "slow": DemoKind((("video-a.mp4", 12 * _MiB), ("video-b.mp4", 12 * _MiB)), slow=True),
}
"""The sample jobs by the ``<kind>`` of their ``POST /demo/<kind>`` route."""


class ThrottledCopy:
    """:class:`LocalCopy` in chunks of 256 KiB with a pause of ``pause`` seconds after each.

    The pause is ``on_progress.wait_cancelled``, so a cancel ends it at once, and the copy
    then stops (its temporary file removed, as :class:`LocalCopy` does on any error).
    """

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self._copy = LocalCopy(chunk_size=_CHUNK)

    def __call__(self, file: TransferFile, on_progress: ProgressCallback) -> None:
        """Copy ``file`` slowly; see the class."""

        def report(done: int) -> None:
            on_progress(done)
            # LocalCopy reports 0 before it starts: no chunk to pause after yet.
            if done and on_progress.wait_cancelled(self.pause):
                on_progress.raise_if_cancelled()

        self._copy(file, report)


class _Samples:
    """Creates each sample job's folder and files, and queues the job."""

    def __init__(self, queue: TransferQueue, workdir: Path, pause: float, slow_pause: float):
        self._queue = queue
        self._workdir = workdir
        self._copy = ThrottledCopy(pause)
        self._slow_copy = ThrottledCopy(slow_pause)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()  # guards _numbers: requests come in many threads

    def start(self, name: str, kind: DemoKind) -> str:
        with self._lock:
            number = next(self._numbers)
        # The folder's name is what the page shows as the job's title ("slow-3").
        folder = self._workdir / f"{name}-{number}"
        files = []
        for file_name, size in kind.sizes:
            source = folder / "source" / file_name
            if file_name not in kind.missing:
                _generate(source, size)
            files.append(
                {
                    "source_path": str(source),
                    "destination_path": str(folder / "copy" / file_name),
                    "size": size,
                }
            )
        executor = self._slow_copy if kind.slow else self._copy
        return self._queue.queue_job(TransferType.LOCAL_UPLOAD, files, executor)


def _generate(path: Path, size: int) -> None:
    """Write ``size`` bytes of a repeated random block to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(64 * _KiB)
    with open(path, "wb") as out:
        for start in range(0, size, len(block)):
            out.write(block[: size - start])


def demo_app(
    queue: TransferQueue,
    workdir: str | os.PathLike[str],
    *,
    pause: float = 0.1,
    slow_pause: float = 0.5,
    keepalive: float = 5.0,
    hosts: Iterable[str] = LOCAL_NAMES,
) -> flask.Flask:
    """Return the demo's Flask app, running its sample jobs on ``queue`` in ``workdir``.

    ``pause`` is the wait in seconds after each 256 KiB of a sample copy (about 2.5 MiB/s
    per file by default), ``slow_pause`` the same for the slow job (0.5 MiB/s per file,
    so that its 24 MiB take about 24 s: time to press Cancel).
    ``keepalive`` is the SSE keep-alive interval of the transfer routes. ``hosts`` are the
    names a request may give in its ``Host`` header (with the port it came in on); any
    other is answered 400, as is a ``POST`` or ``DELETE`` sent from another site's page
    (403). The caller owns ``queue`` and ``workdir``: it shuts the one down and removes
    the other.
    """
    app = flask.Flask(__name__)  # serves transferqueue/web/static/ at /static/
    guard_local_only(app, hosts)
    # Public: no login, for whoever sits at this machine; the guard keeps other sites out.
    app.register_blueprint(
        transfer_blueprint(queue, public=True, keepalive=keepalive), url_prefix="/transfers"
    )
    samples = _Samples(queue, Path(workdir), pause, slow_pause)

    @app.get("/")
    def page() -> flask.Response:
        return app.send_static_file("demo.html")

    @app.post("/demo/<kind>")
    def start_demo(kind: str) -> tuple[flask.Response, int, dict[str, str]] | flask.Response:
        if not flask.request.is_json:
            # The page sends JSON, which a cross-site form or no-cors fetch cannot: another
            # site open in the browser cannot make the demo write files.
            response = flask.jsonify({"error": "send the request with a JSON body"})
            response.status_code = 415
            return response
        sample = DEMO_KINDS.get(kind)
        if sample is None:
            response = flask.jsonify({"error": f"no demo job {kind!r}; try {sorted(DEMO_KINDS)}"})
            response.status_code = 404
            return response
        job_id = samples.start(kind, sample)
        job = queue.get_job(job_id)
        body: dict[str, Any] = {"id": job_id}
        if job is not None:  # pragma: no branch - None only if retention dropped it already
            body = job.to_dict(camel_case=True)
        return flask.jsonify(body), 201, {"Location": f"/transfers/{job_id}"}

    return app
