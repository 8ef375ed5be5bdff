"""Django views for a queue's jobs: JSON, cancelling, and progress over Server-Sent Events.

Needs Django (``pip install transferqueue[django]``). Two ways to mount them:

- ``path("transfers/", include("transferqueue.web.django.urls"))`` serves the process-wide
  ``transferqueue.transfer_queue``, configured by the ``TRANSFERQUEUE_WEB`` setting (see
  :mod:`transferqueue.web.django.urls`);
- ``path("transfers/", include(transfer_urls(queue, can_access=...)))`` serves any queue
  with options given in code.

Routes, relative to the prefix, with their URL names for ``reverse()``:

``""`` (``transfers-list``), ``GET``
    every job the caller may view, as a JSON list.
``"<job_id>"`` (``transfers-detail``), ``GET``
    one job; 404 with a JSON error for an unknown id or one the caller may not view (so
    that ids do not leak).
``"<job_id>"`` (``transfers-detail``), ``DELETE``
    cancel it: 200 with the cancelled snapshot; 404 unknown (or not viewable), 403 when
    the caller may view but not cancel it, 409 when it has finished already.
``"<job_id>/events"`` (``transfers-events``), ``GET``
    ``text/event-stream``: ``data: <job>`` with the job as it stands at once, then each
    update, ``: keep-alive`` comments while quiet, and after the terminal snapshot an
    ``event: end`` (call ``es.close()`` on it), then the end of the stream. A finished
    job gets its terminal snapshot and ``end`` at once; a browser reconnecting after the
    end (``Last-Event-ID: end``) gets 204 No Content, which stops ``EventSource``.
``"events"`` (``transfers-all-events``), ``GET``
    ``text/event-stream`` for every job the caller may view: first ``event: jobs`` with
    the list of the current jobs, then ``event: created`` and ``event: updated`` with one
    job each, and keep-alive comments; it never ends by itself.

Any other method is answered 405 with an ``Allow`` header. To include the patterns twice,
give each inclusion a namespace: ``include((transfer_urls(other), "other"))`` is reversed
as ``"other:transfers-list"``.

The access hook ``can_access(request, job, action)`` gets the ``django.http.HttpRequest``
and is consulted on every route, in the request's thread: ``action`` is ``"view"`` or
``"cancel"``; ``job`` is None for the collection routes (answered 403 when denied), and
then each job is filtered with its own ``"view"`` call.

The views are ``csrf_exempt``: ``DELETE``, their only state-changing method, cannot be sent
by a cross-site form, and a cross-site script can send it only after a CORS preflight that
the site allows; who may cancel what is the access hook's (or the app's authentication's)
decision.

Serve them with a threaded WSGI server (gunicorn with ``gthread``, say): each open stream
holds one thread. Not under ASGI (Daphne, Uvicorn): Django reads a synchronous stream to its
end before sending any of it there, so a job's events would arrive only when it finished
and the all-jobs stream never. Keep ``GZipMiddleware`` off the streams: it holds their small
chunks back until kilobytes have gathered, so events arrive late, in bursts.
"""

from __future__ import annotations

from ._views import transfer_urls

__all__ = ["transfer_urls"]
