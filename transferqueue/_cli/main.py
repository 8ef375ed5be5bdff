"""The ``transferqueue`` command line: ``transferqueue cp SRC [SRC ...] DEST``,
``transferqueue demo`` and the cluster's ``jobs``, ``watch`` and ``cancel``.

Exit status: 0 when every file arrived, 1 when some failed or something was left out (a
folder below a source that could not be read, one of several sources missing or unreadable,
a remote name that cannot safely become a local path: each reported on stderr and skipped,
the rest copied, as ``cp -r`` does), 2 for bad usage (a bad option, an unsupported pair, a
single source missing or unreadable, two sources onto one destination, a source whose name
would lead out of DEST), 130 after Ctrl-C, 143 after SIGTERM and 129 after SIGHUP (each
cancels the copy, waits for the transfers to stop and leaves no partial file).

What ``cp`` copies is planned in :mod:`.plan`, copied by :mod:`.run_copy` and
shown as :mod:`.output` shows it; the exit statuses and the signals are
:mod:`.exit_status`'s. ``demo`` is :mod:`.demo`'s. The commands that follow a cluster of
Redis-backed queues (``jobs``, ``watch``, ``cancel``) are in :mod:`.cluster`. This
module parses the command line, hands each command to its module and turns errors and
signals into exit statuses. ``python -m transferqueue`` runs it too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from transferqueue._core.bandwidth import parse_bandwidth
from transferqueue._core.config import get_max_concurrent_transfers
from transferqueue.redis._url import redact_url

from . import cluster as _cli_cluster
from . import demo as _demo
from .exit_status import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _cancelling_signals, _interrupted_status
from .output import (
    _help_text,
    _printable,
    _say,
    _size,
    _skipped,
    _skipped_note,
    _up_to_date_note,
)
from .plan import LazyS3Client, _UsageError, plan
from .run_copy import copy

if TYPE_CHECKING:
    from collections.abc import Sequence


# A URL as argparse may quote one in an error (an extra argument, an unknown command).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages show any URL they quote without its
    password: ``transferqueue jobs redis://:secret@host`` (``--redis`` forgotten) must not
    print the secret."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the message, URLs redacted; exit 2."""
        super().error(_URL.sub(lambda found: redact_url(found.group()), message))


def _version() -> str:
    """The version of the transferqueue that runs: its installed metadata's, or the
    source's ``__version__`` when it is not installed, or when what is installed is
    another copy (a checkout run with PYTHONPATH beside an installed release, an editable
    install), whose metadata may name another version."""
    import importlib.metadata

    from transferqueue import __file__ as package_file
    from transferqueue import __version__

    try:
        installed = importlib.metadata.distribution("transferqueue")
    except importlib.metadata.PackageNotFoundError:
        return __version__
    where = str(installed.locate_file("transferqueue/__init__.py"))
    if os.path.realpath(where) != os.path.realpath(package_file):
        return __version__
    return installed.version


class _VersionAction(argparse.Action):
    """``--version``: print the version and exit 0; looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **options: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=options.get("help")
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Print ``transferqueue VERSION`` on stdout; exit 0."""
        print(f"{parser.prog} {_version()}", flush=True)
        parser.exit()


# The examples of each command's --help, kept as written (RawDescriptionHelpFormatter);
# tests/integration/test_cli_help.py parses every one of them.
_EXAMPLES = """\
examples:
  transferqueue demo                                  # generated files, copied
  transferqueue demo --web                            # the same in a browser
  transferqueue cp photos/ backup/                    # local folders
  transferqueue cp -j 8 data/ s3://my-bucket/data/    # to S3
  transferqueue cp hf://openai-community/gpt2 gpt2/   # from Hugging Face
  transferqueue jobs --redis redis://localhost:6379/0 # a cluster's jobs
  transferqueue cp --help                             # cp's options, examples"""

_CP_EXAMPLES = """\
examples:
  Local files and folders:
    transferqueue cp report.pdf copy.pdf
    transferqueue cp photos/ backup/            # into backup/photos/
    transferqueue cp a.bin b.bin notes/ out/    # several sources into out/
    transferqueue cp --dry-run photos/ backup/  # print the plan, copy nothing
    transferqueue cp --exclude '*.tmp' --exclude '/cache/**' photos/ backup/
    transferqueue cp --include '*.jpg' --include '*.png' photos/ backup/
    transferqueue cp photos/ backup/            # again: only what changed
    transferqueue cp --compare checksum photos/ backup/   # by content

  S3 (pip install 'transferqueue[s3]'; credentials, AWS_PROFILE and
  AWS_ENDPOINT_URL as boto3 reads them):
    transferqueue cp -j 8 data/ s3://my-bucket/data/    # 8 files at a time
    transferqueue cp s3://my-bucket/data/ restored/     # a prefix, downloaded
    transferqueue cp s3://my-bucket/a.csv s3://other-bucket/a.csv

  Hugging Face (HF_TOKEN for private or gated repositories, HF_ENDPOINT for a
  mirror):
    transferqueue cp hf://openai-community/gpt2 models/gpt2/
    transferqueue cp hf://datasets/owner/repo@main/train/ train/

  In a script, one JSON object per line:
    transferqueue cp --json data/ backup/ | jq .job.progress.percentage"""

_DEMO_EXAMPLES = """\
examples:
  transferqueue demo
  transferqueue demo --web               # then open http://127.0.0.1:8000/
  transferqueue demo --web --port 0      # a free port: see the URL printed"""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="transferqueue",
        description="Copy files between local folders, S3 and Hugging Face, several at once.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print the version of transferqueue and exit"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cp = commands.add_parser(
        "cp",
        help="copy files, folders, S3 prefixes or Hugging Face repositories",
        description=_help_text(
            "Copy SRC to DEST. Sources are local paths, s3://bucket/key-or-prefix or "
            "hf://[datasets/]owner/repo[@revision][/path]; folders, prefixes and "
            "repositories are copied recursively. With several sources DEST is a folder. "
            "Sizes and speeds are in binary units (1 MiB = 1024 KiB = 1,048,576 bytes).",
            "A file whose destination is already up to date (by --compare) is skipped, "
            "so running the same copy again moves nothing new; an existing destination "
            "that differs fails its file unless --overwrite is given.",
            "A folder below a source that cannot be read is reported on stderr and "
            "skipped, the rest is copied, and the exit status is 1; so is an S3 key "
            "that cannot safely become a path below DEST. Ctrl-C, SIGTERM and SIGHUP "
            "cancel the copy, leaving no partial file (exit 130, 143, 129).",
        ),
        epilog=_CP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cp.add_argument("sources", nargs="+", metavar="SRC", help="what to copy: one or more")
    cp.add_argument("destination", metavar="DEST", help="where to copy it")
    cp.add_argument(
        "-j",
        "--concurrency",
        type=_positive_int,
        default=None,
        help="files transferred at once (default: MAX_CONCURRENT_TRANSFERS, or 2)",
    )
    cp.add_argument(
        "--retries",
        type=_non_negative_int,
        default=2,
        help="times a file is tried again after a transient error (default: 2)",
    )
    cp.add_argument("--overwrite", action="store_true", help="replace existing destinations")
    cp.add_argument(
        "--checksum",
        action="store_true",
        help=(
            "check each copy against its source before it counts: a local copy by sha256, "
            "S3 by the object's checksum or ETag (one HEAD request more a file); a "
            "mismatch fails the file and removes the copy. Hugging Face LFS files are "
            "always checked"
        ),
    )
    cp.add_argument(
        "--bwlimit",
        type=_bandwidth,
        default=None,
        metavar="RATE",
        help=(
            "at most RATE bytes per second for all the files together, e.g. 20M (binary "
            "units: K, M, G, T; 20M = 20MiB = 20MB = 20 x 1024 x 1024). S3-to-S3 copies "
            "move no byte through this machine and are not held back (default: no limit)"
        ),
    )
    cp.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help=(
            "copy only the files whose path below the source matches PATTERN (repeatable; "
            "* within a folder, ** across folders, a leading / anchors at the source)"
        ),
    )
    cp.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out the files that match PATTERN (repeatable; wins over --include)",
    )
    cp.add_argument(
        "--compare",
        choices=("size-mtime", "size", "checksum", "none"),
        default="size-mtime",
        help=(
            "skip a file whose destination is up to date: same size and modified no "
            "earlier (size-mtime, the default), same size (size), same content (checksum), "
            "or copy every file (none)"
        ),
    )
    cp.add_argument(
        "--update",
        action="store_true",
        help="also skip a file whose destination was modified later than its source",
    )
    cp.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be copied (one JSON object with --json), copy nothing",
    )
    output = cp.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help="print the job as JSON lines: whole first and last, its changes in between",
    )
    output.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    demo = commands.add_parser(
        "demo",
        help="copy a few generated files, showing the live progress (--web: in a browser)",
        description=_help_text(
            "Generate seven files of 1 to 64 MiB in a temporary folder, copy them to another "
            "with transferqueue cp, showing the live progress, and remove them again.",
            "With --web, serve the demo page instead until Ctrl-C: its buttons start sample "
            "copies (one that completes, one with a file that fails, a slow one to cancel) "
            "and show them live. Either way nothing is left behind.",
        ),
        epilog=_DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--web", action="store_true", help="serve the demo page (needs the flask extra)"
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=None,
        help="with --web: the port to listen on; 0 picks a free one (default: 8000)",
    )
    demo.add_argument(
        "--host",
        type=_host,
        default=None,
        help=(
            "with --web: the address to listen on (default: 127.0.0.1, this machine only; "
            "the demo has no login). Requests must name the demo by it, 127.0.0.1, "
            "localhost or [::1] in their Host header"
        ),
    )
    _cli_cluster.add_commands(commands)
    return parser


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _bandwidth(text: str) -> float:
    try:
        return parse_bandwidth(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port (0 to 65535): {text!r}")
    return value


def _host(text: str) -> str:
    # An empty address would listen on every interface: the demo has no login.
    if not text:
        raise argparse.ArgumentTypeError("an empty address would listen on every interface")
    return text


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _cp(args: argparse.Namespace) -> int:
    sources: list[str] = args.sources
    destination: str = args.destination
    skipped: list[dict[str, str]] = []

    def report(error: Exception) -> None:
        # Said at once, as cp -r does; the copy goes on without it.
        entry = _skipped(error)
        skipped.append(entry)
        _say(f"skipped {entry['path']}: {entry['error']}", sys.stderr)

    s3_client = LazyS3Client()  # made once, when a listing or a transfer needs it
    files = plan(
        sources,
        destination,
        on_error=report,
        s3_client=s3_client,
        include=args.include,
        exclude=args.exclude,
        compare=args.compare,
        update=args.update,
    )
    if args.dry_run:
        _dry_run(files, skipped, as_json=args.json, quiet=args.quiet)
        return EXIT_FAILED if skipped else EXIT_OK
    concurrency = args.concurrency
    if concurrency is None:
        try:
            concurrency = get_max_concurrent_transfers()
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    return copy(
        files,
        concurrency=concurrency,
        retries=args.retries,
        overwrite=args.overwrite,
        bandwidth_limit=args.bwlimit,
        checksum=args.checksum,
        as_json=args.json,
        quiet=args.quiet,
        skipped=skipped,
        s3_client=s3_client,
    )


def _dry_run(
    files: list[dict[str, Any]],
    skipped: Sequence[dict[str, str]],
    *,
    as_json: bool,
    quiet: bool,
) -> None:
    """Print what ``files`` would copy: a line each and the totals, or one JSON object
    with the same keys as a job's ``files`` and ``progress`` (``source_path``, ...,
    ``total_files``, ``total_bytes``), or nothing when ``quiet``."""
    to_copy = [file for file in files if not file.get("skip")]
    total = sum(int(file["size"]) for file in to_copy)
    if as_json:
        document = {
            "event": "dry-run",
            "files": [
                {
                    **{key: file[key] for key in ("source_path", "destination_path", "size")},
                    "status": "skipped" if file.get("skip") else "queued",
                }
                for file in files
            ],
            "total_files": len(files),
            "total_bytes": total,
            "skipped_files": len(files) - len(to_copy),
            "skipped": list(skipped),
        }
        print(json.dumps(document, sort_keys=True), flush=True)
        return
    if quiet:
        return
    for file in to_copy:
        line = f"{file['source_path']} -> {file['destination_path']} ({_size(file['size'])})"
        print(_printable(line, sys.stdout))
    note = _up_to_date_note(len(files) - len(to_copy)) + _skipped_note(skipped)
    print(f"{len(to_copy)} files, {_size(total)}{note} (dry run: nothing copied)", flush=True)


def _run_demo(args: argparse.Namespace) -> int:
    if args.web:
        return _demo.web_demo(
            "127.0.0.1" if args.host is None else args.host,
            8000 if args.port is None else args.port,
        )
    if args.host is not None or args.port is not None:
        raise _UsageError("demo: --host and --port go with --web")
    return _demo.terminal_demo()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        with _cancelling_signals():
            if args.command == "demo":
                return _run_demo(args)
            if args.command in _cli_cluster.COMMANDS:
                return _cli_cluster.run(args)
            return _cp(args)
    except _UsageError as exc:  # it may name a source, or quote a listing's entry
        _say(f"transferqueue: error: {exc}", sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupt:  # before the copy started: nothing to clean up
        print("cancelled", file=sys.stderr, flush=True)
        return _interrupted_status(interrupt)
