"""A URLconf to include: ``path("transfers/", include("transferqueue.web.django.urls"))``.

It serves the process-wide ``transferqueue.transfer_queue`` (routes and URL names: see
:mod:`transferqueue.web.django`; its application namespace is ``transferqueue``), with
the view options of the ``TRANSFERQUEUE`` setting (``CAN_ACCESS`` or ``PUBLIC``,
``HIDE_PATHS``, ``CAMEL_CASE``, ``KEEPALIVE``; see :mod:`transferqueue.web.django`).

Without ``CAN_ACCESS`` or ``"PUBLIC": True`` every route answers 403 (and a warning is
logged when this module is imported). The setting is read once, when Django first imports
this module (at the first request or the first ``reverse()``); changing it later has no
effect on these patterns. A bad setting raises ``ImproperlyConfigured`` naming the key.
To serve another queue, include ``transfer_urls(queue, ...)`` instead.
"""

from __future__ import annotations

from django.urls import URLPattern

from ._settings import read_settings
from ._views import transfer_urls

urlpatterns: list[URLPattern]
app_name: str
urlpatterns, app_name = transfer_urls(**read_settings().view_options)
