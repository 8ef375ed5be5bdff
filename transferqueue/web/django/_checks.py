"""System checks (``manage.py check``, and at ``runserver`` and ``migrate``) for the traps
that make the event streams arrive late or stay open, each with an id to silence it by.

``transferqueue.W001``
    A GZip middleware is in ``MIDDLEWARE``: it compresses a streaming response too, and
    holds its small chunks back until kilobytes have gathered, so events arrive late, in
    bursts.
``transferqueue.W002``
    Django older than 5.0: under ASGI it does not tell a response that its client has
    gone, and an ASGI server may drop what is sent after that without an error (Uvicorn
    does), so a stream whose browser left is never ended (the all-jobs stream never ends
    by itself).
    Under WSGI this does not apply: silence it there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import django
from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage
from django.middleware.gzip import GZipMiddleware
from django.utils.module_loading import import_string

GZIP_MIDDLEWARE = "transferqueue.W001"
ASGI_WITHOUT_DISCONNECT = "transferqueue.W002"


def check_gzip_middleware(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """W001: a ``GZipMiddleware`` (or a subclass) in ``MIDDLEWARE``."""
    found: list[CheckMessage] = []
    for dotted in getattr(settings, "MIDDLEWARE", None) or []:
        try:
            middleware = import_string(dotted)
        except ImportError:
            continue  # Django's own handler reports it when it loads the middleware
        if isinstance(middleware, type) and issubclass(middleware, GZipMiddleware):
            found.append(
                checks.Warning(
                    f"{dotted} compresses the transfer event streams and holds their "
                    "events back until kilobytes have gathered: they arrive late, in bursts.",
                    hint="Take it out of MIDDLEWARE, or leave the streams out of it (a "
                    "middleware of your own that skips text/event-stream responses), and "
                    "let the web server compress the other answers.",
                    obj=dotted,
                    id=GZIP_MIDDLEWARE,
                )
            )
    return found


def check_asgi_disconnect(app_configs: Sequence[Any] | None, **kwargs: Any) -> list[CheckMessage]:
    """W002: Django before 5.0, whose ASGI handler never ends a stream whose client left."""
    if django.VERSION >= (5, 0):
        return []
    return [
        checks.Warning(
            f"Django {django.get_version()} does not notice under ASGI that a client of an "
            "event stream has gone: the stream stays open, with its thread and "
            "subscription (the all-jobs stream for ever).",
            hint=f"Serve the transfer routes under WSGI (then add {ASGI_WITHOUT_DISCONNECT!r} "
            "to SILENCED_SYSTEM_CHECKS), or upgrade to Django 5.0 or later.",
            id=ASGI_WITHOUT_DISCONNECT,
        )
    ]
