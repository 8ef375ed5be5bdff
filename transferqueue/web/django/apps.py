"""The Django application: ``"transferqueue.web.django"`` in ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from transferqueue._core.singleton import set_shared_limit

from ._checks import check_asgi_disconnect, check_gzip_middleware
from ._settings import read_settings


class TransferQueueConfig(AppConfig):
    """Reads and checks the ``TRANSFERQUEUE`` setting when Django starts, gives its
    ``CONCURRENCY_LIMIT`` to the process-wide queue, and registers the system checks."""

    name = "transferqueue.web.django"
    label = "transferqueue"
    verbose_name = "Transfer queue"

    def ready(self) -> None:
        """Check the setting (a bad one stops the start with ``ImproperlyConfigured``),
        apply its limit, register the checks."""
        configured = read_settings()
        if configured.concurrency_limit is not None:
            set_shared_limit(configured.concurrency_limit)
        checks.register(check_gzip_middleware)
        checks.register(check_asgi_disconnect)
