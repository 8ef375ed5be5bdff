"""Checking a finished copy against its source: the error of a mismatch, the checksums
the executors compute, and what an S3 object's headers say it holds.

A copy is checked before it counts: a local copy (``LocalCopy(checksum=True)``) and an S3
download while the bytes still wait in the temporary file beside the destination, so that
a mismatch leaves no destination; an S3 upload once the object exists (S3 has no
temporary name), which a mismatch then deletes.

What S3 says an object holds comes from a HEAD request with ``ChecksumMode=ENABLED``, and
is untrusted like any reply: a value that is not what its header should hold is not used.
In order of preference:

- the ETag of an object stored in one part, the MD5 of its bytes (not for objects
  encrypted with KMS or a customer's key, whose ETag is no MD5): the server computes it
  from the bytes it stored, where a checksum may be the one the client sent (AWS checks
  it on arrival; moto, for one, stores it unchecked);
- a checksum of the whole object (``x-amz-checksum-sha256``, ``-sha1`` or ``-crc32``), for
  an object stored in one part or whose checksum type is ``FULL_OBJECT``;
- the ETag of an object stored in ``N`` parts: the MD5 of the parts' MD5s, followed by
  ``-N``; the part size comes from a HEAD of part 1, and every part but the last is taken
  to have that size, as every S3 client writes them (an object whose size does not fit
  that is not checked).

Checksums that need a library the standard one lacks (CRC32C, CRC64NVME) are not
computed; an object with nothing else is not checked (its size still is, by the transfer).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any, cast

import attrs

__all__ = [
    "ChecksumMismatchError",
    "Expected",
    "compare_objects",
    "expected_of_object",
    "file_sha256",
]

_BLOCK = 8 << 20  # bytes read at a time when checksumming a file
_MD5_HEX = re.compile(r"[0-9a-f]{32}")
_MULTIPART_ETAG = re.compile(r"([0-9a-f]{32})-([0-9]{1,5})")
_MAX_PARTS = 10_000  # S3's limit
# The whole-object checksums this module computes, best first: (header field, name, bytes).
_FULL_OBJECT = (
    ("ChecksumSHA256", "sha256", 32),
    ("ChecksumSHA1", "sha1", 20),
    ("ChecksumCRC32", "crc32", 4),
)
# Every whole-object checksum S3 keeps, for comparing two objects (nothing is computed).
_COMPARABLE = (
    ("ChecksumSHA256", "SHA256"),
    ("ChecksumSHA1", "SHA1"),
    ("ChecksumCRC64NVME", "CRC64NVME"),
    ("ChecksumCRC32C", "CRC32C"),
    ("ChecksumCRC32", "CRC32"),
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{4,88}={0,2}")
_NOT_MD5_ENCRYPTION = frozenset({"aws:kms", "aws:kms:dsse"})


class ChecksumMismatchError(OSError):
    """A copy's bytes do not match its source's: ``path`` names the copy (a local path or
    an ``s3://`` URL), ``algorithm`` the checksum compared, ``expected`` the source's
    value and ``actual`` the copy's (as the storage writes them: hex, or base64 for S3's
    checksums). The copy was removed (a local temporary file) or deleted (an S3 object).

    An ``OSError``, so retried under the default :class:`~transferqueue.RetryPolicy`: a
    byte changed on the way, or the source changed during the copy, is worth another
    attempt.
    """

    __module__ = "transferqueue.executors"  # where users import it: a stable error_type

    def __init__(
        self, path: str, algorithm: str, expected: str, actual: str, *, removed: str
    ) -> None:
        super().__init__(
            f"{path}: the copy does not match its source: {algorithm} {actual}, expected "
            f"{expected}; {removed}"
        )
        self.path = path
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class _Crc32:
    """zlib's CRC32 with hashlib's interface."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def _new_hash(algorithm: str) -> Any:  # a hashlib object, or a _Crc32: update(), digest()
    if algorithm == "crc32":
        return _Crc32()
    return hashlib.new(algorithm, usedforsecurity=False)


def _blocks(fd: int, size: int | None, check_cancelled: Callable[[], object]) -> Iterator[bytes]:
    """The bytes of ``fd`` from its start, ``size`` of them (None: to its end), in blocks
    (read with ``pread``: the descriptor's position does not move)."""
    position = 0
    while size is None or position < size:
        check_cancelled()
        want = _BLOCK if size is None else min(_BLOCK, size - position)
        block = os.pread(fd, want, position)
        if not block:
            return
        position += len(block)
        yield block


def file_sha256(fd: int, check_cancelled: Callable[[], object]) -> str:
    """The sha256 (hex) of what ``fd`` holds from its start to its end."""
    hasher = hashlib.sha256()
    for block in _blocks(fd, None, check_cancelled):
        hasher.update(block)
    return hasher.hexdigest()


@attrs.frozen
class Expected:
    """What a copy of an object must come to: ``value`` of ``algorithm`` (``md5``:
    the ETag, hex; else base64 as S3's headers carry it), over the whole object, or over
    each part of ``part_size`` bytes when ``parts`` is set (a multipart ETag, ``-N``)."""

    algorithm: str
    value: str
    part_size: int | None = None
    parts: int | None = None

    @property
    def name(self) -> str:
        """The checksum's name in messages."""
        if self.algorithm == "md5":
            return "ETag (MD5)" if self.parts is None else f"ETag (MD5 of {self.parts} parts)"
        return self.algorithm.upper()

    def of_file(self, fd: int, size: int | None, check_cancelled: Callable[[], object]) -> str:
        """The same checksum of the first ``size`` bytes of ``fd`` (None: all of it)."""
        if self.parts is None:
            hasher = _new_hash(self.algorithm)
            for block in _blocks(fd, size, check_cancelled):
                hasher.update(block)
            return self._written(hasher.digest())
        assert self.part_size is not None
        whole = hashlib.md5(usedforsecurity=False)
        count = 0
        part = hashlib.md5(usedforsecurity=False)
        filled = 0
        for block in _blocks(fd, size, check_cancelled):
            view = memoryview(block)
            while view:
                take = min(len(view), self.part_size - filled)
                part.update(view[:take])
                filled += take
                view = view[take:]
                if filled == self.part_size:
                    whole.update(part.digest())
                    count += 1
                    part = hashlib.md5(usedforsecurity=False)
                    filled = 0
        if filled or not count:
            whole.update(part.digest())
            count += 1
        return f"{whole.hexdigest()}-{count}"

    def _written(self, digest: bytes) -> str:
        if self.algorithm == "md5":
            return digest.hex()
        return base64.b64encode(digest).decode("ascii")


def expected_of_object(head: dict[str, Any], part_size: Callable[[], object]) -> Expected | None:
    """What the object whose HEAD reply (boto3's dict) is ``head`` must come to; None if
    nothing in it can be checked. ``part_size`` asks for the size of part 1 (another
    HEAD), for a multipart object whose ETag is the only checksum usable."""
    etag = head.get("ETag")
    etag = etag.strip().strip('"') if isinstance(etag, str) else ""
    multipart = _MULTIPART_ETAG.fullmatch(etag)
    encryption = head.get("ServerSideEncryption")
    etag_is_md5 = encryption not in _NOT_MD5_ENCRYPTION and not head.get("SSECustomerAlgorithm")
    if etag_is_md5 and _MD5_HEX.fullmatch(etag):
        return Expected("md5", etag)
    checksum_type = head.get("ChecksumType")
    if checksum_type == "FULL_OBJECT" or (checksum_type is None and multipart is None):
        for field, algorithm, length in _FULL_OBJECT:
            value = head.get(field)
            if isinstance(value, str) and _is_base64_of(value, length):
                return Expected(algorithm, value)
    if multipart is None or not etag_is_md5:
        return None
    parts = int(multipart.group(2))
    size = head.get("ContentLength")
    if not 1 <= parts <= _MAX_PARTS or type(size) is not int:
        return None
    first = part_size()
    if type(first) is not int or first < 1:
        return None
    if not (parts - 1) * first < size <= parts * first:
        return None  # parts of other sizes: the MD5s cannot be recomputed
    return Expected("md5", etag, part_size=first, parts=parts)


def _is_base64_of(value: str, length: int) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == length
    except (binascii.Error, ValueError):
        return False


def compare_objects(source: dict[str, Any], copy: dict[str, Any]) -> tuple[str, str, str] | None:
    """A checksum that the HEAD (or GET) replies of two objects, an S3-to-S3 copy's
    ``source`` and ``copy``, both carry: ``(name, source's value, copy's value)``, to be
    compared as they are; None when they have none in common. The ETags of two objects
    stored in one part first (the MD5s the server computed), then a checksum of the whole
    object of the same algorithm on both (CRC64NVME and CRC32C included: nothing is
    computed here)."""
    source_md5, copy_md5 = _single_part_md5(source), _single_part_md5(copy)
    if source_md5 is not None and copy_md5 is not None:
        return "ETag (MD5)", source_md5, copy_md5
    if _whole_object(source) and _whole_object(copy):
        for field, name in _COMPARABLE:
            first, second = source.get(field), copy.get(field)
            if _is_base64(first) and _is_base64(second):
                return name, cast(str, first), cast(str, second)
    return None


def _single_part_md5(head: dict[str, Any]) -> str | None:
    etag = head.get("ETag")
    etag = etag.strip().strip('"') if isinstance(etag, str) else ""
    if head.get("ServerSideEncryption") in _NOT_MD5_ENCRYPTION or head.get("SSECustomerAlgorithm"):
        return None
    return etag if _MD5_HEX.fullmatch(etag) else None


def _whole_object(head: dict[str, Any]) -> bool:
    """Whether the object's checksums are of its whole bytes (not of its parts)."""
    etag = head.get("ETag")
    multipart = isinstance(etag, str) and _MULTIPART_ETAG.fullmatch(etag.strip().strip('"'))
    checksum_type = head.get("ChecksumType")
    return checksum_type == "FULL_OBJECT" or (checksum_type is None and not multipart)


def _is_base64(value: object) -> bool:
    return isinstance(value, str) and _BASE64.fullmatch(value) is not None
