"""What a failed file records of its error: a message and a kind, read without trusting it.

The exception comes from an executor, that is from anyone's code: its ``__str__`` may
raise (even ``SystemExit``), its class may be odd. Reading it must never cost the worker
its slot, so nothing here raises.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

from transferqueue._errors import TransferCancelled


class Failure(NamedTuple):
    """A file's error as its record shows it: ``message`` and ``error_type``."""

    message: str
    error_type: str


# Read through type's own descriptors: a metaclass may shadow __qualname__ or __module__
# with a property that raises; these read the class's real values.
_QUALNAME: Any = type.__dict__["__qualname__"]
_MODULE: Any = type.__dict__["__module__"]
_NAME: Any = type.__dict__["__name__"]


def error_type_name(cls: type[BaseException]) -> str:
    """The name an error's kind is recorded under (``TransferFile.error_type``).

    A built-in exception is named bare (``"FileExistsError"``); any other by its module
    and qualified name (``"botocore.exceptions.ClientError"``,
    ``"transferqueue.TransferCancelled"``), as a traceback names it.
    """
    qualname = str.__str__(_QUALNAME.__get__(cls))  # a str subclass would be kept as is
    try:
        module = _MODULE.__get__(cls)
    except AttributeError:  # a class whose __module__ was deleted
        module = None
    if type(module) is not str or module == "builtins":
        return sys.intern(qualname)
    # Interned: the files failing with one kind share one string, not one each.
    return sys.intern(f"{module}.{qualname}")


CANCELLED_TYPE = error_type_name(TransferCancelled)
"""The kind recorded for the files of a cancelled job that had not completed."""


def describe_error(exc: BaseException) -> Failure:
    """Return what a file failed with ``exc`` records; never raises.

    The message is ``str(exc)``, or the class name where that is empty (S16). Where
    ``str()`` itself raises, even a ``BaseException``, it is the class name with a note
    that the message could not be read.
    """
    cls = type(exc)
    error_type = error_type_name(cls)
    try:
        # An exact str: a subclass's own methods (its __bool__, say) could raise later.
        text = str.__str__(str(exc))
    except BaseException:  # noqa: BLE001 - a broken __str__ must not cost the worker its slot
        return Failure(f"{_class_name(cls)} (its message could not be read)", error_type)
    return Failure(text or _class_name(cls), error_type)


def _class_name(cls: type[BaseException]) -> str:
    return str.__str__(_NAME.__get__(cls))
