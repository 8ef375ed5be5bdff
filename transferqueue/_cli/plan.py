"""What ``transferqueue cp SRC... DEST`` copies: the plan of (source, destination, size)
entries, made from the sources' listings, before anything is copied.

As ``cp -r`` names copies: inside a folder DEST each source keeps its last segment; a
single source onto a DEST that is no folder becomes DEST. Whatever the listings return,
every planned destination must lie in DEST, and no two files may land on one; what breaks
a rule is bad usage (:class:`_UsageError`, exit status 2), found before anything is copied.
"""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, Any

from transferqueue.executors._files.remote_names import UnsafeRemoteNameError, relative_parts
from transferqueue.executors._hub.errors import HubError
from transferqueue.executors._path_filter import PathFilter
from transferqueue.executors._routing import list_files, location_kind, transfer_type_for
from transferqueue.executors._s3_url import S3_SCHEME

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class _UsageError(Exception):
    """Bad usage found after parsing: exit status 2."""


def _is_folder(destination: str) -> bool:
    if location_kind(destination) == "s3":
        # s3://bucket names no object: a bucket is where objects go, like a folder.
        return destination.endswith("/") or "/" not in destination[len(S3_SCHEME) :]
    return destination.endswith(("/", os.sep)) or os.path.isdir(destination)


def _name(source: str) -> str:
    """The last part of a source's path, as ``cp`` names the copy inside a folder."""
    if location_kind(source) == "s3":
        rest = source[len(S3_SCHEME) :].rstrip("/")
        return posixpath.basename(rest) or rest
    return os.path.basename(os.path.normpath(source))


def _folder_name(source: str, destination: str) -> str:
    """:func:`_name` of ``source``, which must name something inside the folder
    ``destination``: never ``..``, and for S3 a single safe segment (a key is taken
    literally, so ``.`` would not mean "the prefix itself"); a ``_UsageError`` naming
    the source otherwise."""
    name = _name(source)
    if location_kind(source) == "s3":
        try:
            relative_parts(name, where=source)
        except UnsafeRemoteNameError as exc:
            raise _UsageError(
                f"cannot copy {source} into {destination}: its name {name!r} {exc.reason}"
            ) from None
    elif name == os.pardir:  # "." or "" (the root) copy the contents, as cp -r does
        raise _UsageError(
            f"cannot copy {source} into {destination}: its name {name!r} leads out of it"
        )
    return name


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, lexically (as planned, before
    anything exists)."""
    if location_kind(folder) == "s3":
        inner, outer = posixpath.normpath(path[5:]), posixpath.normpath(folder[5:])
        separator = "/"
    else:
        inner, outer = os.path.abspath(path), os.path.abspath(folder)
        separator = os.sep
    return inner == outer or inner.startswith(outer.rstrip(separator) + separator)


def _join(folder: str, name: str) -> str:
    if location_kind(folder) == "s3":
        return folder.rstrip("/") + "/" + name
    return os.path.join(folder, name)


class LazyS3Client:
    """The one boto3 S3 client of a ``cp``: made on the first call (boto3 is imported only
    when an S3 location comes), then the same for the listings and the transfers. Used
    from the main thread only, so it needs no lock."""

    def __init__(self) -> None:
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            from transferqueue.executors._s3 import make_s3_client

            self._client = make_s3_client()
        return self._client


def plan(
    sources: Sequence[str],
    destination: str,
    *,
    on_error: Callable[[Exception], None] | None = None,
    s3_client: Callable[[], Any] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    compare: str = "none",
    update: bool = False,
) -> list[dict[str, Any]]:
    """The files that ``cp sources destination`` copies, as ``queue_job`` takes them.

    As ``cp -r``: a source goes into ``destination`` under its own name when there are
    several sources or ``destination`` is an existing folder (or ends with ``/``); a
    single source otherwise becomes ``destination``. ``hf://`` sources always go into
    ``destination`` as a folder. Raises ``_UsageError`` for an unsupported pair, a
    missing or unreadable source, an S3 source with nothing under it, two files planned
    onto one destination (the same source given twice included), and a destination that
    would not lie in (or be) ``destination``, such as ``s3://bucket/..`` copied into a
    folder.

    ``on_error`` is given to the listing of every source (see
    :func:`~transferqueue.executors.list_files`): with it, a folder below a source that
    cannot be read, an S3 key or a hub path that cannot safely become a path below the
    destination, and a hub entry that is not a usable file, are reported to it and left
    out, and so is a local source that is
    missing or cannot be read when there are several (one alone is a ``_UsageError``);
    without it, all of that is a ``_UsageError``.

    ``s3_client`` gives the client that S3 sources are listed with (a fresh one each
    otherwise).

    ``include`` and ``exclude`` are the glob patterns of ``--include`` and ``--exclude``
    (see :class:`~transferqueue.executors.PathFilter`), given to every listing; a bad
    pattern is a ``_UsageError``. With patterns, an S3 source of which nothing is kept
    copies nothing rather than being refused as missing.

    ``compare`` and ``update`` are ``--compare`` and ``--update``, given to every
    listing (see :func:`~transferqueue.executors.skip_up_to_date`): each file whose
    destination is up to date is planned with ``"skip": True``.
    """
    try:
        PathFilter(include, exclude)
    except ValueError as exc:
        raise _UsageError(f"bad pattern: {exc}") from None
    into_folder = len(sources) > 1 or _is_folder(destination)
    files: list[dict[str, Any]] = []
    for source in sources:
        try:
            transfer_type_for(source, destination)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
        kind = location_kind(source)
        target = destination
        if kind != "hf" and into_folder:
            target = _join(destination, _folder_name(source, destination))
        if kind == "local" and location_kind(target) == "local" and _inside(target, source):
            raise _UsageError(f"cannot copy {source} into itself ({target})")
        try:
            # The S3 client lists an S3 source, and an S3 destination to compare with.
            comparing = compare != "none" or update
            to_s3 = comparing and location_kind(destination) == "s3" and kind == "local"
            options = {"client": s3_client()} if (kind == "s3" or to_s3) and s3_client else {}
            found = list_files(
                source,
                target,
                on_error=on_error,
                include=include,
                exclude=exclude,
                compare=compare,
                update=update,
                **options,
            )
        except ImportError as exc:  # S3 without boto3
            raise _UsageError(f"{exc}; install it with: pip install 'transferqueue[s3]'") from None
        except OSError as exc:
            if on_error is not None and kind == "local" and len(sources) > 1:
                on_error(exc)  # as cp -r: the other sources are still copied
                continue
            raise _UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
        except (ValueError, HubError) as exc:
            raise _UsageError(f"cannot read {source}: {exc}") from None
        if not found and kind == "s3" and not (include or exclude):
            raise _UsageError(f"no such S3 object or prefix: {source}")
        for file in found:
            if not _within(file["destination_path"], destination):
                raise _UsageError(
                    f"cannot copy {source}: {file['source_path']} would be copied to "
                    f"{file['destination_path']}, outside {destination}"
                )
        files.extend(found)
    # Two files landing on one destination (the same source twice, too) would race,
    # and one would be lost.
    seen: dict[str, str] = {}
    for file in files:
        target = file["destination_path"]
        if target in seen:
            raise _UsageError(
                f"{seen[target]} and {file['source_path']} would both be copied to {target}"
            )
        seen[target] = file["source_path"]
    return files


def _inside(target: str, source: str) -> bool:
    """Whether the local path ``target`` lies in (or is) the local folder ``source``."""
    if not os.path.isdir(source):
        return False
    folder = os.path.realpath(source)
    path = os.path.realpath(target)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
