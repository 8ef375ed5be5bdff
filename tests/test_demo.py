"""The demo behind README's first command: ``python -m transferqueue``."""

from __future__ import annotations

import io
import runpy
import subprocess
import sys

import pytest

from transferqueue import TransferStatus
from transferqueue._demo import run_demo


def test_demo_ends_completed_failed_cancelled_and_prints_live_progress() -> None:
    """Three jobs: one completes, one has a failing file, one is cancelled part-way."""
    out = io.StringIO()
    final = run_demo(out)
    text = out.getvalue()

    assert [job.status for job in final] == [
        TransferStatus.COMPLETED,
        TransferStatus.FAILED,
        TransferStatus.CANCELLED,
    ]
    completed, failed, cancelled = final
    assert completed.progress.percentage == 100
    assert failed.error == "1 of 3 files failed"
    assert any("checksum mismatch" in (file.error or "") for file in failed.files)
    assert 0 < cancelled.progress.percentage < 100
    assert cancelled.error == "Cancelled by user"
    # Live lines came from the events, before the final table.
    assert f"Cancelling {cancelled.id}" in text
    assert text.index(" active ") < text.index("files ok/failed/all")
    for job in final:
        assert job.id in text.split("files ok/failed/all")[1]


def test_module_entry_point_exits_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m transferqueue`` (no arguments) runs the demo and exits 0 when it went
    as designed."""
    monkeypatch.setattr(sys, "argv", ["transferqueue"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("transferqueue", run_name="__main__")
    assert exit_info.value.code == 0


def test_demo_runs_in_a_fresh_interpreter() -> None:
    """README's first command, as a newcomer runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "transferqueue"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    assert "cancelled" in result.stdout
    assert result.stderr == ""
