"""The exceptions of the Hugging Face executor and listing.

Which of them the default :class:`~transferqueue.RetryPolicy` retries follows from their
bases: a refusal by the hub is permanent (401/403 is a ``PermissionError``, 404 a
``FileNotFoundError``, both in the policy's ``never_retry_on``; another 4xx is no
``OSError`` at all), a failing or busy hub and a checksum mismatch are ``ConnectionError``
(retried), and what a hostile or broken hub sends (a bad listing entry, a body larger
than announced) is no ``OSError`` (not retried: it would only come again).
"""

from __future__ import annotations

import functools
from typing import Any

from transferqueue._errors import TransferQueueError


class HubError(TransferQueueError):
    """Base class of the Hugging Face errors this module raises."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubRequestError(HubError):
    """The hub answered a request with an HTTP error ``status`` for ``url`` (without its
    query, which may hold a signed link's credentials).

    Not retried by the default policy: :class:`HubAuthError` is a ``PermissionError``,
    :class:`HubNotFoundError` a ``FileNotFoundError``, and any other refusal no
    ``OSError``; :class:`HubUnavailableError` (5xx and 429) is the exception.
    """

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only fields are not in ``args``: rebuild with them.
        rebuild = functools.partial(type(self), status=self.status, url=self.url)
        return (rebuild, (self.args[0],), self.__dict__)


class HubAuthError(HubRequestError, PermissionError):
    """401 or 403: the token is missing, or was rejected, for this repository.

    A ``PermissionError``, as a refused S3 or local access is: permanent under the default
    retry policy.
    """

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubNotFoundError(HubRequestError, FileNotFoundError):
    """404: no such repository, revision or file.

    A ``FileNotFoundError``, as a missing S3 key or local file is: permanent under the
    default retry policy.
    """

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubUnavailableError(HubRequestError, ConnectionError):
    """5xx or 429: the hub is failing or busy; a ``ConnectionError``, hence retried."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubCertificateError(HubError):
    """The server's TLS certificate could not be verified. Not retried: another attempt
    would meet the same certificate. A private CA is trusted with ``SSL_CERT_FILE``."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubChecksumError(HubError, ConnectionError):
    """The file on disk did not match the sha256 the hub announced (``X-Linked-Etag``,
    for LFS files); the partial file was discarded, so a retry (it is a
    ``ConnectionError``) downloads afresh."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubSizeError(HubError):
    """The server sent, or announced, more bytes than the file has: more than its listed
    ``size``, its ``Content-Length`` or its ``Content-Range``. The partial file was
    removed. Not retried: a stale listing or a broken server would only do it again."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type


class HubEntryError(HubError, ValueError):
    """An entry of the hub's file list that cannot be used: not an object, without a
    type, a path or a size of the right kind, or a path listed twice. ``entry`` is the
    entry (or the field) at fault, ``reason`` what is wrong, ``where`` the repository."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type

    def __init__(self, entry: object, reason: str, *, where: str) -> None:
        super().__init__(entry, reason, where)
        self.entry = entry
        self.reason = reason
        self.where = where

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = functools.partial(type(self), where=self.where)
        return (rebuild, (self.entry, self.reason), self.__dict__)

    def __str__(self) -> str:
        shown = repr(self.entry)
        if len(shown) > 200:  # a hostile entry may be huge
            shown = shown[:200] + "..."
        return f"refusing an entry of the file list of {self.where}: {self.reason}: {shown}"
