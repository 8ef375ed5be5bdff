"""Fork safety, with a real ``os.fork()``.

Python 3.12+ warns (DeprecationWarning) when a multi-threaded process forks, and pytest
runs with ``filterwarnings = error``; forking the pytest process would also copy its
threads' state. So each test runs a script in a fresh interpreter that uses a queue, forks,
and reports as JSON lines what the child and then the parent saw; the test asserts on
those. The scripts ignore only that fork warning, so anything else on stderr fails a test.

Deadlock guards: a forked child arms ``signal.alarm`` (SIGALRM kills it, and its exit
status says so), and the parent arms ``faulthandler.dump_traceback_later``, which prints
every thread's stack and exits if the parent itself hangs; ``subprocess.run`` has a
timeout on top of both.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 60.0

PREAMBLE = textwrap.dedent(
    """
    import faulthandler
    import json
    import os
    import signal
    import sys
    import threading
    import traceback
    import warnings

    import transferqueue as tq

    # Python 3.12+: forking a process with threads warns; that is the point here.
    warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
    faulthandler.dump_traceback_later(40, exit=True)  # the parent's deadlock guard


    def files(count, prefix="f", size=10):
        return [
            {"source_path": f"{prefix}{i}", "destination_path": f"out/{prefix}{i}", "size": size}
            for i in range(count)
        ]


    def report(who, facts):
        print(who, json.dumps(facts), flush=True)


    def run_child(checks):
        # In a forked child: run the checks under an alarm, report, and leave with
        # os._exit (no atexit handlers or thread joins inherited from the parent).
        signal.alarm(20)
        try:
            facts, code = checks(), 0
        except BaseException:
            facts, code = {"error": traceback.format_exc()}, 1
        report("child", facts)
        os._exit(code)
    """
)

FORK_SCRIPT = PREAMBLE + textwrap.dedent(
    """
    PARENT = os.getpid()
    TERMINAL = ("completed", "failed", "cancelled")
    queue = tq.TransferQueue(2, update_interval=0)
    worker_tids = {}  # pid -> native ids of the threads that ran executors there
    events = []  # (pid, signal, job id, status, native thread id), by the parent's receivers
    delivery_held, release_delivery = threading.Event(), threading.Event()


    def note_worker():
        worker_tids.setdefault(os.getpid(), set()).add(threading.get_native_id())


    def on_created(sender, job, **extra):
        if job.type == "huggingface" and os.getpid() == PARENT:
            # Hold the parent's event thread in this receiver across the fork.
            delivery_held.set()
            release_delivery.wait(30)
        events.append((os.getpid(), "created", job.id, job.status.value, threading.get_native_id()))


    def on_updated(sender, job, **extra):
        events.append((os.getpid(), "updated", job.id, job.status.value, threading.get_native_id()))


    tq.job_created.connect(on_created, sender=queue)
    tq.job_updated.connect(on_updated, sender=queue)


    def quick(file, on_progress):
        note_worker()
        on_progress(file.size)


    # Before the fork: a finished job; a job whose executor runs (gated); a file waiting
    # out a long retry delay (the retry thread alive); a job that ended while the event
    # thread is held in a receiver, and one whose events still wait in the outbox; a watch
    # open on the running job.
    done_id = queue.queue_job("s3-upload", files(3, "done"), quick)
    assert queue.wait(done_id, timeout=10).status == "completed"

    gate, gate_entered = threading.Event(), threading.Event()


    def gated(file, on_progress):
        note_worker()
        gate_entered.set()
        if not gate.wait(30):
            raise RuntimeError("the gate was never opened")
        on_progress(file.size)


    running_id = queue.queue_job("s3-upload", files(1, "running"), gated)
    assert gate_entered.wait(10)


    def fails_once(file, on_progress):
        note_worker()
        if file.attempts == 1:
            raise OSError("flaky")


    slow_retry = tq.RetryPolicy(max_attempts=2, initial_delay=30, jitter=0)
    retrying_id = queue.queue_job("s3-upload", files(1, "retry"), fails_once, retry=slow_retry)
    for snapshot in queue.watch(retrying_id, timeout=10):
        if snapshot.files[0].retry_at is not None:
            break

    held_id = queue.queue_job("huggingface", [], quick)  # empty: completed at once
    assert delivery_held.wait(10)
    pending_id = queue.queue_job("s3-download", [], quick)  # its events wait behind

    running_watch = queue.watch(running_id, timeout=10)
    assert next(running_watch).status == "active"
    delivery_tids = {tid for *_, tid in events}  # the parent's event thread
    parent_workers = set(worker_tids[PARENT])


    def child_checks():
        facts = {}
        # What the child inherited: the finished jobs, not the parent's unfinished ones.
        facts["all_jobs"] = [job.id for job in queue.get_all_jobs()]
        facts["active_ids"] = queue.get_active_job_ids()
        facts["running_job"] = repr(queue.get_job(running_id))
        facts["retrying_job"] = repr(queue.get_job(retrying_id))
        facts["cancel_running"] = queue.cancel_job(running_id)
        try:
            queue.watch(running_id)
        except tq.JobNotFoundError:
            facts["watch_running"] = "JobNotFoundError"
        # Finished jobs are history here (their events are the parent's to deliver), so
        # wait() returns at once, even for those whose terminal event was not sent yet.
        facts["waits"] = [
            queue.wait(job_id, timeout=5).status.value
            for job_id in (done_id, held_id, pending_id)
        ]
        # The watch the parent had open on its running job ends here at once.
        facts["inherited_watch"] = [job.status.value for job in running_watch]

        child_events = []

        def on_child_event(sender, job, **extra):
            child_events.append((job.id, job.status.value, threading.get_native_id()))

        with tq.job_updated.connected_to(on_child_event, sender=queue):
            # A new job runs on fresh worker threads, two at a time (limit 2).
            barrier = threading.Barrier(2, timeout=10)
            running = {"now": 0, "max": 0}
            running_lock = threading.Lock()

            def paired(file, on_progress):
                note_worker()
                with running_lock:
                    running["now"] += 1
                    running["max"] = max(running["max"], running["now"])
                barrier.wait()
                with running_lock:
                    running["now"] -= 1
                on_progress(file.size)

            new_id = queue.queue_job("s3-upload", files(4, "new"), paired)
            facts["new_status"] = queue.wait(new_id, timeout=10).status.value
            facts["new_max_running"] = running["max"]

            # watch() in the child.
            watched_gate, watched_entered = threading.Event(), threading.Event()

            def watched(file, on_progress):
                note_worker()
                watched_entered.set()
                if not watched_gate.wait(10):
                    raise RuntimeError("never released")
                on_progress(file.size)

            watched_id = queue.queue_job("s3-upload", files(1, "watched"), watched)
            statuses = []
            for snapshot in queue.watch(watched_id, timeout=10):
                statuses.append(snapshot.status.value)
                if len(statuses) == 1:
                    assert watched_entered.wait(10)
                    watched_gate.set()
            facts["watch_statuses"] = statuses

            # Retries in the child (a new retry thread; the parent's waiting file is not here).
            attempts_seen = []

            def flaky(file, on_progress):
                note_worker()
                attempts_seen.append(file.attempts)
                if file.attempts < 3:
                    raise OSError("transient")

            quick_retry = tq.RetryPolicy(max_attempts=3, initial_delay=0, jitter=0)
            retry_id = queue.queue_job("s3-upload", files(1, "flaky"), flaky, retry=quick_retry)
            retried = queue.wait(retry_id, timeout=10)
            facts["retry_status"] = retried.status.value
            facts["retry_attempts"] = retried.files[0].attempts
            facts["attempts_seen"] = attempts_seen

            # Raising the limit in the child runs three at once.
            queue.update_concurrency_limit(3)
            barrier3 = threading.Barrier(3, timeout=10)

            def three(file, on_progress):
                note_worker()
                barrier3.wait()

            three_id = queue.queue_job("s3-upload", files(3, "three"), three)
            facts["three_status"] = queue.wait(three_id, timeout=10).status.value

            # With no file waiting to be retried, the child's retry thread has ended (no
            # parent's file waits here); with no job open, its event thread ends after
            # its idle second.
            for name in ("transferqueue-retries", "transferqueue-events"):
                idle = [t for t in threading.enumerate() if t.name == name]
                for thread in idle:
                    thread.join(10)
                facts[f"{name} ended"] = not any(t.is_alive() for t in idle)
            queue.shutdown(wait=True)  # joins the child's threads only
            facts["shut_down"] = True

        # A queue made in the child works too (the registry of queues is usable).
        with tq.TransferQueue(1) as other:
            other_id = other.queue_job("s3-upload", files(2, "other"), quick)
            facts["other_queue_status"] = other.wait(other_id, timeout=10).status.value

        new_ids = {new_id, watched_id, retry_id, three_id}
        facts["new_ids"] = sorted(new_ids)
        mine = [event for event in events if event[0] == os.getpid()]
        facts["parent_receiver_jobs"] = sorted({job_id for _, _, job_id, _, _ in mine})
        facts["parent_receiver_new_events"] = [
            [name, status] for _, name, job_id, status, _ in mine if job_id == new_id
        ]
        facts["child_receiver_jobs"] = sorted({job_id for job_id, _, _ in child_events})
        facts["child_receiver_terminals"] = sorted(
            job_id for job_id, status, _ in child_events if status in TERMINAL
        )
        delivered_by = {tid for *_, tid in child_events} | {tid for *_, tid in mine}
        facts["event_thread_is_new"] = bool(delivered_by) and not delivered_by & delivery_tids
        child_workers = worker_tids.get(os.getpid(), set())
        facts["child_workers"] = len(child_workers)
        facts["workers_are_new"] = not child_workers & parent_workers
        return facts


    sys.stdout.flush()  # or the child would print the parent's buffered output again
    pid = os.fork()
    if pid == 0:
        run_child(child_checks)

    # The parent: its queue was not disturbed by the fork.
    _, status = os.waitpid(pid, 0)
    facts = {"child_exit": os.waitstatus_to_exitcode(status)}
    facts["active_after_fork"] = queue.get_active_job_ids() == [running_id, retrying_id]
    release_delivery.set()
    gate.set()
    facts["running_status"] = queue.wait(running_id, timeout=10).status.value
    facts["running_watch"] = [job.status.value for job in running_watch]
    facts["cancel_retrying"] = queue.cancel_job(retrying_id)
    facts["retrying_status"] = queue.wait(retrying_id, timeout=10).status.value
    later_id = queue.queue_job("s3-upload", files(2, "later"), quick)
    facts["later_status"] = queue.wait(later_id, timeout=10).status.value
    facts["held_status"] = queue.wait(held_id, timeout=10).status.value
    facts["pending_status"] = queue.wait(pending_id, timeout=10).status.value
    queue.shutdown(wait=True)
    mine = [event for event in events if event[0] == PARENT]
    facts["events_of"] = {
        key: [[name, status] for _, name, job_id, status, _ in mine if job_id == job]
        for key, job in (("running", running_id), ("held", held_id), ("pending", pending_id))
    }
    facts["ids"] = {
        "done": done_id,
        "running": running_id,
        "retrying": retrying_id,
        "held": held_id,
        "pending": pending_id,
    }
    report("parent", facts)
    """
)

HAMMER_SCRIPT = PREAMBLE + textwrap.dedent(
    """
    FORKS = int(sys.argv[1])
    queue = tq.TransferQueue(2, update_interval=0)
    stop = threading.Event()
    calls = {"reads": 0, "jobs": 0}


    def on_updated(sender, job, **extra):
        queue.get_job(job.id)  # the event thread takes the lock too


    tq.job_updated.connect(on_updated, sender=queue)


    def progressing(file, on_progress):
        for loaded in range(file.size + 1):
            on_progress(loaded)


    def reader():
        while not stop.is_set():
            queue.get_all_jobs()
            queue.get_active_job_ids()
            calls["reads"] += 1


    def writer():
        in_flight = []
        while not stop.is_set():
            job_id = queue.queue_job("s3-upload", files(3), progressing)
            calls["jobs"] += 1
            if calls["jobs"] % 4 == 0:
                queue.cancel_job(job_id)
            in_flight.append(job_id)
            if len(in_flight) > 4:  # keep the registry small: forks stay cheap
                try:
                    queue.wait(in_flight.pop(0), timeout=30)
                except tq.JobNotFoundError:  # finished, and cleaned up by the other writer
                    pass
            queue.cleanup_old_jobs(0)


    threads = [threading.Thread(target=target) for target in (reader, reader, writer, writer)]
    for thread in threads:
        thread.start()


    def child_checks():
        facts = {
            "active_at_start": queue.get_active_job_ids(),
            "unfinished_known": [
                job.id for job in queue.get_all_jobs() if not job.status.is_terminal
            ],
        }
        job_id = queue.queue_job("s3-upload", files(3), progressing)
        facts["status"] = queue.wait(job_id, timeout=10).status.value
        queue.shutdown(wait=True)
        return facts


    EXPECTED = {"active_at_start": [], "unfinished_known": [], "status": "completed"}


    exits = []
    for _ in range(FORKS):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)
            facts = child_checks()
            code = 0 if facts == EXPECTED else 3
            if code:
                report("child", facts)
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        exits.append(os.waitstatus_to_exitcode(status))
        if exits[-1] != 0:  # -14: the alarm ended a child that hung
            break
    stop.set()
    for thread in threads:
        thread.join()
    queue.shutdown(wait=True, cancel_jobs=True)
    report("parent", {"exits": exits, "jobs": calls["jobs"], "reads": calls["reads"]})
    """
)

MULTIPROCESSING_SCRIPT = PREAMBLE + textwrap.dedent(
    """
    import multiprocessing

    queue = tq.TransferQueue(2)
    done_id = queue.queue_job("s3-upload", files(2, "done"), lambda file, on_progress: None)
    assert queue.wait(done_id, timeout=10).status == "completed"
    gate, gate_entered = threading.Event(), threading.Event()


    def gated(file, on_progress):
        gate_entered.set()
        if not gate.wait(30):
            raise RuntimeError("the gate was never opened")


    running_id = queue.queue_job("s3-upload", files(1, "running"), gated)
    assert gate_entered.wait(10)


    def work(conn):
        signal.alarm(20)
        ran_in = []

        def executor(file, on_progress):
            ran_in.append(threading.current_thread().name)
            on_progress(file.size)

        job_id = queue.queue_job("local-upload", files(3, "child"), executor)
        job = queue.wait(job_id, timeout=10)
        conn.send({
            "status": job.status.value,
            "loaded": job.progress.loaded_bytes,
            "active": queue.get_active_job_ids(),
            "known": [j.id for j in queue.get_all_jobs()],
            "workers": sorted(set(ran_in)),
        })


    ctx = multiprocessing.get_context("fork")
    receiving, sending = ctx.Pipe(duplex=False)
    process = ctx.Process(target=work, args=(sending,))
    process.start()
    facts = {"child": receiving.recv() if receiving.poll(30) else None}
    process.join(30)
    facts["child_exit"] = process.exitcode
    gate.set()
    facts["running_status"] = queue.wait(running_id, timeout=10).status.value
    facts["ids"] = {"done": done_id, "running": running_id}
    queue.shutdown(wait=True)
    report("parent", facts)
    """
)


def run_script(
    script: str, *args: str, measured: bool = True
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run a fork script; return the parent's facts and the child's (if it reported).

    ``measured=False`` keeps coverage (its ``patch = subprocess, fork``) out of the script:
    it starts a tracer and writes a data file in every forked child, which under load made
    one child of 40 exceed its alarm now and then.
    """
    env = None
    if not measured:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
        env=env,
    )
    output = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    assert result.stderr == "", output
    reports: dict[str, dict[str, Any]] = {}
    for line in result.stdout.splitlines():
        who, _, payload = line.partition(" ")
        assert who in ("parent", "child"), output
        reports[who] = json.loads(payload)
    assert "parent" in reports, output
    return reports["parent"], reports.get("child")


def test_a_queue_used_before_fork_works_in_the_child() -> None:
    """After ``os.fork()`` the child's queue has forgotten the parent's unfinished
    jobs (one running, one waiting to retry) and kept its finished ones, whose ``wait``
    returns even where the terminal event was still on its way in the parent; a watch
    inherited on a parent's job ends at once. New jobs run there on fresh worker threads
    under the limit; ``wait``, ``watch``, events (to receivers connected before and after
    the fork, from a new event thread, none of the parent's), retries (a new retry
    thread), a raised limit, a new queue and ``shutdown`` all work, and the event thread
    idles out. The parent's queue is undisturbed: its running job completes when released,
    its watch sees the end, each of its events is delivered once, its waiting retry
    cancels, new jobs run."""
    parent, child = run_script(FORK_SCRIPT)
    assert parent["child_exit"] == 0, child
    assert child is not None
    ids = parent["ids"]

    # Inherited state.
    assert child["all_jobs"] == [ids["done"], ids["held"], ids["pending"]]
    assert child["active_ids"] == []
    assert child["running_job"] == "None"
    assert child["retrying_job"] == "None"
    assert child["cancel_running"] is False
    assert child["watch_running"] == "JobNotFoundError"
    assert child["waits"] == ["completed"] * 3
    assert child["inherited_watch"] == []

    # New work in the child.
    assert child["new_status"] == "completed"
    assert child["new_max_running"] == 2
    assert child["watch_statuses"][0] == "active"
    assert child["watch_statuses"][-1] == "completed"
    assert child["retry_status"] == "completed"
    assert child["retry_attempts"] == 3
    assert child["attempts_seen"] == [1, 2, 3]
    assert child["three_status"] == "completed"
    assert child["other_queue_status"] == "completed"
    assert child["workers_are_new"] is True
    assert child["child_workers"] >= 3
    assert child["event_thread_is_new"] is True
    assert child["transferqueue-retries ended"] is True
    assert child["transferqueue-events ended"] is True
    assert child["shut_down"] is True
    # Events in the child: its own jobs only, to receivers connected before and after.
    assert child["parent_receiver_jobs"] == child["new_ids"]
    assert child["parent_receiver_new_events"][0] == ["created", "queued"]
    assert child["parent_receiver_new_events"][-1] == ["updated", "completed"]
    assert child["child_receiver_jobs"] == child["new_ids"]
    assert child["child_receiver_terminals"] == child["new_ids"]

    # The parent after the fork.
    assert parent["active_after_fork"] is True
    assert parent["running_status"] == "completed"
    assert parent["running_watch"] == ["completed"]
    assert parent["cancel_retrying"] is True
    assert parent["retrying_status"] == "cancelled"
    assert parent["later_status"] == "completed"
    assert parent["held_status"] == "completed"
    assert parent["pending_status"] == "completed"
    events = parent["events_of"]
    assert events["running"][0] == ["created", "queued"]
    assert events["running"][-1] == ["updated", "completed"]
    assert [e for e in events["running"] if e[1] == "completed"] == [["updated", "completed"]]
    assert events["held"] == [["created", "queued"], ["updated", "completed"]]
    assert events["pending"] == [["created", "queued"], ["updated", "completed"]]


FORKS = 40


def test_fork_while_other_threads_hammer_the_queue_inherits_no_held_lock() -> None:
    """Forking again and again while threads keep taking the queue's locks
    (queue_job, get_all_jobs, cancel_job, cleanup_old_jobs, progress reports, a receiver)
    neither deadlocks the parent nor leaves the child a lock held by a thread it does not
    have: every child finds no job active, queues and finishes a job and shuts down
    within its alarm."""
    # Unmeasured: this test is about locks; the fork test above measures the child's code.
    parent, child = run_script(HAMMER_SCRIPT, str(FORKS), measured=False)
    assert child is None  # a child reports only when its checks failed
    assert parent["exits"] == [0] * FORKS, parent
    assert parent["jobs"] > 0
    assert parent["reads"] > 0


def test_multiprocessing_fork_child_runs_a_job_on_the_inherited_queue() -> None:
    """A ``multiprocessing`` fork-context Process, started while the parent's
    queue runs a job, runs its own job on the inherited queue (fresh workers, the parent's
    running job unknown there) and exits cleanly; the parent's job then completes."""
    parent, _ = run_script(MULTIPROCESSING_SCRIPT)
    ids = parent["ids"]
    child = parent["child"]
    assert child is not None, parent
    assert child["status"] == "completed"
    assert child["loaded"] == 30
    assert child["active"] == []
    assert child["known"][0] == ids["done"]
    assert ids["running"] not in child["known"]
    assert len(child["known"]) == 2
    assert all(name.startswith("transferqueue-worker") for name in child["workers"])
    assert parent["child_exit"] == 0
    assert parent["running_status"] == "completed"


KEPT_COPY_SCRIPT = PREAMBLE + textwrap.dedent(
    """
    import tempfile

    from transferqueue.executors import LocalCopy

    folder = tempfile.mkdtemp()
    source = os.path.join(folder, "src.bin")
    with open(source, "wb") as out:
        out.write(os.urandom(300 * 1024))


    class Pausing:
        # A direct call's on_progress: pauses the copy once it holds ``at`` bytes.
        def __init__(self, at=None):
            self.values, self.at = [], at

        def __call__(self, loaded):
            self.values.append(loaded)
            if self.at is not None and loaded >= self.at:
                raise tq.TransferPaused("paused")


    def copy_of(name, progress):
        record = tq.TransferFile(source, os.path.join(folder, name), 300 * 1024)
        try:
            copy(record, progress)
        except tq.TransferPaused:
            pass


    def hidden():
        return sorted(name for name in os.listdir(folder) if name.startswith("."))


    copy = LocalCopy(chunk_size=64 * 1024)
    copy_of("parent.bin", Pausing(at=64 * 1024))
    # Found by its inode: an unnamed file (O_TMPFILE) named at the pause reads
    # "#INODE (deleted)" in /proc/self/fd, not its name.
    (kept_name,) = [name for name in hidden() if name.startswith(".parent.bin.")]
    kept_inode = os.stat(os.path.join(folder, kept_name)).st_ino


    def inode(fd):
        try:
            return os.fstat(int(fd)).st_ino
        except OSError:  # the listing's own descriptor, closed since
            return None


    (kept_fd,) = [int(fd) for fd in os.listdir("/proc/self/fd") if inode(fd) == kept_inode]
    before = hidden()
    # Its thread is not the child's, whose normal exit would wait for it for ever.
    faulthandler.cancel_dump_traceback_later()
    pid = os.fork()
    if pid == 0:
        # The child: it holds none of the parent's kept copies (their descriptors are
        # closed), keeps one of its own, then exits normally (atexit runs).
        signal.alarm(20)
        facts = {"inherited": bool(copy._kept)}
        try:
            os.fstat(kept_fd)
            facts["inherited_fd_open"] = True
        except OSError:
            facts["inherited_fd_open"] = False
        copy_of("child.bin", Pausing(at=64 * 1024))
        facts["own"] = [name for name in hidden() if name.startswith(".child.bin.")]
        report("child", facts)
        sys.exit(0)
    faulthandler.dump_traceback_later(40, exit=True)
    _, status = os.waitpid(pid, 0)
    facts = {"child_exit": os.waitstatus_to_exitcode(status), "before": before}
    facts["after_child"] = hidden()
    resumed = Pausing()
    copy_of("parent.bin", resumed)
    facts["resumed_from"] = resumed.values[:2]
    with open(source, "rb") as one, open(os.path.join(folder, "parent.bin"), "rb") as two:
        facts["same"] = one.read() == two.read()
    facts["left"] = hidden()
    report("parent", facts)
    """
)


def test_a_forked_child_leaves_the_parents_kept_copies_alone() -> None:
    """A child forked while an executor keeps a paused copy forgets it (its inherited
    descriptor closed) and exits normally without removing it; a copy the child kept
    itself goes with the child. The parent's copy then resumes from where it stopped."""
    parent, child = run_script(KEPT_COPY_SCRIPT)
    assert parent["child_exit"] == 0, child
    assert child is not None
    assert child == {"inherited": False, "inherited_fd_open": False, "own": [child["own"][0]]}
    assert parent["after_child"] == parent["before"]  # the child's own copy went with it
    assert parent["resumed_from"] == [0, 128 * 1024]
    assert parent["same"] is True
    assert parent["left"] == []
