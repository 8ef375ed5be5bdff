"""Django settings for the tests: configured once per process, since Django allows no second.

Each test that needs URLs builds its own URLconf module and activates it with
``django.test.override_settings(ROOT_URLCONF=module)``.
"""

from __future__ import annotations

import django
from django.conf import settings


def configure() -> None:
    """Configure Django for this process (idempotent)."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="transferqueue-tests",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["transferqueue.web.django"],
        MIDDLEWARE=[],
        ROOT_URLCONF="tests.helpers.django_project",
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()


urlpatterns: list[object] = []
