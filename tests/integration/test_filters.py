"""Include and exclude on the local, S3 and Hugging Face listings and on
``transferqueue cp``, applied before anything is queued (the patterns themselves are
tested in tests/unit/test_path_filter.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fake_hub import FakeHub, RunningHub, start_hub
from tests.helpers.file_lists import PATTERN_PATHS as PATHS
from tests.helpers.s3_server import s3_client
from transferqueue._cli.main import main
from transferqueue.executors import (
    list_files,
    list_hf_files,
    list_local_files,
    list_s3_objects,
)

# --- the listings --------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    for relative in PATHS:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(relative.encode())


def test_local_listing_filters(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    files = list_local_files(
        tmp_path / "src", tmp_path / "out", include=["*.txt"], exclude=["deeper/**"]
    )
    assert [f["source_path"] for f in files] == [
        str(tmp_path / "src" / p)
        for p in sorted(["a.txt", "sub/c.txt", "other/sub/f.txt", "x[1].txt"])
    ]
    # A source file is matched by its own name.
    single = tmp_path / "src" / "a.txt"
    assert list_local_files(single, tmp_path / "o", exclude=["*.txt"]) == []
    assert len(list_local_files(single, tmp_path / "o", include=["a.txt"])) == 1
    with pytest.raises(ValueError, match="alternatives"):
        list_local_files(tmp_path / "src", tmp_path / "out", include=["{a}"])


def test_s3_listing_filters(s3_env: str, tmp_path: Path) -> None:
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    for path in PATHS:
        client.put_object(Bucket="bucket", Key=f"p/{path}", Body=path.encode())
    client.put_object(Bucket="bucket", Key="p/evil/../x.bin", Body=b"evil")
    files = list_s3_objects(
        "s3://bucket/p", tmp_path, client=client, include=["/sub/**"], exclude=["*.bin"]
    )
    assert [f["source_path"] for f in files] == [
        "s3://bucket/p/sub/c.txt",
        "s3://bucket/p/sub/deeper/d.txt",
    ]
    # An unsafe key that is excluded is not checked, nor reported.
    reported: list[Exception] = []
    files = list_files(
        "s3://bucket/p", tmp_path, client=client, exclude=["*.bin"], on_error=reported.append
    )
    assert len(files) == 5
    assert reported == []
    one = list_s3_objects("s3://bucket/p/a.txt", tmp_path / "a", client=client, exclude=["a.*"])
    assert one == []
    one = list_s3_objects("s3://bucket/p/a.txt", tmp_path / "a", client=client, include=["a.*"])
    assert [f["source_path"] for f in one] == ["s3://bucket/p/a.txt"]


@pytest.fixture
def tree_hub() -> Iterator[RunningHub]:
    files = {f"data/{path}": path.encode() for path in PATHS}
    files["top.txt"] = b"top"
    yield from start_hub(FakeHub(repos={("model", "owner/tree"): files}))


def test_hub_listing_filters(tree_hub: RunningHub, tmp_path: Path) -> None:
    files = list_hf_files(
        "hf://owner/tree/data", tmp_path, endpoint=tree_hub.url, include=["sub/**"]
    )
    assert [f["source_path"] for f in files] == [
        "hf://owner/tree@main/data/other/sub/f.txt",
        "hf://owner/tree@main/data/sub/c.txt",
        "hf://owner/tree@main/data/sub/deeper/d.txt",
        "hf://owner/tree@main/data/sub/deeper/e.bin",
    ]
    # Every file left out: an empty listing, not "no file at source".
    assert list_hf_files("hf://owner/tree", tmp_path, endpoint=tree_hub.url, exclude=["**"]) == []
    one = list_hf_files(
        "hf://owner/tree/top.txt", tmp_path, endpoint=tree_hub.url, include=["/top.txt"]
    )
    assert len(one) == 1


def test_an_excluded_unsafe_hub_name_is_not_reported(tmp_path: Path) -> None:
    fake = FakeHub(repos={("model", "owner/evil"): {"fine.txt": b"ok"}})
    tree = [
        {"type": "file", "path": "fine.txt", "size": 2},
        {"type": "file", "path": "/abs/x", "size": 1},
    ]
    fake.tree_body = json.dumps(tree).encode()
    for running in start_hub(fake):
        reported: list[Exception] = []
        files = list_hf_files(
            "hf://owner/evil", tmp_path, endpoint=running.url, exclude=["x"],
            on_error=reported.append,
        )  # fmt: skip
        assert [f["source_path"] for f in files] == ["hf://owner/evil@main/fine.txt"]
        assert reported == []


# --- the command line ----------------------------------------------------------------------


def test_cp_include_and_exclude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--include`` and ``--exclude``, repeatable, on ``cp`` and its dry run."""
    make_tree(tmp_path / "src")
    args = ["--include", "*.txt", "--include", "*.bin", "--exclude", "deeper/**"]
    out = tmp_path / "out"
    assert main(["cp", "--dry-run", "--json", *args, str(tmp_path / "src"), str(out)]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["total_files"] == 5
    assert main(["cp", "-q", *args, str(tmp_path / "src"), str(out)]) == 0
    copied = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert copied == sorted(
        os.path.join(*p.split("/"))
        for p in ["a.txt", "b.bin", "sub/c.txt", "other/sub/f.txt", "x[1].txt"]
    )


def test_cp_bad_pattern_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tree(tmp_path / "src")
    assert main(["cp", "--exclude", "logs/", str(tmp_path / "src"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("transferqueue: error: bad pattern: pattern 'logs/' ends with '/'")
    assert not (tmp_path / "o").exists()


def test_cp_s3_prefix_of_which_nothing_is_kept_copies_nothing(
    s3_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With patterns, an S3 source of which nothing is kept is no usage error."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    client.put_object(Bucket="bucket", Key="p/a.bin", Body=b"a")
    assert main(["cp", "--include", "*.txt", "s3://bucket/p", str(tmp_path / "o")]) == 0
    assert "0 of 0 files copied" in capsys.readouterr().out
    assert main(["cp", "s3://bucket/nothing", str(tmp_path / "o")]) == 2
