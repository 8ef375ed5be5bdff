"""What ``transferqueue cp`` prints, for big jobs and odd names.

``--json`` is linear in the job's size (the whole job in the first and last lines,
in between only the files that changed, by index), and the displays look only at the
files that changed. Names that are not valid UTF-8, or that the output's encoding
cannot take, are printed escaped instead of crashing the copy.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast, overload

import attrs
import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.cp_json import rebuild
from tests.helpers.disk_faults import refuse_scandir
from tests.helpers.file_lists import make_files
from tests.helpers.string_terminal import Terminal
from transferqueue._cli import bars as _cli_rich
from transferqueue._cli import display as _cli_display
from transferqueue._cli import main as _cli
from transferqueue._cli import output as _cli_output
from transferqueue._core.clock import utc_now

ROOT = Path(__file__).resolve().parents[2]
ODD = os.fsdecode(b"\xff-data.bin")  # not valid UTF-8: held as a lone surrogate
ACCENTED = "caf\u00e9.txt"  # valid UTF-8, not ASCII


def cp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m transferqueue cp ARGS`` with ``env`` added to (or, None values,
    removed from) the environment; stdout and stderr as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", "cp", *args],
        capture_output=True,
        timeout=WAIT * 6,
        cwd=ROOT,
        env=env,
        check=False,
    )


def environment(**changes: str | None) -> dict[str, str]:
    """The test's environment with ``changes`` (None removes a variable)."""
    env = dict(os.environ)
    for name, value in changes.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return env


# -- --json is linear --------------------------------------------------------------------


def test_json_rebuilds_the_job_from_lines_that_grow_linearly(tmp_path: Path) -> None:
    """A real ``cp --json`` of 600 files: the first line ("created") and the
    last ("ended") carry the whole job and "skipped"; the "updated" lines in between
    carry the job without its files and the files changed since the line before. The
    lines rebuild the final job exactly, and the files they list in all stay linear: at
    most each file twice more, plus the (at most 2) files in flight at each line; a
    line with the whole job each time would have listed 600 files per line."""
    count, concurrency = 600, 2
    source = tmp_path / "src"
    source.mkdir()
    for i in range(count):
        (source / f"file-{i:03d}.bin").write_bytes(b"x" * (i % 7))
    result = cp("--json", "-j", str(concurrency), str(source), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    first, *middle, last = events
    assert (first["event"], last["event"]) == ("created", "ended")
    assert {event["event"] for event in middle} <= {"updated"}
    assert [sorted(event) for event in middle] == [["changed_files", "event", "job"]] * len(middle)
    assert sorted(last) == ["changed_files", "event", "job", "skipped"]
    assert first["skipped"] == last["skipped"] == []

    final = last["job"]
    assert rebuild(events) == final
    assert final["status"] == "completed"
    assert len(final["files"]) == count
    for file in final["files"]:
        assert file["status"] == "completed"
        assert Path(file["destination_path"]).stat().st_size == file["size"]
    for event in middle:  # every line has the totals
        assert event["job"]["progress"]["total_files"] == count

    listed = sum(len(event["changed_files"]) for event in events[1:])
    assert listed <= 2 * count + concurrency * len(events)
    whole_jobs = sum("files" in event["job"] for event in events)
    assert whole_jobs == 2


def test_json_of_a_job_finished_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty folder makes an empty job, completed at once: "created" and
    "ended" still come, the last listing no change."""
    (tmp_path / "empty").mkdir()
    assert _cli.main(["cp", "--json", str(tmp_path / "empty"), str(tmp_path / "out")]) == 0
    created, ended = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (created["event"], ended["event"]) == ("created", "ended")
    assert created["job"] == ended["job"]
    assert ended["job"]["status"] == "completed"
    assert ended["changed_files"] == []


# -- the displays follow the changed files only ------------------------------------------


class CountingFiles(Sequence[tq.TransferFile]):
    """A snapshot's files that count how many records are read from them."""

    def __init__(self, files: Sequence[tq.TransferFile], reads: list[int]) -> None:
        self._files = files
        self._reads = reads

    def __len__(self) -> int:
        return len(self._files)

    @overload
    def __getitem__(self, index: int) -> tq.TransferFile: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[tq.TransferFile]: ...

    def __getitem__(self, index: int | slice) -> tq.TransferFile | Sequence[tq.TransferFile]:
        if isinstance(index, slice):
            raise TypeError("the displays take files one by one")
        self._reads[0] += 1
        return self._files[index]

    def __iter__(self) -> Iterator[tq.TransferFile]:
        for file in self._files:
            self._reads[0] += 1
            yield file


def every_snapshot(count: int) -> list[tuple[tq.TransferJob, tuple[int, ...] | None]]:
    """Every snapshot of a real job of ``count`` files (two progress reports each), as
    its events carry them, with ``changed_files`` (None for the job-created one)."""
    snapshots: list[tuple[tq.TransferJob, tuple[int, ...] | None]] = []

    def two_steps(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        on_progress(file.size // 2)
        on_progress(file.size)

    def created(sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        snapshots.append((job, None))

    def updated(sender: Any, *, job: tq.TransferJob, changed_files: Any, **extra: Any) -> None:
        snapshots.append((job, changed_files))

    with (
        tq.TransferQueue(2, update_interval=0) as queue,
        tq.job_created.connected_to(created, sender=queue),
        tq.job_updated.connected_to(updated, sender=queue),
    ):
        queue.wait(queue.queue_job("local-upload", make_files(count), two_steps))
    return snapshots


@pytest.mark.parametrize("display", ["plain", "json", "rich"])
def test_the_displays_read_only_the_changed_files(display: str) -> None:
    """Fed the snapshots of a 300-file job, a display reads each file once
    for the first snapshot (and once more for the last, with --json), then only the
    changed ones: not all 300 per snapshot, as the 83 s for 100,000 files came from.
    The plain display still prints each file done exactly once."""
    count = 300
    snapshots = every_snapshot(count)
    assert len(snapshots) == 1 + 4 * count  # a rescan per snapshot reads 360,000+ records
    out = Terminal()
    shown: _cli_display._Display
    if display == "plain":
        shown = _cli_output._Plain(out, quiet=False)
    elif display == "json":
        shown = _cli_output._Json(out, [])
    else:
        shown = _cli_rich._Rich(out)
    reads = [0]
    changed_in_all = 0
    for job, changed in snapshots:
        counted = attrs.evolve(job, files=cast(Any, CountingFiles(job.files, reads)))
        shown.show(counted, changed)
        changed_in_all += count if changed is None else len(changed)
    shown.close()
    whole_reads = 2 if display == "json" else 1
    assert reads[0] <= whole_reads * count + changed_in_all
    assert changed_in_all == count + 4 * count  # all, then start, half, whole, completed
    if display == "plain":
        assert sum(line.startswith("done ") for line in out.getvalue().splitlines()) == count
    if display == "json":
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        assert rebuild(events) == snapshots[-1][0].to_dict()


def test_json_prints_nothing_after_the_ended_line() -> None:
    """The ``ended`` line is the last, also when the end is shown once more (a
    copy interrupted just after its job ended shows the job's end again); a job that is
    terminal from its first line gets ``created`` then ``ended``."""
    snapshots = every_snapshot(3)
    first, last = snapshots[0][0], snapshots[-1][0]
    out = io.StringIO()
    shown = _cli_output._Json(out, [])
    shown.show(first, None)
    shown.show(last, (0, 1, 2))
    shown.show(last, None)
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == [
        "created",
        "ended",
    ]
    late = io.StringIO()
    shown = _cli_output._Json(late, [])
    shown.show(last, None)
    shown.show(last, None)
    events = [json.loads(line) for line in late.getvalue().splitlines()]
    assert [event["event"] for event in events] == ["created", "ended"]
    assert events[1]["changed_files"] == []
    assert rebuild(events) == last.to_dict()


# -- names that are not UTF-8, or that the output cannot take ---------------------------


def odd_tree(root: Path) -> Path:
    """A folder with a file whose name is not valid UTF-8 and one with an accent."""
    source = root / "src"
    source.mkdir()
    (source / ODD).write_bytes(b"odd name")
    (source / ACCENTED).write_bytes(b"accent")
    return source


@pytest.mark.parametrize(
    ("env", "encoding", "accented"),
    [
        # As in an ordinary UTF-8 locale (en_US.UTF-8: strict), which this machine may
        # not have installed.
        ({"PYTHONIOENCODING": "utf-8", "PYTHONUTF8": None}, "utf-8", ACCENTED),
        # C.UTF-8 (Python writes undecodable bytes raw there): the line is still text.
        (
            {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": None},
            "utf-8",
            ACCENTED,
        ),
        ({"PYTHONIOENCODING": "ascii"}, "ascii", "caf\\u00e9.txt"),
    ],
    ids=["utf-8-strict", "C.UTF-8", "ascii"],
)
def test_odd_names_are_printed_escaped(
    tmp_path: Path, env: dict[str, str | None], encoding: str, accented: str
) -> None:
    """``cp`` of a real file whose name holds the byte 0xff (and one
    named with an accent) prints every line with such names escaped as GNU tools do (the
    byte as ``\\xff``, a character the output cannot take as ``\\u00e9``): the plain
    lines, the summary, --dry-run, the failures and usage errors on stderr; the copy
    completes and nothing is cancelled."""
    source = odd_tree(tmp_path)
    out = tmp_path / "out"
    environ = environment(**env)
    shown_odd = f"{source}/\\xff-data.bin".encode(encoding)

    result = cp(str(source), str(out), env=environ)
    assert result.returncode == 0, result.stderr
    stdout = result.stdout.decode(encoding)  # strict: only what the encoding holds
    assert f"done {source}/\\xff-data.bin -> {out}/\\xff-data.bin (8 B)" in stdout
    assert f"done {source}/{accented} -> {out}/{accented} (6 B)" in stdout
    assert stdout.splitlines()[-1] == "2 of 2 files copied (14 B), 0 failed"
    assert result.stderr == b""
    assert (out / ODD).read_bytes() == b"odd name"
    assert (out / ACCENTED).read_bytes() == b"accent"

    dry = cp("--dry-run", str(source), str(tmp_path / "dry"), env=environ)
    assert dry.returncode == 0, dry.stderr
    assert shown_odd in dry.stdout
    dry.stdout.decode(encoding)

    # Both exist (up to date: cp would skip them without --compare none).
    again = cp(
        "--compare", "none", str(source / ODD), str(source / ACCENTED), str(out), env=environ
    )
    assert again.returncode == 1
    stderr = again.stderr.decode(encoding)
    assert f"failed {source}/\\xff-data.bin: " in stderr
    assert f"failed {source}/{accented}: " in stderr
    assert "Traceback" not in stderr
    assert again.stdout.decode(encoding).splitlines()[-1] == "0 of 2 files copied (0 B), 2 failed"

    missing = cp(str(tmp_path / f"gone-{ODD}"), str(out / "x"), env=environ)  # a usage error
    assert missing.returncode == 2
    assert "gone-\\xff-data.bin".encode(encoding) in missing.stderr
    missing.stderr.decode(encoding)


def test_odd_names_with_json_and_quiet(tmp_path: Path) -> None:
    """--json and -q cope already, and still do: JSON escapes the
    name (``\\udcff``, which json.loads and os.fsencode turn back into the byte), and -q
    prints nothing; both under a strict UTF-8 and an ASCII output."""
    source = odd_tree(tmp_path)
    for number, encoding in enumerate(("utf-8", "ascii")):
        environ = environment(PYTHONIOENCODING=encoding)
        result = cp("--json", str(source), str(tmp_path / f"json{number}"), env=environ)
        assert result.returncode == 0, result.stderr
        final = json.loads(result.stdout.decode("ascii").splitlines()[-1])["job"]
        names = {os.fsencode(Path(file["source_path"]).name) for file in final["files"]}
        assert names == {b"\xff-data.bin", ACCENTED.encode()}
        quiet = cp("-q", str(source), str(tmp_path / f"quiet{number}"), env=environ)
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"", b"")
        assert (tmp_path / f"quiet{number}" / ODD).read_bytes() == b"odd name"


class StrictTerminal(io.TextIOWrapper):
    """A terminal whose encoding refuses what it cannot encode (errors="strict")."""

    def __init__(self, encoding: str) -> None:
        super().__init__(io.BytesIO(), encoding=encoding, errors="strict", write_through=True)

    def isatty(self) -> bool:
        return True

    def written(self) -> str:
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue().decode(self.encoding)


def test_the_rich_display_escapes_odd_names() -> None:
    """The rich display's line for a file in flight names it escaped;
    writing it to a UTF-8 terminal raised UnicodeEncodeError before."""
    terminal = StrictTerminal("utf-8")
    job = tq.TransferJob(
        id="transfer-1-1",
        type=tq.TransferType.LOCAL_UPLOAD,
        status=tq.TransferStatus.ACTIVE,
        files=(
            tq.TransferFile(f"/src/{ODD}", "/out/x", 10, 5, tq.TransferFileStatus.TRANSFERRING),
        ),
        progress=tq.TransferProgress(
            total_files=1,
            completed_files=0,
            failed_files=0,
            total_bytes=10,
            loaded_bytes=5,
            percentage=50,
        ),
        created_at=utc_now(),
    )
    display = _cli_rich._Rich(terminal)
    display.show(job, None)
    display.close()
    assert "\\xff-data.bin" in terminal.written()


def test_a_skipped_folder_with_an_odd_name_is_reported_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "skipped" line for an unreadable folder whose name is not
    UTF-8 is printed escaped, even on a stderr that refuses what it cannot encode."""
    source = odd_tree(tmp_path)
    locked = source / os.fsdecode(b"locked-\xfe")
    locked.mkdir()
    (locked / "inside.bin").write_bytes(b"secret")
    refuse_scandir(monkeypatch, locked)
    stderr = StrictTerminal("utf-8")
    monkeypatch.setattr(sys, "stderr", stderr)
    assert _cli.main(["cp", "-q", str(source), str(tmp_path / "out")]) == 1
    assert stderr.written() == f"skipped {source}/locked-\\xfe: Permission denied\n"
    assert (tmp_path / "out" / ODD).read_bytes() == b"odd name"


@pytest.mark.parametrize(
    ("text", "encoding", "shown"),
    [
        ("plain.txt", "ascii", "plain.txt"),
        (f"a/{ODD}", "utf-8", "a/\\xff-data.bin"),
        (ACCENTED, "utf-8", ACCENTED),
        (ACCENTED, "ascii", "caf\\u00e9.txt"),
        (ACCENTED, "latin-1", ACCENTED),
        ("\u20ac \U0001f600", "latin-1", "\\u20ac \\U0001f600"),
        ("\ud800", "utf-8", "\\ud800"),  # a surrogate no file name decodes to
        # Control characters, whatever the encoding: C0 and DEL as bytes, C1 as characters
        # (\\x85 would be the undecodable byte 0x85).
        ("a\x1b[31mb\nc\td", "utf-8", "a\\x1b[31mb\\x0ac\\x09d"),
        ("\x00\x07\x7f", "ascii", "\\x00\\x07\\x7f"),
        (f"\x85\x9b{ODD}", "utf-8", "\\u0085\\u009b\\xff-data.bin"),
        (f"\r{ACCENTED}", "ascii", "\\x0dcaf\\u00e9.txt"),
    ],
)
def test_printable(text: str, encoding: str, shown: str) -> None:
    """What the output's encoding cannot take is escaped, the rest
    kept; a stream without an encoding counts as UTF-8."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding=encoding)
    assert _cli_output._printable(text, stream) == shown
    if encoding == "utf-8":
        assert _cli_output._printable(text, io.StringIO()) == shown


# A name that would move the cursor, recolour the terminal, set its title and print a
# line of its own, had it been written raw.
HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07\ndone forged -> line (1 B)\x9b.bin"
HOSTILE_SHOWN = "evil\\x1b[2J\\x1b]0;pwned\\x07\\x0adone forged -> line (1 B)\\u009b.bin"


def test_control_characters_in_names_are_printed_escaped(tmp_path: Path) -> None:
    """A name holding control characters (a remote's choice,
    or a local file's) is printed escaped in every line that shows it, the plain display,
    --dry-run, the failures and a usage error: no escape sequence reaches the terminal
    and no line is forged. Before, only what the encoding could not take was escaped."""
    source = tmp_path / "src"
    source.mkdir()
    (source / HOSTILE).write_bytes(b"hostile")
    out = tmp_path / "out"
    environ = environment(PYTHONIOENCODING="utf-8")

    def shown(result: subprocess.CompletedProcess[bytes]) -> list[str]:
        lines = (result.stdout + result.stderr).decode("utf-8").splitlines()
        assert not any(_cli_output._CONTROL.search(line) for line in lines), lines
        assert not any(line.startswith("done forged") for line in lines), lines
        return lines

    copied = cp(str(source), str(out), env=environ)
    assert copied.returncode == 0, copied.stderr
    assert f"done {source}/{HOSTILE_SHOWN} -> {out}/{HOSTILE_SHOWN} (7 B)" in shown(copied)
    assert (out / HOSTILE).read_bytes() == b"hostile"

    dry = cp("--dry-run", str(source), str(tmp_path / "dry"), env=environ)
    assert dry.returncode == 0, dry.stderr
    assert f"{source}/{HOSTILE_SHOWN} -> {tmp_path}/dry/{HOSTILE_SHOWN} (7 B)" in shown(dry)

    # It exists now (and is up to date: cp would skip it without --compare none).
    again = cp("--compare", "none", str(source / HOSTILE), str(out / HOSTILE), env=environ)
    assert again.returncode == 1
    assert (
        f"failed {source}/{HOSTILE_SHOWN}: {out}/{HOSTILE_SHOWN} exists (use --overwrite "
        "to replace it)" in shown(again)
    )

    missing = cp(str(tmp_path / HOSTILE), str(out), env=environ)
    assert missing.returncode == 2
    (line,) = shown(missing)
    assert line.startswith(f"transferqueue: error: cannot read {tmp_path}/{HOSTILE_SHOWN}: ")


def test_the_rich_display_shows_names_as_they_are_not_as_markup() -> None:
    """Rich reads "[...]" in a text as markup; a file's name on the
    rich display is shown as it is (before, "[blink]" in a name made the rest blink and
    vanished from the line, and "[link=URL]" would have made it a hyperlink)."""
    terminal = StrictTerminal("utf-8")
    name = "[blink][link=mailto:x@evil.example]report.pdf"
    job = tq.TransferJob(
        id="transfer-1-1",
        type=tq.TransferType.LOCAL_UPLOAD,
        status=tq.TransferStatus.ACTIVE,
        files=(
            tq.TransferFile(f"/src/{name}", "/out/x", 10, 5, tq.TransferFileStatus.TRANSFERRING),
        ),
        progress=tq.TransferProgress(
            total_files=1,
            completed_files=0,
            failed_files=0,
            total_bytes=10,
            loaded_bytes=5,
            percentage=50,
        ),
        created_at=utc_now(),
    )
    display = _cli_rich._Rich(terminal)
    display.show(job, None)
    display.close()
    written = terminal.written()
    assert name in written
    assert "\x1b[5m" not in written  # no blinking
    assert "\x1b]8;" not in written  # no hyperlink


def test_the_rich_columns_show_binary_units() -> None:
    """The bars' bytes and speed are in the binary units of every other line
    (rich's own columns are decimal): done of total, speed per second, and ``?`` for
    what rich cannot tell yet."""
    from rich.progress import Progress

    clock = [0.0]
    progress = Progress(get_time=lambda: clock[0])
    known = progress.add_task("known", total=3 * 1024 * 1024)
    unknown = progress.add_task("unknown", total=None)
    tasks = {task.id: task for task in progress.tasks}
    sizes, speeds = _cli_rich._BytesColumn(), _cli_rich._SpeedColumn()
    assert sizes.render(tasks[known]).plain == "0 B of 3.0 MiB"
    assert speeds.render(tasks[known]).plain == "?"
    progress.update(known, completed=512 * 1024)
    clock[0] = 2.0
    progress.update(known, completed=1536 * 1024)
    assert sizes.render(tasks[known]).plain == "1.5 MiB of 3.0 MiB"
    assert speeds.render(tasks[known]).plain == "512.0 KiB/s"
    progress.update(unknown, completed=100)
    assert sizes.render(tasks[unknown]).plain == "100 B of ?"


@pytest.mark.parametrize("hidden", ["rich.console", "rich.progress", "rich.text"])
def test_without_rich_a_terminal_gets_plain_lines(
    hidden: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rich is the ``cli`` extra: without it, a terminal gets the plain lines."""
    monkeypatch.delitem(sys.modules, "transferqueue._cli.bars", raising=False)
    monkeypatch.setitem(sys.modules, hidden, None)
    shown = _cli_display._display(Terminal(), as_json=False, quiet=False, skipped=())
    assert isinstance(shown, _cli_output._Plain)
