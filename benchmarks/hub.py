"""Hugging Face downloads against huggingface_hub, from a fake hub on 127.0.0.1 (issue #12).

Run ``python -m benchmarks.hub`` from the repository root (huggingface_hub comes with the
extra ``transferqueue[bench]``; the certificate is made with ``cryptography``, which the
test extra brings). It starts the tests' fake hub (``tests/helpers/fake_hub.py``) in a
process of its own, twice: over plain HTTP, and over TLS with a certificate for 127.0.0.1
signed by a throwaway CA that every client trusts through ``SSL_CERT_FILE`` (the system's
CAs and that one, so that loading the file costs what the system's does). Each is a hub
and its "CDN" on another port, and every file is an LFS file that the hub sends on to the
CDN with a 302, as the real hub does. Two repositories of random bytes: ``bench/small``,
50 files of 1 MiB, and ``bench/large``, one file of 512 MiB. Each contender downloads a
whole repository into an empty folder; they take turns round after round, and each figure
is the median of the rounds:

- ``transferqueue cp -q hf://… DEST`` (a new interpreter: start-up, listing and all), at
  its default concurrency;
- :func:`~transferqueue.executors.list_hf_files`, then
  :class:`~transferqueue.executors.HuggingFaceDownload` in a ``TransferQueue`` of that
  same concurrency (the API, in this process);
- ``huggingface_hub.snapshot_download(repo, local_dir=DEST)`` at its default
  ``max_workers`` (in this process; its shared HTTP client is closed before each run, so
  that no connection outlives a run);
- ``hf download repo --local-dir DEST`` (a process of its own), when the installed
  huggingface_hub has it (skipped, and said so, otherwise).

Every run downloads into a new, empty folder, with a new, empty Hugging Face cache
(``HF_HOME``, or ``cache_dir=`` in this process; huggingface_hub also keeps in memory the
listing it wrote into a destination, by the destination's path, which a new folder
leaves behind), and its files are checked after it, untimed: size and sha256. Nothing
but 127.0.0.1 is reached: the endpoint is the fake hub (``HF_ENDPOINT``, ``endpoint=``),
telemetry and the update check are off, and any other host would have to go through a
proxy that does not exist. Progress bars are off for every contender (``-q``,
``HF_HUB_DISABLE_PROGRESS_BARS``). Besides the wall time, the script prints each run's
CPU time, the client's (this process's, or the child's) and the server's (read from its
process), and the connections and requests the servers saw.

Target (issue #12): transferqueue at least 2.5x faster than huggingface_hub, command line
against command line and API against API, on both repositories, over HTTP and over TLS;
the exit status is 1 when one is missed. The fake hub is a Python server on the same
CPUs: it bounds the figures (its CPU time per run says how far), and the ratios compare
the clients. Destinations are on tmpfs (``/dev/shm``) when there is one (``--dir``
chooses another folder); ``--rounds N`` (default 3), ``--only small|large`` and
``--scheme http|https`` run less.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.metadata
import importlib.util
import ipaddress
import json
import os
import platform
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import transferqueue as tq
from tests.helpers.fake_hub import FakeHub, RunningHub
from transferqueue._core.config import get_max_concurrent_transfers
from transferqueue.executors import HuggingFaceDownload, list_hf_files

MiB = 1024 * 1024
SMALL_COUNT = 50
SMALL_SIZE = MiB
LARGE_SIZE = 512 * MiB
REPOS = {"small": "bench/small", "large": "bench/large"}
TARGET = 2.5
SCHEMES = ("http", "https")
# Where a request to any host but 127.0.0.1 would go: nothing listens on the discard port.
DEAD_PROXY = "http://127.0.0.1:9"

CP = "transferqueue cp"
API = "list_hf_files + HuggingFaceDownload"
SNAPSHOT = "snapshot_download"
HF_CLI = "hf download"
PAIRS = ((HF_CLI, CP), (SNAPSHOT, API))  # (huggingface_hub, transferqueue)


# --- the server, in a process of its own -----------------------------------------------------


def _serve(cert: str, key: str) -> None:
    """The child: both repositories on a plain and a TLS fake hub; prints their URLs and
    the files' sizes and sha256 as one JSON line, then answers each ``stats`` line read
    from stdin with its CPU time and the servers' counts, until stdin ends."""
    small = {f"shard-{index:02d}.bin": os.urandom(SMALL_SIZE) for index in range(SMALL_COUNT)}
    large = {"model.safetensors": os.urandom(LARGE_SIZE)}
    repos = {("model", REPOS["small"]): small, ("model", REPOS["large"]): large}
    lfs = set(small) | set(large)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    hubs = {scheme: FakeHub(repos=repos, redirected=lfs) for scheme in SCHEMES}
    for hub in hubs.values():  # hashed now, not during the first runs
        for content in (*small.values(), *large.values()):
            hub.sha1(content)
            hub.sha256(content)
    running = {
        "http": RunningHub(hubs["http"]),
        "https": RunningHub(hubs["https"], hub_tls=context, cdn_tls=context),
    }
    try:
        files = {
            repo: {path: [len(data), hubs["http"].sha256(data)] for path, data in content.items()}
            for (_, repo), content in repos.items()
        }
        urls = {scheme: server.url for scheme, server in running.items()}
        print(json.dumps({"urls": urls, "files": files}), flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                times = os.times()
                accepted = 0
                for hub in hubs.values():
                    with hub.lock:
                        accepted += sum(hub.connections.values())
                stats = {
                    "cpu": times.user + times.system,
                    "requests": sum(len(hub.seen()) for hub in hubs.values()),
                    "connections": accepted,
                }
                print(json.dumps(stats), flush=True)
    finally:
        for server in running.values():
            server.stop()


@dataclass(frozen=True)
class _Stats:
    cpu: float
    requests: int
    connections: int


class _HubProcess:
    """The child process serving the fake hubs, and the line protocol to it."""

    def __init__(self, cert: Path, key: Path) -> None:
        command = [sys.executable, "-m", "benchmarks.hub", "--serve", str(cert), str(key)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        ready = self._line()
        self.urls: dict[str, str] = ready["urls"]
        self.files: dict[str, dict[str, list[Any]]] = ready["files"]

    def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake hub ended: exit status {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stats(self) -> _Stats:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write("stats\n")
        stdin.flush()
        answer = self._line()
        return _Stats(answer["cpu"], answer["requests"], answer["connections"])

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- a throwaway CA and the server's certificate ----------------------------------------------


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA's certificate (after the system's CAs), and a certificate for 127.0.0.1 that
    it signed, with its key (PEM files)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "transferqueue bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    # The system's CAs too, as a machine that trusts the public hub has them: loading
    # them is part of what a TLS client costs (some 30 ms of CPU per SSLContext here).
    system = Path(ssl.get_default_verify_paths().openssl_cafile)
    bundle = system.read_bytes() + b"\n" if system.is_file() else b""
    ca_file.write_bytes(bundle + ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- the contenders -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One download: its destination, the Hugging Face cache it may use, the hub."""

    url: str
    repo: str
    destination: Path
    home: Path


def _child(command: list[str], run: _Run) -> None:
    environment = dict(os.environ, HF_ENDPOINT=run.url, HF_HOME=str(run.home))
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{command[:3]} failed ({done.returncode}): {done.stderr[-2000:]}")


def _cp(run: _Run) -> None:
    command = [sys.executable, "-m", "transferqueue", "cp", "-q"]
    _child([*command, f"hf://{run.repo}", str(run.destination)], run)


def _api(run: _Run) -> None:
    files = list_hf_files(f"hf://{run.repo}", run.destination, endpoint=run.url)
    with tq.TransferQueue(get_max_concurrent_transfers()) as queue:
        executor = HuggingFaceDownload(endpoint=run.url)
        job = queue.wait(queue.queue_job("huggingface", files, executor))
    if job.status != "completed":
        raise RuntimeError(f"benchmark job ended {job.status}: {job.error}")


def _snapshot(run: _Run) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(
        run.repo, local_dir=run.destination, endpoint=run.url, cache_dir=run.home / "hub"
    )


def _hf_cli() -> str | None:
    """The ``hf`` command beside this interpreter (else on PATH), if it has ``download``."""
    beside = Path(sys.executable).with_name("hf")
    found = str(beside) if beside.is_file() else shutil.which("hf")
    if found is None:
        return None
    probe = subprocess.run([found, "download", "--help"], capture_output=True)
    return found if probe.returncode == 0 else None


def _close_hf_session() -> None:
    """Close huggingface_hub's shared HTTP client: a run must not reuse the connections of
    the run before it."""
    import huggingface_hub

    huggingface_hub.close_session()


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    wall: float
    client_cpu: float
    server_cpu: float
    requests: int
    connections: int


def _cpu_now() -> float:
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _verify(destination: Path, files: dict[str, list[Any]]) -> None:
    """Every file arrived whole: its size and sha256 (read back, untimed)."""
    for name, (size, digest) in files.items():
        path = destination / name
        if path.stat().st_size != size:
            raise RuntimeError(f"{path}: {path.stat().st_size} bytes, expected {size}")
        sha = hashlib.sha256()
        with path.open("rb") as stream:
            while block := stream.read(4 * MiB):
                sha.update(block)
        if sha.hexdigest() != digest:
            raise RuntimeError(f"{path}: sha256 {sha.hexdigest()}, expected {digest}")


def _one(
    server: _HubProcess, contender: Callable[[_Run], None], run: _Run, in_process: bool
) -> _Sample:
    run.destination.mkdir(parents=True)
    run.home.mkdir(parents=True)
    if in_process:
        _close_hf_session()
    before, cpu = server.stats(), _cpu_now()
    start = time.perf_counter()
    contender(run)
    wall = time.perf_counter() - start
    cpu, after = _cpu_now() - cpu, server.stats()
    _verify(run.destination, server.files[run.repo])
    shutil.rmtree(run.destination.parent)
    return _Sample(
        wall,
        cpu,
        after.cpu - before.cpu,
        after.requests - before.requests,
        after.connections - before.connections,
    )


def _median(samples: list[_Sample]) -> _Sample:
    return _Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.client_cpu for s in samples),
        statistics.median(s.server_cpu for s in samples),
        round(statistics.median(s.requests for s in samples)),
        round(statistics.median(s.connections for s in samples)),
    )


Cell = tuple[str, str]  # (workload, scheme)


def main(argv: list[str] | None = None) -> int:
    """Start the fake hubs, run every contender on every workload, print medians and the
    ratios to their targets."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(REPOS))
    parser.add_argument("--scheme", choices=SCHEMES)
    parser.add_argument("--dir", type=Path, help="where the downloads go (default: tmpfs)")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(*args.serve)
        return 0
    place = args.dir or (Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    with tempfile.TemporaryDirectory(prefix="transferqueue-bench-hub-", dir=place) as folder:
        root = Path(folder)
        ca, cert, key = _certificates(root)
        _environment(root, ca)
        server = _HubProcess(cert, key)
        try:
            return _measure(server, root, args)
        finally:
            server.stop()


def _environment(root: Path, ca: Path) -> None:
    """The environment of every contender (this process's, inherited by the children)."""
    os.environ.update(
        SSL_CERT_FILE=str(ca),
        HF_HOME=str(root / "hf-home"),  # read at import; the runs pass a fresh one
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_UPDATE_CHECK="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        DO_NOT_TRACK="1",
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        ALL_PROXY=DEAD_PROXY,
        NO_PROXY="127.0.0.1",
    )
    for name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_ENABLE_HF_TRANSFER", "SSL_CERT_DIR"):
        os.environ.pop(name, None)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        os.environ.pop(name, None)


def _measure(server: _HubProcess, root: Path, args: argparse.Namespace) -> int:
    contenders: dict[str, tuple[Callable[[_Run], None], bool]] = {
        CP: (_cp, False),
        API: (_api, False),
    }
    if importlib.util.find_spec("huggingface_hub") is None:
        print(f"  huggingface_hub: not installed, {SNAPSHOT} and {HF_CLI} skipped")
        hub_version = "not installed"
    else:
        hub_version = importlib.metadata.version("huggingface_hub")
        contenders[SNAPSHOT] = (_snapshot, True)
        command = _hf_cli()
        if command is None:
            print(f"  {HF_CLI}: not in this huggingface_hub ({hub_version}), skipped")
        else:
            contenders[HF_CLI] = (
                lambda run: _child(
                    [command, "download", run.repo, "--local-dir", str(run.destination)], run
                ),
                False,
            )
    workloads = [args.only] if args.only else list(REPOS)
    schemes = [args.scheme] if args.scheme else list(SCHEMES)
    cells: list[Cell] = [(workload, scheme) for workload in workloads for scheme in schemes]
    load_before = os.getloadavg()
    samples: dict[Cell, dict[str, list[_Sample]]] = {
        cell: {name: [] for name in contenders} for cell in cells
    }
    runs = 0
    for _ in range(args.rounds):
        for cell in cells:
            workload, scheme = cell
            for name, (contender, in_process) in contenders.items():
                # A new folder each run: huggingface_hub keeps the listing it wrote into
                # a destination in memory too, by the destination's path.
                runs += 1
                folder = root / f"run-{runs}"
                run = _Run(
                    server.urls[scheme], REPOS[workload], folder / "destination", folder / "home"
                )
                samples[cell][name].append(_one(server, contender, run, in_process))
    load_after = os.getloadavg()
    print(
        f"Hugging Face downloads from a fake hub on 127.0.0.1, every file LFS behind a 302 "
        f"to its CDN; medians of {args.rounds} (Python {platform.python_version()}, "
        f"huggingface_hub {hub_version}, transferqueue concurrency "
        f"{get_max_concurrent_transfers()}, {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after)"
    )
    titles = {"small": f"{SMALL_COUNT} x 1 MiB", "large": f"1 x {LARGE_SIZE // MiB} MiB"}
    sizes = {"small": SMALL_COUNT * SMALL_SIZE, "large": LARGE_SIZE}
    medians: dict[Cell, dict[str, _Sample]] = {}
    for cell in cells:
        workload, scheme = cell
        medians[cell] = {name: _median(values) for name, values in samples[cell].items()}
        heading = f"{titles[workload]} over {scheme}"
        print(
            f"  {heading:<40} wall s (min-max)      MB/s  CPU: client server  connections requests"
        )
        for name, median in medians[cell].items():
            speed = sizes[workload] / median.wall / 1e6
            walls = [sample.wall for sample in samples[cell][name]]
            spread = f"({min(walls):.2f}-{max(walls):.2f})"
            print(
                f"    {name:<38} {median.wall:6.2f} {spread:<13} {speed:6.1f}"
                f" {median.client_cpu:12.2f} {median.server_cpu:6.2f}"
                f" {median.connections:12d} {median.requests:8d}"
            )
    rows: list[tuple[str, str, bool, str]] = []
    for cell in cells:
        workload, scheme = cell
        for theirs, ours in PAIRS:
            if theirs not in medians[cell]:
                continue
            ratio = medians[cell][theirs].wall / medians[cell][ours].wall
            cpu = medians[cell][theirs].client_cpu / medians[cell][ours].client_cpu
            rows.append(
                (
                    f"{titles[workload]}, {scheme}: {theirs} / {ours}",
                    f"{ratio:.2f}x",
                    ratio >= TARGET,
                    f"(client CPU {cpu:.2f}x)",
                )
            )
    width = max(len(row[0]) for row in rows)
    for label, measured, ok, cpu_ratio in rows:
        verdict = "ok" if ok else "MISSED"
        print(f"{label:<{width}}  {measured:<7} target >= {TARGET}x {verdict:<6}  {cpu_ratio}")
    return 0 if all(row[2] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
