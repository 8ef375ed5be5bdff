"""The Celery recipe (tests/helpers/celery_recipe.py) as
tests/integration/test_celery_recipe.py runs it in a real ``celery worker`` and in
gunicorn: the recipe itself, whose executor first holds each file half-way until the
test lets it go, and whose answers name the worker that served them (the header ``X-Worker-Pid``)::

    celery -A tests.helpers.celery_recipe_app:celery_app worker --pool threads
    gunicorn -k gthread -w 2 tests.helpers.celery_recipe_app:web

Each file reports half its bytes, then waits until the Redis key
``transfers:test:go:<file name>`` exists, and then is copied by the recipe's own
executor. Should its job be cancelled first, its next report raises TransferCancelled,
which it notes in the list ``transfers:test:cancelled`` before it lets it go.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers import celery_recipe
from tests.helpers.celery_recipe import celery_app
from tests.helpers.web_apps import WSGIApp

__all__ = ["celery_app", "web"]

_client = redis.Redis.from_url(celery_recipe.REDIS_URL)
_copy = celery_recipe.executor


def _held(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
    name = os.path.basename(file.source_path)
    on_progress(file.size // 2)
    deadline = time.monotonic() + WAIT
    # Polled: the test lets the file go from its own process, through Redis.
    while not _client.exists(f"transfers:test:go:{name}"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} was never let go")
        if on_progress.wait_cancelled(0.01):
            try:
                on_progress(file.size // 2)
            except tq.TransferCancelled:
                _client.rpush("transfers:test:cancelled", name)
                raise
    _copy(file, on_progress)


celery_recipe.executor = _held


def _named(app: WSGIApp) -> WSGIApp:
    pid = str(os.getpid())

    def named(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def respond(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("X-Worker-Pid", pid)], *rest)

        answer: Iterable[bytes] = app(environ, respond)
        return answer

    return named


web = _named(celery_recipe.app)
