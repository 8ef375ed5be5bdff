"""Web integrations: ready-made HTTP endpoints (with Server-Sent Events) for a queue.

``transfer_blueprint`` needs Flask (``pip install transferqueue[flask]``); the Django views
live in ``transferqueue.web.django`` (``pip install transferqueue[django]``). Both are thin
adapters around :class:`TransferEndpoints`, which a third framework can use the same way,
and serve the same routes, relative to the prefix they are mounted under:

``GET /``
    every job the caller may view, as a JSON list.
``GET /<job_id>``
    one job; 404 with a JSON error for an unknown id or one the caller may not view (so
    that ids do not leak).
``DELETE /<job_id>``
    cancel it: 200 with the cancelled snapshot; 404 unknown (or not viewable), 403 when
    the caller may view but not cancel it, 409 when it has finished already.
``PUT /<job_id>/pause``, ``PUT /<job_id>/resume``
    pause or resume it: 200 with its snapshot (also when it was paused, or not paused,
    already: the request asks for a state); 404, 403 as for ``DELETE``; 409 when it has
    finished, belongs to another process of a Redis cluster, or the queue shut down.
    ``PUT``, like ``DELETE``, is no method a cross-site form can send.
``GET /<job_id>/events``
    ``text/event-stream``: ``data: <job>`` with the job as it stands at once, then each
    update, ``: keep-alive`` comments while quiet, and after the terminal snapshot
    ``id: end`` / ``event: end`` (call ``es.close()`` on it), then the end of the stream.
    A finished job gets its terminal snapshot and ``end`` at once; a browser reconnecting
    after the end (``Last-Event-ID: end``) gets 204 No Content, which stops ``EventSource``.
``GET /events``
    ``text/event-stream`` for every job the caller may view: first ``event: jobs`` with
    the list of the current jobs, then ``event: created`` and ``event: updated`` with one
    job each, and keep-alive comments; it never ends by itself.

The routes refuse every request (403) until the application says who may do what: an
access hook ``can_access(request, job, action)``, consulted on every route in the
request's thread (``action`` is ``"view"``, ``"cancel"``, ``"pause"`` or ``"resume"``;
``job`` is None for the
collection routes, answered 403 when denied, and then each job is filtered with its own
``"view"`` call), or ``public=True`` for routes every caller may use. ``hide_paths=True``
sends file names instead of server paths. See :class:`TransferEndpoints`.
"""

from typing import TYPE_CHECKING, Any

from ._endpoints import (
    END_EVENT_ID,
    AccessHook,
    EventStream,
    Reply,
    TransferEndpoints,
    sse_message,
)

if TYPE_CHECKING:
    from ._flask import transfer_blueprint

__all__ = [
    "END_EVENT_ID",
    "AccessHook",
    "EventStream",
    "Reply",
    "TransferEndpoints",
    "sse_message",
    "transfer_blueprint",
]


def __getattr__(name: str) -> Any:
    # Flask is optional: import it only when its blueprint is asked for.
    if name == "transfer_blueprint":
        try:
            from ._flask import transfer_blueprint
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in ("flask", "werkzeug"):
                raise
            raise ImportError(
                f"transferqueue.web.{name} needs Flask: pip install 'transferqueue[flask]'"
            ) from exc
        return transfer_blueprint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
