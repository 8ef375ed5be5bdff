"""Listing a Hugging Face repository, a folder of it or one file, as ``queue_job`` takes it.

The hub's tree API and every entry in it are untrusted: whoever controls the repository
(or the server answering for the hub) chooses them. Pagination is bounded: a ``next``
link to a page already read, more than ``MAX_TREE_PAGES`` pages, a page larger than
``MAX_TREE_PAGE_BYTES``, more than ``MAX_TREE_BYTES`` read in all or more than
``MAX_TREE_ENTRIES`` entries in all ends the listing with a :class:`HubError`: what a
listing reads, and what it keeps in memory, is bounded whatever the pages. Each file entry is
checked once, here, before it becomes a mapping: its path must pass
:func:`~transferqueue.executors._files.remote_names.relative_parts` and land below the
destination, its size must be an int from 0 to ``MAX_FILE_SIZE``, and no path may come
twice.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from transferqueue.executors._compare import (
    FileFacts,
    check_comparison,
    hub_facts,
    mark_up_to_date,
)
from transferqueue.executors._files.remote_names import join_below, relative_parts
from transferqueue.executors._path_filter import PathFilter, path_filter

from .errors import HubEntryError, HubError, HubNotFoundError
from .http import public_url, raise_for_status, request
from .location import (
    API_KIND,
    URL_PREFIX,
    HuggingFaceLocation,
    endpoint_url,
    parse_hf_url,
    token_value,
)

MAX_TREE_PAGES = 10_000
"""Pages of the tree API followed at most (the hub gives up to 1,000 entries a page)."""

MAX_TREE_PAGE_BYTES = 16 << 20
"""The largest page of the tree API read (a page of 1,000 entries is about 200 KB)."""

MAX_TREE_BYTES = 1 << 30
"""The most bytes of tree pages read for one listing, all pages together (1 GiB: some
5 million entries of the hub's size)."""

MAX_TREE_ENTRIES = 1_000_000
"""The most tree entries (files and folders, in scope or not) read for one listing, all
pages together: the mappings it returns are kept in memory until then. The hub advises
repositories of at most 100,000 files."""

MAX_FILE_SIZE = (1 << 63) - 1
"""The largest ``size`` a listed file may have: the largest a file system can hold."""

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _pages(
    location: HuggingFaceLocation, endpoint: str, token: str | None, timeout: float
) -> Iterator[list[Any]]:
    """The pages of the repository's recursive tree, each a JSON list."""
    url: str | None = (
        f"{endpoint}/api/{API_KIND[location.repo_type]}/{location.repo_id}/tree/"
        f"{urllib.parse.quote(location.revision, safe='')}?recursive=true&expand=false"
    )
    what = f"{location.repo_type} {location.repo_id}@{location.revision}"
    seen: set[str] = set()
    bytes_read = entries_read = 0  # of every page so far
    while url is not None:
        if url in seen:
            raise HubError(
                f"the file list of {what} links back to a page it already gave "
                f"({public_url(url)}): the listing stops there"
            )
        if len(seen) == MAX_TREE_PAGES:
            raise HubError(
                f"the file list of {what} goes on for more than {MAX_TREE_PAGES} pages: "
                "the listing stops there"
            )
        seen.add(url)
        with request(
            url,
            {"Accept": "application/json"},
            token=token,
            auth_origin=endpoint,
            timeout=timeout,
        ) as reply:
            response, final_url = reply.response, reply.url
            raise_for_status(response, final_url, what, token=token)
            body = _read_page(response, final_url, what, MAX_TREE_BYTES - bytes_read)
            link = response.getheader("Link") or ""
        bytes_read += len(body)
        try:
            entries = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ConnectionError(f"bad file list from {public_url(final_url)}: {exc}") from exc
        if not isinstance(entries, list):
            raise HubError(f"unexpected file list from {public_url(final_url)}")
        entries_read += len(entries)
        if entries_read > MAX_TREE_ENTRIES:
            raise HubError(
                f"the file list of {what} holds more than {MAX_TREE_ENTRIES:,} entries "
                "(MAX_TREE_ENTRIES): the listing stops there"
            )
        yield entries
        match = _LINK_NEXT.search(link)
        url = urllib.parse.urljoin(final_url, match.group(1)) if match else None


def _read_page(response: http.client.HTTPResponse, url: str, what: str, room: int) -> bytes:
    """The page's body, refused once it grows past ``MAX_TREE_PAGE_BYTES``, or past
    ``room``: what is left of ``MAX_TREE_BYTES`` for the listing."""
    body = bytearray()
    while True:
        try:
            piece = response.read1(1 << 16)
        except http.client.HTTPException as exc:
            raise ConnectionError(f"bad file list from {public_url(url)}: {exc!r}") from exc
        if not piece:
            return bytes(body)
        body += piece
        if len(body) > room:
            raise HubError(
                f"the pages of the file list of {what} add up to more than "
                f"{MAX_TREE_BYTES:,} bytes (MAX_TREE_BYTES; at {public_url(url)}): "
                "the listing stops there"
            )
        if len(body) > MAX_TREE_PAGE_BYTES:
            raise HubError(
                f"a page of the file list of {what} is larger than "
                f"{MAX_TREE_PAGE_BYTES >> 20} MiB ({public_url(url)}): the listing stops there"
            )


LEFT_OUT: dict[str, Any] = {}
"""What :meth:`_Scope.mapping` gives for a file the include and exclude patterns leave
out: one shared, empty mapping, compared by identity."""


@attrs.frozen
class _Scope:
    """What a listing keeps: files at or below ``prefix`` (segments), mapped below
    ``root``; ``where`` names the repository in messages."""

    location: HuggingFaceLocation
    prefix: tuple[str, ...]
    root: str
    where: str
    kept: PathFilter | None = None  # None: every file in scope

    def mapping(self, entry: object) -> dict[str, Any] | None:
        """The mapping for a tree ``entry``, None for an entry out of scope or not a
        file, :data:`LEFT_OUT` for a file in scope that the patterns leave out; raises
        ``ValueError`` (:class:`HubEntryError`,
        :class:`~transferqueue.executors._files.remote_names.UnsafeRemoteNameError`) for an
        entry that cannot be used.
        """
        if not isinstance(entry, dict):
            raise HubEntryError(entry, "not an object", where=self.where)
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise HubEntryError(entry, "no type", where=self.where)
        if kind != "file":
            return None  # folders, and kinds this version does not know
        path = entry.get("path")
        if not isinstance(path, str):
            raise HubEntryError(entry, "no path", where=self.where)
        segments = path.split("/")
        if tuple(segments[: len(self.prefix)]) != self.prefix:
            return None  # elsewhere in the repository
        if self.kept is not None:
            # Matched as listed, before the name is checked: an excluded name is not used.
            relative = "/".join(segments[len(self.prefix) :] or segments[-1:])
            if not self.kept.matches(relative):
                return LEFT_OUT
        parts = relative_parts(path, where=self.where)
        below = parts[len(self.prefix) :] or parts[-1:]  # the file the source names itself
        size = entry.get("size")
        if type(size) is not int or not 0 <= size <= MAX_FILE_SIZE:
            raise HubEntryError(entry, "no valid size", where=self.where)
        return {
            "source_path": attrs.evolve(self.location, path=path).url(),
            "destination_path": join_below(self.root, "/".join(below), where=self.where),
            "size": size,
        }


def list_hf_files(
    source: str,
    destination: str | os.PathLike[str],
    *,
    endpoint: str | None = None,
    token: str | None = None,
    timeout: float = 30.0,
    on_error: Callable[[ValueError], None] | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    compare: str = "none",
    update: bool = False,
) -> list[dict[str, Any]]:
    """The files of a repository, a folder of it, or one file, as ``queue_job`` takes them.

    ``source`` is ``hf://[datasets/|spaces/]owner/repo[@revision][/path]``. Each mapping
    has ``source_path`` (``hf://…@revision/path``), ``destination_path`` and ``size``.
    Destinations mirror the repository's paths below the folder ``source`` names (its
    root when it names none), under ``destination``; a ``source`` that names one file
    maps to ``destination/<file name>``. ``endpoint`` and ``token`` default as for
    :class:`HuggingFaceDownload`. Raises :class:`HubNotFoundError` when nothing matches.

    Every entry is checked before it becomes a mapping. A path that is absolute, has an
    empty, ``.`` or ``..`` segment, a backslash or a NUL raises
    :class:`~transferqueue.executors.UnsafeRemoteNameError`; an entry that is not an
    object, has no type, path or valid ``size`` (an int from 0 to ``MAX_FILE_SIZE``), or
    repeats a path raises :class:`HubEntryError`; both are ``ValueError``. With
    ``on_error``, such an entry is passed to it instead and left out, and the listing goes
    on (raise from ``on_error`` to stop it). A listing whose pages loop, go on for more
    than ``MAX_TREE_PAGES`` pages, one of which exceeds ``MAX_TREE_PAGE_BYTES``, or
    that reads more than ``MAX_TREE_BYTES`` or ``MAX_TREE_ENTRIES`` entries in all
    raises :class:`HubError` naming the limit.

    ``include`` and ``exclude`` are glob patterns (see
    :class:`~transferqueue.executors.PathFilter`) matched against each file's path below
    the folder ``source`` names (the file's name for a ``source`` that names one file): a
    file is listed when it matches no ``exclude`` and, if any ``include`` is given, one
    of them. An entry left out so is not checked either. A listing that leaves out every
    file it found returns an empty list; :class:`HubNotFoundError` still means that
    nothing was at ``source``.

    ``compare`` (one of :data:`~transferqueue.executors.COMPARE_MODES`) and ``update``
    compare each file with its destination, as
    :func:`~transferqueue.executors.skip_up_to_date` does: a file whose destination is
    up to date gets ``"skip": True``, which ``queue_job`` records as ``skipped``. The hub
    gives no modification time, so ``"size-mtime"`` compares sizes (as rclone does where
    a side keeps no time) and ``update`` skips nothing; ``"checksum"`` compares an LFS
    file's sha256, or the git blob id of a file kept in git, with a hash of the local
    file.
    """
    location = parse_hf_url(source)
    kept = path_filter(include, exclude)
    comparing = check_comparison(compare, update)
    base = endpoint_url(endpoint)
    secret = token_value(token)
    where = attrs.evolve(location, path="").url()
    prefix = tuple(location.path.split("/")) if location.path else ()
    scope = _Scope(location, prefix, os.fspath(destination), where, kept)
    found: dict[str, dict[str, Any]] = {}
    facts: dict[str, FileFacts] = {}  # with a comparison: each file's, by source_path
    left_out = False  # whether a file at source was left out by the patterns
    for page in _pages(location, base, secret, timeout):
        for entry in page:
            try:
                mapping = scope.mapping(entry)
                if mapping is LEFT_OUT:
                    left_out = True
                    continue
                if mapping is not None and mapping["source_path"] in found:
                    raise HubEntryError(entry, "listed twice", where=where)
            except ValueError as exc:
                if on_error is None:
                    raise
                on_error(exc)
                continue
            if mapping is not None:
                found[mapping["source_path"]] = mapping
                if comparing:
                    facts[mapping["source_path"]] = hub_facts(entry, mapping["size"])
    if not found and not left_out:
        raise HubNotFoundError(
            f"Hugging Face has no file at {location.describe()}",
            status=404,
            url=public_url(f"{base}/{URL_PREFIX[location.repo_type]}{location.repo_id}"),
        )
    files = [found[key] for key in sorted(found)]
    if comparing:
        sources = [facts[file["source_path"]] for file in files]
        mark_up_to_date(files, sources, compare=compare, update=update)
    return files
