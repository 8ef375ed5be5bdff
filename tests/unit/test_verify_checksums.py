"""Checking a copy against its source, the pure parts: what an S3 object's headers say
it holds, the checksums of a file as S3 writes them, and two objects compared by a
checksum both carry. No server, no queue."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from pathlib import Path
from typing import Any

import pytest

from transferqueue.executors._verify import (
    Expected,
    compare_objects,
    expected_of_object,
    file_sha256,
)


def _never() -> None:
    """No cancel."""


# -- what an S3 object's headers say -------------------------------------------------------


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


DATA = b"the quick brown fox"
MD5 = hashlib.md5(DATA).hexdigest()
SHA256 = _b64(hashlib.sha256(DATA).digest())
SHA1 = _b64(hashlib.sha1(DATA).digest())
CRC32 = _b64(zlib.crc32(DATA).to_bytes(4, "big"))


def _no_parts() -> object:
    raise AssertionError("no HEAD of part 1 expected")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ({"ETag": f'"{MD5}"', "ChecksumSHA256": SHA256}, Expected("md5", MD5)),
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "AES256"}, Expected("md5", MD5)),
        (
            {"ETag": '"0123"', "ServerSideEncryption": "aws:kms", "ChecksumSHA256": SHA256},
            Expected("sha256", SHA256),
        ),
        (
            {"ETag": f'"{MD5}"', "SSECustomerAlgorithm": "AES256", "ChecksumSHA1": SHA1},
            Expected("sha1", SHA1),
        ),
        ({"ChecksumCRC32": CRC32}, Expected("crc32", CRC32)),
        ({"ChecksumSHA256": "not base64!", "ChecksumCRC32": CRC32}, Expected("crc32", CRC32)),
        ({"ChecksumSHA256": _b64(b"short")}, None),  # the wrong length for a sha256
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "aws:kms"}, None),
        ({"ETag": "garbage", "ChecksumCRC64NVME": "AAAAAAAAAAA="}, None),
        ({}, None),
        ({"ETag": 17}, None),
        (
            {"ETag": f'"{MD5}-2"', "ChecksumType": "FULL_OBJECT", "ChecksumCRC32": CRC32},
            Expected("crc32", CRC32),
        ),
        # A composite checksum of parts cannot be recomputed: the ETag of parts then.
        (
            {
                "ETag": f'"{MD5}-2"',
                "ChecksumType": "COMPOSITE",
                "ChecksumCRC32": CRC32,
                "ServerSideEncryption": "aws:kms",
            },
            None,
        ),
    ],
)
def test_what_an_objects_headers_say_it_holds(
    head: dict[str, Any], expected: Expected | None
) -> None:
    assert expected_of_object(head, _no_parts) == expected


@pytest.mark.parametrize(
    ("etag", "size", "part", "expected"),
    [
        (f"{MD5}-3", 25, 10, Expected("md5", f"{MD5}-3", part_size=10, parts=3)),
        (f"{MD5}-3", 30, 10, Expected("md5", f"{MD5}-3", part_size=10, parts=3)),
        (f"{MD5}-3", 31, 10, None),  # more than 3 parts of 10 hold
        (f"{MD5}-3", 20, 10, None),  # 2 parts would do: the parts are of other sizes
        (f"{MD5}-3", 25, "10", None),  # a part size that is no int
        (f"{MD5}-3", 25, 0, None),
        (f"{MD5}-3", "25", 10, None),
        (f"{MD5}-0", 25, 10, None),
        (f"{MD5}-10001", 25, 10, None),  # more parts than S3 allows
    ],
)
def test_a_multipart_etag_needs_parts_that_fit(
    etag: str, size: object, part: object, expected: Expected | None
) -> None:
    head = {"ETag": f'"{etag}"', "ContentLength": size}
    assert expected_of_object(head, lambda: part) == expected


def test_checksums_of_files_as_s3_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "data"
    data = os.urandom(25)
    path.write_bytes(data)
    parts = [data[:10], data[10:20], data[20:]]
    composite = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    fd = os.open(path, os.O_RDONLY)
    try:
        assert Expected("crc32", "").of_file(fd, None, _never) == _b64(
            zlib.crc32(data).to_bytes(4, "big")
        )
        assert Expected("sha256", "").of_file(fd, 5, _never) == _b64(
            hashlib.sha256(data[:5]).digest()
        )
        assert Expected("md5", "").of_file(fd, None, _never) == hashlib.md5(data).hexdigest()
        multipart = Expected("md5", "", part_size=10, parts=3)
        assert multipart.of_file(fd, None, _never) == f"{composite}-3"
        assert Expected("md5", "", part_size=5, parts=5).of_file(fd, None, _never).endswith("-5")
        assert file_sha256(fd, _never) == hashlib.sha256(data).hexdigest()
    finally:
        os.close(fd)
    assert multipart.name == "ETag (MD5 of 3 parts)"
    assert Expected("md5", "x").name == "ETag (MD5)"
    assert Expected("crc32", "x").name == "CRC32"


@pytest.mark.parametrize(
    ("source", "copy", "compared"),
    [
        ({"ETag": f'"{MD5}"'}, {"ETag": f'"{MD5}"'}, ("ETag (MD5)", MD5, MD5)),
        (
            {"ETag": f'"{MD5}"', "ChecksumCRC32": CRC32},
            {"ETag": f'"{MD5}-2"', "ChecksumType": "FULL_OBJECT", "ChecksumCRC32": "AAAAAA=="},
            ("CRC32", CRC32, "AAAAAA=="),
        ),
        (
            {"ETag": '"x"', "ChecksumCRC64NVME": "AAAAAAAAAAA=", "ChecksumSHA256": SHA256},
            {"ETag": '"y"', "ChecksumCRC64NVME": "AAAAAAAAAAE="},
            ("CRC64NVME", "AAAAAAAAAAA=", "AAAAAAAAAAE="),
        ),
        ({"ETag": f'"{MD5}-2"', "ChecksumCRC32": CRC32}, {"ChecksumCRC32": CRC32}, None),
        ({"ETag": f'"{MD5}"', "ServerSideEncryption": "aws:kms"}, {"ETag": f'"{MD5}"'}, None),
        ({"ChecksumCRC32": "not base64!"}, {"ChecksumCRC32": CRC32}, None),
        ({"ChecksumCRC32": 5}, {"ChecksumCRC32": CRC32}, None),
        ({"ChecksumSHA1": SHA1}, {"ChecksumCRC32": CRC32}, None),
        ({}, {}, None),
    ],
)
def test_two_objects_are_compared_by_a_checksum_both_carry(
    source: dict[str, Any], copy: dict[str, Any], compared: tuple[str, str, str] | None
) -> None:
    assert compare_objects(source, copy) == compared
