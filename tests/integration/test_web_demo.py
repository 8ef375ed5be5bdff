"""``transferqueue.web``'s demo app through Flask's test client, and
``transferqueue demo --web`` (and its older name ``python -m transferqueue.web``) as a
subprocess."""

from __future__ import annotations

import http.client
import json
import os
import queue as queue_module
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import transferqueue as tq
import transferqueue.web
from tests.helpers.bounds import WAIT
from transferqueue.web._demo import DEMO_KINDS, demo_app

ROOT = Path(__file__).resolve().parents[2]
# The static files of the package under test (the installed one when run from a wheel).
STATIC = Path(transferqueue.web.__file__).parent / "static"
NEVER = 3600.0  # a pause that only a cancel ends


def make_client(queue: tq.TransferQueue, workdir: Path, **options: Any) -> FlaskClient:
    return demo_app(queue, workdir, **options).test_client()


def all_files(folder: Path) -> list[str]:
    """Every file below ``folder`` (hidden ones too), relative, sorted; [] if it is missing."""
    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
    )


# --- the page ------------------------------------------------------------------------------


def test_page_and_static_files_are_served(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """``/`` is the HTML page, which links its CSS and JavaScript under
    ``/static/``, served with their content types."""
    client = make_client(queue, tmp_path)
    page = client.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'href="/static/demo.css"' in html
    assert 'src="/static/demo.js"' in html
    css = client.get("/static/demo.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    assert css.get_data() == (STATIC / "demo.css").read_bytes()
    js = client.get("/static/demo.js")
    assert js.status_code == 200
    assert js.mimetype in ("text/javascript", "application/javascript")
    assert js.get_data() == (STATIC / "demo.js").read_bytes()
    for response in (page, css, js):
        response.close()


def test_page_loads_nothing_from_elsewhere() -> None:
    """No CDN or other outside resource: every ``src``/``href`` of the page is
    one of its own files (or the empty ``data:`` icon that stops a favicon request), and
    the script fetches only this server's paths."""
    html = (STATIC / "demo.html").read_text()
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(links) == ["/static/demo.css", "/static/demo.js", "data:,"]
    for name in ("demo.html", "demo.css", "demo.js"):
        text = (STATIC / name).read_text()
        for banned in ("http:", "https:", "@import", "innerHTML", "insertAdjacentHTML"):
            assert banned not in text, (name, banned)


def test_page_has_a_button_per_demo_kind() -> None:
    """Each sample job has its button (with text), and no button starts a kind
    the app does not know."""
    html = (STATIC / "demo.html").read_text()
    assert sorted(re.findall(r'data-kind="([^"]+)"', html)) == sorted(DEMO_KINDS)


# --- the sample jobs -----------------------------------------------------------------------


def start(client: FlaskClient, kind: str) -> dict[str, object]:
    response = client.post(f"/demo/{kind}", json={})
    assert response.status_code == 201, response.get_data(as_text=True)
    job = response.get_json()
    assert isinstance(job, dict)
    assert response.headers["Location"] == f"/transfers/{job['id']}"
    return job


def test_copy_job_copies_every_file(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """``POST /demo/copy`` answers 201 with the new job (camelCase) and copies
    four generated files; the blueprint at ``/transfers`` serves the same job."""
    client = make_client(queue, tmp_path, pause=0)
    job = start(client, "copy")
    assert job["type"] == "local-upload"
    assert [Path(str(f["sourcePath"])).name for f in job["files"]] == [  # type: ignore[attr-defined]
        "report.pdf",
        "photo-01.jpg",
        "dataset.csv",
        "notes.txt",
    ]
    final = queue.wait(str(job["id"]), timeout=WAIT)
    assert final.status == tq.TransferStatus.COMPLETED
    assert final.progress.total_bytes == 11 * 1024 * 1024
    for file in final.files:
        assert Path(file.destination_path).read_bytes() == Path(file.source_path).read_bytes()
        assert file.size == os.path.getsize(file.source_path)
    listed = client.get(f"/transfers/{job['id']}").get_json()
    assert listed == final.to_dict(camel_case=True)


def test_each_start_gets_a_fresh_folder(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """Starting the same sample twice makes two jobs in two folders, so the
    second copy does not fail on the first one's destinations."""
    client = make_client(queue, tmp_path, pause=0)
    first, second = start(client, "copy"), start(client, "copy")
    assert first["id"] != second["id"]
    assert {queue.wait(str(job["id"]), timeout=WAIT).status for job in (first, second)} == {
        tq.TransferStatus.COMPLETED
    }
    assert sorted(os.listdir(tmp_path)) == ["copy-1", "copy-2"]


def test_failing_job_fails_on_the_missing_file_only(
    queue: tq.TransferQueue, tmp_path: Path
) -> None:
    """``POST /demo/failing`` lists a file that does not exist: the job ends
    ``failed`` with that file's error saying which file and why, every other file is
    ``completed`` and copied."""
    client = make_client(queue, tmp_path, pause=0)
    job = start(client, "failing")
    final = queue.wait(str(job["id"]), timeout=WAIT)
    assert final.status == tq.TransferStatus.FAILED
    assert final.error == "1 of 4 files failed"
    by_name = {Path(file.source_path).name: file for file in final.files}
    missing = by_name.pop("missing.bin")
    assert missing.status == tq.TransferFileStatus.ERROR
    assert missing.error == (f"cannot read source {missing.source_path}: No such file or directory")
    assert not Path(missing.destination_path).exists()
    assert len(by_name) == 3
    for file in by_name.values():
        assert file.status == tq.TransferFileStatus.COMPLETED
        assert Path(file.destination_path).read_bytes() == Path(file.source_path).read_bytes()


def test_slow_job_is_cancelled_through_the_blueprint(
    queue: tq.TransferQueue, tmp_path: Path
) -> None:
    """``POST /demo/slow`` starts a throttled copy; ``DELETE /transfers/<id>``
    cancels it mid-file at once (the pause is interruptible), and no partial
    destination (nor its hidden temporary file) is left."""
    client = make_client(queue, tmp_path, slow_pause=NEVER)
    job_id = str(start(client, "slow")["id"])
    copies = tmp_path / "slow-1" / "copy"
    with queue.watch(job_id, timeout=WAIT) as watch:
        for job in watch:  # until both files copied their first chunk and wait
            if all(file.loaded > 0 for file in job.files):
                break
    # Mid-copy: each file's bytes so far sit in an unnamed file (or, where the file
    # system has none, a hidden temporary one): nothing under a destination's name.
    assert all(Path(name).name.startswith(".") for name in all_files(copies))
    started = time.monotonic()
    response = client.delete(f"/transfers/{job_id}")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    queue.shutdown(wait=True)  # the executors have returned, and cleaned up
    assert time.monotonic() - started < WAIT
    final = queue.get_job(job_id)
    assert final is not None
    assert final.status == tq.TransferStatus.CANCELLED
    assert 0 < final.progress.percentage < 100
    assert all_files(copies) == []
    assert client.delete(f"/transfers/{job_id}").status_code == 409


def test_unknown_kind_is_404(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """An unknown sample is a 404 with a JSON error naming the known ones, and
    creates nothing; GET on a sample route is 405."""
    client = make_client(queue, tmp_path)
    response = client.post("/demo/nope", json={})
    assert response.status_code == 404
    assert response.get_json() == {"error": "no demo job 'nope'; try ['copy', 'failing', 'slow']"}
    assert client.get("/demo/copy").status_code == 405
    assert queue.get_all_jobs() == []
    assert os.listdir(tmp_path) == []


def test_start_needs_a_json_body(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """A start without a JSON body (what a cross-site form sends) is refused with
    415 and starts nothing."""
    client = make_client(queue, tmp_path)
    form = client.post("/demo/copy", data={"x": "1"})
    assert form.status_code == 415
    assert "JSON" in form.get_json()["error"]
    assert client.post("/demo/copy").status_code == 415
    assert queue.get_all_jobs() == []
    assert os.listdir(tmp_path) == []


# --- other sites kept out -----------------------------------------------------------------

# Flask's test client sends its requests to http://localhost/ (port 80 in SERVER_PORT).
FOREIGN_HOSTS = [
    "evil.example",  # DNS rebinding: a name of the attacker's that resolves to 127.0.0.1
    "evil.example:80",
    "localhost.evil.example",
    "127.0.0.1.evil.example:80",
    "localhost:8080",  # the right name with another port
    "127.0.0.1:80:80",
    "user@localhost",
    "",
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_foreign_host_is_refused_everywhere(
    queue: tq.TransferQueue, tmp_path: Path, host: str
) -> None:
    """A request whose Host header does not name the demo (what a page on
    another domain resolving to 127.0.0.1 sends) is answered 400 on every route: the page,
    its files, the streams, the JSON routes, starts and cancels; nothing starts or stops."""
    client = make_client(queue, tmp_path, slow_pause=NEVER)
    job_id = str(start(client, "slow")["id"])
    foreign = {"Host": host}
    for response in (
        client.get("/", headers=foreign),
        client.get("/static/demo.js", headers=foreign),
        client.get("/transfers/", headers=foreign),
        client.get("/transfers/events", headers=foreign),
        client.get(f"/transfers/{job_id}", headers=foreign),
        client.get(f"/transfers/{job_id}/events", headers=foreign),
        client.get("/no-such-page", headers=foreign),
        client.post("/demo/copy", json={}, headers=foreign),
        client.delete(f"/transfers/{job_id}", headers=foreign),
    ):
        assert response.status_code == 400, response.request.path
        assert response.get_json() == {
            "error": "this demo answers only to its own names in Host (127.0.0.1, localhost)"
        }
    assert [job.id for job in queue.get_all_jobs()] == [job_id]
    job = queue.get_job(job_id)
    assert job is not None
    assert job.status in (tq.TransferStatus.QUEUED, tq.TransferStatus.ACTIVE)
    assert os.listdir(tmp_path) == ["slow-1"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:80", "LocalHost:80", "127.0.0.1", "127.0.0.1:80", "[::1]:80"]
)
def test_own_names_are_accepted(queue: tq.TransferQueue, tmp_path: Path, host: str) -> None:
    """The demo's own names pass, in any case, with its port or (on port 80,
    which browsers leave out) without."""
    client = make_client(queue, tmp_path)
    for path in ("/", "/transfers/"):
        with client.get(path, headers={"Host": host}) as response:
            assert response.status_code == 200, path


def test_hosts_option(queue: tq.TransferQueue, tmp_path: Path) -> None:
    """``hosts`` replaces the names the demo answers to (IPv6 ones bracketed;
    an empty one, as ``--host ""`` gives, names nothing)."""
    client = make_client(queue, tmp_path, hosts=["demo.internal", "fe80::1", ""])
    for host, status in (
        ("demo.internal:80", 200),
        ("[fe80::1]:80", 200),
        ("fe80::1:80", 400),
        ("localhost", 400),
        ("", 400),
        (":80", 400),
    ):
        with client.get("/", headers={"Host": host}) as response:
            assert response.status_code == status, host


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://localhost:8080", "https://localhost", "null", ""]
)
def test_cross_site_start_and_cancel_are_refused(
    queue: tq.TransferQueue, tmp_path: Path, origin: str
) -> None:
    """A POST or DELETE whose Origin is not the demo's own (a page of another
    site, a sandboxed frame's "null") is answered 403 and changes nothing; a GET from
    elsewhere is not refused (it cannot read the answer without CORS)."""
    client = make_client(queue, tmp_path, slow_pause=NEVER)
    job_id = str(start(client, "slow")["id"])
    other = {"Origin": origin}
    for response in (
        client.post("/demo/copy", json={}, headers=other),
        client.delete(f"/transfers/{job_id}", headers=other),
    ):
        assert response.status_code == 403
        assert response.get_json() == {"error": "requests from other sites are refused"}
    assert [job.id for job in queue.get_all_jobs()] == [job_id]
    job = queue.get_job(job_id)
    assert job is not None
    assert not job.status.is_terminal
    assert client.get(f"/transfers/{job_id}", headers=other).status_code == 200


@pytest.mark.parametrize("origin", ["http://localhost", "http://LOCALHOST:80", None])
def test_own_origin_may_start_and_cancel(
    queue: tq.TransferQueue, tmp_path: Path, origin: str | None
) -> None:
    """The demo's own page (its Origin) and clients that send no Origin (curl,
    scripts) start and cancel jobs."""
    client = make_client(queue, tmp_path, slow_pause=NEVER)
    headers = {} if origin is None else {"Origin": origin}
    started = client.post("/demo/slow", json={}, headers=headers)
    assert started.status_code == 201
    cancelled = client.delete(f"/transfers/{started.get_json()['id']}", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"


# --- transferqueue demo --web -----------------------------------------------------------------

# The command that serves the demo page, and the older name kept for it.
DEMO_WEB = ("transferqueue", "demo", "--web")
OLD_NAME = ("transferqueue.web",)


@pytest.mark.parametrize("command", [DEMO_WEB, OLD_NAME], ids=["demo-web", "old-name"])
def test_module_help(command: tuple[str, ...]) -> None:
    """``transferqueue demo --help`` explains the demo and the options of the
    page's server; ``python -m transferqueue.web --help`` is the same command's."""
    result = subprocess.run(
        [sys.executable, "-m", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: transferqueue demo [-h] [--web]")
    assert "--port" in result.stdout
    assert "--host" in result.stdout


def test_module_without_flask() -> None:
    """Without Flask the demo page says which extra to install (exit 2, no
    traceback)."""
    hide_flask = (
        "import runpy, sys; sys.modules['flask'] = None; "
        "runpy.run_module('transferqueue', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide_flask, "demo", "--web", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "transferqueue demo --web needs Flask: pip install 'transferqueue[flask]'\n"
    )
    assert result.stdout == ""


class Server:
    """``transferqueue demo --web`` (or ``command``) in a subprocess, its stdout read line
    by line."""

    def __init__(self, *args: str, tmpdir: Path, command: tuple[str, ...] = DEMO_WEB) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, TMPDIR=str(tmpdir)),
        )
        self.lines: queue_module.Queue[str] = queue_module.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self) -> str:
        return self.lines.get(timeout=WAIT)

    def stop(self) -> tuple[int, str]:
        """Kill the process if it still runs; its exit status and stderr."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(WAIT)
        self._reader.join(WAIT)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.process.stdout.close()
        errors = self.process.stderr.read()
        self.process.stderr.close()
        return code, errors


@pytest.fixture
def server_tmp(tmp_path: Path) -> Path:
    """The TMPDIR of a server subprocess, where its work folder goes."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("command", "stop_signal"),
    [
        (DEMO_WEB, signal.SIGINT),
        (DEMO_WEB, signal.SIGTERM),
        (DEMO_WEB, signal.SIGHUP),
        (OLD_NAME, signal.SIGINT),
    ],
    ids=["ctrl-c", "term", "hup", "old-name"],
)
def test_module_serves_the_page_then_cleans_up(
    server_tmp: Path, command: tuple[str, ...], stop_signal: int
) -> None:
    """``--port 0`` listens on a free port of 127.0.0.1 and prints its URL; the
    page and a sample job work; Ctrl-C (or SIGTERM, SIGHUP) stops it with status 0,
    cancelling the running job, and removes the work folder with the files. The older
    name ``python -m transferqueue.web`` does the same."""
    server = Server("--port", "0", tmpdir=server_tmp, command=command)
    try:
        url = re.fullmatch(r"transferqueue demo at (http://127\.0\.0\.1:\d+/)\n", server.line())
        assert url is not None
        where = re.fullmatch(r"work folder (\S+); press Ctrl-C to stop\n", server.line())
        assert where is not None
        workdir = Path(where[1])
        assert workdir.parent == server_tmp
        assert workdir.is_dir()
        with urllib.request.urlopen(url[1], timeout=WAIT) as page:
            assert page.status == 200
            assert "<title>transferqueue demo</title>" in page.read().decode()
        request = urllib.request.Request(
            url[1] + "demo/slow",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=WAIT) as started:
            assert started.status == 201
            assert json.load(started)["status"] in ("queued", "active")
        assert (workdir / "slow-1" / "source" / "video-a.mp4").is_file()
        server.process.send_signal(stop_signal)
        assert server.process.wait(WAIT) == 0
        assert server.line() == "stopped\n"
    finally:
        code, errors = server.stop()
    assert code == 0, errors
    assert "Traceback" not in errors
    assert os.listdir(server_tmp) == []


def test_module_reports_a_busy_port(server_tmp: Path) -> None:
    """A port already in use is a short error and exit status 1, and the
    work folder is removed all the same."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = Server("--port", str(port), tmpdir=server_tmp)
        try:
            code = server.process.wait(WAIT)
        finally:
            _, errors = server.stop()
    assert code == 1
    assert f"Port {port} is in use" in errors  # werkzeug's own words
    assert "Traceback" not in errors
    assert os.listdir(server_tmp) == []


def _raw_request(
    address: tuple[str, int],
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request to ``address`` with ``host`` as its Host header: (status, JSON or None
    for any other body)."""
    conn = http.client.HTTPConnection(*address, timeout=WAIT)
    try:
        body = b"{}" if method == "POST" else None
        sent = {"Host": host, **({"Content-Type": "application/json"} if body else {})}
        conn.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, json.loads(data) if is_json else None


@pytest.mark.parametrize(
    "listen",
    [
        "127.0.0.1",
        pytest.param(
            "127.0.0.2",
            marks=pytest.mark.skipif(
                sys.platform != "linux", reason="all of 127/8 is this machine on Linux only"
            ),
        ),
    ],
)
def test_module_checks_host_and_origin(server_tmp: Path, listen: str) -> None:
    """``transferqueue demo --web`` refuses a request naming another host
    (DNS rebinding: ``Host: evil.example:PORT``) with 400, on the page, a stream and a
    start alike, and a start from another site's page with 403; it serves requests naming
    it 127.0.0.1, localhost, [::1] or its ``--host``, with its port."""
    server = Server("--port", "0", "--host", listen, tmpdir=server_tmp)
    try:
        found = re.fullmatch(
            rf"transferqueue demo at http://{re.escape(listen)}:(\d+)/\n", server.line()
        )
        assert found is not None
        port = int(found[1])
        address = (listen, port)
        where = re.fullmatch(r"work folder (\S+); press Ctrl-C to stop\n", server.line())
        assert where is not None
        workdir = Path(where[1])
        for method, path in (("GET", "/"), ("GET", "/transfers/events"), ("POST", "/demo/copy")):
            for host in (f"evil.example:{port}", "evil.example", f"localhost:{port + 1}"):
                status, body = _raw_request(address, method, path, host)
                assert status == 400, (method, path, host)
                assert "own names" in body["error"]
        assert os.listdir(workdir) == []
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{listen}:{port}"):
            assert _raw_request(address, "GET", "/", host)[0] == 200, host
        own = f"localhost:{port}"
        cross_site = {"Origin": "http://evil.example"}
        assert _raw_request(address, "POST", "/demo/copy", own, cross_site)[0] == 403
        assert os.listdir(workdir) == []
        status, job = _raw_request(address, "POST", "/demo/copy", own, {"Origin": f"http://{own}"})
        assert status == 201
        assert job["type"] == "local-upload"
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(WAIT) == 0
    finally:
        code, errors = server.stop()
    assert code == 0, errors
    assert "Traceback" not in errors
