"""README.rst's quick start runs as written."""

from __future__ import annotations

import asyncio
import configparser
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import make_files, noop_executor

README = pathlib.Path(__file__).resolve().parents[2] / "README.rst"


def _code_block_after(heading: str) -> str:
    """The first ``.. code-block:: python`` after ``heading``, dedented."""
    text = README.read_text(encoding="utf-8")
    after = text.split(heading, 1)[1].split(".. code-block:: python", 1)[1]
    lines = []
    for line in after.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines)


def test_the_first_command_runs_the_demo(tmp_path: pathlib.Path) -> None:
    """README's first command ends with ``transferqueue demo``: the ``transferqueue``
    that setup.cfg installs, the command line's main() (which ``python -m transferqueue``
    runs too: tests/integration/test_demo.py), runs the demo, which copies its files and
    removes them again."""
    text = README.read_text(encoding="utf-8")
    block = text.split("Two commands", 1)[1].split("::\n\n", 1)[1]
    first_command = block.splitlines()[0].strip()
    assert first_command.endswith(" && .venv/bin/transferqueue demo")
    program, *args = first_command.rsplit(" && ", 1)[1].split()
    setup = configparser.ConfigParser()
    setup.read(README.parent / "setup.cfg", encoding="utf-8")
    scripts = dict(
        line.replace(" ", "").split("=")
        for line in setup["options.entry_points"]["console_scripts"].split("\n")
        if line
    )
    module, function = scripts[pathlib.PurePosixPath(program).name].split(":")
    assert (module, function) == ("transferqueue._cli.main", "main")
    # What the script pip writes for the entry point does.
    script = f"import sys; from {module} import {function}; sys.exit({function}())"
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=README.parent,
        env=dict(os.environ, TMPDIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "7 of 7 files copied (127.0 MiB), 0 failed" in result.stdout
    assert os.listdir(tmp_path) == []


def test_quick_start_copies_the_file(tmp_path: pathlib.Path) -> None:
    """The 60-second quick start copies a.bin and prints the terminal snapshot's status."""
    data = os.urandom(1_048_576)
    (tmp_path / "a.bin").write_bytes(data)
    code = _code_block_after("Quick start: a blocking script")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["completed", "100", "None"]
    assert (tmp_path / "a-copy.bin").read_bytes() == data


def test_asyncio_bridge_follows_a_job_to_its_end(capsys: pytest.CaptureFixture[str]) -> None:
    """The asyncio bridge of "Receiving events", as written: a plain receiver hands each
    snapshot to the loop, and the coroutine awaits them up to the terminal one."""
    namespace: dict[str, Any] = {}
    exec(_code_block_after("Bridging to asyncio"), namespace)
    queue = tq.TransferQueue(2)
    try:
        final = asyncio.run(namespace["copy_and_follow"](queue, make_files(3), noop_executor))
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)
    assert final.status == "completed"
    assert final.progress.completed_files == 3
    assert capsys.readouterr().out.splitlines()[-1] == "completed 100"


def test_the_celery_recipe_shows_the_tested_app() -> None:
    """Every line of the Celery recipe's code in README.rst is a line of the app that
    tests/integration/test_celery_recipe.py runs, so that the manual cannot drift from what
    is tested."""
    shown = _code_block_after("Handing transfers to Celery")
    tested = (README.parent / "tests" / "helpers" / "celery_recipe.py").read_text(encoding="utf-8")
    tested_lines = {line.rstrip() for line in tested.splitlines()}
    missing = [line for line in shown.splitlines() if line and line not in tested_lines]
    assert shown.count("\n") > 40
    assert missing == []
