"""``transferqueue cp``, in-process through ``main()`` and as
``python -m transferqueue`` subprocesses (``demo`` has tests/integration/test_demo.py)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.cp_json import rebuild
from tests.helpers.disk_faults import refuse_scandir
from tests.helpers.fake_hub import FakeHub, RunningHub, Stall, start_hub
from tests.helpers.lock_holder import holding_lock
from tests.helpers.pty_terminal import Terminal as PtyTerminal
from tests.helpers.s3_server import s3_client
from tests.helpers.stall_proxy import stalling_proxy
from tests.helpers.string_terminal import Terminal
from transferqueue._cli.exit_status import _cancelling_signals, _interrupted_status, _Signalled
from transferqueue._cli.main import main
from transferqueue._cli.output import _skipped
from transferqueue._cli.plan import _UsageError, plan
from transferqueue._cli.run_copy import copy
from transferqueue.executors import Transfer

BIG = os.urandom(300_000)
ROOT = Path(__file__).resolve().parents[2]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path) -> dict[str, bytes]:
    """A folder with files at two depths; returns relative path -> bytes."""
    contents = {"a.bin": BIG, "b.txt": b"bee\n", os.path.join("sub", "c.bin"): os.urandom(5000)}
    for relative, data in contents.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return contents


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", *args],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_cp_folder_plain_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder is copied recursively (checksums equal), one "done" line per file
    and a summary when stdout is not a terminal; exit 0."""
    contents = make_tree(tmp_path / "src")
    assert main(["cp", "-j", "2", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    for relative, data in contents.items():
        assert sha((tmp_path / "out" / relative).read_bytes()) == sha(data)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert sum(line.startswith("done ") for line in lines) == 3
    assert lines[-1] == "3 of 3 files copied (297.9 KiB), 0 failed"
    assert err == ""


def test_cp_several_sources_into_folder(tmp_path: Path) -> None:
    """With several sources DEST is a folder; each lands under its own name."""
    make_tree(tmp_path / "src")
    (tmp_path / "one.txt").write_bytes(b"one")
    args = ["cp", "-q", str(tmp_path / "one.txt"), str(tmp_path / "src"), str(tmp_path / "d")]
    assert main(args) == 0
    assert (tmp_path / "d" / "one.txt").read_bytes() == b"one"
    assert (tmp_path / "d" / "src" / "a.bin").read_bytes() == BIG
    # An existing folder as the only DEST: the source goes inside it, as cp -r does.
    assert main(["cp", "-q", str(tmp_path / "one.txt"), str(tmp_path / "d" / "src")]) == 0
    assert (tmp_path / "d" / "src" / "one.txt").read_bytes() == b"one"


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--quiet prints nothing when all went well."""
    make_tree(tmp_path / "src")
    assert main(["cp", "--quiet", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert capsys.readouterr() == ("", "")


def test_dry_run_copies_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints each source -> destination with its size, copies nothing."""
    make_tree(tmp_path / "src")
    assert main(["cp", "--dry-run", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out").exists()
    out = capsys.readouterr().out
    source, target = tmp_path / "src" / "a.bin", tmp_path / "out" / "a.bin"
    assert f"{source} -> {target} (293.0 KiB)" in out
    assert "3 files" in out


def test_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one JSON event per line: "created" with the
    whole job, "updated" lines, and last "ended" with the whole terminal job, which is
    what the lines rebuild."""
    make_tree(tmp_path / "src")
    assert main(["cp", "--json", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "created"
    assert all(event["event"] == "updated" for event in events[1:-1])
    assert events[-1]["event"] == "ended"
    last = events[-1]["job"]
    assert rebuild(events) == last
    assert last["status"] == "completed"
    assert last["progress"]["loaded_bytes"] == len(BIG) + 4 + 5000
    assert {file["status"] for file in last["files"]} == {"completed"}


def test_existing_destination_fails_then_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing destination fails the file (exit 1, reason on stderr, old
    bytes kept); --overwrite replaces it (exit 0)."""
    (tmp_path / "a").write_bytes(BIG)
    (tmp_path / "b").write_bytes(b"old")
    assert main(["cp", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out, err = capsys.readouterr()
    assert err == (
        f"failed {tmp_path / 'a'}: {tmp_path / 'b'} exists (use --overwrite to replace it)\n"
    )  # one hint, the CLI's own (before, the executor's named overwrite=True too)
    assert "0 of 1 files copied" in out
    assert (tmp_path / "b").read_bytes() == b"old"
    assert main(["cp", "--overwrite", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b").read_bytes() == BIG


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["cp"],
        ["cp", "only-one"],
        ["cp", "-j", "0", "a", "b"],
        ["cp", "--retries", "-1", "a", "b"],
        ["cp", "--json", "--quiet", "a", "b"],
        ["nonsense"],
    ],
)
def test_bad_usage_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Argparse errors exit 2 with a message on stderr."""
    assert main(args) == 2
    assert capsys.readouterr().err


def test_missing_source_and_unsupported_pair_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing source and an unsupported pair are usage errors (exit 2)."""
    assert main(["cp", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert "nope" in capsys.readouterr().err
    (tmp_path / "a").write_bytes(b"a")
    assert main(["cp", str(tmp_path / "a"), "hf://owner/repo"]) == 2
    assert "supported" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_subprocess_exit_codes_and_plain_log(tmp_path: Path) -> None:
    """As a program: exit 0 with plain lines (not a terminal), 1 on a failed
    file with its reason on stderr, 2 for bad usage."""
    make_tree(tmp_path / "src")
    done = run("cp", str(tmp_path / "src"), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("done ") == 3
    assert "\x1b[" not in done.stdout  # no terminal escapes
    assert (tmp_path / "out" / "a.bin").read_bytes() == BIG
    # The copy is up to date (cp would skip it): --compare none copies it again.
    again = run(
        "cp", "--compare", "none", str(tmp_path / "src" / "b.txt"), str(tmp_path / "out" / "b.txt")
    )
    assert again.returncode == 1
    assert "exists" in again.stderr
    usage = run("cp", str(tmp_path / "src"))
    assert usage.returncode == 2
    assert "usage" in usage.stderr or "error" in usage.stderr


def test_s3_round_trip(s3_env: str, tmp_path: Path) -> None:
    """Local -> s3:// -> local through the command line against a moto server
    (AWS_ENDPOINT_URL), checksums equal."""
    s3_client().create_bucket(Bucket="bucket")
    contents = make_tree(tmp_path / "src")
    up = run("cp", str(tmp_path / "src"), "s3://bucket/data", env=dict(os.environ))
    assert up.returncode == 0, up.stderr
    down = run("cp", "s3://bucket/data", str(tmp_path / "back"), env=dict(os.environ))
    assert down.returncode == 0, down.stderr
    for relative, data in contents.items():
        assert sha((tmp_path / "back" / relative).read_bytes()) == sha(data)
    missing = run("cp", "s3://bucket/nothing", str(tmp_path / "x"), env=dict(os.environ))
    assert missing.returncode == 2
    assert "s3://bucket/nothing" in missing.stderr


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    """A fake hub whose model has a small file and a large one."""
    fake = FakeHub(repos={("model", "owner/model"): {"a.txt": b"small\n", "big.bin": BIG}})
    yield from start_hub(fake)


def _small_file_done(line: str) -> bool:
    """The plain display's line for the small file of the hub's model."""
    assert line.startswith("done hf://owner/model@main/a.txt"), line
    return True


def _interrupted_copy(
    hub: RunningHub,
    dest: Path,
    signals: Sequence[signal.Signals],
    *,
    prefix: Sequence[str] = (),
    options: Sequence[str] = (),
    ready: Callable[[str], bool] = _small_file_done,
    printed: list[str] | None = None,
) -> tuple[int, str]:
    """Run ``cp -j 2 OPTIONS hf://owner/model DEST`` as a program, send it ``signals`` (in
    order) once its small file is done (``ready`` is true of a line it printed) and the
    big one is held mid-body by the hub; return its exit status and stderr, and put the
    lines it printed into ``printed``."""
    stall = Stall(path="big.bin", after=64 * 1024)
    hub.hub.stall = stall
    env = dict(os.environ, HF_ENDPOINT=hub.url)
    env.pop("HF_TOKEN", None)
    command = [sys.executable, "-m", "transferqueue", "cp", "-j", "2", *options]
    command.append("hf://owner/model")
    process = subprocess.Popen(
        [*prefix, *command, str(dest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while True:
            seen.append(lines.get(timeout=WAIT))
            if ready(seen[-1]):
                break
        assert stall.reached.wait(WAIT)
        for number in signals:
            process.send_signal(number)
        status = process.wait(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        stall.release.set()
    reader.join(WAIT)
    while not lines.empty():
        seen.append(lines.get())
    if printed is not None:
        printed.extend(seen)
    assert process.stdout is not None
    process.stdout.close()
    assert process.stderr is not None
    err = process.stderr.read()
    process.stderr.close()
    return status, err


@pytest.mark.parametrize(
    ("number", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
)
def test_ctrl_c_sigterm_and_sighup_cancel_and_leave_no_partial_file(
    hub: RunningHub, tmp_path: Path, number: signal.Signals, status: int
) -> None:
    """The signal while a file is
    mid-transfer cancels the copy as Ctrl-C does: "cancelled" printed, exit 128 + the
    signal's number (130, 143, 129), the finished file kept, no partial or temporary
    file left."""
    dest = tmp_path / "out"
    assert _interrupted_copy(hub, dest, [number]) == (status, "cancelled\n")
    assert sorted(os.listdir(dest)) == ["a.txt"]
    assert (dest / "a.txt").read_bytes() == b"small\n"


def _small_file_copied(line: str) -> bool:
    """A ``--json`` line that shows the small file of the hub's model copied."""
    event = json.loads(line)
    if event["event"] == "created":
        files = [{"index": i, "file": f} for i, f in enumerate(event["job"]["files"])]
    else:
        files = event["changed_files"]
    return any(
        change["file"]["source_path"].endswith("/a.txt") and change["file"]["status"] == "completed"
        for change in files
    )


@pytest.mark.parametrize(
    ("number", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
)
def test_an_interrupted_json_copy_ends_with_its_ended_line(
    hub: RunningHub, tmp_path: Path, number: signal.Signals, status: int
) -> None:
    """``cp --json`` stopped by Ctrl-C or SIGTERM mid-transfer ends its lines
    as every run does, with one ``ended`` line, last: the job cancelled, the small file
    completed and the big one an error, once the transfers stopped (no partial file);
    the lines rebuild that same job. Before, the lines stopped where they were."""
    dest = tmp_path / "out"
    printed: list[str] = []
    outcome = _interrupted_copy(
        hub, dest, [number], options=["--json"], ready=_small_file_copied, printed=printed
    )
    assert outcome == (status, "cancelled\n")
    events = [json.loads(line) for line in printed]
    assert [event["event"] for event in events].count("ended") == 1
    ended = events[-1]
    assert ended["event"] == "ended"
    assert ended["job"]["status"] == "cancelled"
    by_name = {file["source_path"].rsplit("/", 1)[1]: file for file in ended["job"]["files"]}
    assert by_name["a.txt"]["status"] == "completed"
    assert (by_name["big.bin"]["status"], by_name["big.bin"]["error_type"]) == (
        "error",
        "transferqueue.TransferCancelled",
    )
    assert ended["skipped"] == []
    assert rebuild(events) == ended["job"]
    assert sorted(os.listdir(dest)) == ["a.txt"]


def test_an_ignored_sighup_stays_ignored(hub: RunningHub, tmp_path: Path) -> None:
    """Under ``nohup`` (SIGHUP ignored when cp starts) a hang-up does not stop
    the copy: SIGHUP then SIGTERM end it with SIGTERM's status, 143 (a SIGHUP handled
    would have come first, 129)."""
    nohup = shutil.which("nohup")
    if nohup is None:
        pytest.skip("nohup is missing")
    dest = tmp_path / "out"
    assert _interrupted_copy(hub, dest, [signal.SIGHUP, signal.SIGTERM], prefix=[nohup]) == (
        143,
        "cancelled\n",
    )
    assert sorted(os.listdir(dest)) == ["a.txt"]


def test_signal_handlers_are_restored_and_only_set_in_the_main_thread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main()`` puts back the SIGTERM and SIGHUP handlers it found, and run from
    another thread (where Python refuses to set handlers) it copies all the same."""

    def mine(signum: int, frame: object) -> None:
        """A handler of the embedding program."""

    (tmp_path / "a").write_bytes(b"a")
    previous = {number: signal.signal(number, mine) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        assert main(["cp", "-q", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGHUP) is mine
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    statuses: list[int] = []
    thread = threading.Thread(
        target=lambda: statuses.append(main(["cp", "-q", str(tmp_path / "a"), str(tmp_path / "c")]))
    )
    thread.start()
    thread.join(WAIT)
    assert statuses == [0]
    assert (tmp_path / "c").read_bytes() == b"a"
    assert capsys.readouterr() == ("", "")


def test_rich_progress_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the progress is a rich Progress (a job bar with the file
    count), and the copy still arrives intact."""
    contents = make_tree(tmp_path / "src")
    files = plan([str(tmp_path / "src")], str(tmp_path / "out"))
    terminal = Terminal()
    assert copy(files, concurrency=2, retries=0, overwrite=False, out=terminal) == 0
    text = terminal.getvalue()
    assert "3/3 files" in text
    assert "\x1b[" in text  # drawn with terminal escapes, not plain lines
    assert "done " not in text
    for relative, data in contents.items():
        assert sha((tmp_path / "out" / relative).read_bytes()) == sha(data)


def test_bars_and_summary_show_the_same_binary_units(tmp_path: Path) -> None:
    """On a terminal the bars show sizes in the binary units of the summary
    (rich's own column showed "900.0/900.0 kB" above a summary of "878.9 KiB")."""
    for name in ("a.bin", "b.bin", "c.bin"):
        (tmp_path / "src" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "src" / name).write_bytes(os.urandom(300_000))
    terminal = PtyTerminal(
        "cp",
        str(tmp_path / "src"),
        str(tmp_path / "out"),
        env=dict(os.environ, TERM="xterm", COLUMNS="120"),
    )
    status, shown = terminal.finish()
    assert status == 0, shown
    assert "878.9 KiB of 878.9 KiB" in shown  # the job's bar, at its end
    assert "3 of 3 files copied (878.9 KiB), 0 failed" in shown
    assert re.search(r"\d (kB|MB|GB)\b", shown) is None


def test_two_sources_onto_one_destination_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sources with the same name into one folder would race for one
    destination and lose one file: a usage error (exit 2) before anything is copied."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "same.txt").write_bytes(b"A")
    (tmp_path / "b" / "same.txt").write_bytes(b"B")
    out = tmp_path / "out"
    args = [str(tmp_path / "a" / "same.txt"), str(tmp_path / "b" / "same.txt"), str(out)]
    assert main(["cp", "--overwrite", *args]) == 2
    assert "would both be copied to" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_into_itself_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As cp, copying a folder into itself is a usage error, not a copy that
    nests one level deeper on every run."""
    source = tmp_path / "src"
    make_tree(source)
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    assert main(["cp", str(source), str(source) + "/"]) == 2
    assert "into itself" in capsys.readouterr().err
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before


def test_a_bucket_without_a_key_is_a_folder(tmp_path: Path) -> None:
    """``s3://bucket`` names no object; a file copied there keeps its name."""
    source = tmp_path / "x.txt"
    source.write_bytes(b"x")
    assert plan([str(source)], "s3://bucket") == [
        {"source_path": str(source), "destination_path": "s3://bucket/x.txt", "size": 1}
    ]


def test_a_name_that_is_not_utf8_is_copied(tmp_path: Path) -> None:
    """A file name that is not valid UTF-8 (bytes on Linux) is
    copied, its bytes intact, and no temporary file stays."""
    source = tmp_path / "weird"
    source.mkdir()
    name = os.fsdecode(b"\xff-data.bin")
    (source / name).write_bytes(b"odd name")
    out = tmp_path / "out"
    assert main(["cp", "-q", str(source), str(out)]) == 0
    assert (out / name).read_bytes() == b"odd name"
    assert os.listdir(out) == [name]


def test_an_error_while_showing_progress_cancels_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When showing the progress fails (a closed pipe, say), the job is
    cancelled before the error propagates, instead of running on unseen until every file
    is copied (which leaving the queue's block would wait for)."""
    import transferqueue as tq
    import transferqueue._cli.run_copy as cli_copy

    started = threading.Event()
    outcome: list[bool] = []

    class Waiting(Transfer):
        """An executor that runs until its job is cancelled (or WAIT passes)."""

        def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            started.set()
            outcome.append(on_progress.wait_cancelled(WAIT))
            on_progress.raise_if_cancelled()

    def failing_watch(self: tq.TransferQueue, job_id: str, **options: object) -> Iterator[None]:
        assert started.wait(WAIT)
        raise BrokenPipeError("the reader went away")

    monkeypatch.setattr(cli_copy, "Transfer", Waiting)
    monkeypatch.setattr(tq.TransferQueue, "watch", failing_watch)
    source = tmp_path / "a.bin"
    source.write_bytes(b"a")
    files = plan([str(source)], str(tmp_path / "b.bin"))
    with pytest.raises(BrokenPipeError):
        copy(files, concurrency=1, retries=0, overwrite=False)
    assert outcome == [True]  # the executor saw the cancel; it did not time out


def test_ctrl_c_while_the_job_is_being_queued_cancels_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C (or SIGTERM, SIGHUP) that lands after the job was
    queued but before the copy watches it, as ``queue_job`` of a big job returns, cancels
    the job too: "cancelled", exit 130, the executor told to stop. Before, leaving the
    queue's block waited for the whole copy to run to its end, unseen."""
    import transferqueue as tq
    import transferqueue._cli.run_copy as cli_copy

    started = threading.Event()
    outcome: list[bool] = []

    class Waiting(Transfer):
        """An executor that runs until its job is cancelled (or WAIT passes)."""

        def __call__(self, file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
            started.set()
            outcome.append(on_progress.wait_cancelled(WAIT))
            on_progress.raise_if_cancelled()

    queue_job = tq.TransferQueue.queue_job

    def interrupted(self: tq.TransferQueue, *args: Any, **kwargs: Any) -> str:
        queue_job(self, *args, **kwargs)
        assert started.wait(WAIT)
        raise KeyboardInterrupt  # as the job id was about to be returned

    monkeypatch.setattr(cli_copy, "Transfer", Waiting)
    monkeypatch.setattr(tq.TransferQueue, "queue_job", interrupted)
    source = tmp_path / "a.bin"
    source.write_bytes(b"a")
    assert main(["cp", str(source), str(tmp_path / "b.bin")]) == 130
    assert capsys.readouterr().err == "cancelled\n"
    assert outcome == [True]  # the executor saw the cancel; it did not time out
    assert not (tmp_path / "b.bin").exists()


def locked_tree(root: Path) -> tuple[dict[str, bytes], Path]:
    """``make_tree(root)`` plus ``root/locked/secret.bin``; returns the tree and the
    folder to refuse."""
    contents = make_tree(root)
    (root / "locked").mkdir()
    (root / "locked" / "secret.bin").write_bytes(b"secret")
    return contents, root / "locked"


SKIPPED_TOTAL = "3 of 3 files copied (297.9 KiB), 0 failed, 1 skipped"


def test_unreadable_subfolder_is_skipped_not_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: as ``cp -r``, a folder below the source that cannot be listed
    is reported on stderr (named, with the reason), everything else is copied, and the
    exit status is 1; the summary does not count the skipped folder as copied."""
    contents, locked = locked_tree(tmp_path / "src")
    refuse_scandir(monkeypatch, locked)
    out_dir = tmp_path / "out"
    assert main(["cp", str(tmp_path / "src"), str(out_dir)]) == 1
    out, err = capsys.readouterr()
    assert err == f"skipped {locked}: Permission denied\n"
    assert out.splitlines()[-1] == SKIPPED_TOTAL
    for relative, data in contents.items():
        assert sha((out_dir / relative).read_bytes()) == sha(data)
    assert not (out_dir / "locked").exists()


def test_unreadable_subfolder_with_json_and_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: with --json the first and the last line carry ``"skipped":
    [{"path", "error"}]`` and the job counts only the files listed; with -q stdout stays
    empty and the skipped folder is the only thing said, on stderr. Both exit 1 and copy
    the rest."""
    contents, locked = locked_tree(tmp_path / "src")
    refuse_scandir(monkeypatch, locked)
    assert main(["cp", "--json", str(tmp_path / "src"), str(tmp_path / "j")]) == 1
    out, err = capsys.readouterr()
    assert err == f"skipped {locked}: Permission denied\n"
    events = [json.loads(line) for line in out.splitlines()]
    expected = [{"path": str(locked), "error": "Permission denied"}]
    assert [event.get("skipped") for event in events] == [
        expected,
        *[None] * (len(events) - 2),
        expected,
    ]
    last = events[-1]["job"]
    assert last["status"] == "completed"
    assert last["progress"]["total_files"] == last["progress"]["completed_files"] == 3
    assert sorted(os.path.relpath(f["source_path"], tmp_path / "src") for f in last["files"]) == (
        sorted(contents)
    )
    assert main(["cp", "-q", str(tmp_path / "src"), str(tmp_path / "q")]) == 1
    assert capsys.readouterr() == ("", f"skipped {locked}: Permission denied\n")
    assert (tmp_path / "q" / "a.bin").read_bytes() == BIG
    assert not (tmp_path / "q" / "locked").exists()


def test_unreadable_source_itself_stays_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: only folders below a source are skipped (exit 1); a source
    folder that cannot be read itself is still a usage error (exit 2), nothing copied."""
    _, locked = locked_tree(tmp_path / "src")
    refuse_scandir(monkeypatch, locked)
    assert main(["cp", "-q", str(locked.parent), str(tmp_path / "a")]) == 1
    capsys.readouterr()
    assert main(["cp", "-q", str(locked), str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"transferqueue: error: cannot read {locked}: ")
    assert "Permission denied" in err
    assert not (tmp_path / "b").exists()


def test_a_missing_or_unreadable_source_among_several_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders: as ``cp -r``, among several sources one that is missing or
    cannot be read (and a folder below another) is reported on stderr and skipped; the
    rest is copied, exit 1. The same source alone is a usage error whose message says the
    reason once, without an errno."""
    contents, locked = locked_tree(tmp_path / "src")
    refuse_scandir(monkeypatch, locked)
    (tmp_path / "one.txt").write_bytes(b"one")
    missing = tmp_path / "missing"
    out_dir = tmp_path / "out"
    args = ["cp", str(missing), str(tmp_path / "src"), str(locked), str(tmp_path / "one.txt")]
    assert main([*args, str(out_dir)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].endswith(", 3 skipped"), out
    assert err.splitlines() == [
        f"skipped {missing}: No such file or directory",
        f"skipped {locked}: Permission denied",  # below src
        f"skipped {locked}: Permission denied",  # as a source of its own
    ]
    assert (out_dir / "one.txt").read_bytes() == b"one"
    for relative, data in contents.items():
        assert sha((out_dir / "src" / relative).read_bytes()) == sha(data)
    assert not (out_dir / "missing").exists()
    assert not (out_dir / "locked").exists()
    assert main(["cp", str(missing), str(tmp_path / "alone")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"transferqueue: error: cannot read {missing}: No such file")
    assert "Errno" not in err


def test_help_says_unreadable_folders_are_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    """Unreadable folders: ``cp --help`` says what happens to them and the exit status."""
    assert main(["cp", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "cannot be read is reported on stderr and skipped" in text
    assert "the exit status is 1" in text


def _without_file_capabilities() -> list[str]:
    """A command prefix under which permission bits apply: nothing for a normal user; as
    root, ``setpriv`` without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root still owns
    every file of the test, so only the folders chmod'ed shut are refused)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores permission bits, and setpriv is missing")
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=WAIT, check=False)
    if probe.returncode != 0:
        pytest.skip(f"root ignores permission bits, and setpriv fails: {probe.stderr!r}")
    return prefix


def test_real_unreadable_folders_as_a_program(tmp_path: Path) -> None:
    """Unreadable folders, for real (chmod; as root through setpriv without the file
    capabilities): a folder that cannot be listed (000) and one that can be listed but
    not entered (400, its files cannot be examined) are each reported and skipped, the
    rest is copied, exit 1."""
    prefix = _without_file_capabilities()
    source = tmp_path / "src"
    contents = make_tree(source)
    (source / "shut").mkdir()
    (source / "shut" / "f.bin").write_bytes(b"f")
    (source / "listed").mkdir()
    (source / "listed" / "g.bin").write_bytes(b"g")
    (source / "shut").chmod(0o000)
    (source / "listed").chmod(0o400)
    try:
        done = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-m",
                "transferqueue",
                "cp",
                str(source),
                str(tmp_path / "o"),
            ],
            capture_output=True,
            text=True,
            timeout=WAIT * 3,
            cwd=ROOT,
            check=False,
        )
    finally:
        (source / "shut").chmod(0o700)
        (source / "listed").chmod(0o700)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"skipped {source / 'listed' / 'g.bin'}: Permission denied",
        f"skipped {source / 'shut'}: Permission denied",
    ]
    assert done.stdout.splitlines()[-1] == ("3 of 3 files copied (297.9 KiB), 0 failed, 2 skipped")
    copied = {str(p.relative_to(tmp_path / "o")) for p in (tmp_path / "o").rglob("*.*")}
    assert copied == set(contents)
    for relative, data in contents.items():
        assert sha((tmp_path / "o" / relative).read_bytes()) == sha(data)


def test_dry_run_json_has_the_shape_of_a_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run --json: one JSON object, ``{"event": "dry-run", "files": [{source_path,
    destination_path, size, status}], "total_files", "total_bytes", "skipped_files",
    "skipped": []}``, copying nothing; its files and totals equal, key for key, what the
    real --json run's job then reports (``job.files[i]``, and ``job.progress``); each
    file's status is the one it would be queued with, queued or skipped."""
    make_tree(tmp_path / "src")
    args = [str(tmp_path / "src"), str(tmp_path / "out")]
    assert main(["cp", "--dry-run", "--json", *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert not (tmp_path / "out").exists()
    [line] = out.splitlines()
    planned = json.loads(line)
    assert sorted(planned) == [
        "event",
        "files",
        "skipped",
        "skipped_files",
        "total_bytes",
        "total_files",
    ]
    assert planned["event"] == "dry-run"
    assert planned["skipped"] == []
    assert planned["total_files"] == 3
    assert planned["total_bytes"] == len(BIG) + 4 + 5000
    assert planned["files"][0] == {
        "source_path": str(tmp_path / "src" / "a.bin"),
        "destination_path": str(tmp_path / "out" / "a.bin"),
        "size": len(BIG),
        "status": "queued",
    }
    assert planned["skipped_files"] == 0
    assert main(["cp", "--json", *args]) == 0
    job = json.loads(capsys.readouterr().out.splitlines()[-1])["job"]
    # Each file's status is the one it is queued with; the job's are where it ended.
    keys = ["source_path", "destination_path", "size"]
    assert [{key: file[key] for key in keys} for file in planned["files"]] == [
        {key: file[key] for key in keys} for file in job["files"]
    ]
    assert {file["status"] for file in planned["files"]} == {"queued"}
    progress = job["progress"]
    assert (planned["total_files"], planned["total_bytes"], planned["skipped_files"]) == (
        progress["total_files"],
        progress["total_bytes"],
        progress["skipped_files"],
    )


def test_dry_run_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run -q prints nothing (only errors would be printed) and copies nothing."""
    make_tree(tmp_path / "src")
    assert main(["cp", "--dry-run", "-q", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "out").exists()


def test_dry_run_reports_unreadable_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable folders in a dry run: reported on stderr, left out of the plan, named
    in the totals line and in the JSON's ``skipped``; exit 1 as the copy would, in every
    output mode, and nothing copied."""
    _, locked = locked_tree(tmp_path / "src")
    refuse_scandir(monkeypatch, locked)
    args = [str(tmp_path / "src"), str(tmp_path / "out")]
    said = f"skipped {locked}: Permission denied\n"
    assert main(["cp", "--dry-run", *args]) == 1
    out, err = capsys.readouterr()
    assert err == said
    assert "secret" not in out
    assert out.splitlines()[-1] == ("3 files, 297.9 KiB, 1 skipped (dry run: nothing copied)")
    assert main(["cp", "--dry-run", "--json", *args]) == 1
    out, err = capsys.readouterr()
    assert err == said
    planned = json.loads(out)
    assert planned["skipped"] == [{"path": str(locked), "error": "Permission denied"}]
    assert planned["total_files"] == 3
    assert main(["cp", "--dry-run", "-q", *args]) == 1
    assert capsys.readouterr() == ("", said)
    assert not (tmp_path / "out").exists()


# -- remote names, sources that lead out of DEST, duplicates, unreadable sources --------


def test_cp_reports_and_skips_unsafe_s3_keys(
    s3_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Keys that cannot safely become paths below DEST (an empty, '.' or '..'
    segment, a leading '/', a backslash, a NUL; a key ending in '/' that holds data) are
    each reported on stderr as ``skipped NAME: REASON (from PREFIX)`` and left out, the
    rest is copied, nothing lands outside DEST, and the exit status is 1; the dry run says
    the same and lists them under "skipped"."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    for key in ["p/a//b", "p/../x", "p/a/../../x", "p//abs", "p/a\\b", "p/nul\x00x", "p/d/"]:
        client.put_object(Bucket="bucket", Key=key, Body=b"evil")
    client.put_object(Bucket="bucket", Key="p/good.txt", Body=b"good")
    where = "(from s3://bucket/p/)"
    said = [
        f"skipped ../x: has a '.' or '..' segment {where}",
        f"skipped /abs: absolute {where}",
        f"skipped a/../../x: has a '.' or '..' segment {where}",
        f"skipped a//b: has an empty segment {where}",
        f"skipped a\\b: contains a backslash {where}",
        f"skipped d/: ends with '/' but holds 4 bytes, so it cannot become a file {where}",
        f"skipped 'nul\\x00x': contains a NUL character {where}",
    ]
    out = tmp_path / "deep" / "out"
    assert main(["cp", "--dry-run", "--json", "s3://bucket/p", str(out)]) == 1
    printed, err = capsys.readouterr()
    assert err.splitlines() == said
    planned = json.loads(printed)
    assert [file["destination_path"] for file in planned["files"]] == [str(out / "good.txt")]
    assert [entry["path"] for entry in planned["skipped"]][:2] == ["../x", "/abs"]
    assert main(["cp", "-q", "s3://bucket/p", str(out)]) == 1
    assert capsys.readouterr() == ("", "\n".join(said) + "\n")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [
        Path("deep"),
        Path("deep", "out"),
        Path("deep", "out", "good.txt"),
    ]


@pytest.mark.parametrize("source", ["s3://bucket/..", "s3://bucket/x/..", "s3://bucket/x/."])
def test_an_s3_source_whose_name_leads_out_of_dest_is_refused(
    s3_env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
) -> None:
    """Copied into a folder, a source is named by its last segment; for
    ``s3://bucket/..`` or ``s3://bucket/x/..`` that is '..', which would put the copy in
    DEST's parent: a usage error (exit 2) naming the source, before anything is listed
    or copied."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    for key in ("../evil", "x/../evil", "x/./evil"):
        client.put_object(Bucket="bucket", Key=key, Body=b"evil")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["cp", source, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"transferqueue: error: cannot copy {source} into {out}: its name ")
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert os.listdir(out) == []


def test_a_local_source_named_dotdot_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cp .. DEST/`` would copy into DEST's parent (the copy's name is '..'):
    a usage error; ``cp . DEST/`` still copies the folder's contents into DEST, as
    ``cp -r`` does."""
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    (here / "f.txt").write_bytes(b"f")
    monkeypatch.chdir(here)
    out = tmp_path / "out"
    assert main(["cp", "-q", "..", str(out) + "/"]) == 2
    assert "its name '..' leads out of it" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["a"]
    assert main(["cp", "-q", ".", str(out) + "/"]) == 0
    assert os.listdir(out) == ["f.txt"]


def test_a_planned_destination_outside_dest_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a listing returns, ``plan`` refuses a destination that does
    not lie in DEST, naming the source (here a hub tree entry '/abs/x', which the hub
    listing joined as an absolute path)."""
    fake = FakeHub(repos={("model", "owner/evil"): {"/abs/x": b"x", "fine.txt": b"ok"}})
    for running in start_hub(fake):
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        with pytest.raises(_UsageError, match="hf://owner/evil") as raised:
            plan(["hf://owner/evil"], str(tmp_path / "out"))
        assert "/abs/x" in str(raised.value)
    assert os.listdir(tmp_path) == []


def test_unusable_hub_entries_are_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hub tree entry whose path would leave DEST, or whose size is not a
    size, is reported on stderr as ``skipped NAME: REASON (from REPO)`` and left out, the
    rest copied, exit 1, as for unsafe S3 keys."""
    fake = FakeHub(repos={("model", "owner/evil"): {"fine.txt": b"ok"}})
    tree = [
        {"type": "file", "path": "fine.txt", "size": 2},
        {"type": "file", "path": "/abs/x", "size": 1},
        {"type": "file", "path": "odd.txt", "size": True},
    ]
    fake.tree_body = json.dumps(tree).encode()
    out = tmp_path / "out"
    for running in start_hub(fake):
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        assert main(["cp", "-q", "hf://owner/evil", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "skipped /abs/x: absolute (from hf://owner/evil@main)",
        "skipped odd.txt: no valid size (from hf://owner/evil@main)",
    ]
    assert os.listdir(out) == ["fine.txt"]
    assert (out / "fine.txt").read_bytes() == b"ok"


def test_the_same_source_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cp a a DEST/`` would copy one file twice onto one destination (two
    writers racing): a usage error (exit 2) naming both sources and the destination, as
    for two different sources with one name; nothing is copied."""
    source = tmp_path / "a"
    source.write_bytes(b"a")
    out = tmp_path / "out"
    assert main(["cp", str(source), str(source), str(out) + "/"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"transferqueue: error: {source} and {source} would both be copied to {out / 'a'}\n"
    )
    assert not out.exists()


def test_a_single_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    """As README says, a single source that cannot be read is bad usage (exit
    2, the reason said once), a file as much as a folder; one of several is reported,
    skipped, and the rest copied (exit 1). For real: chmod 000 (as root through setpriv
    without the file capabilities)."""
    prefix = _without_file_capabilities()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"secret")
    secret.chmod(0o000)
    (tmp_path / "ok.txt").write_bytes(b"ok")
    command = [*prefix, sys.executable, "-m", "transferqueue", "cp"]

    def cp(*args: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=WAIT * 3,
            cwd=ROOT,
            check=False,
        )

    alone = cp(secret, tmp_path / "copy.bin")
    assert (alone.returncode, alone.stdout) == (2, "")
    assert alone.stderr == f"transferqueue: error: cannot read {secret}: Permission denied\n"
    assert not (tmp_path / "copy.bin").exists()
    several = cp(secret, tmp_path / "ok.txt", tmp_path / "out")
    assert several.returncode == 1
    assert several.stderr == f"skipped {secret}: Permission denied\n"
    assert os.listdir(tmp_path / "out") == ["ok.txt"]


# -- temporaries a killed cp leaves -------------------------------------------------------


def test_a_killed_copy_leaves_a_temporary_that_is_skipped_then_removed(
    s3_env: str,
    tmp_path: Path,
) -> None:
    """``cp`` killed with SIGKILL in the middle of a download (held half-way by
    a proxy in front of the S3 server) leaves its one hidden ``.NAME.<8 hex>.part`` (not
    a file of s3transfer's own). A ``cp`` of that folder does not copy it (nor another
    process's live temporary); the next ``cp`` into the folder removes it once it is
    older than the age guard (aged here with utime), and keeps the live one (its lock
    held by another process) and a young one."""
    client = s3_client()
    client.create_bucket(Bucket="bucket")
    client.put_object(Bucket="bucket", Key="big.bin", Body=os.urandom(2 * 1024 * 1024))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_bytes(b"keep")
    command = [sys.executable, "-m", "transferqueue", "cp", "-q"]
    for proxy in stalling_proxy(s3_env, after=256 * 1024):
        killed = subprocess.Popen(
            [*command, "s3://bucket/big.bin", f"{dest}/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=dict(os.environ, AWS_ENDPOINT_URL=proxy.url),
        )
        try:
            assert proxy.reached.wait(WAIT)
        finally:
            killed.kill()
            killed.wait(WAIT)
    assert killed.returncode == -signal.SIGKILL
    (left,) = set(os.listdir(dest)) - {"keep.txt"}
    assert re.fullmatch(r"\.big\.bin\.[0-9a-f]{8}\.part", left), left
    young = dest / ".young.bin.0123abcd.part"
    young.write_bytes(b"young")
    live = dest / ".live.bin.89abcdef.part"
    live.write_bytes(b"live")
    with holding_lock(live):
        copied = run("cp", "-q", str(dest), str(tmp_path / "elsewhere"))
        assert copied.returncode == 0, copied.stderr
        assert os.listdir(tmp_path / "elsewhere") == ["keep.txt"]
        then = time.time() - 3600
        for path in (dest / left, live):
            os.utime(path, (then, then))
        (tmp_path / "new.txt").write_bytes(b"new")
        again = run("cp", "-q", str(tmp_path / "new.txt"), f"{dest}/")
        assert again.returncode == 0, again.stderr
        assert sorted(os.listdir(dest)) == sorted(["keep.txt", "new.txt", young.name, live.name])


def test_only_the_first_cancelling_signal_interrupts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside main(), the first SIGTERM or SIGHUP raises (as Ctrl-C does) and
    later ones are ignored, so that they cannot cut the clean-up short; a handler not
    set from Python (getsignal() gives None: it could not be put back) is left alone."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    with _cancelling_signals():
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        assert signal.getsignal(signal.SIGHUP) is handler
        with pytest.raises(_Signalled) as raised:
            handler(signal.SIGTERM, None)
        assert _interrupted_status(raised.value) == 143
        handler(signal.SIGHUP, None)  # ignored: the clean-up runs on
        handler(signal.SIGTERM, None)
    assert {number: signal.getsignal(number) for number in handlers} == handlers
    assert _interrupted_status(KeyboardInterrupt()) == 130
    real = signal.getsignal
    monkeypatch.setattr(
        signal, "getsignal", lambda number: None if number == signal.SIGHUP else real(number)
    )
    with _cancelling_signals():
        assert real(signal.SIGHUP) is handlers[signal.SIGHUP]
        assert real(signal.SIGTERM) is not handlers[signal.SIGTERM]


def test_what_else_a_listing_leaves_out_is_reported_by_its_text() -> None:
    """An error of another kind handed to cp's on_error (a listing may report
    more than unreadable paths and unsafe names) is still said, by its text."""
    assert _skipped(ValueError("odd size")) == {"path": "?", "error": "odd size"}
    assert _skipped(ValueError()) == {"path": "?", "error": "ValueError"}
