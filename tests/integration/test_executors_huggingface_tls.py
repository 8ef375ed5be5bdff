"""The Hugging Face executor over real TLS, against the fake hub served by HTTPS on 127.0.0.1.

The hub is an ``https://`` origin, yet the plain-HTTP tests never
exercise that path. Here a throwaway CA (made with ``cryptography``, a dependency of moto in
the test extra) signs a certificate for 127.0.0.1/localhost, and the fake hub and its CDN
serve it. The executor's connections share one ``ssl.create_default_context()`` per trust
store, which trusts what OpenSSL's ``SSL_CERT_FILE`` names, so a user trusts a private CA
by setting that variable, and the tests do the same with ``monkeypatch``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.fake_hub import (
    CONFIG,
    SECRET,
    SUB_A,
    TRAIN,
    WEIGHTS,
    FakeHub,
    Framing,
    RunningHub,
    Stall,
    assert_file,
    run,
    sha,
    start_hub,
)
from transferqueue.executors import (
    HubCertificateError,
    HubChecksumError,
    HuggingFaceDownload,
    list_hf_files,
)
from transferqueue.executors._hub import http as hub_http
from transferqueue.executors._hub.http import POLL_INTERVAL, tls_context

TOKEN = "hf_TlS-SeCrEt-5678"


# --- a throwaway PKI ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Issuer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class Pki:
    """Two unrelated CAs (as PEM files) and server contexts holding certificates."""

    ca_file: Path  # the CA that signed ``good`` and ``wrong_name``
    other_ca_file: Path  # a CA that signed ``foreign`` and nothing the hub serves by default
    good: ssl.SSLContext  # 127.0.0.1 and localhost, signed by ``ca_file``
    wrong_name: ssl.SSLContext  # only example.invalid, signed by ``ca_file``
    foreign: ssl.SSLContext  # 127.0.0.1 and localhost, signed by ``other_ca_file``


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(
        now + datetime.timedelta(days=1)
    )


def _make_ca(common_name: str) -> _Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Python 3.13's default context verifies strictly (RFC 5280): key identifiers needed.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return _Issuer(key, _validity(builder).sign(key, hashes.SHA256()))


def _server_context(
    folder: Path, label: str, issuer: _Issuer, names: list[x509.GeneralName]
) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(f"fake hub ({label})"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    cert = _validity(builder).sign(issuer.key, hashes.SHA256())
    cert_file = folder / f"{label}.crt"
    key_file = folder / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Made once per module: EC keys are quick, but there is no need to repeat them."""
    folder = tmp_path_factory.mktemp("pki")
    ca, other = _make_ca("transferqueue test CA"), _make_ca("some other CA")
    ca_file, other_ca_file = folder / "ca.pem", folder / "other-ca.pem"
    ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    other_ca_file.write_bytes(other.cert.public_bytes(serialization.Encoding.PEM))
    local: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    return Pki(
        ca_file=ca_file,
        other_ca_file=other_ca_file,
        good=_server_context(folder, "good", ca, local),
        wrong_name=_server_context(folder, "wrong-name", ca, [x509.DNSName("example.invalid")]),
        foreign=_server_context(folder, "foreign", other, local),
    )


# --- helpers -----------------------------------------------------------------------------


def _fake() -> FakeHub:
    return FakeHub(
        repos={
            ("model", "owner/model"): {
                "config.json": CONFIG,
                "weights.bin": WEIGHTS,
                "sub/a.txt": SUB_A,
            },
            ("dataset", "owner/data"): {"train.csv": TRAIN},
            ("model", "owner/private"): {"secret.bin": SECRET},
        },
        private={"owner/private": TOKEN},
        redirected={"weights.bin", "secret.bin"},
    )


@pytest.fixture
def trust(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """Trust the test CA as a user would: ``SSL_CERT_FILE``; no endpoint or token set."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return pki


@pytest.fixture
def https_hub(trust: Pki) -> Iterator[RunningHub]:
    """Hub and CDN both on HTTPS, with certificates the trusted CA signed."""
    yield from start_hub(_fake(), hub_tls=trust.good, cdn_tls=trust.good)


def queue_one(
    executor: HuggingFaceDownload, source: str, destination: Path, retry: tq.RetryPolicy
) -> tq.TransferJob:
    files = [{"source_path": source, "destination_path": str(destination), "size": 0}]
    with tq.TransferQueue(1, retry=retry) as q:
        return q.wait(q.queue_job("huggingface", files, executor), timeout=WAIT)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what it was raised from: a fix may wrap the ssl error, not drop it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _port(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


# --- trusted: downloads, listing, token, resume ------------------------------------------


def test_listing_and_downloads_over_https(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the CA in SSL_CERT_FILE and HF_ENDPOINT=https://127.0.0.1:PORT, a
    paginated listing (its next-page links are https too) and the download of every file,
    one through the https CDN, succeed through a queue, byte for byte."""
    assert https_hub.url.startswith("https://127.0.0.1:")
    assert https_hub.hub.cdn_url.startswith("https://127.0.0.1:")
    https_hub.hub.page_size = 2
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    mappings = list_hf_files("hf://owner/model", tmp_path / "out")
    expected = {"config.json": CONFIG, "sub/a.txt": SUB_A, "weights.bin": WEIGHTS}
    assert [m["source_path"] for m in mappings] == [
        f"hf://owner/model@main/{p}" for p in sorted(expected)
    ]
    assert [m["size"] for m in mappings] == [len(expected[p]) for p in sorted(expected)]
    # 1 folder + 3 files, 2 per page: 2 pages, the second reached by an https Link.
    assert len([r for r in https_hub.hub.seen("hub") if "/api/" in r.path]) == 2
    with tq.TransferQueue(2) as q:
        job = q.wait(q.queue_job("huggingface", mappings, HuggingFaceDownload()), timeout=WAIT)
    assert job.status == "completed", [f.error for f in job.files]
    for path, content in expected.items():
        assert_file(tmp_path / "out" / path, content)
    assert [r.path for r in https_hub.hub.seen("cdn")] == [f"/blobs/{sha(WEIGHTS)}"]
    assert https_hub.hub.tls_failures == []


def test_token_goes_to_the_https_hub_not_to_the_https_cdn(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTPS, HF_TOKEN reaches the hub's origin (the private file and the
    private listing are allowed), and is not sent after the 302 to the CDN, another https
    origin (another port)."""
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert _port(https_hub.hub.cdn_url) != _port(https_hub.url)
    mappings = list_hf_files("hf://owner/private", tmp_path / "listed")
    assert [m["size"] for m in mappings] == [len(SECRET)]
    dest = tmp_path / "secret.bin"
    run(HuggingFaceDownload(chunk_size=8192), "hf://owner/private/secret.bin", dest)
    assert_file(dest, SECRET)
    to_hub = https_hub.hub.seen("hub")
    (to_cdn,) = https_hub.hub.seen("cdn")
    assert [r.path.split("?")[0] for r in to_hub] == [
        "/api/models/owner/private/tree/main",
        "/owner/private/resolve/main/secret.bin",
    ]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in to_hub)
    assert to_cdn.path == f"/blobs/{sha(SECRET)}"
    assert to_cdn.authorization is None


@pytest.mark.parametrize(
    ("source", "server", "content", "cut"),
    [
        ("hf://owner/model/weights.bin", "cdn", WEIGHTS, 100_000),
        ("hf://datasets/owner/data/train.csv", "hub", TRAIN, 5_000),
    ],
    ids=["from-the-cdn", "from-the-hub"],
)
def test_range_resume_over_tls(
    https_hub: RunningHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    server: str,
    content: bytes,
    cut: int,
) -> None:
    """A TLS connection cut after N bytes (no close_notify) is a ConnectionError
    that keeps the part; the next call asks for ``bytes=N-`` over TLS and completes the
    file (for the CDN file, against the hub's sha256 too), alone and through a queue's
    retry."""
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    name = source.rsplit("/", 1)[1]
    https_hub.hub.break_after[name] = cut
    dest = tmp_path / name
    executor = HuggingFaceDownload(chunk_size=4096, timeout=WAIT)
    with pytest.raises(ConnectionError, match=name.replace(".", r"\.")):
        run(executor, source, dest)
    assert not dest.exists()
    assert executor.partial_path(dest, source).read_bytes() == content[:cut]
    progress = run(executor, source, dest)
    assert_file(dest, content)
    assert progress.values[0] == cut
    assert progress.values[-1] == len(content)
    assert [r.range for r in https_hub.hub.seen(server)] == [None, f"bytes={cut}-"]

    # The same through a queue, which retries the broken attempt.
    https_hub.hub.break_after[name] = cut
    again = tmp_path / "again" / name
    job = queue_one(executor, source, again, tq.RetryPolicy(max_attempts=2, initial_delay=0))
    assert job.status == "completed", job.files[0].error
    assert job.files[0].attempts == 2
    assert_file(again, content)
    assert [r.range for r in https_hub.hub.seen(server)][2:] == [None, f"bytes={cut}-"]
    assert list(tmp_path.rglob("*.hfpart")) == []


def test_stalled_tls_server_times_out_and_resumes(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS server that stops sending mid-file cannot hang the download (the
    poll for bytes copes with TLS's own buffering): TimeoutError after ``timeout``, the
    part kept, and the next call resumes it over TLS."""
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    stall = Stall(path="train.csv", after=20_000)
    https_hub.hub.stall = stall
    source, dest = "hf://datasets/owner/data/train.csv", tmp_path / "train.csv"
    executor = HuggingFaceDownload(chunk_size=4096, timeout=0.3)
    with pytest.raises(TimeoutError, match=r"train\.csv"):
        run(executor, source, dest)
    assert stall.reached.is_set()
    assert executor.partial_path(dest, source).read_bytes() == TRAIN[:20_000]
    stall.release.set()
    https_hub.hub.stall = None
    run(executor, source, dest)
    assert_file(dest, TRAIN)
    assert [r.range for r in https_hub.hub.seen("hub")] == [None, "bytes=20000-"]


def test_cancel_while_a_tls_server_says_nothing(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel reaches a download waiting for a TLS server's first byte at
    once, although TLS records that carry no data (TLS 1.3 session tickets) made the socket
    readable: the executor returns long before its 30 s timeout, leaving no file."""
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    stall = Stall(path="train.csv", after=0, before_headers=True)
    https_hub.hub.stall = stall
    returned = threading.Event()
    download = HuggingFaceDownload(timeout=3 * WAIT)

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        try:
            download(file, on_progress)
        finally:
            returned.set()

    dest = tmp_path / "train.csv"
    files = [
        {
            "source_path": "hf://datasets/owner/data/train.csv",
            "destination_path": str(dest),
            "size": 0,
        }
    ]
    with tq.TransferQueue(1) as q:
        job_id = q.queue_job("huggingface", files, executor)
        assert stall.reached.wait(WAIT)
        assert q.cancel_job(job_id)
        assert returned.wait(WAIT / 2), "the cancel waited for the socket's timeout"
        assert q.wait(job_id, timeout=WAIT).status == "cancelled"
    stall.release.set()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("framing", ["length", "close", "http10", "chunked"])
def test_every_framing_over_tls(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, framing: Framing
) -> None:
    """Over TLS too, a file from the hub, one from the CDN and a paginated
    listing arrive whole whether their bodies have a length on a kept-alive connection,
    end with the connection (Connection: close, HTTP/1.0) or are chunked, written in
    pieces with pauses longer than the client's poll interval."""
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    https_hub.hub.framing = framing
    https_hub.hub.pieces = 3
    https_hub.hub.pause = 3 * POLL_INTERVAL
    https_hub.hub.page_size = 2
    mappings = list_hf_files("hf://owner/model", tmp_path / "listed", timeout=WAIT)
    assert [m["size"] for m in mappings] == [len(CONFIG), len(SUB_A), len(WEIGHTS)]
    executor = HuggingFaceDownload(chunk_size=4096, timeout=WAIT)
    for source, content in (
        ("hf://datasets/owner/data/train.csv", TRAIN),
        ("hf://owner/model/weights.bin", WEIGHTS),
    ):
        dest = tmp_path / source.rsplit("/", 1)[1]
        run(executor, source, dest, len(content))  # a body without a length needs the size
        assert_file(dest, content)
    assert https_hub.hub.tls_failures == []


# --- untrusted certificates --------------------------------------------------------------

_CERTIFICATE = r"(?i)certificate"  # in the ssl message, and in any clearer one


@pytest.fixture
def untrusted(
    request: pytest.FixtureRequest, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningHub]:
    """A hub whose certificate (or whose CDN's) the client cannot verify, per the case in
    ``request.param``; HF_TOKEN is set, to prove it never travels."""
    case = request.param
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub_tls, cdn_tls = pki.good, pki.good
    if case == "unknown-ca":  # the client trusts another CA than the one that signed
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca_file))
    elif case == "no-ca-configured":  # the system store: it cannot hold a CA made just now
        monkeypatch.delenv("SSL_CERT_FILE")
    elif case == "wrong-name":
        hub_tls = pki.wrong_name
    else:
        assert case == "cdn-unknown-ca"
        cdn_tls = pki.foreign
    running = RunningHub(_fake(), hub_tls=hub_tls, cdn_tls=cdn_tls)
    try:
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        yield running
    finally:
        running.stop()  # the servers stop and their threads are joined


@pytest.mark.parametrize(
    ("untrusted", "rejected"),
    [
        ("unknown-ca", "hub"),
        ("no-ca-configured", "hub"),
        ("wrong-name", "hub"),
        ("cdn-unknown-ca", "cdn"),
    ],
    indirect=["untrusted"],
)
def test_untrusted_certificate_fails_the_file(
    untrusted: RunningHub, rejected: str, tmp_path: Path
) -> None:
    """A certificate the client cannot verify (unknown CA, no CA configured, a
    name that is not 127.0.0.1, or the CDN's unknown CA) fails the download with the ssl
    verification error (kept at least as the cause), before any HTTP request reaches that
    server, so the token never crosses an unverified connection; no file or part is
    left; the server saw the client abort the handshake."""
    fake = untrusted.hub
    dest = tmp_path / "secret.bin"
    # Any type: a fix may wrap the ssl error in one of the hub's own.
    with pytest.raises(Exception, match=_CERTIFICATE) as caught:
        run(HuggingFaceDownload(timeout=WAIT), "hf://owner/private/secret.bin", dest)
    causes = [type(e) for e in _chain(caught.value)]
    assert ssl.SSLCertVerificationError in causes, repr(caught.value)
    assert fake.tls_failed.wait(WAIT)
    assert {server for server, _ in fake.tls_failures} == {rejected}
    assert fake.seen("cdn") == []
    assert list(tmp_path.iterdir()) == []
    if rejected == "cdn":  # the verified hub had the token, and its 302, first
        assert [r.authorization for r in fake.seen("hub")] == [f"Bearer {TOKEN}"]
    else:  # no HTTP request at all; nor for a listing
        assert fake.seen() == []
        with pytest.raises(Exception, match=_CERTIFICATE) as listed:
            list_hf_files("hf://owner/private", tmp_path / "listed", timeout=WAIT)
        assert ssl.SSLCertVerificationError in [type(e) for e in _chain(listed.value)]
        assert fake.seen() == []


@pytest.mark.parametrize("untrusted", ["unknown-ca", "cdn-unknown-ca"], indirect=True)
def test_untrusted_certificate_is_not_retried(untrusted: RunningHub, tmp_path: Path) -> None:
    """A certificate failure is permanent: the default policy must not
    count it as transient, and a queue retrying transient errors tries the file once."""
    dest = tmp_path / "secret.bin"
    executor = HuggingFaceDownload(timeout=WAIT)
    # Whatever the type, as long as it is permanent.
    with pytest.raises(Exception, match=_CERTIFICATE) as caught:
        run(executor, "hf://owner/private/secret.bin", dest)
    assert isinstance(caught.value, HubCertificateError), repr(caught.value)
    assert not tq.RetryPolicy().is_transient(caught.value), repr(caught.value)
    # The bare ssl error too, whoever raises it: the default policy knows it is permanent.
    assert not tq.RetryPolicy().is_transient(caught.value.__cause__)  # type: ignore[arg-type]
    job = queue_one(
        executor,
        "hf://owner/private/secret.bin",
        dest,
        tq.RetryPolicy(max_attempts=3, initial_delay=0),
    )
    assert job.status == "failed"
    assert job.files[0].attempts == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("untrusted", ["unknown-ca"], indirect=True)
def test_untrusted_certificate_error_names_the_host(untrusted: RunningHub, tmp_path: Path) -> None:
    """The failed file's error (direct and in the queue's record) names the
    host whose certificate could not be verified and says so."""
    dest = tmp_path / "secret.bin"
    executor = HuggingFaceDownload(timeout=WAIT)
    # Any type: the message is what is examined.
    with pytest.raises(Exception, match=_CERTIFICATE) as caught:
        run(executor, "hf://owner/private/secret.bin", dest)
    job = queue_one(executor, "hf://owner/private/secret.bin", dest, tq.NO_RETRY)
    assert job.status == "failed"
    for text in (str(caught.value), job.files[0].error or ""):
        assert "127.0.0.1" in text, text
        assert "certificate" in text.lower(), text
        assert "verif" in text.lower(), text
        assert TOKEN not in text


# --- https hub, plain-http CDN -----------------------------------------------------------


@pytest.fixture
def downgrading_hub(trust: Pki) -> Iterator[RunningHub]:
    """An https hub whose 302s send files to a CDN on plain http."""
    yield from start_hub(_fake(), hub_tls=trust.good, cdn_tls=None)


def test_https_hub_redirecting_to_plain_http_cdn(
    downgrading_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documented behaviour: a redirect from the https hub to an ``http://`` CDN
    is followed (as ``curl -L`` and ``requests`` do); the token goes to the hub only, never
    over the plain connection (another scheme, so another origin); the bytes are checked
    against the sha256 the hub announced over TLS (X-Linked-Etag on the 302), so a CDN
    answer tampered with in transit would fail the file rather than be kept."""
    fake = downgrading_hub.hub
    assert downgrading_hub.url.startswith("https://")
    assert fake.cdn_url.startswith("http://")
    monkeypatch.setenv("HF_ENDPOINT", downgrading_hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    dest = tmp_path / "secret.bin"
    run(HuggingFaceDownload(), "hf://owner/private/secret.bin", dest)
    assert_file(dest, SECRET)
    (to_hub,) = fake.seen("hub")
    (to_cdn,) = fake.seen("cdn")
    assert to_hub.authorization == f"Bearer {TOKEN}"
    assert to_cdn.authorization is None
    assert to_cdn.path == f"/blobs/{sha(SECRET)}"

    # The sha256 from the TLS-protected 302 guards the plain-http bytes: a part spoiled
    # before the resume (as a tampering CDN would spoil it) is caught and discarded.
    fake.break_after["secret.bin"] = 30_000
    source, again = "hf://owner/private/secret.bin", tmp_path / "again.bin"
    executor = HuggingFaceDownload()
    with pytest.raises(ConnectionError):
        run(executor, source, again)
    executor.partial_path(again, source).write_bytes(bytes(30_000))
    with pytest.raises(HubChecksumError):
        run(executor, source, again)
    assert list(tmp_path.iterdir()) == [dest]
    assert all(r.authorization is None for r in fake.seen("cdn"))


def test_one_tls_context_serves_every_connection_of_a_trust_store(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Loading the CAs costs more than a small file's download: the context is made once
    per trust store, and made again when the store changes (another SSL_CERT_FILE, or
    the same file replaced)."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    first = tls_context()
    assert tls_context() is first
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca_file))
    other = tls_context()
    assert other is not first
    assert tls_context() is other
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki.ca_file.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    before = tls_context()
    replaced = tmp_path / "new.pem"
    replaced.write_bytes(pki.other_ca_file.read_bytes())
    os.replace(replaced, bundle)
    assert tls_context() is not before


def test_downloads_over_tls_share_one_context(
    https_hub: RunningHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's files over TLS (hub and CDN, several connections) make one context."""
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    monkeypatch.setattr(hub_http, "_tls_context", None)  # none made before this test
    monkeypatch.setenv("HF_ENDPOINT", https_hub.url)
    files = list_hf_files("hf://owner/model", tmp_path / "out")
    with tq.TransferQueue(2) as queue:
        job = queue.wait(queue.queue_job("huggingface", files, HuggingFaceDownload()), WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert len(files) == 3  # and the listing: 4 or more connections to the hub, 1 the CDN
    assert len(https_hub.hub.seen("cdn")) == 1
    assert len(made) == 1
