"""A URLconf to include: ``path("transfers/", include("transferqueue.web.django.urls"))``.

It serves the process-wide ``transferqueue.transfer_queue`` (routes and URL names: see
:mod:`transferqueue.web.django`), with options from the optional setting::

    TRANSFERQUEUE_WEB = {
        "can_access": "myapp.access.can_access", # dotted path or callable, or:
        # "public": True,                        # every visitor may view and cancel all
        "hide_paths": False,                     # True: file names instead of paths
        "camel_case": True,                      # False for snake_case JSON keys
        "keepalive": 15.0,                       # quiet seconds before an SSE comment
    }

Without ``can_access`` or ``"public": True`` every route answers 403 (and a warning is
logged when this module is imported). The setting is read once, when Django first imports
this module (at the first request or the first ``reverse()``); changing it later has no
effect on these patterns. A wrong key, type or value, a ``can_access`` path that does not
import, or both ``can_access`` and ``"public": True`` raise ``ImproperlyConfigured``
naming the problem. To serve another queue, include ``transfer_urls(queue, ...)`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import URLPattern
from django.utils.module_loading import import_string

from transferqueue._validation import check_positive_seconds
from transferqueue.web._endpoints import AccessHook

from ._views import transfer_urls

_SETTING = "TRANSFERQUEUE_WEB"


class _Options(TypedDict, total=False):
    camel_case: bool
    can_access: AccessHook[HttpRequest] | None
    public: bool
    hide_paths: bool
    keepalive: float


def _options_from_settings() -> _Options:
    """The keyword arguments of :func:`transfer_urls` that ``TRANSFERQUEUE_WEB`` gives."""
    raw = getattr(settings, _SETTING, None)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"{_SETTING} must be a dict, not {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in _Options.__annotations__)
    if unknown:
        known = ", ".join(_Options.__annotations__)
        raise ImproperlyConfigured(f"{_SETTING} has unknown keys {unknown} (known: {known})")
    options = _Options()
    for flag in ("camel_case", "public", "hide_paths"):
        if flag in raw:
            value = raw[flag]
            if not isinstance(value, bool):
                raise ImproperlyConfigured(
                    f"{_SETTING}[{flag!r}] must be True or False, not {value!r}"
                )
            options[flag] = value
    if "can_access" in raw:
        options["can_access"] = _access_hook(raw["can_access"])
    if options.get("can_access") is not None and options.get("public"):
        raise ImproperlyConfigured(
            f"{_SETTING} has both 'can_access' and 'public': True; give the hook (who may "
            "do what) or 'public' (everyone may do everything), not both"
        )
    if "keepalive" in raw:
        try:
            options["keepalive"] = check_positive_seconds(raw["keepalive"], "keepalive")
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"{_SETTING}['keepalive']: {exc}") from exc
    return options


def _access_hook(value: object) -> AccessHook[HttpRequest] | None:
    where = f"{_SETTING}['can_access']"
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{where}: cannot import {value!r}: {exc}") from exc
    if value is not None and not callable(value):
        raise ImproperlyConfigured(f"{where} must be callable, not {type(value).__name__}")
    return value


urlpatterns: list[URLPattern] = transfer_urls(**_options_from_settings())
