"""``python -m transferqueue.web``: serve the demo page on this machine until Ctrl-C.

Needs Flask (``pip install transferqueue[flask]``). The sample files live in a temporary
work folder, removed at exit together with every copy; the demo's own queue (limit 3)
is shut down first, cancelling what still runs.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from types import FrameType

from transferqueue._queue import TransferQueue

_CONCURRENCY = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m transferqueue.web",
        description=(
            "Serve the transferqueue demo: a page that starts sample local copies and shows "
            "their progress live (Server-Sent Events), with a Cancel button per job."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on; 0 picks a free one (8000)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=(
            "address to listen on (127.0.0.1: this machine only; the demo has no login). "
            "Requests must name the demo by it, 127.0.0.1, localhost or [::1] in their "
            "Host header"
        ),
    )
    return parser


def _stop(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends the demo like Ctrl-C does, so that the work folder is removed.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo server until Ctrl-C or SIGTERM; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        from werkzeug.serving import make_server

        from ._demo import demo_app
        from ._local_only import LOCAL_NAMES
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("flask", "werkzeug"):
            raise
        print(
            "python -m transferqueue.web needs Flask: pip install 'transferqueue[flask]'",
            file=sys.stderr,
        )
        return 2
    previous_sigterm = signal.signal(signal.SIGTERM, _stop)
    workdir = tempfile.mkdtemp(prefix="transferqueue-web-demo-")
    queue = TransferQueue(_CONCURRENCY)
    try:
        app = demo_app(queue, workdir, hosts=(*LOCAL_NAMES, args.host))
        # threaded: every open event stream holds a thread of its own. A port in use is
        # reported by werkzeug, which exits with status 1 (the finally still cleans up).
        server = make_server(args.host, args.port, app, threaded=True)
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"transferqueue demo at http://{host}:{server.server_port}/", flush=True)
        print(f"work folder {workdir}; press Ctrl-C to stop", flush=True)
        server.serve_forever()  # returns after Ctrl-C (werkzeug catches it) or SIGTERM
        print("stopped", flush=True)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short.
        previous_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            # The copies stop before their folder goes: a running copy would recreate it.
            queue.shutdown(wait=True, cancel_jobs=True)
            shutil.rmtree(workdir, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous_sigint)
            signal.signal(signal.SIGTERM, previous_sigterm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
