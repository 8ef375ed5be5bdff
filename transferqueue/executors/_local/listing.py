"""Listing a local file or folder as the file mappings ``queue_job`` takes."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from transferqueue.executors._compare import check_comparison, local_facts, mark_up_to_date
from transferqueue.executors._files.temporaries import is_temporary_name
from transferqueue.executors._path_filter import path_filter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from mypy_boto3_s3 import S3Client


def list_local_files(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    on_error: Callable[[OSError], object] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    compare: str = "none",
    update: bool = False,
    client: S3Client | None = None,
) -> list[dict[str, object]]:
    """Return the files to copy from ``source`` to ``destination``, for ``queue_job``.

    Each item is a new mapping ``{"source_path", "destination_path", "size"}`` (paths as
    ``str``, ``size`` in bytes as listed now), ready for
    ``queue.queue_job("local-upload", files, LocalCopy())``.

    - ``source`` a file (or a symlink to one): one mapping, whose destination is
      ``destination`` itself (the file's new path, not a folder to put it in). It is
      opened once to prove it can be read.
    - ``source`` a folder (or a symlink to one): every regular file below it, at any
      depth, sorted by relative path; each lands at the same relative path under
      ``destination``, as ``cp -r source destination`` does when ``destination`` does not
      exist. An empty folder gives an empty list (and empty sub-folders are not copied).

    Below a source folder, symlinks to files are followed (the file they point to is
    listed, under the link's name); symlinks to folders are not descended into (this
    keeps a link cycle from listing forever) and are left out, as are broken symlinks and
    anything else that is not a regular file (FIFOs, sockets, devices).

    Below a source folder, files whose names have the form of a transfer's hidden
    temporary (``.NAME.<8 hex digits>.part``, lower-case hex, from
    :func:`~transferqueue.executors.atomic_destination`) or of a Hugging Face partial
    download (``.NAME.<12 hex digits>.hfpart``) are left out too, so that copying a
    folder that a transfer writes to (or a killed one wrote to) does not copy its
    unfinished files. A file of one's own named that way is left out as well; a folder so
    named is not.

    Raises ``FileNotFoundError`` if ``source`` does not exist, ``OSError`` (for example
    ``PermissionError``) if ``source`` or a folder below it cannot be read, and ``OSError``
    if ``source`` is neither a file nor a folder.

    ``on_error`` (like :func:`os.walk`'s ``onerror``) changes what happens below
    ``source``, as ``cp -r`` does: a folder that cannot be listed, or an entry that cannot
    be examined (the files of a folder that may be listed but not entered), is passed to
    ``on_error`` as the ``OSError`` (its ``filename`` names the path) and left out, and
    the listing goes on. A folder is left out whole, even if part of it was read. To stop
    the listing, raise from ``on_error``. ``source`` itself is never reported there: if it
    is missing or cannot be read, the listing raises.

    ``include`` and ``exclude`` are glob patterns (see
    :class:`~transferqueue.executors.PathFilter`) matched against each file's path
    relative to ``source`` (``/``-separated; a ``source`` file's own name): a file is
    listed when it matches no ``exclude`` and, if any ``include`` is given, one of them.
    Folders are still read whole, so ``on_error`` hears of one that cannot be read even if
    no file of it would have been kept.

    ``compare`` (one of :data:`~transferqueue.executors.COMPARE_MODES`) and ``update``
    compare each file with its destination, as
    :func:`~transferqueue.executors.skip_up_to_date` does: a file whose destination is
    up to date gets ``"skip": True``, which ``queue_job`` records as ``skipped``.
    ``client`` is the S3 client that an ``s3://`` destination is listed with for that (a
    new one if None).
    """
    source_path = os.fspath(source)
    destination_path = os.fspath(destination)
    kept = path_filter(include, exclude)
    comparing = check_comparison(compare, update)
    info = os.stat(source_path)  # FileNotFoundError names the missing path
    if stat.S_ISREG(info.st_mode):
        if kept is not None and not kept.matches(os.path.basename(source_path)):
            return []
        _check_readable(source_path)
        found = [("", info)]
    elif stat.S_ISDIR(info.st_mode):
        found = []
        # ``source`` itself unreadable raises, on_error or not: nothing of it could be copied.
        _add(_read(source_path), "", found, on_error)
        if kept is not None:
            found = [item for item in found if kept.matches(_slashed(item[0]))]
        found.sort(key=lambda item: item[0])
    else:
        raise OSError(f"{source_path} is neither a regular file nor a folder")
    files: list[dict[str, object]] = [
        {
            "source_path": os.path.join(source_path, relative) if relative else source_path,
            "destination_path": (
                os.path.join(destination_path, relative) if relative else destination_path
            ),
            "size": facts.st_size,
        }
        for relative, facts in found
    ]
    if comparing:
        sources = [
            local_facts(str(file["source_path"]), info)
            for file, (_, info) in zip(files, found, strict=True)
        ]
        mark_up_to_date(files, sources, compare=compare, update=update, client=client)
    return files


def _slashed(relative: str) -> str:
    """``relative`` with ``/`` between its parts, as the patterns of a
    :class:`~._path_filter.PathFilter` name them on every system."""
    return relative.replace(os.sep, "/")


def _check_readable(path: str) -> None:
    """Raise the ``OSError`` (``PermissionError``, ...) that reading the file ``path``
    would meet, so that a source that cannot be read is found before anything starts."""
    # O_NONBLOCK: should the file have become a FIFO since its stat, do not wait.
    os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))


def _read(folder: str) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` by name, read whole: a read that fails half-way lists
    nothing. Sorted so that ``on_error`` hears of problems in the same order every time."""
    with os.scandir(folder) as listing:
        return sorted(listing, key=lambda entry: entry.name)


def _add(
    entries: list[os.DirEntry[str]],
    prefix: str,
    found: list[tuple[str, os.stat_result]],
    on_error: Callable[[OSError], object] | None,
) -> None:
    """Append ``(relative path, stat)`` for each regular file in ``entries`` and below."""
    for entry in entries:
        relative = prefix + entry.name
        try:
            # Where the folder's listing gives no file types, is_dir() needs an lstat,
            # which a folder that may be listed but not entered refuses.
            if entry.is_dir(follow_symlinks=False):
                below = _read(entry.path)
            else:
                below = None
                info = entry.stat()  # follows a symlink to its file
        except FileNotFoundError:
            continue  # a broken symlink, or an entry deleted while listing
        except OSError as exc:
            _skip(exc, on_error)
            continue
        if below is not None:
            _add(below, relative + os.sep, found, on_error)
        elif stat.S_ISREG(info.st_mode) and not is_temporary_name(entry.name):
            found.append((relative, info))


def _skip(error: OSError, on_error: Callable[[OSError], object] | None) -> None:
    """Hand ``error`` to ``on_error``; without one, raise it (the listing stops)."""
    if on_error is None:
        raise error
    on_error(error)
