"""Retry policies: which failures are tried again, how often, and after how long."""

from __future__ import annotations

import math
import ssl
from typing import Any

import attrs

from transferqueue._errors import TransferCancelled

DEFAULT_RETRY_ON: tuple[type[BaseException], ...] = (OSError,)
"""Transient by default: ``OSError`` and its subclasses (``ConnectionError``,
``TimeoutError``, ...), which is what network and disk hiccups raise."""

DEFAULT_NEVER_RETRY_ON: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ssl.SSLCertVerificationError,
)
"""The ``OSError`` subclasses that another attempt would only repeat: a missing source,
an existing destination, a folder where a file belongs, a refused permission, a server
certificate that cannot be verified."""


def _check_attempts(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int:
        raise TypeError(f"RetryPolicy.{attribute.name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 1, got {value}")


def _check_number(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"RetryPolicy.{attribute.name} must be a number, not {type(value).__name__}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be finite and >= 0, got {value}")


def _check_multiplier(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    _check_number(instance, attribute, value)
    if value < 1:
        raise ValueError(f"RetryPolicy.multiplier must be >= 1, got {value}")


def _check_jitter(instance: Any, attribute: attrs.Attribute[float], value: float) -> None:
    _check_number(instance, attribute, value)
    if value > 1:
        raise ValueError(f"RetryPolicy.jitter must be between 0 and 1, got {value}")


def _exception_types(value: object, name: str) -> tuple[type[BaseException], ...]:
    """Field ``name`` as a tuple: one exception class, or a tuple/list of them."""
    types = (value,) if isinstance(value, type) else value
    # Not a set: its order, and so the policy's equality, would vary from run to run.
    if not isinstance(types, tuple | list):
        raise TypeError(
            f"RetryPolicy.{name} must be an exception class or a tuple of them, "
            f"not {type(value).__name__}"
        )
    for exc_type in types:
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"RetryPolicy.{name} holds {exc_type!r}, not an exception class")
    return tuple(types)


def _retry_on(value: object) -> tuple[type[BaseException], ...]:
    return _exception_types(value, "retry_on")


def _never_retry_on(value: object) -> tuple[type[BaseException], ...]:
    return _exception_types(value, "never_retry_on")


@attrs.frozen
class RetryPolicy:
    """When and how a failed file is tried again; immutable, so one policy can be shared.

    A file is tried at most ``max_attempts`` times in all (1 means never retried). After
    its ``n``-th failed attempt it waits ``min(max_delay, initial_delay * multiplier **
    (n - 1))`` seconds, shortened by a random fraction of up to ``jitter`` (0: exactly
    that long; 1: anywhere from 0 up to it, "full jitter"), so that many files failing
    together do not all come back at once. Only exceptions that are instances of
    ``retry_on`` and not of ``never_retry_on`` count as transient (by default an
    ``OSError`` that is not a missing file, an existing destination, a folder mix-up or a
    refused permission); :class:`TransferCancelled` and the failures of a cancelled job
    never are.

    While a file waits it holds no concurrency slot; cancelling its job ends the wait at
    once, and so does shutting the queue down (the file then fails with its last error).
    """

    max_attempts: int = attrs.field(default=3, validator=_check_attempts)
    initial_delay: float = attrs.field(default=1.0, validator=_check_number)
    multiplier: float = attrs.field(default=2.0, validator=_check_multiplier)
    max_delay: float = attrs.field(default=60.0, validator=_check_number)
    jitter: float = attrs.field(default=0.5, validator=_check_jitter)
    retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=DEFAULT_RETRY_ON, converter=_retry_on
    )
    never_retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=DEFAULT_NEVER_RETRY_ON, converter=_never_retry_on
    )

    def is_transient(self, error: BaseException) -> bool:
        """True if ``error`` is worth another attempt under this policy."""
        return (
            isinstance(error, self.retry_on)
            and not isinstance(error, self.never_retry_on)
            and not isinstance(error, TransferCancelled)
        )

    def should_retry(self, error: BaseException, failed_attempts: int) -> bool:
        """True if a file whose ``failed_attempts``-th attempt raised ``error`` goes again."""
        return failed_attempts < self.max_attempts and self.is_transient(error)

    def delay(self, failed_attempts: int, random_fraction: float = 1.0) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed attempt.

        ``random_fraction`` in [0, 1] picks where in the jitter range the delay falls
        (1: the full backoff; the queue draws it from ``random.random()``).
        """
        if failed_attempts < 1:
            raise ValueError(f"failed_attempts must be >= 1, got {failed_attempts}")
        if not 0 <= random_fraction <= 1:
            raise ValueError(f"random_fraction must be between 0 and 1, got {random_fraction}")
        try:
            # float: an int multiplier would make an exact big int, at any cost.
            backoff = self.initial_delay * float(self.multiplier) ** (failed_attempts - 1)
        except OverflowError:  # only an absurd number of attempts gets here: the cap applies
            backoff = math.inf if self.initial_delay else 0.0
        backoff = min(self.max_delay, backoff)
        return backoff * (1 - self.jitter * (1 - random_fraction))


NO_RETRY = RetryPolicy(max_attempts=1)
"""A policy that never retries: pass it to ``queue_job`` to override a queue's policy."""
