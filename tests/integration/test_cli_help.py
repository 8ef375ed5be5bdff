"""Issue 13 ("The command line's finish"): ``--version``, ``cp``'s usage line and the
examples of every command's ``--help``, as ``python -m transferqueue`` subprocesses."""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import transferqueue
from tests.conftest import WAIT
from transferqueue._cli.cluster import _check_job_id
from transferqueue._cli.main import _parser, main

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(transferqueue.__file__).resolve().parent


def run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", *args],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=cwd,
        env=env,
        check=False,
    )


def fake_metadata(folder: Path, version: str) -> None:
    """An installed distribution ``transferqueue`` of ``version`` in ``folder`` (its
    dist-info only, as pip leaves it)."""
    info = folder / f"transferqueue-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: transferqueue\nVersion: {version}\n", encoding="utf-8"
    )


# --- --version -------------------------------------------------------------------------


def test_version_is_the_installed_metadata(tmp_path: Path) -> None:
    """``--version`` prints the version of the installed distribution's metadata: here
    one that says 9.8.7, installed beside the package that runs."""
    fake_metadata(tmp_path, "9.8.7")
    (tmp_path / "transferqueue").symlink_to(PACKAGE, target_is_directory=True)
    result = run("--version", cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert (result.returncode, result.stdout, result.stderr) == (0, "transferqueue 9.8.7\n", "")


def test_version_of_another_copy_is_the_source_one(tmp_path: Path) -> None:
    """Metadata of a transferqueue installed elsewhere (a checkout run with PYTHONPATH
    beside an installed release) is not the version of the copy that runs: that copy's
    ``__version__`` is printed."""
    fake_metadata(tmp_path, "9.8.7")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(PACKAGE.parent)]))
    result = run("--version", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"transferqueue {transferqueue.__version__}\n"
    assert transferqueue.__version__ != "9.8.7"


def test_version_when_not_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not installed at all (run from a checkout), ``--version`` prints the source's
    ``__version__``."""

    def missing(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert main(["--version"]) == 0
    assert capsys.readouterr() == (f"transferqueue {transferqueue.__version__}\n", "")


# --- cp's usage line ---------------------------------------------------------------------


def test_cp_usage_says_what_cp_takes() -> None:
    """``cp``'s usage line says one or more SRC, then one DEST (it said ``SRC... DEST
    [SRC... DEST ...]``, as if pairs could repeat); one path alone is refused naming the
    DEST that is missing."""
    helped = run("cp", "--help")
    assert helped.returncode == 0, helped.stderr
    usage = helped.stdout.split("\n\n", 1)[0]
    assert " ".join(usage.split()).endswith("[--json | -q] SRC [SRC ...] DEST")
    alone = run("cp", "only-one")
    assert alone.returncode == 2
    assert alone.stderr.endswith(
        "transferqueue cp: error: the following arguments are required: DEST\n"
    )


# --- the examples of --help --------------------------------------------------------------

COMMANDS = [(), ("cp",), ("demo",), ("jobs",), ("watch",), ("cancel",)]


def examples(*command: str) -> list[list[str]]:
    """The commands shown under "examples:" in ``transferqueue COMMAND --help``, each as
    its arguments after ``transferqueue`` (without a comment, a pipe or ``&&``)."""
    result = run(*command, "--help", env=dict(os.environ, COLUMNS="80"))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert all(len(line) <= 79 for line in text.splitlines()), text
    shown = text.split("\nexamples:\n", 1)[1]
    found = []
    for line in shown.splitlines():
        words = shlex.split(line, comments=True)
        if "transferqueue" not in words:
            continue  # a heading, or the export of the Redis URL
        for end in ("|", "&&"):
            if end in words:
                words = words[: words.index(end)]
        assert words[0] == "transferqueue", line
        found.append(words[1:])
    return found


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "transferqueue")
def test_every_help_has_examples_that_parse(command: tuple[str, ...]) -> None:
    """Each command's ``--help`` ends with examples, kept on their lines within 79
    columns; each one is a command line that parses (a job id in one is a job id), and
    each command's examples show that command."""
    found = examples(*command)
    assert len(found) >= 2
    for args in found:
        if args[-1] == "--help":
            assert args[:-1] in [list(name) for name in COMMANDS]
            continue
        parsed = _parser().parse_args(args)
        if command:
            assert parsed.command == command[0] or parsed.command == "jobs"
        if parsed.command in ("watch", "cancel"):
            assert _check_job_id(parsed.job_id) == parsed.job_id


def test_cp_examples_copy_from_local_s3_and_hugging_face() -> None:
    """``cp --help`` shows a copy from each kind of source: local, ``s3://`` and
    ``hf://``, to each kind of destination it takes; the command line's own ``--help``
    shows one of each too."""
    parser = _parser()
    parsed = [parser.parse_args(args) for args in examples("cp")]
    sources = {source.partition("://")[0] for args in parsed for source in args.sources}
    destinations = {args.destination.partition("://")[0] for args in parsed}
    assert {"s3", "hf"} < sources
    assert any("://" not in source for args in parsed for source in args.sources)
    assert "s3" in destinations
    assert any("://" not in args.destination for args in parsed)
    shown = " ".join(" ".join(args) for args in examples() if args[0] == "cp")
    assert "s3://" in shown
    assert "hf://" in shown
    assert "photos/ backup/" in shown
