"""The Sphinx docs in docs/: the tutorial's files run as written, every Python sample is
one of them, and the API reference documents every public name."""

from __future__ import annotations

import configparser
import filecmp
import importlib.util
import pathlib
import re
import subprocess
import sys
from typing import Any, cast

import pytest

import transferqueue
import transferqueue.executors
import transferqueue.redis
import transferqueue.web
from tests.helpers.bounds import WAIT
from tests.helpers.docs_samples import DOCS, docs_python_blocks, docs_sample
from tests.helpers.executors import noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.web_clients import django_urlconf, read_until_end

pytest.importorskip("flask")
pytest.importorskip("django")

TESTS = pathlib.Path(__file__).resolve().parent

# Every Python sample of the docs, by the caption of its code block, and the test that runs
# it as written (a test module, and a test function in it that names the caption).
RUN_BY_TESTS = {
    # The tutorial's files.
    "backup.py": "test_docs.py::test_backup_copies_the_photos_with_progress",
    "slow_backup.py": "test_docs.py::test_slow_backup_is_cancelled_once_two_files_are_done",
    "app.py": "test_docs.py::test_the_flask_app_streams_the_backup_to_its_end",
    # The how-to guides.
    "quickstart.py": "test_readme.py::test_quick_start_copies_the_file",
    "Connecting a receiver": "test_docs.py::test_a_connected_receiver_prints_each_update",
    "Following a job from asyncio": "test_readme.py::test_asyncio_bridge_follows_a_job_to_its_end",
    "Following a job with watch()": "test_docs.py::test_watch_prints_the_job_to_its_end",
    "Only the files that changed": "test_docs.py::test_watch_shows_only_changed_files",
    "A retry policy": "test_docs.py::test_the_retry_policy_retries_the_queue_not_the_job",
    "Copying a folder": "test_docs.py::test_copying_a_folder_mirrors_it",
    "sync_backup.py": "test_docs.py::test_sync_backup_copies_then_skips_what_is_up_to_date",
    "Flask: the routes behind an access hook": (
        "test_web_flask.py::test_readme_flask_sketch_serves_through_its_hook"
    ),
    "Django: the project's urls.py": "test_docs.py::test_the_django_urlconf_serves_the_routes",
    "Django: settings.py": "test_web_django_app.py::test_readme_django_settings_as_written",
    "A queue on Redis": "test_docs.py::test_a_queue_on_redis_runs_a_job",
    "A semaphore across processes": "test_redis_semaphore.py::test_the_readme_example_runs",
    "app.py, on gunicorn with four workers": "test_docs.py::test_the_gunicorn_app_serves_its_queue",
    "transfers.py": "test_readme.py::test_the_celery_recipe_shows_the_tested_app",
}


def _tutorial_file(caption: str, folder: pathlib.Path) -> pathlib.Path:
    """Write the tutorial's block captioned ``caption`` into ``folder``, as its reader would."""
    path = folder / caption
    path.write_text(docs_sample(caption), encoding="utf-8")
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
    """Each Python sample in the docs has a caption of its own, and the test named for it
    exists and looks its sample up by that caption: a sample added without one would go
    untested."""
    captions = [caption for _, caption, _ in docs_python_blocks()]
    assert sorted(captions, key=str) == sorted(RUN_BY_TESTS), captions
    for caption, test in RUN_BY_TESTS.items():
        module, function = test.split("::")
        source = (TESTS / module).read_text(encoding="utf-8")
        body = source.split(f"def {function}(", 1)
        assert len(body) == 2, test
        assert f'"{caption}"' in body[1].split("\ndef ", 1)[0], test


def test_tox_docs_runs_every_sample() -> None:
    """``tox -e docs`` runs test_docs and test_readme whole, and by name each test of
    another module that runs a sample of the docs."""
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(TESTS.parents[1] / "tox.ini", encoding="utf-8")
    commands = tox["testenv:docs"]["commands"].replace("\\\n", " ").split()
    assert {"tests{/}integration{/}test_docs.py", "tests{/}integration{/}test_readme.py"} <= set(
        commands
    )
    for test in RUN_BY_TESTS.values():
        if test.split("::")[0] not in ("test_docs.py", "test_readme.py"):
            assert f"tests{{/}}integration{{/}}{test}" in commands, test


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


# --- the how-to guides' samples ------------------------------------------------------------


def test_a_connected_receiver_prints_each_update(capsys: pytest.CaptureFixture[str]) -> None:
    """The scripts guide's receiver, connected as written, prints each update of the
    queue's job down to the completed one; connected for a scope as written (its ``...``
    being a job run), it prints that job's updates and is disconnected after the scope."""
    code = docs_sample("Connecting a receiver")
    connect, scoped = code.split("\n# or, for a scope:")
    assert scoped.rstrip().endswith("\n    ...")
    queue = transferqueue.TransferQueue(2)
    namespace: dict[str, Any] = {"tq": transferqueue, "queue": queue}
    run_a_job = "queue.wait(queue.queue_job('local-upload', files, executor), timeout=wait).id"
    namespace.update(files=make_files(3), executor=noop_executor, wait=WAIT)
    try:
        exec(connect, namespace)
        first = eval(run_a_job, namespace)
        transferqueue.job_updated.disconnect(namespace["on_update"])
        exec(scoped.replace("\n    ...", f"\n    second = {run_a_job}"), namespace)
        after_the_scope = eval(run_a_job, namespace)
    finally:
        transferqueue.job_updated.disconnect(namespace["on_update"])
        queue.shutdown(wait=True, cancel_jobs=True)
    lines = capsys.readouterr().out.splitlines()
    first_lines = [line for line in lines if line.startswith(f"{first} ")]
    second_lines = [line for line in lines if line.startswith(f"{namespace['second']} ")]
    assert first_lines[-1] == f"{first} completed 100"
    assert second_lines[-1] == f"{namespace['second']} completed 100"
    assert len(first_lines) + len(second_lines) == len(lines)
    assert after_the_scope not in " ".join(lines)


def test_watch_prints_the_job_to_its_end(capsys: pytest.CaptureFixture[str]) -> None:
    """The scripts guide's watch() loop prints the job's progress and ends with the job."""
    with transferqueue.TransferQueue(2) as queue:
        job_id = queue.queue_job("local-upload", make_files(4), noop_executor)
        exec(docs_sample("Following a job with watch()"), {"queue": queue, "job_id": job_id})
    assert capsys.readouterr().out.splitlines()[-1] == "100%  completed"


def test_watch_shows_only_changed_files() -> None:
    """The scripts guide's loop over changed_files, given a show() that keeps what it is
    shown, ends with every file as the terminal snapshot has it."""
    shown: dict[int, transferqueue.TransferFile] = {}

    def show(index: int, file: transferqueue.TransferFile) -> None:
        shown[index] = file

    with transferqueue.TransferQueue(2) as queue:
        job_id = queue.queue_job("local-upload", make_files(6), noop_executor)
        code = docs_sample("Only the files that changed")
        exec(code, {"queue": queue, "job_id": job_id, "show": show})
        final = queue.get_job(job_id)
    assert final is not None
    assert final.status == "completed"
    assert shown == dict(enumerate(final.files))


def test_the_retry_policy_retries_the_queue_not_the_job() -> None:
    """The scripts guide's policy, as written: the queue's jobs are retried after a
    transient error, the job queued with NO_RETRY is not."""
    failures: list[str] = []

    def upload(
        file: transferqueue.TransferFile, on_progress: transferqueue.ProgressCallback
    ) -> None:
        if file.source_path not in failures:
            failures.append(file.source_path)
            raise ConnectionError("the endpoint went away")
        on_progress(file.size)

    namespace: dict[str, Any] = {"tq": transferqueue, "files": make_files(1), "upload": upload}
    exec(docs_sample("A retry policy"), namespace)
    queue = cast("transferqueue.TransferQueue", namespace["queue"])
    try:
        (not_retried,) = queue.get_all_jobs()
        failed = queue.wait(not_retried.id, timeout=WAIT)
        assert failed.status == "failed"
        assert failed.files[0].attempts == 1
        retried = queue.wait(
            queue.queue_job("s3-upload", make_files(1, prefix="other"), upload), timeout=WAIT
        )
        assert retried.status == "completed"
        assert retried.files[0].attempts == 2
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)


def test_copying_a_folder_mirrors_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executors guide's folder copy, as written, copies every file below photos/."""
    (tmp_path / "photos" / "2026").mkdir(parents=True)
    (tmp_path / "photos" / "a.jpg").write_bytes(b"a" * 1000)
    (tmp_path / "photos" / "2026" / "b.jpg").write_bytes(b"b" * 2000)
    monkeypatch.chdir(tmp_path)
    with transferqueue.TransferQueue(2) as queue:
        namespace: dict[str, Any] = {"queue": queue}
        exec(docs_sample("Copying a folder"), namespace)
        assert queue.wait(namespace["job_id"], timeout=WAIT).status == "completed"
    copy = tmp_path / "backup" / "photos"
    assert (copy / "a.jpg").read_bytes() == b"a" * 1000
    assert (copy / "2026" / "b.jpg").read_bytes() == b"b" * 2000


def _may_see(request: Any, job: Any, action: str) -> bool:
    """The access hook of the web guides' samples: X-User may view, admin may cancel."""
    user = request.headers.get("X-User")
    return user is not None and (action == "view" or user == "admin")


def test_the_django_urlconf_serves_the_routes() -> None:
    """The Django guide's urls.py, both ways as written: the included URLconf's routes are
    named in the transferqueue namespace, and transfer_urls(can_access=...) serves the
    jobs to the users its hook lets in."""
    from django.test import Client, override_settings
    from django.urls import resolve

    code = docs_sample("Django: the project's urls.py")
    by_setting, _ = code.split("\n# or, with options in code")
    first: dict[str, Any] = {}
    exec(by_setting, first)
    with override_settings(ROOT_URLCONF=django_urlconf(*first["urlpatterns"])):
        match = resolve("/transfers/x/events")
    assert (match.namespace, match.url_name) == ("transferqueue", "events")
    second: dict[str, Any] = {"may_see": _may_see}
    exec(code, second)
    job_id = transferqueue.transfer_queue.queue_job("local-upload", make_files(1), noop_executor)
    transferqueue.transfer_queue.wait(job_id, timeout=WAIT)
    with override_settings(ROOT_URLCONF=django_urlconf(*second["urlpatterns"])):
        client = Client()
        seen = client.get(f"/transfers/{job_id}", headers={"X-User": "alice"})
        assert seen.status_code == 200
        assert seen.json()["status"] == "completed"
        assert client.get(f"/transfers/{job_id}").status_code == 404


def test_a_queue_on_redis_runs_a_job(redis_url: str) -> None:
    """The Redis guide's queue, as written (on the test's server), runs a job under the
    cluster's limit of 4."""
    namespace: dict[str, Any] = {}
    code = docs_sample("A queue on Redis")
    assert "redis://localhost:6379/0" in code
    exec(code.replace("redis://localhost:6379/0", redis_url), namespace)
    queue = cast("transferqueue.TransferQueue", namespace["queue"])
    try:
        assert queue.concurrency_limit == 4
        job_id = queue.queue_job("local-upload", make_files(3), noop_executor)
        assert queue.wait(job_id, timeout=WAIT).status == "completed"
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)


def test_the_gunicorn_app_serves_its_queue(redis_url: str) -> None:
    """The deployment guide's app.py, as written (on the test's server, with an access
    hook for its may_access), serves the jobs of its Redis-backed queue."""
    code = docs_sample("app.py, on gunicorn with four workers")
    assert "redis://localhost:6379/0" in code
    namespace: dict[str, Any] = {"__name__": "app", "may_access": _may_see}
    exec(code.replace("redis://localhost:6379/0", redis_url), namespace)
    queue = cast("transferqueue.TransferQueue", namespace["queue"])
    try:
        job_id = queue.queue_job("local-upload", make_files(2), noop_executor)
        queue.wait(job_id, timeout=WAIT)
        client = namespace["app"].test_client()
        seen = client.get(f"/transfers/{job_id}", headers={"X-User": "alice"})
        assert (seen.status_code, seen.get_json()["status"]) == (200, "completed")
        assert client.get(f"/transfers/{job_id}").status_code == 404
    finally:
        queue.shutdown(wait=True, cancel_jobs=True)


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
