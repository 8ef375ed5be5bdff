"""The ``TRANSFERQUEUE`` setting: read, checked, and turned into what its users take.

``TRANSFERQUEUE`` is a dict with upper-case keys, as Django's own ``DATABASES`` and
``CACHES`` are; every key is optional::

    TRANSFERQUEUE = {
        "CONCURRENCY_LIMIT": 4,                     # of the process-wide queue
        "CAN_ACCESS": "myapp.access.may_see",       # dotted path or callable, or:
        # "PUBLIC": True,                           # every visitor may view and cancel all
        "HIDE_PATHS": False,                        # True: file names instead of paths
        "CAMEL_CASE": True,                         # False for snake_case JSON keys
        "KEEPALIVE": 15.0,                          # quiet seconds before an SSE comment
    }

Every problem raises ``ImproperlyConfigured`` naming the key and what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import attrs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from transferqueue._core.validation import check_limit, check_positive_seconds
from transferqueue.web._endpoints import AccessHook

SETTING = "TRANSFERQUEUE"
"""The name of the setting."""

_FORMER_SETTING = "TRANSFERQUEUE_WEB"  # its lower-case keys are TRANSFERQUEUE's now


class ViewOptions(TypedDict, total=False):
    """The keyword arguments of ``transfer_urls`` that the setting gives."""

    camel_case: bool
    can_access: AccessHook[HttpRequest] | None
    public: bool
    hide_paths: bool
    keepalive: float


_KEYS = ("CONCURRENCY_LIMIT", *(key.upper() for key in ViewOptions.__annotations__))


@attrs.frozen
class TransferQueueSettings:
    """The setting, checked: the process-wide queue's limit (None: the environment's,
    ``MAX_CONCURRENT_TRANSFERS``) and the options of the URLconf's views."""

    concurrency_limit: int | None
    view_options: ViewOptions


def read_settings() -> TransferQueueSettings:
    """``settings.TRANSFERQUEUE``, checked; raises ``ImproperlyConfigured`` naming the key."""
    if hasattr(settings, _FORMER_SETTING):
        raise ImproperlyConfigured(
            f"{_FORMER_SETTING} is now {SETTING}, with upper-case keys: "
            f"{', '.join(_KEYS)}; rename the setting and its keys"
        )
    raw = getattr(settings, SETTING, None)
    if raw is None:
        return TransferQueueSettings(None, ViewOptions())
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured(f"{SETTING} must be a dict, not {type(raw).__name__}")
    unknown = sorted(repr(key) for key in raw if key not in _KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"{SETTING} has unknown keys {', '.join(unknown)} (known: {', '.join(_KEYS)})"
        )
    limit = None
    if "CONCURRENCY_LIMIT" in raw:
        try:
            limit = check_limit(raw["CONCURRENCY_LIMIT"])
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"{SETTING}['CONCURRENCY_LIMIT']: {exc}") from exc
    return TransferQueueSettings(limit, _view_options(raw))


def _view_options(raw: Mapping[str, object]) -> ViewOptions:
    options = ViewOptions()
    if (camel_case := _flag(raw, "CAMEL_CASE")) is not None:
        options["camel_case"] = camel_case
    if (public := _flag(raw, "PUBLIC")) is not None:
        options["public"] = public
    if (hide_paths := _flag(raw, "HIDE_PATHS")) is not None:
        options["hide_paths"] = hide_paths
    if "CAN_ACCESS" in raw:
        options["can_access"] = _access_hook(raw["CAN_ACCESS"])
    if options.get("can_access") is not None and options.get("public"):
        raise ImproperlyConfigured(
            f"{SETTING} has both 'CAN_ACCESS' and 'PUBLIC': True; give the hook (who may "
            "do what) or 'PUBLIC' (everyone may do everything), not both"
        )
    if "KEEPALIVE" in raw:
        try:
            options["keepalive"] = check_positive_seconds(raw["KEEPALIVE"], "keepalive")
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"{SETTING}['KEEPALIVE']: {exc}") from exc
    return options


def _flag(raw: Mapping[str, object], key: str) -> bool | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, bool):
        raise ImproperlyConfigured(f"{SETTING}[{key!r}] must be True or False, not {value!r}")
    return value


def _access_hook(value: object) -> AccessHook[HttpRequest] | None:
    where = f"{SETTING}['CAN_ACCESS']"
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{where}: cannot import {value!r}: {exc}") from exc
    if value is not None and not callable(value):
        raise ImproperlyConfigured(f"{where} must be callable, not {type(value).__name__}")
    return value
