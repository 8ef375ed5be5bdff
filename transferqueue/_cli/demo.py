"""``transferqueue demo``: the queue at work on built-in defaults, nothing to configure.

In the terminal (:func:`terminal_demo`), a real ``transferqueue cp`` of generated files
from one temporary folder to another, with the live progress; with ``--web``
(:func:`web_demo`), the demo page, whose buttons start sample copies and show them live
in the browser. Either works in a temporary folder of its own (made where ``TMPDIR``
says, as :func:`tempfile.mkdtemp` does) and removes it, with every file it made, before
it ends.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from transferqueue._core.config import get_max_concurrent_transfers
from transferqueue._core.queue import TransferQueue

from .exit_status import EXIT_USAGE, _uninterrupted
from .plan import _UsageError, plan
from .run_copy import copy

_SIZES_MIB = (1, 2, 4, 8, 16, 32, 64)
# The page's samples share this limit: three jobs run at once, a fourth waits its turn.
_WEB_CONCURRENCY = 3


def terminal_demo() -> int:
    """Generate a few files of random bytes (1 to 64 MiB) in a temporary folder, copy
    them to another with the live progress, say where they went, and clean up; return
    the copy's exit status."""
    try:
        concurrency = get_max_concurrent_transfers()
    except ValueError as exc:  # before any file is made
        raise _UsageError(str(exc)) from None
    root = tempfile.mkdtemp(prefix="transferqueue-demo-")
    try:
        source = os.path.join(root, "source")
        destination = os.path.join(root, "copies")
        os.mkdir(source)
        for size in _SIZES_MIB:
            with open(os.path.join(source, f"sample-{size}MiB.bin"), "wb") as stream:
                stream.write(os.urandom(size * 1024 * 1024))
        print(f"generated {len(_SIZES_MIB)} files in {source}", flush=True)
        files = plan([source], destination)
        status = copy(files, concurrency=concurrency, retries=0, overwrite=False)
        print(f"copied to {destination} (now removed again)", flush=True)
        return status
    finally:
        shutil.rmtree(root, ignore_errors=True)


def web_demo(host: str, port: int) -> int:
    """Serve the demo page on ``host``:``port`` (0: a free port) until Ctrl-C, SIGTERM or
    SIGHUP; return the exit status (0 once stopped so, 2 without Flask).

    Ctrl-C is how this command is meant to end, so it ends with 0, not 130. A port in use
    or an address that cannot be used is reported by werkzeug, which exits with status 1
    (the work folder is removed all the same).
    """
    try:
        from werkzeug.serving import make_server

        from transferqueue.web._demo import demo_app
        from transferqueue.web._local_only import LOCAL_NAMES
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("flask", "werkzeug"):
            raise
        print(
            "transferqueue demo --web needs Flask: pip install 'transferqueue[flask]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    workdir = tempfile.mkdtemp(prefix="transferqueue-web-demo-")
    queue = TransferQueue(_WEB_CONCURRENCY)
    try:
        app = demo_app(queue, workdir, hosts=(*LOCAL_NAMES, host))
        # threaded: every open event stream holds a thread of its own.
        server = make_server(host, port, app, threaded=True)
        shown = f"[{host}]" if ":" in host else host
        print(f"transferqueue demo at http://{shown}:{server.server_port}/", flush=True)
        print(f"work folder {workdir}; press Ctrl-C to stop", flush=True)
        # Returns after Ctrl-C, SIGTERM or SIGHUP: each raises a KeyboardInterrupt (the
        # command line turns the two signals into one), which werkzeug catches.
        server.serve_forever()
        print("stopped", flush=True)
    finally:
        # A second Ctrl-C, SIGTERM or SIGHUP must not cut the clean-up short.
        with _uninterrupted():
            # The copies stop before their folder goes: a running copy would recreate it.
            queue.shutdown(wait=True, cancel_jobs=True)
            shutil.rmtree(workdir, ignore_errors=True)
    return 0
