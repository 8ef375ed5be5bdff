"""Turning a name that came from a remote into a path below a destination, safely.

S3 keys and Hugging Face tree entries are chosen by whoever controls the bucket or the
repository. Every such name passes :func:`relative_parts` once, before it becomes part of
a destination path: it must be a relative ``/``-separated name whose segments are neither
empty nor ``.`` or ``..``, with no NUL and no backslash (a path separator elsewhere, and
never needed in a name we write). :func:`join_below` then joins it to a local folder and
checks that the result still lies below that folder.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from transferqueue._errors import TransferQueueError


class UnsafeRemoteNameError(TransferQueueError, ValueError):
    """A remote name (an S3 key, a Hugging Face path) that cannot safely become a path
    below the destination: absolute, with an empty, ``.`` or ``..`` segment, a NUL or a
    backslash. ``name`` is the offending name, ``where`` the remote it came from."""

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type

    def __init__(self, name: object, reason: str, *, where: str) -> None:
        super().__init__(name, reason, where)
        self.name = name
        self.reason = reason
        self.where = where

    def __reduce__(self) -> tuple[Any, ...]:
        # where is keyword-only, which the default reduction of exceptions cannot pass.
        return (functools.partial(type(self), where=self.where), (self.name, self.reason))

    def __str__(self) -> str:
        return f"refusing the name {self.name!r} from {self.where}: {self.reason}"


def relative_parts(name: object, *, where: str) -> tuple[str, ...]:
    """The segments of ``name``, a relative ``/``-separated remote name, once it is proven
    safe; raises :class:`UnsafeRemoteNameError` naming the problem otherwise.

    ``where`` describes the remote (``s3://bucket/prefix``, ``model owner/repo@main``)
    for the message.
    """
    if not isinstance(name, str):
        raise UnsafeRemoteNameError(name, "not a string", where=where)
    if not name:
        raise UnsafeRemoteNameError(name, "empty", where=where)
    if "\x00" in name:
        raise UnsafeRemoteNameError(name, "contains a NUL character", where=where)
    if "\\" in name:
        raise UnsafeRemoteNameError(name, "contains a backslash", where=where)
    if name.startswith("/"):
        raise UnsafeRemoteNameError(name, "absolute", where=where)
    parts = tuple(name.split("/"))
    if "" in parts:
        raise UnsafeRemoteNameError(name, "has an empty segment", where=where)
    if "." in parts or ".." in parts:
        raise UnsafeRemoteNameError(name, "has a '.' or '..' segment", where=where)
    return parts


def join_below(root: str | os.PathLike[str], name: object, *, where: str) -> str:
    """``root`` joined with the remote ``name``, which must pass :func:`relative_parts`;
    the result is checked to lie strictly below ``root`` (lexically: a link inside the
    destination is the destination owner's own)."""
    parts = relative_parts(name, where=where)
    base = os.path.abspath(os.fspath(root))
    joined = os.path.join(os.fspath(root), *parts)
    resolved = os.path.abspath(joined)
    if resolved == base or os.path.commonpath([base, resolved]) != base:
        # Unreachable after relative_parts on POSIX; kept so the promise holds on any OS.
        raise UnsafeRemoteNameError(name, "leads outside the destination", where=where)
    return joined
