"""The Hugging Face executor and listing helper against a fake hub on 127.0.0.1.

Issue 4 ("Hugging Face"): downloads of model and dataset files, redirects to a CDN that
must not see the token, private repositories, clear errors (S16), resume by HTTP Range
after a broken connection, cancellation (S9) and the hub's endpoint and token from the
environment. Every download test checks the bytes that arrived (size and sha256).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers.fake_hub import (
    CONFIG,
    SECRET,
    SUB_A,
    SUB_B,
    TOKEN,
    TRAIN,
    WEIGHTS,
    FakeProgress,
    RunningHub,
    Stall,
    assert_file,
    partials,
    run,
    sample_hub,
    sha,
    start_hub,
)
from transferqueue.executors import (
    HubAuthError,
    HubChecksumError,
    HubError,
    HubNotFoundError,
    HubUnavailableError,
    HuggingFaceDownload,
    HuggingFaceLocation,
    list_hf_files,
    parse_hf_url,
)


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    """A fake hub with a public model, a dataset and a private model."""
    yield from start_hub(sample_hub())


def queue_one(
    q: tq.TransferQueue,
    executor: HuggingFaceDownload,
    source: str,
    destination: Path,
    size: int,
) -> tq.TransferJob:
    files = [{"source_path": source, "destination_path": str(destination), "size": size}]
    job_id = q.queue_job("huggingface", files, executor)
    return q.wait(job_id, timeout=WAIT)


# --- downloads ---------------------------------------------------------------------------


def test_public_model_file(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a public model file arrives whole, with absolute progress up to its size."""
    dest = tmp_path / "out" / "config.json"
    progress = run(HuggingFaceDownload(endpoint=hub.url), "hf://owner/model/config.json", dest)
    assert_file(dest, CONFIG)
    assert progress.values[-1] == len(CONFIG)
    assert progress.values == sorted(progress.values)
    assert partials(tmp_path) == []
    (request,) = hub.hub.seen("hub")
    assert request.path == "/owner/model/resolve/main/config.json"
    assert request.authorization is None


def test_dataset_file_through_queue(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4, S4: a dataset file downloads through a real TransferQueue."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=4096)
    with tq.TransferQueue(2) as q:
        job = queue_one(q, executor, "hf://datasets/owner/data@main/train.csv", dest, len(TRAIN))
    assert job.status == "completed", job.files[0].error
    assert job.files[0].loaded == len(TRAIN)
    assert_file(dest, TRAIN)
    assert [r.path for r in hub.hub.seen()] == ["/datasets/owner/data/resolve/main/train.csv"]


def test_redirect_to_cdn_drops_the_token(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a file behind a 302 arrives; the hub sees the token, the CDN does not."""
    dest = tmp_path / "weights.bin"
    run(HuggingFaceDownload(endpoint=hub.url, token=TOKEN), "hf://owner/model/weights.bin", dest)
    assert_file(dest, WEIGHTS)
    (to_hub,) = hub.hub.seen("hub")
    (to_cdn,) = hub.hub.seen("cdn")
    assert to_hub.authorization == f"Bearer {TOKEN}"
    assert to_cdn.authorization is None
    assert to_cdn.path == f"/blobs/{sha(WEIGHTS)}"


def test_private_repo_with_the_right_token(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: token support: a private repository's file downloads with its token."""
    dest = tmp_path / "secret.bin"
    executor = HuggingFaceDownload(endpoint=hub.url, token=TOKEN, chunk_size=8192)
    with tq.TransferQueue(1) as q:
        job = queue_one(q, executor, "hf://owner/private/secret.bin", dest, len(SECRET))
    assert job.status == "completed", job.files[0].error
    assert_file(dest, SECRET)


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_or_missing_token_is_a_clear_permanent_error(
    hub: RunningHub, tmp_path: Path, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 4, S16, issue 10: a bad or missing token fails with a clear message that never
    shows the token, is a PermissionError (as a refused S3 or local access is), so not
    retried, and leaves no file."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    dest = tmp_path / "secret.bin"
    executor = HuggingFaceDownload(endpoint=hub.url, token=token)
    with pytest.raises(HubAuthError) as caught:
        run(executor, "hf://owner/private/secret.bin", dest)
    message = str(caught.value)
    assert caught.value.status == 401
    assert isinstance(caught.value, PermissionError)
    assert not tq.RetryPolicy().is_transient(caught.value)
    assert "owner/private" in message
    assert ("rejected" if token else "no token") in message
    assert "wrong-token" not in message
    assert TOKEN not in message
    # Through a queue with the default retry policy: one attempt, the same clear error.
    with tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=3, initial_delay=0)) as q:
        job = queue_one(q, executor, "hf://owner/private/secret.bin", dest, len(SECRET))
    assert job.status == "failed"
    assert job.files[0].attempts == 1
    assert job.files[0].error is not None
    assert "refused access" in job.files[0].error
    assert "wrong-token" not in job.files[0].error
    assert not dest.exists()
    assert partials(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_a_clear_error(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4, S16, issue 10: a 404 names the repository, revision and path, is a
    FileNotFoundError (as a missing S3 key or local file is), not retried; nothing is left."""
    dest = tmp_path / "nope.txt"
    with pytest.raises(HubNotFoundError) as caught:
        run(HuggingFaceDownload(endpoint=hub.url), "hf://owner/model@v2/dir/nope.txt", dest)
    message = str(caught.value)
    assert "owner/model@v2" in message
    assert "dir/nope.txt" in message
    assert "file not found" in message
    assert isinstance(caught.value, FileNotFoundError)
    assert not tq.RetryPolicy().is_transient(caught.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(HubNotFoundError, match="repository not found"):
        run(HuggingFaceDownload(endpoint=hub.url), "hf://owner/gone/x.bin", dest)
    # The present file next to it still downloads (the server is fine).
    run(HuggingFaceDownload(endpoint=hub.url), "hf://owner/model/sub/a.txt", dest)
    assert_file(dest, SUB_A)


def test_resume_after_a_broken_connection(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a connection broken after N bytes raises ConnectionError and keeps the
    partial file; the next call asks for ``bytes=N-`` and completes the file correctly."""
    cut = 100_000
    hub.hub.break_after["weights.bin"] = cut
    dest = tmp_path / "weights.bin"
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=16384)
    with pytest.raises(ConnectionError, match=r"weights\.bin"):
        run(executor, "hf://owner/model/weights.bin", dest)
    assert not dest.exists()
    (part,) = partials(tmp_path)
    assert part == executor.partial_path(dest, "hf://owner/model/weights.bin")
    assert part.read_bytes() == WEIGHTS[:cut]

    progress = run(executor, "hf://owner/model/weights.bin", dest)
    assert_file(dest, WEIGHTS)
    assert partials(tmp_path) == []
    assert [r.range for r in hub.hub.seen("cdn")] == [None, f"bytes={cut}-"]
    assert progress.values[0] == cut  # the resumed part counts from the start
    assert progress.values[-1] == len(WEIGHTS)


def test_resume_through_a_queue_with_retry(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4 with issue 3's retries: the broken attempt is retried and resumes by Range."""
    cut = 50_000
    hub.hub.break_after["weights.bin"] = cut
    dest = tmp_path / "deep" / "weights.bin"
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=16384)
    with tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=2, initial_delay=0)) as q:
        job = queue_one(q, executor, "hf://owner/model/weights.bin", dest, len(WEIGHTS))
    assert job.status == "completed", job.files[0].error
    assert job.files[0].attempts == 2
    assert_file(dest, WEIGHTS)
    assert partials(tmp_path) == []
    assert [r.range for r in hub.hub.seen("cdn")] == [None, f"bytes={cut}-"]


def test_corrupt_partial_fails_the_checksum_and_is_discarded(
    hub: RunningHub, tmp_path: Path
) -> None:
    """Issue 4: a resumed file is checked against the sha256 the hub announces
    (X-Linked-Etag): a spoiled part fails the check, is discarded, and the retry (the
    error is a ConnectionError) downloads the file afresh, correctly."""
    cut = 100_000
    hub.hub.break_after["weights.bin"] = cut
    dest = tmp_path / "weights.bin"
    source = "hf://owner/model/weights.bin"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, source, dest)
    part = executor.partial_path(dest, source)
    part.write_bytes(bytes(cut))  # right size, wrong bytes (say, an older version)
    with pytest.raises(HubChecksumError, match="sha256") as caught:
        run(executor, source, dest)
    assert isinstance(caught.value, ConnectionError)  # transient: retried
    assert list(tmp_path.iterdir()) == []
    with tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=2, initial_delay=0)) as q:
        job = queue_one(q, executor, source, dest, len(WEIGHTS))
    assert job.status == "completed", job.files[0].error
    assert_file(dest, WEIGHTS)
    assert [r.range for r in hub.hub.seen("cdn")] == [None, f"bytes={cut}-", None]


def test_server_error_is_retried(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4, issue 3: a 503 is a HubUnavailableError (a ConnectionError), retried."""
    hub.hub.fail_once["config.json"] = 503
    dest = tmp_path / "config.json"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(HubUnavailableError, match="HTTP 503") as caught:
        run(executor, "hf://owner/model/config.json", dest)
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.status == 503
    assert list(tmp_path.iterdir()) == []
    hub.hub.fail_once["config.json"] = 503
    with tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=2, initial_delay=0)) as q:
        job = queue_one(q, executor, "hf://owner/model/config.json", dest, len(CONFIG))
    assert job.status == "completed", job.files[0].error
    assert job.files[0].attempts == 2
    assert_file(dest, CONFIG)


def test_server_ignoring_range_restarts_from_zero(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a 200 reply to a Range request replaces the partial file from byte 0."""
    hub.hub.break_after["train.csv"] = 5000
    hub.hub.ignore_range = True
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    source = "hf://datasets/owner/data/train.csv"
    with pytest.raises(ConnectionError):
        run(executor, source, dest)
    part = executor.partial_path(dest, source)
    # Spoil the kept part: had it been appended to, the result would be wrong.
    part.write_bytes(b"#" * 5000)
    progress = run(executor, source, dest)
    assert_file(dest, TRAIN)
    assert [r.range for r in hub.hub.seen()] == [None, "bytes=5000-"]
    assert progress.values[-1] == len(TRAIN)
    assert partials(tmp_path) == []


def test_cancel_mid_download_through_the_queue(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4, S9: cancelling a job while the server stalls mid-file ends the download
    promptly and leaves neither the destination nor a partial file."""
    stall = Stall(path="weights.bin", after=64 * 1024)
    hub.hub.stall = stall
    dest = tmp_path / "weights.bin"
    # timeout: a missed cancel ends in a TimeoutError (the part kept) instead of a hang.
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=16 * 1024, timeout=5)
    progressed = threading.Event()

    def on_update(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        if job.files[0].loaded >= 32 * 1024:
            progressed.set()

    with tq.TransferQueue(1, update_interval=0) as q, tq.job_updated.connected_to(on_update, q):
        files = [
            {
                "source_path": "hf://owner/model/weights.bin",
                "destination_path": str(dest),
                "size": len(WEIGHTS),
            }
        ]
        job_id = q.queue_job("huggingface", files, executor)
        assert stall.reached.wait(WAIT)
        assert progressed.wait(WAIT)
        assert partials(tmp_path) != []  # bytes were on disk
        assert q.cancel_job(job_id)
        q.shutdown(wait=True)  # returns once the executor has returned
        job = q.wait(job_id, timeout=WAIT)
    assert job.status == "cancelled"
    assert not dest.exists()
    assert partials(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_cancel_direct_call_while_stalled(hub: RunningHub, tmp_path: Path) -> None:
    """S9: a direct call notices cancellation while waiting for bytes and cleans up."""
    stall = Stall(path="train.csv", after=20_000)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    progress = FakeProgress()
    file = tq.TransferFile("hf://datasets/owner/data/train.csv", str(dest), len(TRAIN))
    errors: list[BaseException] = []

    def target() -> None:
        try:
            HuggingFaceDownload(endpoint=hub.url, chunk_size=4096)(
                file, cast(tq.ProgressCallback, progress)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    progress.wait_for(12_000)  # reports come every 4096 bytes or more: >15904 by 20000
    assert stall.reached.wait(WAIT)
    assert partials(tmp_path) != []
    progress.cancel.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], tq.TransferCancelled)
    assert list(tmp_path.iterdir()) == []


def test_stalled_server_times_out_and_keeps_the_part(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a server that stops sending cannot hang the download: TimeoutError (an
    OSError, retried by default) after ``timeout``, and the part is kept for the retry.
    The short timeout can count only the stall's silence: the client's checks between
    reads wait until the server has put every byte before it into the socket (a server
    slow to answer on a loaded machine cannot look silent), and the retry has a long one."""
    stall = Stall(path="train.csv", after=20_000)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    file = tq.TransferFile("hf://datasets/owner/data/train.csv", str(dest), 0)
    progress = FakeProgress(checks_wait_for=stall.reached)
    with pytest.raises(TimeoutError, match=r"train\.csv"):
        HuggingFaceDownload(endpoint=hub.url, timeout=0.2)(
            file, cast(tq.ProgressCallback, progress)
        )
    (part,) = partials(tmp_path)
    assert part.read_bytes() == TRAIN[:20_000]
    stall.release.set()
    hub.hub.stall = None
    executor = HuggingFaceDownload(endpoint=hub.url, timeout=WAIT)
    run(executor, "hf://datasets/owner/data/train.csv", dest)
    assert_file(dest, TRAIN)
    assert hub.hub.seen()[-1].range == "bytes=20000-"


def test_existing_destination_is_not_overwritten(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: an existing destination is refused before any request, unless overwrite."""
    dest = tmp_path / "config.json"
    dest.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        run(HuggingFaceDownload(endpoint=hub.url), "hf://owner/model/config.json", dest)
    assert dest.read_bytes() == b"mine"
    assert hub.hub.seen() == []
    run(HuggingFaceDownload(endpoint=hub.url, overwrite=True), "hf://owner/model/config.json", dest)
    assert_file(dest, CONFIG)
    assert partials(tmp_path) == []


def test_endpoint_and_token_come_from_the_environment_at_call_time(
    hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 4: HF_ENDPOINT and HF_TOKEN are read when a file downloads, not before."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("HF_TOKEN", raising=False)
    executor = HuggingFaceDownload()  # made before the environment is right
    monkeypatch.setenv("HF_ENDPOINT", hub.url + "/")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    dest = tmp_path / "secret.bin"
    run(executor, "hf://owner/private/secret.bin", dest)
    assert_file(dest, SECRET)
    assert hub.hub.seen()[0].authorization == f"Bearer {TOKEN}"
    mappings = list_hf_files("hf://owner/private", tmp_path / "listed")
    assert [m["size"] for m in mappings] == [len(SECRET)]


# --- listing -----------------------------------------------------------------------------


def test_list_whole_repo_over_paginated_tree(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a repo's file list (all pages of the tree API), downloaded through a queue."""
    hub.hub.page_size = 2
    mappings = list_hf_files("hf://owner/model", tmp_path / "out", endpoint=hub.url)
    expected = {
        "config.json": CONFIG,
        "sub/a.txt": SUB_A,
        "sub/deeper/b.txt": SUB_B,
        "weights.bin": WEIGHTS,
    }
    assert [m["source_path"] for m in mappings] == [
        f"hf://owner/model@main/{p}" for p in sorted(expected)
    ]
    assert [m["size"] for m in mappings] == [len(expected[p]) for p in sorted(expected)]
    # 2 folders + 4 files, 2 per page: 3 pages.
    assert len([r for r in hub.hub.seen() if "/api/" in r.path]) == 3
    executor = HuggingFaceDownload(endpoint=hub.url)
    with tq.TransferQueue(2) as q:
        job = q.wait(q.queue_job("huggingface", mappings, executor), timeout=WAIT)
    assert job.status == "completed"
    for path, content in expected.items():
        assert_file(tmp_path / "out" / path, content)


def test_list_sub_path_and_single_file(hub: RunningHub, tmp_path: Path) -> None:
    """Issue 4: a folder of a repo maps below it; one file maps to destination/name."""
    hub.hub.page_size = 3
    folder = list_hf_files("hf://owner/model@main/sub/", tmp_path / "f", endpoint=hub.url)
    assert [(m["destination_path"], m["size"]) for m in folder] == [
        (str(tmp_path / "f" / "a.txt"), len(SUB_A)),
        (str(tmp_path / "f" / "deeper" / "b.txt"), len(SUB_B)),
    ]
    single = list_hf_files("hf://datasets/owner/data/train.csv", tmp_path / "d", endpoint=hub.url)
    assert single == [
        {
            "source_path": "hf://datasets/owner/data@main/train.csv",
            "destination_path": str(tmp_path / "d" / "train.csv"),
            "size": len(TRAIN),
        }
    ]
    executor = HuggingFaceDownload(endpoint=hub.url)
    with tq.TransferQueue(2) as q:
        job = q.wait(q.queue_job("huggingface", folder + single, executor), timeout=WAIT)
    assert job.status == "completed"
    assert_file(tmp_path / "f" / "deeper" / "b.txt", SUB_B)
    assert_file(tmp_path / "d" / "train.csv", TRAIN)
    with pytest.raises(HubNotFoundError, match="owner/model@main: subway"):
        list_hf_files("hf://owner/model/subway", tmp_path / "x", endpoint=hub.url)
    with pytest.raises(HubAuthError):
        list_hf_files("hf://owner/private", tmp_path / "x", endpoint=hub.url, token="nope")


# --- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("hf://owner/repo", HuggingFaceLocation("model", "owner/repo", "main", "")),
        ("hf://owner/repo/", HuggingFaceLocation("model", "owner/repo", "main", "")),
        (
            "hf://owner/repo@v1.0/a/b.bin",
            HuggingFaceLocation("model", "owner/repo", "v1.0", "a/b.bin"),
        ),
        (
            "hf://datasets/o-1/d_2@main/x.csv",
            HuggingFaceLocation("dataset", "o-1/d_2", "main", "x.csv"),
        ),
        ("hf://spaces/o/s", HuggingFaceLocation("space", "o/s", "main", "")),
        ("hf://o/r@refs/pr/3/w.bin", HuggingFaceLocation("model", "o/r", "refs/pr/3", "w.bin")),
        ("hf://o/r@refs%2Fpr%2F3/w.bin", HuggingFaceLocation("model", "o/r", "refs/pr/3", "w.bin")),
        # A branch with a slash (review of issue 10: its canonical URL, which a listing
        # gives each file, read back as branch "feature" and path "x/w.bin").
        ("hf://o/r@feature%2Fx/w.bin", HuggingFaceLocation("model", "o/r", "feature/x", "w.bin")),
        ("hf://o/r@a%252Fb/w.bin", HuggingFaceLocation("model", "o/r", "a%2Fb", "w.bin")),
    ],
)
def test_parse_hf_url_valid(url: str, expected: HuggingFaceLocation) -> None:
    """Issue 4: the hf:// forms the command line takes, and their round trip."""
    location = parse_hf_url(url)
    assert location == expected
    assert parse_hf_url(location.url()) == location


def test_a_branch_with_a_slash_is_listed_and_downloaded(hub: RunningHub, tmp_path: Path) -> None:
    """Review of issue 10: the files of branch ``feature/x`` (given as ``feature%2Fx``) are
    listed with URLs that name that branch, and downloaded from it: the hub is asked for
    ``resolve/feature%2Fx/config.json``, not for ``x/config.json`` of branch ``feature``."""
    (mapping,) = list_hf_files(
        "hf://owner/model@feature%2Fx/config.json", tmp_path, endpoint=hub.url
    )
    assert mapping["source_path"] == "hf://owner/model@feature%2Fx/config.json"
    run(HuggingFaceDownload(endpoint=hub.url), mapping["source_path"], tmp_path / "c.json")
    assert_file(tmp_path / "c.json", CONFIG)
    assert hub.hub.seen()[-1].path == "/owner/model/resolve/feature%2Fx/config.json"


@pytest.mark.parametrize(
    "url",
    [
        "s3://bucket/key",
        "hf://",
        "hf://owner",
        "hf://datasets/owner",
        "hf://owner/repo@",
        "hf://owner/re po",
        "hf://owner/../x",
        "hf://owner/repo/a//b",
        "hf://owner/repo/../etc/passwd",
        "hf://-owner/repo",
        "hf://owner/repo@a\\b/x",
    ],
)
def test_parse_hf_url_invalid(url: str) -> None:
    """Issue 4: malformed hf:// URLs raise ValueError naming the URL."""
    with pytest.raises(ValueError, match="URL"):
        parse_hf_url(url)


def test_executor_rejects_a_repo_url_and_bad_options(tmp_path: Path) -> None:
    """S16: a source that names no file fails clearly, before any network use."""
    with pytest.raises(ValueError, match="names a repository"):
        run(HuggingFaceDownload(endpoint="http://127.0.0.1:9"), "hf://owner/repo", tmp_path / "x")
    with pytest.raises(ValueError, match="endpoint"):
        HuggingFaceDownload(endpoint="ftp://example")
    with pytest.raises(ValueError, match="chunk_size"):
        HuggingFaceDownload(chunk_size=0)
    with pytest.raises(ValueError, match="timeout"):
        HuggingFaceDownload(timeout=0)
    with pytest.raises(TypeError, match="str"):
        parse_hf_url(5)  # type: ignore[arg-type]
    assert issubclass(HubAuthError, HubError)
    assert issubclass(HubError, tq.TransferQueueError)
    assert TOKEN not in repr(HuggingFaceDownload(token=TOKEN))
