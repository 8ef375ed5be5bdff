"""Issue 13 ("One demo, one entry point"): ``python -m transferqueue`` is the command line,
``transferqueue demo`` the terminal demo, ``transferqueue demo --web`` the demo page
(served and stopped in tests/integration/test_web_demo.py)."""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import WAIT
from transferqueue._cli.exit_status import _uninterrupted
from transferqueue._cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m transferqueue ARGS``, its temporary folders in ``tmpdir`` if given."""
    env = dict(os.environ) if tmpdir is None else dict(os.environ, TMPDIR=str(tmpdir))
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", *args],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_the_module_is_the_command_line() -> None:
    """``python -m transferqueue`` is the ``transferqueue`` command: without a command it
    says it needs one (exit 2) and copies nothing; ``--help`` lists every command. It no
    longer runs a demo of its own."""
    bare = run()
    assert bare.returncode == 2
    assert bare.stdout == ""
    assert bare.stderr.startswith("usage: transferqueue ")
    assert "the following arguments are required: COMMAND" in bare.stderr
    helped = run("--help")
    assert (helped.returncode, helped.stderr) == (0, "")
    assert helped.stdout.startswith("usage: transferqueue ")
    listed = re.findall(r"^    ([a-z]+) ", helped.stdout, re.MULTILINE)
    assert listed == ["cp", "demo", "jobs", "watch", "cancel"]


def test_demo_copies_in_a_temporary_folder_it_removes(tmp_path: Path) -> None:
    """``transferqueue demo`` copies generated files with nothing to configure, in a
    folder made where TMPDIR says (no folder of its own under /tmp), says where they
    went, and removes every file it made."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = run("demo", tmpdir=tmpdir)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    generated = re.fullmatch(r"generated 7 files in (\S+)", lines[0])
    assert generated is not None
    root = Path(generated[1]).parent
    assert root.parent == tmpdir
    assert root.name.startswith("transferqueue-demo-")
    assert "7 of 7 files copied (127.0 MiB), 0 failed" in lines
    assert lines[-1] == f"copied to {root / 'copies'} (now removed again)"
    assert os.listdir(tmpdir) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--port", "8001"], "transferqueue: error: demo: --host and --port go with --web"),
        (["demo", "--host", "localhost"], "transferqueue: error: demo: --host and --port go with"),
        (["demo", "--web", "--port", "65536"], "argument --port: not a port (0 to 65535): '65536'"),
        (["demo", "--web", "--port", "-1"], "argument --port: must be >= 0, got '-1'"),
        (["demo", "--web", "--port", "http"], "argument --port: not an integer: 'http'"),
        (["demo", "--web", "--host", ""], "argument --host: an empty address would listen on"),
    ],
)
def test_demo_options_are_checked_before_anything_starts(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--host`` and ``--port`` go with ``--web`` only; a port out of range is refused
    (a socket would take 65536 as port 0, 70000 as 4464), and so is an empty address,
    which would serve the demo, which has no login, on every interface. Each is bad
    usage (exit 2) before any folder is made or anything listens."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert os.listdir(tmp_path) == []


def test_a_clean_up_is_not_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the demo page's server cleans up, Ctrl-C, SIGTERM and SIGHUP are ignored,
    their handlers put back afterwards; a handler not set from Python (which could not
    be put back) is left alone."""
    received: list[int] = []

    def mine(signum: int, frame: object) -> None:
        received.append(signum)

    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {number: signal.signal(number, mine) for number in numbers}
    try:
        with _uninterrupted():
            for number in numbers:
                assert signal.getsignal(number) is signal.SIG_IGN
                signal.raise_signal(number)
        assert received == []
        assert all(signal.getsignal(number) is mine for number in numbers)
        real_getsignal = signal.getsignal
        monkeypatch.setattr(
            signal,
            "getsignal",
            lambda number: None if number == signal.SIGHUP else real_getsignal(number),
        )
        with _uninterrupted():
            assert real_getsignal(signal.SIGHUP) is mine
            assert real_getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@pytest.mark.parametrize("module", ["transferqueue.__main__", "transferqueue.web.__main__"])
def test_importing_a_main_module_runs_nothing(
    module: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line runs when a ``__main__`` module is run, not when it is imported."""
    monkeypatch.delitem(sys.modules, module, raising=False)
    imported = importlib.import_module(module)
    assert imported.main is main
    assert capsys.readouterr() == ("", "")


def test_the_page_reports_only_flask_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """``demo --web`` says which extra to install when Flask is missing; a module of its
    own that is missing is a bug to show as it is, not an extra to install."""
    monkeypatch.setitem(sys.modules, "transferqueue.web._local_only", None)
    with pytest.raises(ModuleNotFoundError, match=re.escape("transferqueue.web._local_only")):
        main(["demo", "--web", "--port", "0"])
