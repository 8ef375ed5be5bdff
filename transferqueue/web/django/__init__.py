"""Django views for a queue's jobs: JSON, cancelling, and progress over Server-Sent Events.

Needs Django (``pip install transferqueue[django]``). Add ``"transferqueue.web.django"``
to ``INSTALLED_APPS``: Django then checks the ``TRANSFERQUEUE`` setting when it starts
(a bad one raises ``ImproperlyConfigured`` naming its key), gives its
``CONCURRENCY_LIMIT`` to the process-wide ``transferqueue.transfer_queue``, and runs the
system checks ``transferqueue.W001`` (a GZip middleware holds the events back) and
``transferqueue.W002`` (Django before 5.0 under ASGI) with ``manage.py check``. Two ways
to mount the views:

- ``path("transfers/", include("transferqueue.web.django.urls"))`` serves the process-wide
  queue with the view options of ``TRANSFERQUEUE`` (see
  :mod:`transferqueue.web.django.urls`);
- ``path("transfers/", include(transfer_urls(queue, can_access=...)))`` serves any queue
  with options given in code.

Either way the routes answer 403 to everything until they are given an access hook
(``can_access``) or ``public=True``.

The routes, statuses and stream format are :mod:`transferqueue.web`'s. Relative to the
prefix, with their URL names in the application namespace ``transferqueue``: ``""``
(``transferqueue:list``), ``"<job_id>"`` (``transferqueue:detail``, GET and DELETE),
``"<job_id>/pause"`` and ``"<job_id>/resume"`` (``transferqueue:pause`` and
``transferqueue:resume``, PUT), ``"<job_id>/events"`` (``transferqueue:events``) and
``"events"``
(``transferqueue:all-events``). As a Flask blueprint's list route is reached without the
prefix's trailing slash too, so is this one with Django's ``APPEND_SLASH`` (the default,
with ``CommonMiddleware``), which redirects ``GET /transfers`` to ``/transfers/``. The
access hook gets the ``django.http.HttpRequest``.

Any other method is answered 405 with an ``Allow`` header. To include the patterns twice,
give the second inclusion an instance namespace:
``include(transfer_urls(other), namespace="other")`` is reversed as ``"other:list"``.

The views are ``csrf_exempt``: ``DELETE`` and ``PUT``, their only state-changing methods,
cannot be sent by a cross-site form, and a cross-site script can send them only after a
CORS preflight that the site allows; who may cancel, pause or resume what is the access
hook's (or the app's authentication's) decision.

Serve them under WSGI with a threaded server (gunicorn with ``gthread``, say) or under ASGI
(Uvicorn, Daphne): either way each open stream holds one thread, which waits for its
job's events; under ASGI the response is an asynchronous iterator that takes each chunk
from that thread, so the event loop never waits. Keep ``GZipMiddleware`` off the streams:
it holds their small chunks back until kilobytes have gathered, so events arrive late, in
bursts.
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
