"""Which listed files their destinations already hold: the comparison that lets a copy
skip unchanged files, as rclone and ``aws s3 sync`` do.

A listing helper gives, for each file it lists, what its source says of it for free
(:class:`FileFacts`: the size, the modification time, an S3 ETag, a Hugging Face sha256 or
git blob id); :func:`mark_up_to_date` looks up each destination (one ``stat`` per local
file, one listing per S3 bucket) and marks a file ``"skip": True`` when the destination is
up to date by the chosen comparison (see :data:`COMPARE_MODES`). A file marked so is
queued as ``skipped``: nothing of it is transferred.

What is compared (docs/howto/sync.rst sets it beside rclone and aws-cli):

- ``"size-mtime"``: equal sizes, and the destination modified no earlier than the source
  (to the whole second: S3 keeps no finer). Where one side has no modification time (a
  Hugging Face file), equal sizes.
- ``"size"``: equal sizes.
- ``"checksum"``: equal sizes and equal content, by what the storage gives for free (an
  S3 ETag, a Hugging Face sha256 or git blob id), a local file being read to hash it; where
  no checksum can be compared (an ETag of an encrypted object, of a multipart upload of
  another part size), the file is copied.
- ``"none"``: nothing is skipped.

With ``update``, a file whose destination was modified later than its source (to the whole
second) is skipped whatever the comparison says.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

COMPARE_MODES = ("size-mtime", "size", "checksum", "none")
"""The comparisons a listing can make with its destinations: ``"size-mtime"`` (rclone's
and ``aws s3 sync``'s default), ``"size"``, ``"checksum"`` and ``"none"`` (always copy)."""

_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART = re.compile(r"([0-9a-f]{32})-([1-9][0-9]{0,4})")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")
_READ = 1 << 20
_MiB = 1 << 20
# s3transfer's part sizes (the defaults of boto3, aws-cli and our S3Transfer): 8 MiB,
# doubled while a file would need more than 10,000 parts.
_PART_SIZE = 8 * _MiB
_MAX_PARTS = 10_000


@attrs.frozen
class FileFacts:
    """What one side of a transfer says of a file, for comparing it with the other side.

    ``modified`` is in whole seconds since the epoch (None: unknown); ``etag`` is an S3
    ETag without its quotes; ``sha256`` a Hugging Face LFS file's, ``git_sha1`` the git
    blob id of a Hugging Face file kept in git; ``local_path`` a local file to hash.
    """

    size: int
    modified: int | None = None
    etag: str | None = None
    sha256: str | None = None
    git_sha1: str | None = None
    local_path: str | None = None


def check_comparison(compare: object, update: object) -> bool:
    """Check a listing's ``compare`` and ``update``; return whether they compare at all.

    Raises ``ValueError`` naming the modes for an unknown ``compare`` and ``TypeError``
    for an ``update`` that is not a bool."""
    if compare not in COMPARE_MODES:
        known = ", ".join(repr(mode) for mode in COMPARE_MODES)
        raise ValueError(f"compare must be one of {known}, not {compare!r}")
    if not isinstance(update, bool):
        raise TypeError(f"update must be a bool, not {type(update).__name__}")
    return compare != "none" or update


def local_facts(path: str, info: os.stat_result) -> FileFacts:
    """The facts of the local file ``path`` whose ``stat`` is ``info``."""
    return FileFacts(info.st_size, info.st_mtime_ns // 1_000_000_000, local_path=path)


def s3_facts(entry: Any) -> FileFacts:
    """The facts of an S3 object from its ListObjectsV2 entry."""
    modified = entry.get("LastModified")
    etag = entry.get("ETag")
    return FileFacts(
        int(entry["Size"]),
        math.floor(modified.timestamp()) if isinstance(modified, datetime) else None,
        etag=etag.strip('"').lower() if isinstance(etag, str) and etag else None,
    )


def hub_facts(entry: object, size: int) -> FileFacts:
    """The facts of a Hugging Face file from its tree entry (untrusted: a checksum that
    is not the hex it should be is ignored). The git blob id of an LFS file is its
    pointer's, so only a file kept in git gets one."""
    fields = entry if isinstance(entry, dict) else {}
    lfs = fields.get("lfs")
    sha256 = lfs.get("oid") if isinstance(lfs, dict) else None
    if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
        sha256 = None
    oid = fields.get("oid")
    git_sha1 = oid if lfs is None and isinstance(oid, str) and _SHA1.fullmatch(oid) else None
    return FileFacts(size, sha256=sha256, git_sha1=git_sha1)


def skip_up_to_date(
    files: Iterable[Mapping[str, Any]],
    *,
    compare: str = "size-mtime",
    update: bool = False,
    client: S3Client | None = None,
) -> list[dict[str, Any]]:
    """Return ``files`` (mappings as ``queue_job`` takes them, from any listing) as new
    dicts, each file whose destination is already up to date with ``"skip": True``:
    ``queue_job`` records such a file as ``skipped`` and transfers nothing of it.

    ``compare`` is one of :data:`COMPARE_MODES`: ``"size-mtime"`` (the default, as
    rclone's and ``aws s3 sync``'s: equal sizes and a destination modified no earlier than
    its source, to the whole second; equal sizes where a side has no time),
    ``"size"``, ``"checksum"`` (equal sizes and equal content: an S3 ETag, a Hugging
    Face sha256, or a hash of a local file) or ``"none"``. With ``update``, a file whose
    destination was modified later than its source is skipped whatever the comparison
    says (rclone's ``--update``).

    What each side says is read here: a local file's ``stat`` (and its bytes, to hash
    them), one listing per S3 bucket for the S3 sources and one for the S3 destinations
    (through ``client``, a new one if None). A ``hf://`` source gives only its size here
    (the listing helpers, given ``compare=``, also use the hub's checksums, which this
    function cannot see). A file whose source or destination is missing or cannot be
    examined is not skipped: its transfer reports what is wrong.

    Raises ``ValueError`` for an unknown ``compare``, ``TypeError`` for an ``update``
    that is not a bool, and the ``OSError`` of a failed S3 listing (a missing bucket
    only means that nothing is there).
    """
    check_comparison(compare, update)
    listed = [dict(file) for file in files]
    urls = [file["source_path"] for file in listed]
    s3_urls = [url for url in urls if isinstance(url, str) and url.startswith("s3://")]
    if s3_urls and client is None:
        from ._s3 import make_s3_client

        client = make_s3_client()  # one for the sources and the destinations
    objects = _s3_objects(s3_urls, client) if s3_urls else {}
    sources: list[FileFacts | None] = []
    for file, url in zip(listed, urls, strict=True):
        if isinstance(url, str) and url.startswith("s3://"):
            sources.append(objects.get(url))
        elif isinstance(url, str) and url.startswith("hf://"):
            sources.append(FileFacts(int(file["size"])))
        else:
            sources.append(_local_file(os.fspath(url)))
    mark_up_to_date(listed, sources, compare=compare, update=update, client=client)
    return listed


def mark_up_to_date(
    files: Sequence[dict[str, Any]],
    sources: Sequence[FileFacts | None],
    *,
    compare: str,
    update: bool,
    client: S3Client | None = None,
) -> None:
    """Set ``"skip": True`` on each of ``files`` whose destination is up to date with its
    source (``sources``, in the same order; None for a source that could not be
    examined, never skipped), by ``compare`` and ``update``.

    Local destinations are looked up with one ``stat`` each, S3 ones with one listing per
    bucket (of the keys' common prefix), through ``client`` (a client, or a function
    that makes one; a new client if None). A destination that is missing, no regular
    file, or cannot be examined is not up to date: its file is copied, and its executor
    reports what is wrong. An S3 listing that fails otherwise than for a missing bucket
    raises the ``OSError`` of :func:`~transferqueue.executors._s3.s3_error`.
    """
    remote = [file["destination_path"] for file in files]
    s3_urls = [url for url in remote if isinstance(url, str) and url.startswith("s3://")]
    found = _s3_objects(s3_urls, client) if s3_urls else {}
    for file, source in zip(files, sources, strict=True):
        if source is None:
            continue
        target = file["destination_path"]
        if isinstance(target, str) and target.startswith("s3://"):
            destination = found.get(target)
        else:
            destination = _local_file(os.fspath(target))
        if destination is not None and up_to_date(source, destination, compare, update):
            file["skip"] = True


def up_to_date(source: FileFacts, destination: FileFacts, compare: str, update: bool) -> bool:
    """Whether ``destination`` needs no copy of ``source`` (see the module)."""
    if (
        update
        and source.modified is not None
        and destination.modified is not None
        and destination.modified > source.modified
    ):
        return True
    if compare == "none" or source.size != destination.size:
        return False
    if compare == "size":
        return True
    if compare == "size-mtime":
        if source.modified is None or destination.modified is None:
            return True  # as rclone: where a side keeps no time, the size decides
        return destination.modified >= source.modified
    return _same_content(source, destination)


def _local_file(path: str) -> FileFacts | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # missing, unreadable, or a name with a NUL
        return None
    return local_facts(path, info) if stat.S_ISREG(info.st_mode) else None


def _s3_objects(urls: Iterable[str], client: S3Client | None) -> dict[str, FileFacts]:
    """The facts of the objects at ``urls`` that exist: one listing per bucket."""
    import botocore.exceptions

    from ._s3 import make_s3_client, s3_error
    from ._s3_url import parse_s3_url

    keys: dict[str, set[str]] = {}
    for url in urls:
        bucket, key = parse_s3_url(url)
        keys.setdefault(bucket, set()).add(key)
    if client is None:
        client = make_s3_client()
    found: dict[str, FileFacts] = {}
    for bucket, wanted in keys.items():
        # A prefix of characters, not of path segments: S3 keys are plain strings.
        prefix = os.path.commonprefix(sorted(wanted))  # noqa: RUF071
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        try:
            for page in pages:
                for entry in page.get("Contents", []):
                    if entry["Key"] in wanted:
                        found[f"s3://{bucket}/{entry['Key']}"] = s3_facts(entry)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            error = s3_error(exc, f"s3://{bucket}/{prefix}", "list", client)
            if isinstance(error, FileNotFoundError):
                continue  # no bucket: nothing there yet; the copy says what is wrong
            raise error from exc
    return found


def _same_content(source: FileFacts, destination: FileFacts) -> bool:
    """Whether both sides hold the same bytes, by the checksums they give or a local
    hash; False where nothing can be compared."""
    if source.etag is not None and destination.etag is not None:
        return source.etag == destination.etag
    for remote, local in ((source, destination), (destination, source)):
        if local.local_path is None:
            continue
        if remote.etag is not None:
            return _local_etag(local.local_path, local.size, remote.etag) == remote.etag
        if remote.sha256 is not None:
            return _digest(local.local_path, hashlib.sha256(), b"") == remote.sha256
        if remote.git_sha1 is not None:
            header = b"blob %d\x00" % local.size
            return _digest(local.local_path, hashlib.sha1(), header) == remote.git_sha1
    if source.local_path is not None and destination.local_path is not None:
        first = _digest(source.local_path, hashlib.sha256(), b"")
        return first is not None and first == _digest(destination.local_path, hashlib.sha256(), b"")
    return False


def _digest(path: str, digest: Any, header: bytes) -> str | None:
    """The hex digest of ``header`` and the file's bytes; None if it cannot be read."""
    digest.update(header)
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(_READ), b""):
                digest.update(block)
    except OSError:
        return None
    result: str = digest.hexdigest()
    return result


def _local_etag(path: str, size: int, etag: str) -> str | None:
    """The ETag S3 would give the local file ``path`` in the form of ``etag``: its MD5
    for a single-part upload, the MD5 of its parts' MD5s for a multipart one uploaded with
    s3transfer's part size; None when that part size cannot give ``etag``'s part count,
    for an ETag of neither form (an encrypted object's), or a file that cannot be read."""
    if _MD5.fullmatch(etag):
        return _digest(path, hashlib.md5(usedforsecurity=False), b"")
    multipart = _MULTIPART.fullmatch(etag)
    if multipart is None:
        return None
    parts = int(multipart.group(2))
    part_size = _PART_SIZE
    while math.ceil(size / part_size) > _MAX_PARTS:
        part_size *= 2
    if math.ceil(size / part_size) != parts:
        return None
    whole = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as stream:
            for _ in range(parts):
                part = hashlib.md5(usedforsecurity=False)
                left = part_size
                while left:
                    block = stream.read(min(_READ, left))
                    if not block:
                        break
                    part.update(block)
                    left -= len(block)
                whole.update(part.digest())
    except OSError:
        return None
    return f"{whole.hexdigest()}-{parts}"
