"""What an S3 test sends and how it reads back what the bucket holds: payloads whose parts
differ, a multipart configuration with small parts, an object's bytes and the multipart
uploads left open."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from boto3.s3.transfer import TransferConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import MultipartUploadTypeDef

MiB = 1 << 20


def multipart_config(max_concurrency: int = 10) -> TransferConfig:
    """Multipart with small parts: above 8 MiB, in parts of 5 MiB (S3's smallest part
    size), so 20 MiB go in 4 parts; 10 request threads is boto3's default."""
    return TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB, max_concurrency=max_concurrency
    )


def payload(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that differ from part to part (so a misplaced part shows)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += counter.to_bytes(8, "big") + block[8:]
        counter += 1
    return bytes(out[:size])


def read_object(client: S3Client, bucket: str, key: str) -> bytes:
    """The bytes of object ``key`` in ``bucket``."""
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def open_uploads(client: S3Client, bucket: str) -> list[MultipartUploadTypeDef]:
    """The multipart uploads of ``bucket`` begun and neither completed nor aborted."""
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
