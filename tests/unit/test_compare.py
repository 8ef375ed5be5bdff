"""Which files' destinations are up to date: the rules of each comparison (size and
modification time, size, checksum, none; ``update``), the checksums of local files
against S3 ETags (single and multipart), the hub's sha256 and git blob ids, and the
arguments refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from transferqueue.executors import COMPARE_MODES, _compare, list_local_files, skip_up_to_date
from transferqueue.executors._compare import FileFacts, up_to_date


@pytest.mark.parametrize(
    ("source", "destination", "compare", "update", "expected"),
    [
        # size-mtime: equal sizes and a destination no older than its source.
        (FileFacts(5, 100), FileFacts(5, 100), "size-mtime", False, True),
        (FileFacts(5, 100), FileFacts(5, 101), "size-mtime", False, True),
        (FileFacts(5, 101), FileFacts(5, 100), "size-mtime", False, False),
        (FileFacts(5, 100), FileFacts(6, 200), "size-mtime", False, False),
        # No time on a side (the hub): the size decides, as rclone does.
        (FileFacts(5), FileFacts(5, 100), "size-mtime", False, True),
        (FileFacts(5), FileFacts(4, 100), "size-mtime", False, False),
        (FileFacts(5, 101), FileFacts(5, 100), "size", False, True),
        (FileFacts(5, 101), FileFacts(4, 100), "size", False, False),
        (FileFacts(5, 100), FileFacts(5, 100), "none", False, False),
        # update: a destination modified later is skipped whatever its size.
        (FileFacts(5, 100), FileFacts(9, 101), "size-mtime", True, True),
        (FileFacts(5, 100), FileFacts(9, 101), "none", True, True),
        (FileFacts(5, 100), FileFacts(9, 100), "size-mtime", True, False),
        (FileFacts(5, 101), FileFacts(5, 100), "size-mtime", True, False),
        (FileFacts(5), FileFacts(9, 100), "size-mtime", True, False),
        # checksum: ETags compared as given; nothing to compare means a copy.
        (FileFacts(5, etag="abc"), FileFacts(5, etag="abc"), "checksum", False, True),
        (FileFacts(5, etag="abc"), FileFacts(5, etag="abd"), "checksum", False, False),
        (FileFacts(5, etag="abc"), FileFacts(6, etag="abc"), "checksum", False, False),
        (FileFacts(5, sha256="0" * 64), FileFacts(5, etag="abc"), "checksum", False, False),
        (FileFacts(5, 1), FileFacts(5, 2), "checksum", False, False),
    ],
)
def test_the_rules(
    source: FileFacts, destination: FileFacts, compare: str, update: bool, expected: bool
) -> None:
    assert up_to_date(source, destination, compare, update) is expected


def test_checksums_against_local_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local file is hashed as the other side's checksum needs: MD5 for a single-part
    ETag, the MD5 of its parts' MD5s for a multipart one of s3transfer's part size,
    sha256 for an LFS file, the git blob id for a file kept in git; sha256 of both for
    two local files. What cannot be compared (another part size, an ETag of another form,
    a file that cannot be read) is not up to date."""
    data = os.urandom(10_000)
    path = tmp_path / "f"
    path.write_bytes(data)
    local = FileFacts(len(data), local_path=str(path))

    def same(remote: FileFacts) -> bool:
        return up_to_date(remote, local, "checksum", False) and up_to_date(
            local, remote, "checksum", False
        )

    md5 = hashlib.md5(data).hexdigest()
    assert same(FileFacts(len(data), etag=md5))
    assert not same(FileFacts(len(data), etag=hashlib.md5(b"other").hexdigest()))
    assert not same(FileFacts(len(data), etag="not-an-md5"))
    assert same(FileFacts(len(data), sha256=hashlib.sha256(data).hexdigest()))
    assert not same(FileFacts(len(data), sha256="0" * 64))
    blob = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
    assert same(FileFacts(len(data), git_sha1=blob))
    # Multipart: parts of 4,096 bytes (patched down from 8 MiB), three of them.
    monkeypatch.setattr(_compare, "_PART_SIZE", 4096)
    digests = b"".join(hashlib.md5(data[i : i + 4096]).digest() for i in (0, 4096, 8192))
    assert same(FileFacts(len(data), etag=f"{hashlib.md5(digests).hexdigest()}-3"))
    assert not same(FileFacts(len(data), etag=f"{hashlib.md5(digests).hexdigest()}-4"))
    assert not same(FileFacts(len(data), etag=f"{'0' * 32}-3"))
    # More than 10,000 parts of the part size: s3transfer doubles it, so do we.
    monkeypatch.setattr(_compare, "_PART_SIZE", 1)
    monkeypatch.setattr(_compare, "_MAX_PARTS", 5)
    parts = [data[i : i + 2048] for i in range(0, len(data), 2048)]
    doubled = b"".join(hashlib.md5(part).digest() for part in parts)
    assert same(FileFacts(len(data), etag=f"{hashlib.md5(doubled).hexdigest()}-5"))
    # Two local files: their sha256.
    twin = tmp_path / "twin"
    twin.write_bytes(data)
    other = tmp_path / "other"
    other.write_bytes(bytes(len(data)))
    assert same(FileFacts(len(data), local_path=str(twin)))
    assert not same(FileFacts(len(data), local_path=str(other)))
    gone = FileFacts(len(data), local_path=str(tmp_path / "gone"))
    assert not same(gone)
    assert not up_to_date(gone, FileFacts(len(data), etag=md5), "checksum", False)
    assert not up_to_date(
        gone, FileFacts(len(data), etag=f"{hashlib.md5(digests).hexdigest()}-5"), "checksum", False
    )


def test_bad_arguments(tmp_path: Path) -> None:
    assert COMPARE_MODES == ("size-mtime", "size", "checksum", "none")
    with pytest.raises(ValueError, match="compare must be one of 'size-mtime',"):
        list_local_files(tmp_path, tmp_path / "o", compare="mtime")
    with pytest.raises(TypeError, match="update must be a bool, not str"):
        skip_up_to_date([], update="yes")  # type: ignore[arg-type]
