"""S3 URLs (``s3://bucket/key``) read and written: plain string code, without boto3, so
that the command line and the listings can tell and check an S3 location before (or
without) importing the SDK."""

from __future__ import annotations

import os

S3_SCHEME = "s3://"


def is_s3_url(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a string starting with ``s3://``."""
    return isinstance(path, str) and path.startswith(S3_SCHEME)


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``; the key may be empty (``s3://bucket``
    or ``s3://bucket/``), meaning the whole bucket.

    Raises ``ValueError`` naming the URL for anything else: another scheme, no bucket, or
    a bucket name that S3 would refuse (3 to 63 characters of lower-case letters, digits,
    dots and hyphens, starting and ending with a letter or digit).
    """
    if not isinstance(url, str):
        raise TypeError(f"an S3 URL is a str, not {type(url).__name__}")
    if not url.startswith(S3_SCHEME):
        raise ValueError(f"not an S3 URL (expected s3://bucket/key): {url!r}")
    bucket, _, key = url[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URL has no bucket (expected s3://bucket/key): {url!r}")
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    if (
        not 3 <= len(bucket) <= 63
        or not set(bucket) <= allowed
        or not bucket[0].isalnum()
        or not bucket[-1].isalnum()
    ):
        raise ValueError(
            f"S3 URL has an invalid bucket name {bucket!r} (3 to 63 characters: "
            f"lower-case letters, digits, '.' and '-'): {url!r}"
        )
    return bucket, key


def s3_url(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"{S3_SCHEME}{bucket}/{key}"
