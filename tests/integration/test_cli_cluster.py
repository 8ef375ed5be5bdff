"""``transferqueue jobs``, ``watch`` and ``cancel`` from a shell, as real
``python -m transferqueue`` processes against a real redis-server, for jobs that another
real process owns (tests/helpers/redis_queue_worker.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.cp_json import rebuild
from tests.helpers.executors import noop_executor
from tests.helpers.file_lists import make_files
from tests.helpers.pty_terminal import Terminal
from tests.helpers.redis_server import (
    MISSING,
    REQUIRED,
    start_redis_server,
    wait_until,
)
from tests.helpers.worker_process import ROOT, Worker
from transferqueue._cli.main import main

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import redis

from transferqueue.redis import RedisBackend
from transferqueue.redis import _backend as backend_module

NAMESPACE = "q"
SECRET = "s3cret-Pa55"


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without a Redis URL of its own, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "TRANSFERQUEUE_REDIS_URL"}
    return {**env, "COLUMNS": "120", **extra}


def on_a_terminal() -> dict[str, str]:
    """The environment of a command writing to a pseudo-terminal."""
    return environment(TERM="xterm")


def command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m transferqueue ARGS`` run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "transferqueue", *args],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        cwd=ROOT,
        env=environment() if env is None else env,
        check=False,
    )


def started(*args: str) -> subprocess.Popen[str]:
    """``python -m transferqueue ARGS`` running, its output read line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "transferqueue", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=environment(),
    )


def owner(url: str, jobs: int, files: int) -> tuple[Worker, list[str]]:
    """A process that owns ``jobs`` jobs of ``files`` files, each holding at 5 of its 10
    bytes until ``q:test:go`` is set; and their ids."""
    worker = Worker("own", url, NAMESPACE, jobs, files, module="tests.helpers.redis_queue_worker")
    ids = []
    for _ in range(jobs):
        kind, job_id = worker.read_line().split()
        assert kind == "job"
        ids.append(job_id)
    return worker, ids


def ended(worker: Worker) -> dict[str, Any]:
    """The next job the owner reports ended, as its to_dict()."""
    kind, _, data = worker.read_line().partition(" ")
    assert kind == "ended"
    job: dict[str, Any] = json.loads(data)
    return job


def loaded(redis_client: redis.Redis, job_id: str, count: int) -> bool:
    """True once ``count`` files of the job report their first 5 bytes in the registry."""
    head = redis_client.hget(f"{NAMESPACE}:job:{job_id}", "head")
    return head is not None and json.loads(head)["progress"]["loaded_bytes"] == 5 * count


def read_lines(process: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    """What a started command printed after the lines read already, and its status."""
    out, err = process.communicate(timeout=WAIT * 3)
    return process.returncode, out.splitlines(), err


# -- jobs ----------------------------------------------------------------------------------


def test_jobs_lists_the_jobs_of_another_process(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """A table, oldest first, with each job's status and progress; --json the jobs as
    to_dict() gives them, equal to what the owner reports at their end."""
    worker, ids = owner(redis_url, 2, 2)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, ids[0], 2), "the first job's two files running")
    listed = command("jobs", "--redis", redis_url, "--namespace", NAMESPACE)
    assert listed.returncode == 0, listed.stderr
    heading, first, second = listed.stdout.splitlines()
    assert heading.split() == [
        "ID", "STATUS", "TYPE", "FILES", "FAILED", "DONE", "SIZE", "CREATED"
    ]  # fmt: skip
    assert first.split()[:7] == [ids[0], "active", "s3-upload", "0/2", "0", "50%", "10"]
    assert second.split()[:3] == [ids[1], "queued", "s3-upload"]
    assert heading.index("STATUS") == first.index("active") == second.index("queued")
    assert listed.stderr == ""

    redis_client.set(f"{NAMESPACE}:test:go", 1)
    finals = [ended(worker), ended(worker)]
    worker.finish()
    as_json = command("jobs", "--json", "--namespace", NAMESPACE, env=environment(
        TRANSFERQUEUE_REDIS_URL=redis_url
    ))  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == finals


def test_the_commands_change_nothing_in_the_cluster(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """jobs, watch and cancel of an empty namespace write nothing to Redis: no limit
    stored (a queue would store its own and so set the cluster's), no slot, no job."""
    empty = command("jobs", "--redis", redis_url)
    assert (empty.returncode, empty.stdout) == (0, "no jobs in namespace transferqueue\n")
    assert command("jobs", "--redis", redis_url, "--json").stdout == "[]\n"
    unknown = "transfer-1-1-0123456789ab"
    for name in ("watch", "cancel"):
        missing = command(name, unknown, "--redis", redis_url)
        assert missing.returncode == 3
        assert missing.stderr == f"transferqueue: error: no job {unknown} in the cluster\n"
    assert redis_client.keys("*") == []


# -- watch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("display", ["plain", "quiet", "json"])
def test_watch_shows_a_job_of_another_process_to_its_end(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
    display: str,
) -> None:
    """The watch shows the job live (its first line before the files go on), and exits
    0 once the job completed: plain lines and a summary, nothing with -q, or cp's JSON
    lines, which rebuild the owner's final job."""
    worker, [job_id] = owner(redis_url, 1, 2)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 2), "both files running")
    options = {"plain": [], "quiet": ["-q"], "json": ["--json"]}[display]
    watch = started("watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE, *options)
    assert watch.stdout is not None
    # Only JSON prints at once (the job as it stands); plain lines come as files end.
    first = watch.stdout.readline() if display == "json" else ""
    redis_client.set(f"{NAMESPACE}:test:go", 1)
    status, rest, err = read_lines(watch)
    final = ended(worker)
    worker.finish()
    assert (status, err) == (0, "")
    lines = [first.strip(), *rest] if first else rest
    if display == "quiet":
        assert lines == []
    elif display == "plain":
        assert sorted(lines[:2]) == ["done src/0 -> dst/0 (10 B)", "done src/1 -> dst/1 (10 B)"]
        assert lines[2:] == [f"job {job_id} completed: 2 of 2 files transferred (20 B), 0 failed"]
    else:
        events = [json.loads(line) for line in lines]
        assert events[0]["event"] == "created"
        assert events[0]["job"]["progress"]["loaded_bytes"] == 10  # shown before go
        assert events[-1]["event"] == "ended"
        assert rebuild(events) == events[-1]["job"] == final


def test_watch_of_a_failed_job_exits_1_naming_each_failure(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    worker, [job_id] = owner(redis_url, 1, 2)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 2), "both files running")
    watch = started("watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE)
    redis_client.set(f"{NAMESPACE}:test:go", "fail")
    status, lines, err = read_lines(watch)
    assert ended(worker)["status"] == "failed"
    worker.finish()
    assert status == 1
    assert sorted(err.splitlines()) == [
        "failed src/0: src/0 was told to fail",
        "failed src/1: src/1 was told to fail",
    ]
    assert lines == [f"job {job_id} failed: 0 of 2 files transferred (0 B), 2 failed"]


def test_cancel_reaches_the_owner_and_ends_a_watch_from_a_third_process(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """``cancel`` returns 0 once the owner cancelled the job (its running executors saw
    TransferCancelled); a watch in another process exits 1 saying so; a second cancel
    exits 1: the job has already ended."""
    worker, [job_id] = owner(redis_url, 1, 3)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 2), "two files running")
    watch = started("watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE, "--json")
    assert watch.stdout is not None
    assert json.loads(watch.stdout.readline())["event"] == "created"

    cancelled = command("cancel", job_id, "--redis", redis_url, "--namespace", NAMESPACE)
    assert (cancelled.returncode, cancelled.stdout, cancelled.stderr) == (
        0,
        f"cancelled {job_id}\n",
        "",
    )
    final = ended(worker)
    assert final["status"] == "cancelled"
    log = worker.finish()
    assert f"job {job_id} cancel requested by" in log
    noted = cast(list[bytes], redis_client.lrange(f"{NAMESPACE}:test:cancelled", 0, -1))
    assert sorted(row.split()[0] for row in noted) == [b"src/0", b"src/1"]

    status, lines, err = read_lines(watch)
    assert status == 1
    assert json.loads(lines[-1])["job"] == final
    assert err == f"job {job_id} cancelled: Cancelled by user\n"

    again = command("cancel", job_id, "--redis", redis_url, "--namespace", NAMESPACE)
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == f"job {job_id} has already ended: cancelled\n"


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_watch_leaves_the_job_running(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
    signum: int,
    status: int,
) -> None:
    """Ctrl-C or SIGTERM stops the watch (130, 143), not the job: it is not the
    watch's to cancel, and runs on to its end."""
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    watch = started("watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE, "--json")
    assert watch.stdout is not None
    assert json.loads(watch.stdout.readline())["event"] == "created"
    watch.send_signal(signum)
    returned, lines, err = read_lines(watch)
    assert returned == status
    assert err == f"stopped watching: job {job_id} goes on\n"
    assert all(json.loads(line)["event"] == "updated" for line in lines)  # no "ended"
    redis_client.set(f"{NAMESPACE}:test:go", 1)
    assert ended(worker)["status"] == "completed"
    worker.finish()


def test_rich_bars_on_a_terminal(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """On a terminal the watch draws cp's rich bars: the job's, then its end."""
    worker, [job_id] = owner(redis_url, 1, 2)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 2), "both files running")
    terminal = Terminal(
        "watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE, env=on_a_terminal()
    )
    terminal.read_until(b"0/2 files")  # the bars, before the files go on
    redis_client.set(f"{NAMESPACE}:test:go", 1)
    status, text = terminal.finish()
    assert status == 0
    assert "\x1b[" in text
    assert "2/2 files" in text
    assert f"job {job_id} completed: 2 of 2 files transferred (20 B), 0 failed" in text
    ended(worker)
    worker.finish()


def test_a_job_that_leaves_the_registry_mid_watch_ends_it_with_3(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """Forgotten under the watch (its hash gone, its stream holding what no owner
    writes): the watch ends, not found, instead of waiting for ever."""
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    watch = started("watch", job_id, "--redis", redis_url, "--namespace", NAMESPACE, "--json")
    assert watch.stdout is not None
    watch.stdout.readline()
    redis_client.delete(f"{NAMESPACE}:job:{job_id}")
    redis_client.xadd(f"{NAMESPACE}:events:{job_id}", {"seq": "x", "head": "{"})
    status, _, err = read_lines(watch)
    assert status == 3
    assert f"job {job_id} left the cluster's registry before it ended" in err
    worker.kill()


# -- cancel: owners that do not answer, and ownerless jobs -----------------------------------


def test_cancel_exits_4_naming_an_owner_that_does_not_confirm(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The owner is stopped (SIGSTOP): cancel waits for it a few seconds (0.5 here),
    then exits 4 naming it; the owner cancels the job once it runs again."""
    monkeypatch.setattr(backend_module, "CANCEL_TIMEOUT", 0.5)
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 1), "the file running")
    worker.process.send_signal(signal.SIGSTOP)
    try:
        assert main(["cancel", job_id, "--redis", redis_url, "--namespace", NAMESPACE]) == 4
    finally:
        worker.process.send_signal(signal.SIGCONT)
    out, err = capsys.readouterr()
    assert out == ""
    assert f":{worker.process.pid}:" in err
    assert "did not confirm the cancel within 0.5 s" in err
    assert ended(worker)["status"] == "cancelled"
    worker.finish()


def test_a_signal_during_a_cancel_ends_it_and_the_request_stays(
    redis_url: str,
    redis_client: redis.Redis,
    workers: list[Worker],
) -> None:
    """SIGTERM while cancel waits for a stopped owner: 143, and the request it sent is
    still answered once the owner runs again."""
    worker, [job_id] = owner(redis_url, 1, 1)
    workers.append(worker)
    wait_until(lambda: loaded(redis_client, job_id, 1), "the file running")
    worker.process.send_signal(signal.SIGSTOP)
    cancel = started("cancel", job_id, "--redis", redis_url, "--namespace", NAMESPACE)
    try:
        # Sent, then waited for on the job's stream. (Not seen in the request list: a
        # stopped owner's BLPOP still takes it there, for the owner to read on SIGCONT.)
        wait_until(lambda: reading_streams(redis_client) >= 1, "the cancel waiting for the owner")
        cancel.send_signal(signal.SIGTERM)
        status, lines, err = read_lines(cancel)
    finally:
        worker.process.send_signal(signal.SIGCONT)
        if cancel.poll() is None:
            cancel.kill()
            cancel.communicate()
    assert (status, lines, err) == (143, [], "interrupted\n")
    assert ended(worker)["status"] == "cancelled"
    worker.finish()


@pytest.mark.parametrize(
    ("meanwhile", "status", "says"),
    [
        (None, 4, "is active, but the registry names no other process that runs it to ask"),
        ("ended", 1, "has already ended: completed"),
        ("forgotten", 3, "no job transfer-"),
    ],
)
def test_an_unfinished_job_without_an_owner_to_ask(
    redis_url: str,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    meanwhile: str | None,
    status: int,
    says: str,
) -> None:
    """An entry that says active but names no valid owner (written by hand): there is
    nobody to ask (4), and nothing is sent; should it have ended (1) or been forgotten
    (3) between the command's look at it and its request, that is what it says."""
    queue = tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace=NAMESPACE))
    job_id = queue.queue_job("s3-upload", make_files(1), noop_executor)
    queue.wait(job_id)
    queue.shutdown()
    key = f"{NAMESPACE}:job:{job_id}"
    head = cast(bytes, redis_client.hget(key, "head"))
    active = json.dumps({**json.loads(head), "status": "active"})
    redis_client.hset(key, mapping={"head": active, "owner": "a b"})
    request_cancel = RedisBackend.request_cancel

    def racing(backend: RedisBackend, job_id: str) -> bool:
        if meanwhile == "ended":
            redis_client.hset(key, "head", head)
        elif meanwhile == "forgotten":
            redis_client.delete(key)
        return request_cancel(backend, job_id)

    monkeypatch.setattr(RedisBackend, "request_cancel", racing)
    assert main(["cancel", job_id, "--redis", redis_url, "--namespace", NAMESPACE]) == status
    assert says in capsys.readouterr().err
    assert not redis_client.keys(f"{NAMESPACE}:cancel:*")


# -- hostile and broken input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_id",
    [
        "x y",
        "",
        "transfer-1-1",  # a job of a queue without a backend: never in Redis
        "transfer-1-1-ABC",
        "transfer-1-1-abc/../../x",
        "transfer-1-1-abc\n",
        "*",
        "\x1b]0;owned\x07",
        "transfer-1-1-" + "a" * 300,
    ],
)
def test_a_malformed_job_id_is_bad_usage(
    job_id: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("watch", "cancel"):
        assert main([name, job_id, "--redis", redis_url]) == 2
        err = capsys.readouterr().err
        assert err.startswith("transferqueue: error: not a job id: ")
        assert "\x1b" not in err  # escaped, as every printed name
        assert "\x07" not in err
        assert len(err) < 200


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1/0", "must specify one of the following schemes"),
        (f"redis://:{SECRET}@127.0.0.1:port/0", "Port could not be cast"),
        (f"redis://:{SECRET}@127.0.0.1/zero", "its database is not a number"),
        (f"redis://127.0.0.1/0?password={SECRET}&db=x", "Invalid value for 'db'"),
        (f"redis://:{SECRET}@127.0.0.1\n/0", "control characters"),
        (f"redis://:{SECRET}@127.0.0.1 /0", "spaces"),
        ("redis://127.0.0.1/0?protocol=3", "RESP2"),
    ],
)
@pytest.mark.parametrize("source", ["option", "environment"])
def test_a_bad_url_is_bad_usage_and_its_password_is_never_shown(
    url: str,
    says: str,
    source: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if source == "option":
        monkeypatch.delenv("TRANSFERQUEUE_REDIS_URL", raising=False)
        assert main(["jobs", "--redis", url]) == 2
    else:
        monkeypatch.setenv("TRANSFERQUEUE_REDIS_URL", url)
        assert main(["jobs"]) == 2
    out, err = capsys.readouterr()
    assert says in err
    assert ("--redis" if source == "option" else "TRANSFERQUEUE_REDIS_URL") in err
    assert SECRET not in out + err


def test_no_url_at_all_is_bad_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRANSFERQUEUE_REDIS_URL", raising=False)
    assert main(["jobs"]) == 2
    assert capsys.readouterr().err == (
        "transferqueue: error: no Redis URL: give --redis URL or set TRANSFERQUEUE_REDIS_URL\n"
    )


@pytest.mark.parametrize("namespace", ["", "two words", "a\x1bb", "n" * 201])
def test_a_bad_namespace_is_bad_usage(
    namespace: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["jobs", "--redis", redis_url, "--namespace", namespace]) == 2
    err = capsys.readouterr().err
    assert err.startswith("transferqueue: error: --namespace: namespace must")
    assert "\x1b" not in err


def test_a_password_protected_server_through_the_environment() -> None:
    """The right password (from TRANSFERQUEUE_REDIS_URL) reads the cluster; a wrong one,
    or a server that is not there, exits 4, and neither password is ever printed."""
    guarded = start_redis_server(None, "--requirepass", SECRET)
    try:
        url = f"redis://:{SECRET}@127.0.0.1:{guarded.port}/0"
        right = command("jobs", env=environment(TRANSFERQUEUE_REDIS_URL=url))
        assert (right.returncode, right.stdout) == (0, "no jobs in namespace transferqueue\n")
        wrong_url = f"redis://:wrong-{SECRET}@127.0.0.1:{guarded.port}/0"
        wrong = command("watch", "transfer-1-1-ab", env=environment(
            TRANSFERQUEUE_REDIS_URL=wrong_url
        ))  # fmt: skip
    finally:
        guarded.stop()
    gone = command("cancel", "transfer-1-1-ab", env=environment(TRANSFERQUEUE_REDIS_URL=url))
    for refused in (wrong, gone):
        assert refused.returncode == 4, refused.stderr
        assert "transferqueue: error: Redis at redis://:***@127.0.0.1:" in refused.stderr
        assert SECRET not in refused.stdout + refused.stderr


def test_a_registry_that_is_not_one_exits_4(
    redis_url: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What Redis holds is not trusted: the list of jobs replaced by a string."""
    redis_client.set(f"{NAMESPACE}:jobs", "not a sorted set")
    assert main(["jobs", "--redis", redis_url, "--namespace", NAMESPACE]) == 4
    assert "refused listing jobs" in capsys.readouterr().err


WITHOUT_REDIS_PY = """
import sys
sys.modules['redis'] = None
from transferqueue._cli.main import main
sys.exit(main(['jobs', '--redis', 'redis://127.0.0.1:1/0']))
"""


def test_without_redis_py_the_commands_say_what_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS_PY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 4
    assert "pip install 'transferqueue[redis]'" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", f"redis://:{SECRET}@127.0.0.1/0"],  # --redis forgotten
        [f"redis://user:{SECRET}@127.0.0.1/0?password={SECRET}"],
    ],
)
def test_usage_errors_never_show_a_password(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse quotes what it cannot place: a URL there is shown without its password."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "redis://" in err
    assert "***@127.0.0.1" in err
    assert SECRET not in err


def test_redis_lost_mid_watch_exits_4(workers: list[Worker]) -> None:
    """The server goes away under a watch on a terminal: once the reads sent again have
    failed too, it ends with 4 and says so, its bars stopped and the cursor shown again."""
    own_server = start_redis_server()
    try:
        worker, [job_id] = owner(own_server.url, 1, 1)
        workers.append(worker)
        terminal = Terminal(
            "watch",
            job_id,
            "--redis",
            own_server.url,
            "--namespace",
            NAMESPACE,
            env=on_a_terminal(),
        )
        terminal.read_until(b"0/1 files")
        with redis.Redis.from_url(own_server.url) as plain:
            wait_until(lambda: reading_streams(plain) >= 1, "the watch reading the stream")
    finally:
        own_server.stop()
    status, text = terminal.finish()
    assert status == 4
    assert f"transferqueue: error: Redis at {own_server.url} is unavailable" in text
    hidden, shown = text.rfind("\x1b[?25l"), text.rfind("\x1b[?25h")
    assert 0 <= hidden < shown < text.index("transferqueue: error")
    worker.kill()


def reading_streams(redis_client: redis.Redis) -> int:
    """How many clients of the server are blocked in XREAD (watching or waiting)."""
    clients = cast(list[dict[str, Any]], redis_client.client_list())
    return sum(1 for one in clients if one.get("cmd") == "xread")


def test_a_malformed_entry_is_skipped_with_a_warning_that_cannot_drive_the_terminal(
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    """What Redis holds is not trusted: a job whose entry was tampered with (its type
    made of terminal escapes) is left out of the list and is no job to watch; each
    command says so on stderr, escaped, and the rest of the cluster is listed."""
    queue = tq.TransferQueue(2, backend=RedisBackend(redis_url, namespace=NAMESPACE))
    good, bad = (queue.queue_job("s3-upload", make_files(1), noop_executor) for _ in range(2))
    queue.wait(bad)
    queue.wait(good)
    queue.shutdown()
    key = f"{NAMESPACE}:job:{bad}"
    head = json.loads(cast(bytes, redis_client.hget(key, "head")))
    redis_client.hset(key, "head", json.dumps({**head, "type": "\x1b]0;owned\x07\x1b[2J"}))

    listed = command("jobs", "--redis", redis_url, "--namespace", NAMESPACE)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["ID", good]
    watched = command("watch", bad, "--redis", redis_url, "--namespace", NAMESPACE)
    assert watched.returncode == 3
    for stderr in (listed.stderr, watched.stderr):
        assert f"transferqueue: warning: skipped job {bad} in Redis" in stderr
        assert "\\x1b]0;owned\\x07" in stderr
        assert "\x1b" not in stderr
