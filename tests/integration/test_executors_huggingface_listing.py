"""``list_hf_files`` against a hostile hub: entry names and fields checked once before they
become destinations, and pagination bounded.

Before, a tree entry ``/tmp/x`` or ``//tmp/x`` became the destination ``/tmp/x``; an entry
with ``"size": true`` passed and made ``queue_job`` raise; a ``next`` link to the same page
was followed for ever. Every test serves the hostile tree from the fake hub on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.fake_hub import RunningHub, TreeLinks, sample_hub, start_hub, tree_entries
from transferqueue.executors import (
    HubAuthError,
    HubEntryError,
    HubError,
    HubNotFoundError,
    HubRequestError,
    HubUnavailableError,
    UnsafeRemoteNameError,
    list_hf_files,
    parse_hf_url,
)
from transferqueue.executors._hub import listing as _hub_listing

GOOD = {"type": "file", "path": "good.txt", "size": 4}


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    yield from start_hub(sample_hub())


def serve(hub: RunningHub, entries: list[Any]) -> None:
    """The tree's only page holds ``entries``."""
    hub.hub.tree_body = json.dumps(entries).encode()


def listed(hub: RunningHub, source: str, root: Path, **options: Any) -> list[dict[str, Any]]:
    return list_hf_files(source, root, endpoint=hub.url, **options)


def destinations(mappings: list[dict[str, Any]]) -> list[str]:
    return [m["destination_path"] for m in mappings]


# --- names ---------------------------------------------------------------------------------

UNSAFE = {
    "absolute": "/tmp/x",
    "double-slash": "//tmp/x",
    "backslash": "a\\..\\..\\x",
    "empty-segment": "sub//x",
    "trailing-slash": "sub/",
    "dot": "./x",
    "dot-dot": "sub/../../x",
    "nul": "x\x00y",
    "empty": "",
}


@pytest.mark.parametrize("path", UNSAFE.values(), ids=UNSAFE.keys())
def test_an_unsafe_name_is_refused(hub: RunningHub, tmp_path: Path, path: str) -> None:
    """A file entry whose path is absolute, has an empty, . or .. segment, a backslash or a
    NUL raises UnsafeRemoteNameError (a ValueError) naming it, before any destination is
    made of it."""
    serve(hub, [GOOD, {"type": "file", "path": path, "size": 1}])
    with pytest.raises(UnsafeRemoteNameError) as caught:
        listed(hub, "hf://owner/model", tmp_path / "out")
    assert isinstance(caught.value, ValueError)
    assert caught.value.name == path
    assert "owner/model@main" in str(caught.value)


@pytest.mark.parametrize("path", UNSAFE.values(), ids=UNSAFE.keys())
def test_on_error_reports_an_unsafe_name_and_goes_on(
    hub: RunningHub, tmp_path: Path, path: str
) -> None:
    """With on_error, the unsafe entry is reported and left out; the others are listed,
    every destination below the destination folder."""
    serve(hub, [{"type": "file", "path": path, "size": 1}, GOOD])
    reported: list[ValueError] = []
    mappings = listed(hub, "hf://owner/model", tmp_path / "out", on_error=reported.append)
    assert destinations(mappings) == [str(tmp_path / "out" / "good.txt")]
    assert [type(e) for e in reported] == [UnsafeRemoteNameError]


def test_names_below_a_folder_and_a_single_file(hub: RunningHub, tmp_path: Path) -> None:
    """For a folder source, entries outside it are not considered (an unsafe one there is
    no concern of this listing), those inside are checked; a source naming one file maps
    to destination/name."""
    serve(
        hub,
        [
            {"type": "file", "path": "/sub/x", "size": 1},  # outside "sub": not listed
            {"type": "file", "path": "other/../sub/x", "size": 1},  # outside too
            {"type": "file", "path": "sub/a.txt", "size": 2},
            {"type": "file", "path": "sub", "size": 3},  # the file "sub" itself
            {"type": "file", "path": "sub/.", "size": 1},
        ],
    )
    reported: list[ValueError] = []
    mappings = listed(hub, "hf://owner/model/sub", tmp_path, on_error=reported.append)
    assert [(m["source_path"], m["destination_path"]) for m in mappings] == [
        ("hf://owner/model@main/sub", str(tmp_path / "sub")),
        ("hf://owner/model@main/sub/a.txt", str(tmp_path / "a.txt")),
    ]
    assert [e.name for e in reported if isinstance(e, UnsafeRemoteNameError)] == ["sub/."]


@pytest.mark.parametrize("url", ["hf://owner/repo/a\\b", "hf://owner/repo/a\x00b"])
def test_a_source_path_with_a_backslash_or_nul_is_refused(url: str) -> None:
    """The user's own hf:// path obeys the same rule as the hub's entries."""
    with pytest.raises(ValueError, match="invalid path"):
        parse_hf_url(url)


# --- fields --------------------------------------------------------------------------------

HOSTILE: dict[str, Any] = {
    "size-true": {"type": "file", "path": "x", "size": True},
    "size-string": {"type": "file", "path": "x", "size": "12"},
    "size-float": {"type": "file", "path": "x", "size": 1.5},
    "size-negative": {"type": "file", "path": "x", "size": -1},
    "size-huge": {"type": "file", "path": "x", "size": 1 << 63},
    "size-missing": {"type": "file", "path": "x"},
    "not-an-object": ["file", "x", 1],
    "a-string": "x",
    "no-type": {"path": "x", "size": 1},
    "type-not-a-string": {"type": 1, "path": "x", "size": 1},
    "no-path": {"type": "file", "size": 1},
    "path-not-a-string": {"type": "file", "path": ["x"], "size": 1},
}


@pytest.mark.parametrize("entry", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_bad_entry_is_refused_or_reported(hub: RunningHub, tmp_path: Path, entry: Any) -> None:
    """An entry that is not an object, or lacks a type, a path or an int size from 0 to
    MAX_FILE_SIZE, raises HubEntryError (a ValueError) at the listing, not a TypeError at
    queue_job; with on_error it is reported and left out, and what is listed queues."""
    serve(hub, [GOOD, entry])
    with pytest.raises(HubEntryError) as caught:
        listed(hub, "hf://owner/model", tmp_path)
    assert isinstance(caught.value, ValueError)
    assert "owner/model@main" in str(caught.value)
    reported: list[ValueError] = []
    mappings = listed(hub, "hf://owner/model", tmp_path, on_error=reported.append)
    assert [type(e) for e in reported] == [HubEntryError]
    assert destinations(mappings) == [str(tmp_path / "good.txt")]
    with tq.TransferQueue(1) as q:
        q.queue_job("huggingface", mappings, lambda file, on_progress: None)


def test_folders_and_unknown_kinds_are_left_out_silently(hub: RunningHub, tmp_path: Path) -> None:
    """Folders (whatever their path) and entry types this version does not know are not
    files to copy: left out without a report."""
    serve(
        hub,
        [{"type": "directory", "path": "/etc"}, {"type": "submodule", "path": "x"}, GOOD],
    )
    reported: list[ValueError] = []
    mappings = listed(hub, "hf://owner/model", tmp_path, on_error=reported.append)
    assert destinations(mappings) == [str(tmp_path / "good.txt")]
    assert reported == []


def test_a_path_listed_twice_is_refused(hub: RunningHub, tmp_path: Path) -> None:
    """A listing naming one file twice would start two downloads into one destination:
    the second entry is refused (or reported, and left out)."""
    serve(hub, [GOOD, dict(GOOD, size=5)])
    with pytest.raises(HubEntryError, match="listed twice"):
        listed(hub, "hf://owner/model", tmp_path)
    reported: list[ValueError] = []
    mappings = listed(hub, "hf://owner/model", tmp_path, on_error=reported.append)
    assert [m["size"] for m in mappings] == [4]
    assert len(reported) == 1


def test_on_error_may_stop_the_listing(hub: RunningHub, tmp_path: Path) -> None:
    serve(hub, [{"type": "file", "path": "/x", "size": 1}, GOOD])

    def stop(error: ValueError) -> None:
        raise RuntimeError("stop") from error

    with pytest.raises(RuntimeError, match="stop"):
        listed(hub, "hf://owner/model", tmp_path, on_error=stop)


def test_a_listing_whose_every_entry_was_refused_finds_nothing(
    hub: RunningHub, tmp_path: Path
) -> None:
    serve(hub, [{"type": "file", "path": "/x", "size": 1}])
    with pytest.raises(HubNotFoundError):
        listed(hub, "hf://owner/model", tmp_path, on_error=lambda error: None)


def test_an_entry_error_is_short_and_pickles() -> None:
    """A huge hostile entry is cut in the message; the error survives pickling."""
    error = HubEntryError({"path": "x" * 10_000}, "no type", where="hf://o/r@main")
    assert len(str(error)) < 400
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.where) == (HubEntryError, str(error), "hf://o/r@main")


# --- pagination and page size --------------------------------------------------------------


@pytest.mark.parametrize("links", ["self", "cycle"])
def test_a_next_link_back_to_a_page_already_read_stops(
    hub: RunningHub, tmp_path: Path, links: TreeLinks
) -> None:
    """A tree whose next link points to the page itself, or goes round two pages, is not
    followed round: HubError once a page would be read again."""
    hub.hub.tree_links = links
    with pytest.raises(HubError, match="links back to a page it already gave"):
        listed(hub, "hf://owner/model", tmp_path)
    pages = [r for r in hub.hub.seen() if "/tree/" in r.path]
    assert len(pages) == (1 if links == "self" else 3)


def test_pages_are_capped(hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree whose next links never end (a new page every time) is read up to
    MAX_TREE_PAGES pages (lowered here), then HubError."""
    monkeypatch.setattr(_hub_listing, "MAX_TREE_PAGES", 5)
    hub.hub.tree_links = "endless"
    with pytest.raises(HubError, match="more than 5 pages"):
        listed(hub, "hf://owner/model", tmp_path)
    assert len([r for r in hub.hub.seen() if "/tree/" in r.path]) == 5


def test_an_endless_page_is_cut_off(hub: RunningHub, tmp_path: Path) -> None:
    """A page whose (chunked) body never ends is read up to MAX_TREE_PAGE_BYTES, then
    HubError: memory does not grow for ever."""
    hub.hub.endless_tree = True
    with pytest.raises(HubError, match="larger than 16 MiB"):
        listed(hub, "hf://owner/model", tmp_path)


def tree_pages(hub: RunningHub) -> list[str]:
    return [r.path for r in hub.hub.seen() if "/tree/" in r.path]


def test_entries_are_capped_across_pages(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of a tree that are each small but many add up: more than MAX_TREE_ENTRIES
    entries in all (lowered here to 5; the model's tree has 6, 2 a page) end the listing
    with HubError naming the limit, at the page that passes it. At 6 it is listed."""
    hub.hub.page_size = 2
    monkeypatch.setattr(_hub_listing, "MAX_TREE_ENTRIES", 6)
    assert len(listed(hub, "hf://owner/model", tmp_path)) == 4
    monkeypatch.setattr(_hub_listing, "MAX_TREE_ENTRIES", 5)
    hub.hub.requests.clear()
    with pytest.raises(HubError, match=r"more than 5 entries \(MAX_TREE_ENTRIES\)"):
        listed(hub, "hf://owner/model", tmp_path)
    assert len(tree_pages(hub)) == 3


def test_entries_are_capped_in_a_listing_that_never_ends(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries count whether in scope or not, files or folders: a listing of one folder
    of a tree whose pages of folders go on (under the page cap) stops at the entry cap."""
    hub.hub.tree_links = "endless"
    hub.hub.tree_filler = [{"type": "directory", "path": f"d{i}"} for i in range(50)]
    monkeypatch.setattr(_hub_listing, "MAX_TREE_ENTRIES", 1000)
    with pytest.raises(HubError, match="more than 1,000 entries"):
        listed(hub, "hf://owner/model/sub", tmp_path)
    assert len(tree_pages(hub)) == 21  # the first page (6), then 50 a page: 1,006 > 1,000


def test_bytes_are_capped_across_pages(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages each under MAX_TREE_PAGE_BYTES add up: more than MAX_TREE_BYTES read in all
    (lowered here to a little more than two of the tree's pages) end the listing with
    HubError naming the limit, as soon as the page that passes it does."""
    hub.hub.page_size = 1
    entries = tree_entries(hub.hub.repos[("model", "owner/model")], hub.hub.redirected)
    pages = [len(json.dumps([entry]).encode()) for entry in entries]
    monkeypatch.setattr(_hub_listing, "MAX_TREE_BYTES", sum(pages))
    assert len(listed(hub, "hf://owner/model", tmp_path)) == 4
    hub.hub.requests.clear()
    monkeypatch.setattr(_hub_listing, "MAX_TREE_BYTES", pages[0] + pages[1] + 1)
    limit = f"{pages[0] + pages[1] + 1:,}"
    with pytest.raises(HubError, match=rf"add up to more than {limit} bytes \(MAX_TREE_BYTES"):
        listed(hub, "hf://owner/model", tmp_path)
    assert len(tree_pages(hub)) == 3


def test_an_endless_page_stops_at_the_total_when_that_is_lower(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The total cap holds within a page too: an endless page stops at MAX_TREE_BYTES
    when that is below MAX_TREE_PAGE_BYTES."""
    monkeypatch.setattr(_hub_listing, "MAX_TREE_BYTES", 1 << 20)
    hub.hub.endless_tree = True
    with pytest.raises(HubError, match="more than 1,048,576 bytes"):
        listed(hub, "hf://owner/model", tmp_path)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[" * 100_000, ConnectionError),
        (b"not json", ConnectionError),
        (b'{"entries": []}', HubError),
    ],
    ids=["too-deep", "not-json", "not-a-list"],
)
def test_a_malformed_page_is_a_clear_error(
    hub: RunningHub, tmp_path: Path, body: bytes, error: type[Exception]
) -> None:
    hub.hub.tree_body = body
    with pytest.raises(error, match="file list"):
        listed(hub, "hf://owner/model", tmp_path)


def test_a_broken_chunked_page_is_a_connection_error(hub: RunningHub, tmp_path: Path) -> None:
    """A chunked page whose chunk header is garbage breaks the reply: ConnectionError."""
    hub.hub.framing = "chunked"
    hub.hub.tree_body = b"[]"
    hub.hub.break_chunks = True
    with pytest.raises(ConnectionError, match="file list"):
        listed(hub, "hf://owner/model", tmp_path)


# --- the errors' kinds ---------------------------------------------------------------------


def test_hub_errors_are_the_os_errors_they_mean() -> None:
    """A 404 is a FileNotFoundError and a 401/403 a PermissionError (as S3 and local errors
    are), both permanent under the default RetryPolicy; a 5xx is a ConnectionError
    (retried); another 4xx is no OSError. Their message, status and url survive, pickled
    too."""
    policy = tq.RetryPolicy()
    cases: list[tuple[HubRequestError, type[BaseException] | None, bool]] = [
        (HubNotFoundError("no such file", status=404, url="http://h/f"), FileNotFoundError, False),
        (HubAuthError("refused", status=403, url="http://h/f"), PermissionError, False),
        (HubUnavailableError("busy", status=503, url="http://h/f"), ConnectionError, True),
        (HubRequestError("bad", status=400, url="http://h/f"), None, False),
    ]
    for error, base, transient in cases:
        if base is None:
            assert not isinstance(error, OSError)
        else:
            assert isinstance(error, base)
        assert policy.is_transient(error) is transient
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert (str(again), again.status, again.url) == (str(error), error.status, error.url)
        assert str(error) == str(error.args[0])


def test_a_missing_repository_listing_is_a_file_not_found_error(
    hub: RunningHub, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="repository not found"):
        listed(hub, "hf://owner/gone", tmp_path)
    assert os.listdir(tmp_path) == []
