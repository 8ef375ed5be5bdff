"""Skipping unchanged files on the listing helpers, ``skip_up_to_date`` and
``transferqueue cp`` (the comparison's rules are tested in tests/unit/test_compare.py): a
second ``cp`` of the same tree moves 0 bytes, exits 0 and says so, for local folders, S3
(a real moto server) and hf:// (the fake hub), with filters."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.helpers.fake_hub import FakeHub, RunningHub, start_hub
from tests.helpers.s3_server import MotoServer, free_port, s3_client
from transferqueue._cli.main import main
from transferqueue.executors import (
    list_files,
    list_hf_files,
    list_local_files,
    list_s3_objects,
    skip_up_to_date,
)

TREE = {
    "a.bin": os.urandom(70_000),
    "b.txt": b"bee\n",
    "sub/c.bin": os.urandom(5000),
    "sub/skip.tmp": b"temporary\n",
}
HOUR = 3600


def make_tree(root: Path, contents: dict[str, bytes] = TREE) -> None:
    for relative, data in contents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` ``seconds`` into the past (of now)."""
    info = path.stat()
    os.utime(path, (info.st_atime, info.st_mtime - seconds))


def skipped(files: list[dict[str, Any]]) -> list[str]:
    return sorted(os.path.basename(str(f["destination_path"])) for f in files if f.get("skip"))


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def ended(out: str) -> dict[str, Any]:
    last = json_lines(out)[-1]
    assert last["event"] == "ended"
    job: dict[str, Any] = last["job"]
    return job


# --- the listing helpers and skip_up_to_date -----------------------------------------------


def test_local_listing_marks_what_is_up_to_date(tmp_path: Path) -> None:
    source, out = tmp_path / "src", tmp_path / "out"
    make_tree(source)
    make_tree(out, {"a.bin": TREE["a.bin"], "b.txt": b"BEE\n", "sub/c.bin": b"short"})
    age(source / "b.txt", HOUR)  # the copy of b.txt is newer, of the same size
    age(out / "a.bin", HOUR)  # the copy of a.bin is older: the source changed since
    (out / "sub" / "skip.tmp").mkdir()  # a folder where the file should go
    files = list_local_files(source, out, compare="size-mtime")
    assert skipped(files) == ["b.txt"]
    assert skipped(list_local_files(source, out, compare="size")) == ["a.bin", "b.txt"]
    assert skipped(list_local_files(source, out, compare="checksum")) == ["a.bin"]
    assert skipped(list_local_files(source, out)) == []
    assert skipped(list_local_files(source, out, compare="none", update=True)) == ["b.txt"]
    # The same through skip_up_to_date, on a listing made without comparing.
    plain = list_local_files(source, out)
    assert skipped(skip_up_to_date(plain)) == ["b.txt"]
    assert skipped(skip_up_to_date(plain, compare="checksum")) == ["a.bin"]
    assert "skip" not in plain[0]  # the listing given is left as it was
    # A single file, and a source that vanished since it was listed.
    single = list_local_files(source / "b.txt", out / "b.txt", compare="size-mtime")
    assert single[0]["skip"] is True
    (source / "b.txt").unlink()
    assert skipped(skip_up_to_date(plain)) == []


def test_s3_listings_compare_with_s3_and_local(s3_env: str, tmp_path: Path) -> None:
    """local -> S3 (the destination listed once), S3 -> local and S3 -> S3, by the
    listing's size, LastModified and ETag; a missing bucket is nothing there yet."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    make_tree(tmp_path / "src")
    age(tmp_path / "src" / "b.txt", HOUR)  # older than its upload: up to date
    for relative in ("a.bin", "b.txt"):
        client.put_object(Bucket="bucket", Key=f"up/{relative}", Body=TREE[relative])
    client.put_object(Bucket="bucket", Key="up/sub/c.bin", Body=b"not the same size")
    client.put_object(Bucket="bucket", Key="up/other.bin", Body=b"listed, not compared")
    up = list_local_files(tmp_path / "src", "s3://bucket/up", compare="size-mtime", client=client)
    assert skipped(up) == ["a.bin", "b.txt"]  # uploaded after they were written
    age(tmp_path / "src" / "a.bin", -HOUR)  # a.bin changed since its upload
    up = list_local_files(tmp_path / "src", "s3://bucket/up", compare="size-mtime", client=client)
    assert skipped(up) == ["b.txt"]
    up = list_files(tmp_path / "src", "s3://bucket/up", compare="checksum", client=client)
    assert skipped(up) == ["a.bin", "b.txt"]
    nowhere = list_local_files(tmp_path / "src", "s3://no-bucket/x", compare="size", client=client)
    assert skipped(nowhere) == []
    # S3 -> local: the local copies are newer than the objects.
    make_tree(tmp_path / "down", {"a.bin": TREE["a.bin"], "b.txt": b"xyz\n"})
    down = list_s3_objects("s3://bucket/up", tmp_path / "down", client=client, compare="size-mtime")
    assert skipped(down) == ["a.bin", "b.txt"]
    down = list_s3_objects(
        "s3://bucket/up", tmp_path / "down", client=client, compare="checksum", exclude=["other*"]
    )
    assert skipped(down) == ["a.bin"]
    one = list_s3_objects(
        "s3://bucket/up/a.bin", tmp_path / "down" / "a.bin", client=client, compare="checksum"
    )
    assert one[0]["skip"] is True
    # S3 -> S3: ETags.
    client.copy_object(Bucket="bucket", Key="copy/a.bin", CopySource="bucket/up/a.bin")
    across = list_s3_objects(
        "s3://bucket/up", "s3://bucket/copy", client=client, compare="checksum"
    )
    assert skipped(across) == ["a.bin"]
    plain = list_s3_objects("s3://bucket/up", tmp_path / "down", client=client)
    assert skipped(skip_up_to_date(plain, compare="checksum", client=client)) == ["a.bin"]


@pytest.fixture
def model_hub() -> Iterator[RunningHub]:
    """A model with an LFS file (big.bin, behind the CDN) and files kept in git."""
    files = {"big.bin": TREE["a.bin"], "config.json": b'{"a": 1}\n', "sub/c.bin": TREE["sub/c.bin"]}
    yield from start_hub(FakeHub(repos={("model", "owner/model"): files}, redirected={"big.bin"}))


def test_hub_listing_compares_sizes_and_checksums(model_hub: RunningHub, tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_tree(out, {"big.bin": TREE["a.bin"], "config.json": b'{"a": 2}\n', "sub/c.bin": b"x"})
    age(out / "config.json", HOUR)  # no time on the hub: the size decides
    listed = list_hf_files("hf://owner/model", out, endpoint=model_hub.url, compare="size-mtime")
    assert skipped(listed) == ["big.bin", "config.json"]
    listed = list_hf_files("hf://owner/model", out, endpoint=model_hub.url, compare="checksum")
    assert skipped(listed) == ["big.bin"]  # by its LFS sha256
    (out / "config.json").write_bytes(b'{"a": 1}\n')
    listed = list_hf_files("hf://owner/model", out, endpoint=model_hub.url, compare="checksum")
    assert skipped(listed) == ["big.bin", "config.json"]  # by its git blob id
    listed = list_hf_files("hf://owner/model", out, endpoint=model_hub.url, update=True)
    assert skipped(listed) == []  # no time on the hub: nothing is newer
    # Without the listing's checksums, skip_up_to_date has the sizes only.
    plain = list_hf_files("hf://owner/model", out, endpoint=model_hub.url)
    assert skipped(skip_up_to_date(plain, compare="size")) == ["big.bin", "config.json"]
    assert skipped(skip_up_to_date(plain, compare="checksum")) == []


def test_hostile_hub_checksums_are_ignored(tmp_path: Path) -> None:
    """A tree entry's oid and lfs fields are untrusted: anything but the hex they should
    be is ignored (the file is then copied), never an error."""
    fake = FakeHub(repos={("model", "owner/evil"): {"a": b"aa", "b": b"bb", "c": b"cc"}})
    entries = [
        {"type": "file", "path": "a", "size": 2, "oid": ["x"], "lfs": "nope"},
        {"type": "file", "path": "b", "size": 2, "lfs": {"oid": "Z" * 64}},
        {"type": "file", "path": "c", "size": 2, "oid": "../" * 13 + "x"},
    ]
    fake.tree_body = json.dumps(entries).encode()
    make_tree(tmp_path, {"a": b"aa", "b": b"bb", "c": b"cc"})
    for running in start_hub(fake):
        listed = list_hf_files(
            "hf://owner/evil", tmp_path, endpoint=running.url, compare="checksum"
        )
        assert skipped(listed) == []


# --- the command line: a second cp moves nothing -------------------------------------------


def test_second_local_cp_moves_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "src", tmp_path / "backup"
    make_tree(source)
    # Into the folder DEST/ each time, as cp -r names copies: backup/src/...
    args = ["--exclude", "*.tmp", str(source), f"{out}/"]
    assert main(["cp", "--json", *args]) == 0
    first = ended(capsys.readouterr().out)
    assert first["progress"]["loaded_bytes"] == sum(len(TREE[p]) for p in TREE if "tmp" not in p)
    assert not (out / "src" / "sub" / "skip.tmp").exists()
    assert main(["cp", "--json", *args]) == 0
    second = ended(capsys.readouterr().out)
    assert second["status"] == "completed"
    assert second["progress"]["loaded_bytes"] == 0
    assert second["progress"]["total_bytes"] == 0
    assert second["progress"]["skipped_files"] == 3
    assert second["progress"]["percentage"] == 100
    assert {file["status"] for file in second["files"]} == {"skipped"}
    assert main(["cp", *args]) == 0
    assert capsys.readouterr().out == "0 of 3 files copied (0 B), 3 up to date, 0 failed\n"
    # A changed source is copied again (with --overwrite), the rest still skipped.
    (source / "b.txt").write_bytes(b"changed\n")
    assert main(["cp", "--overwrite", *args]) == 0
    out_text = capsys.readouterr().out
    assert out_text.endswith("1 of 3 files copied (8 B), 2 up to date, 0 failed\n")
    assert (out / "src" / "b.txt").read_bytes() == b"changed\n"


def test_dry_run_shows_what_is_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = tmp_path / "src", tmp_path / "out"
    make_tree(source)
    make_tree(out / "src", {"b.txt": TREE["b.txt"]})
    assert main(["cp", "--dry-run", str(source), str(out)]) == 0
    text = capsys.readouterr().out
    assert "b.txt" not in text
    assert text.splitlines()[-1] == "3 files, 73.3 KiB, 1 up to date (dry run: nothing copied)"
    assert main(["cp", "--dry-run", "--json", str(source), str(out)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["skipped_files"] == 1
    assert planned["total_files"] == 4
    assert [f["status"] for f in planned["files"]] == ["queued", "skipped", "queued", "queued"]


def test_update_and_compare_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--update skips a destination modified later whatever its size; --compare checksum
    copies a same-sized, newer destination of other bytes; --compare none copies all."""
    source, out = tmp_path / "src", tmp_path / "out" / "src"
    make_tree(source, {"a.txt": b"aaaa", "b.txt": b"bbbb"})
    make_tree(out, {"a.txt": b"newer, longer", "b.txt": b"BBBB"})
    into = f"{out.parent}/"
    for name in ("a.txt", "b.txt"):
        age(source / name, HOUR)
    assert main(["cp", "-q", str(source), into]) == 1  # a.txt differs in size
    assert "a.txt exists (use --overwrite" in capsys.readouterr().err
    assert main(["cp", "--update", str(source), into]) == 0
    assert capsys.readouterr().out == "0 of 2 files copied (0 B), 2 up to date, 0 failed\n"
    assert main(["cp", "-q", "--overwrite", "--compare", "checksum", str(source), into]) == 0
    assert (out / "a.txt").read_bytes() == b"aaaa"
    assert (out / "b.txt").read_bytes() == b"bbbb"
    assert main(["cp", "--compare", "checksum", str(source), into]) == 0
    assert "2 up to date" in capsys.readouterr().out
    assert main(["cp", "-q", "--compare", "none", str(source), into]) == 1
    assert main(["cp", "--compare", "mtime", str(source), into]) == 2


def test_second_s3_cp_moves_nothing(
    s3_env: str,
    moto_server: MotoServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Up to S3 and back down, twice: the second time nothing is sent nor fetched (the
    server sees listings only) and the exit status is 0."""
    s3_client().create_bucket(Bucket="bucket")
    make_tree(tmp_path / "src")
    up = ["cp", "--json", "--exclude", "*.tmp", str(tmp_path / "src"), "s3://bucket/data"]
    down = ["cp", "--json", "--include", "/sub/**", "s3://bucket/data", f"{tmp_path}/back/"]
    for args in (up, down):
        assert main(args) == 0
        assert ended(capsys.readouterr().out)["progress"]["skipped_files"] == 0
    jobs: list[dict[str, Any]] = []

    def again() -> None:
        for args in (up, down):
            assert main(args) == 0
            jobs.append(ended(capsys.readouterr().out))

    requests = moto_server.requests_during(again)
    assert [job["progress"]["skipped_files"] for job in jobs] == [3, 1]
    assert [job["progress"]["loaded_bytes"] for job in jobs] == [0, 0]
    assert all(request.startswith("GET /bucket?") for request in requests), requests
    back = tmp_path / "back" / "data"
    assert (back / "sub" / "c.bin").read_bytes() == TREE["sub/c.bin"]
    assert not (back / "a.bin").exists()


def test_second_hub_cp_moves_nothing(
    model_hub: RunningHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """hf:// twice, with a filter, by size and by checksum: the second time only the tree
    is read, no file."""
    monkeypatch.setenv("HF_ENDPOINT", model_hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    args = ["cp", "--json", "--exclude", "config.json", "hf://owner/model", str(tmp_path / "m")]
    assert main(args) == 0
    assert ended(capsys.readouterr().out)["progress"]["loaded_bytes"] == 75_000
    before = len(model_hub.hub.seen())
    for compare in ("size-mtime", "checksum"):
        assert main([*args, "--compare", compare]) == 0
        job = ended(capsys.readouterr().out)
        assert job["progress"]["loaded_bytes"] == 0
        assert job["progress"]["skipped_files"] == 2
    paths = [request.path for request in model_hub.hub.seen()[before:]]
    assert paths
    assert all("/api/models/owner/model/tree/" in path for path in paths), paths
    assert not (tmp_path / "m" / "config.json").exists()


def test_s3_destinations_with_a_default_client_and_a_failing_one(
    s3_env: str,
    tmp_path: Path,
) -> None:
    """Without a client, one is made from the environment; a listing that fails for
    another reason than a missing bucket raises its OSError, naming the prefix."""
    s3_client().create_bucket(Bucket="bucket")
    s3_client().put_object(Bucket="bucket", Key="d/b.txt", Body=TREE["b.txt"])
    make_tree(tmp_path, {"b.txt": TREE["b.txt"]})
    age(tmp_path / "b.txt", HOUR)
    plain = [
        {
            "source_path": str(tmp_path / "b.txt"),
            "destination_path": "s3://bucket/d/b.txt",
            "size": 4,
        }
    ]
    assert skipped(skip_up_to_date(plain)) == ["b.txt"]
    down = [{"source_path": "s3://bucket/d/b.txt", "destination_path": plain[0]["source_path"]}]
    down[0]["size"] = 4
    assert skipped(skip_up_to_date(down, compare="size")) == ["b.txt"]
    assert skipped(skip_up_to_date(down)) == []  # the local copy is older than the object
    nowhere = boto3.session.Session().client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(ConnectionError, match=r"s3://bucket/d/b.txt: cannot list"):
        skip_up_to_date(plain, client=nowhere)
