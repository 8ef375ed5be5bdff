"""The Sphinx docs in docs/: the tutorial's files run as written, every Python sample is
one of them, and the API reference documents every public name."""

from __future__ import annotations

import filecmp
import importlib.util
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, cast

import pytest

import transferqueue
import transferqueue.executors
import transferqueue.redis
import transferqueue.web
from tests.helpers.web_clients import read_until_end

pytest.importorskip("flask")
pytest.importorskip("django")

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"

# The tutorial's files, by the caption of their code block: each is run by a test below.
RUN_BY_TESTS = {"backup.py", "slow_backup.py", "app.py", "sync_backup.py"}


def _python_blocks() -> Iterator[tuple[pathlib.Path, str | None, str]]:
    """Every ``.. code-block:: python`` in docs/: (file, its caption or None, its code)."""
    for path in sorted(DOCS.rglob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            directive = re.fullmatch(r"(\s*)\.\. code-block:: python", line)
            if directive is None:
                continue
            indent = len(directive.group(1)) + 3
            caption = None
            body = number + 1
            while body < len(lines) and lines[body].strip().startswith(":"):
                option, _, value = lines[body].strip()[1:].partition(":")
                if option == "caption":
                    caption = value.strip()
                body += 1
            code = []
            for text in lines[body:]:
                if text.strip() and len(text) - len(text.lstrip()) < indent:
                    break
                code.append(text[indent:])
            yield path, caption, "\n".join(code).strip("\n") + "\n"


def _tutorial_file(caption: str, folder: pathlib.Path) -> pathlib.Path:
    """Write the tutorial's block captioned ``caption`` into ``folder``, as its reader would."""
    (code,) = [code for _, name, code in _python_blocks() if name == caption]
    path = folder / caption
    path.write_text(code, encoding="utf-8")
    return path


def _run(script: pathlib.Path) -> list[str]:
    """Run ``script`` in its folder, as ``python script``; its output's lines."""
    result = subprocess.run(
        [sys.executable, script.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_every_python_sample_is_run_by_a_test() -> None:
    """A Python sample in the docs is a tutorial file that the tests below run: one added
    without a caption they know would go untested."""
    captions = [(path.name, caption) for path, caption, _ in _python_blocks()]
    assert captions, "no Python samples found"
    assert {caption for _, caption in captions} == RUN_BY_TESTS, captions
    assert len(captions) == len(RUN_BY_TESTS), captions


def test_backup_copies_the_photos_with_progress(tmp_path: pathlib.Path) -> None:
    """backup.py makes twelve photos, copies them and prints the job's progress down to
    its terminal snapshot."""
    lines = _run(_tutorial_file("backup.py", tmp_path))
    assert lines[-2].split() == ["completed", "100%", "12/12", "files"]
    assert lines[-1] == "finished: completed"
    for line in lines[:-2]:
        assert line.split()[0] in ("queued", "active"), lines
    photos = sorted(path.name for path in (tmp_path / "photos").iterdir())
    assert len(photos) == 12
    assert filecmp.cmpfiles(tmp_path / "photos", tmp_path / "backup", photos, shallow=False) == (
        photos,
        [],
        [],
    )
    # It may run twice, as the tutorial says.
    assert _run(tmp_path / "backup.py")[-1] == "finished: completed"


def test_sync_backup_copies_then_skips_what_is_up_to_date(tmp_path: pathlib.Path) -> None:
    """sync_backup.py (docs/howto/sync.rst), run twice: the photos are copied, then all
    of them are up to date and nothing moves; a .tmp file is left out both times."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for number in range(12):
        (photos / f"photo-{number:02d}.jpg").write_bytes(bytes([number]) * 1000)
    (photos / "edit.tmp").write_bytes(b"scratch")
    script = _tutorial_file("sync_backup.py", tmp_path)
    assert _run(script) == ["completed: 12 copied, 0 up to date, 12000 bytes moved"]
    assert _run(script) == ["completed: 0 copied, 12 up to date, 0 bytes moved"]
    assert not (tmp_path / "mirror" / "edit.tmp").exists()


def test_slow_backup_is_cancelled_once_two_files_are_done(tmp_path: pathlib.Path) -> None:
    """slow_backup.py, run after backup.py as the tutorial says, cancels its job once two
    files completed: the job ends cancelled, its unfinished files end in error, and the
    completed ones were copied whole."""
    _run(_tutorial_file("backup.py", tmp_path))
    lines = _run(_tutorial_file("slow_backup.py", tmp_path))
    assert lines[0] == "finished: cancelled - Cancelled by user"
    statuses = [line.split() for line in lines[1:]]
    assert len(statuses) == 12
    completed = [path for status, path in statuses if status == "completed"]
    assert {status for status, _ in statuses} == {"completed", "error"}
    assert len(completed) >= 2
    for path in completed:
        name = pathlib.Path(path).name
        assert filecmp.cmp(tmp_path / path, tmp_path / "slow-backup" / name, shallow=False)


def test_the_flask_app_streams_the_backup_to_its_end(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """app.py as written: POST /backups starts the copy and names its stream, the stream
    gives snapshots up to the completed one and the end event, the job is listed, and a
    cancel after its end is refused with 409."""
    _run(_tutorial_file("backup.py", tmp_path))
    (tmp_path / "backup").rename(tmp_path / "first-backup")
    path = _tutorial_file("app.py", tmp_path)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("tutorial_app", path)
    assert spec is not None
    assert spec.loader is not None
    app_module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tutorial_app", app_module)
    spec.loader.exec_module(app_module)
    queue = cast("transferqueue.TransferQueue", app_module.queue)
    try:
        client = app_module.app.test_client()
        started = client.post("/backups")
        assert started.status_code == 202
        job_id = started.get_json()["id"]
        assert started.get_json()["events"] == f"/transfers/{job_id}/events"
        response = client.get(f"/transfers/{job_id}/events")
        assert response.mimetype == "text/event-stream"
        events = read_until_end(iter(cast("list[bytes]", response.response)))
        response.close()
        *snapshots, end = events
        assert end == ("end", {"jobId": job_id, "status": "completed"})
        assert all(event is None for event, _ in snapshots)
        first: dict[str, Any] = snapshots[0][1]["job"]
        assert len(first["files"]) == 12  # the stream opens with the job whole
        last: dict[str, Any] = snapshots[-1][1]["job"]
        assert (last["status"], last["progress"]["percentage"]) == ("completed", 100)
        assert [job["id"] for job in client.get("/transfers/").get_json()] == [job_id]
        assert client.delete(f"/transfers/{job_id}").status_code == 409
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)
    names = sorted(path.name for path in (tmp_path / "photos").iterdir())
    assert filecmp.cmpfiles(tmp_path / "photos", tmp_path / "backup", names, shallow=False)[0] == (
        names
    )


def _documented_names() -> set[str]:
    """The full names that the API reference's autodoc directives document."""
    names: set[str] = set()
    for path in sorted((DOCS / "api").glob("*.rst")):
        module = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            current = re.fullmatch(r"\.\. (?:currentmodule|automodule):: (\S+)", line)
            if current is not None:
                module = current.group(1)
                names.add(module)
                continue
            directive = re.fullmatch(
                r"\.\. auto(?:class|function|data|exception):: (\w[\w.]*)(?:\(\))?", line
            )
            if directive is not None:
                name = directive.group(1)
                names.add(name if "." in name else f"{module}.{name}")
    return names


def test_the_api_reference_documents_every_public_name() -> None:
    """Each name in the packages' __all__ has an entry in docs/api/ (transferqueue's lazy
    RedisBackend as transferqueue.redis.RedisBackend, which it is)."""
    import transferqueue.web.django

    packages = [
        transferqueue,
        transferqueue.executors,
        transferqueue.redis,
        transferqueue.web,
        transferqueue.web.django,
    ]
    public = {f"{package.__name__}.{name}" for package in packages for name in package.__all__}
    public.remove("transferqueue.RedisBackend")
    documented = _documented_names()
    assert "transferqueue.redis.RedisBackend" in documented
    assert sorted(public - documented) == []
