"""Django views for a queue's jobs: JSON, cancelling, and progress over Server-Sent Events.

Needs Django (``pip install transferqueue[django]``). Two ways to mount them:

- ``path("transfers/", include("transferqueue.web.django.urls"))`` serves the process-wide
  ``transferqueue.transfer_queue``, configured by the ``TRANSFERQUEUE_WEB`` setting (see
  :mod:`transferqueue.web.django.urls`);
- ``path("transfers/", include(transfer_urls(queue, can_access=...)))`` serves any queue
  with options given in code.

Either way the routes answer 403 to everything until they are given an access hook
(``can_access``) or ``public=True``.

The routes, statuses and stream format are :mod:`transferqueue.web`'s. Relative to the
prefix, with their URL names for ``reverse()``: ``""`` (``transfers-list``; with the
trailing slash of the prefix only), ``"<job_id>"`` (``transfers-detail``, GET and DELETE),
``"<job_id>/events"`` (``transfers-events``) and ``"events"`` (``transfers-all-events``).
The access hook gets the ``django.http.HttpRequest``.

Any other method is answered 405 with an ``Allow`` header. To include the patterns twice,
give each inclusion a namespace: ``include((transfer_urls(other), "other"))`` is reversed
as ``"other:transfers-list"``.

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

try:
    import django  # noqa: F401
except ModuleNotFoundError as exc:
    raise ImportError(
        "transferqueue.web.django needs Django: pip install 'transferqueue[django]'"
    ) from exc

from ._views import transfer_urls

__all__ = ["transfer_urls"]
