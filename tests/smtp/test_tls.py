"""TLS as a mail client and an operator see it: certificates, protocol versions, live reload."""

import contextlib
import hashlib
import ipaddress
import signal
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509

from tests.conftest import Cli, StartServer
from tests.servers import (
    TIMEOUT,
    RawClient,
    ServeProcess,
    clean_environment,
    mailcmd_command,
    running_server,
    serve_process,
    smtp_settings,
)

LISTENERS = ("submission", "submissions")


def tls_session(port: int, context: ssl.SSLContext, *, starttls: bool) -> RawClient:
    """Connect as a mail client and get through TLS to a second EHLO; the caller closes.

    With `starttls` the connection starts in plain text and upgrades; otherwise it is
    encrypted from the first byte. The client checks the name `localhost`.
    """
    client = RawClient(port) if starttls else None
    try:
        if client is not None:
            assert client.reply().startswith("220 ")
            assert client.command("EHLO client.test").startswith("250-")
            assert client.command("STARTTLS").startswith("220 ")
            client.starttls(context)
        else:
            client = RawClient(port, context)
            assert client.reply().startswith("220 ")
        assert client.command("EHLO client.test").startswith("250-")
    except BaseException:
        if client is not None:
            client.close()
        raise
    return client


def presented_certificate(port: int, context: ssl.SSLContext, *, starttls: bool) -> bytes:
    """The certificate (DER) the server shows a client that goes through `tls_session`."""
    client = tls_session(port, context, starttls=starttls)
    try:
        assert isinstance(client.sock, ssl.SSLSocket)
        certificate = client.sock.getpeercert(binary_form=True)
        assert certificate is not None
        return certificate
    finally:
        client.close()


def negotiated_version(port: int, context: ssl.SSLContext, *, starttls: bool) -> str | None:
    """The TLS version a client that goes through `tls_session` ends up speaking."""
    client = tls_session(port, context, starttls=starttls)
    try:
        assert isinstance(client.sock, ssl.SSLSocket)
        return client.sock.version()
    finally:
        client.close()


def sha256_fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint of a DER certificate, the way mail clients display it."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def der_of(leaf: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


def write_certificate(leaf: trustme.LeafCert, cert: Path, key: Path) -> None:
    """Overwrite `cert` and `key` in place with `leaf`, as an operator renewing would."""
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A mail client's TLS context that trusts `ca` and checks host names."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def client_of_versions(
    cafile: Path, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion
) -> ssl.SSLContext:
    """A client context that trusts `cafile` and offers TLS `minimum` to `maximum`."""
    context = ssl.create_default_context(cafile=str(cafile))
    with warnings.catch_warnings():
        # Python deprecates the old versions; offering them is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum
        context.maximum_version = maximum
    # OpenSSL 3 keeps the ciphers of TLS 1.0 and 1.1 behind security level 0.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


# 1. The development certificate


def test_development_certificate_names_localhost_the_ip_and_the_domain(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    settings = smtp_settings(tmp_path / "state", database_url).model_copy(
        update={"domain": "mail.example.test"}
    )

    with running_server(settings) as running:
        cafile = tmp_path / "state" / "tls" / "dev-cert.pem"
        der = presented_certificate(
            running.port("submissions"),
            ssl.create_default_context(cafile=str(cafile)),
            starttls=False,
        )

    names = (
        x509.load_der_x509_certificate(der)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert set(names.get_values_for_type(x509.DNSName)) == {"mail.example.test", "localhost"}
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.parametrize("listener", LISTENERS)
def test_client_trusting_the_development_certificate_verifies_localhost(
    start_server: StartServer, tmp_path: Path, listener: str
) -> None:
    running = start_server()
    cafile = tmp_path / "state" / "tls" / "dev-cert.pem"
    context = ssl.create_default_context(cafile=str(cafile))

    der = presented_certificate(running.port(listener), context, starttls=listener == "submission")

    assert der == ssl.PEM_cert_to_DER_cert(cafile.read_text())


def test_client_connecting_by_ip_verifies_the_development_certificate(
    start_server: StartServer,
) -> None:
    running = start_server()

    # smtplib checks the certificate against the address it connected to, 127.0.0.1.
    assert running.submission().noop()[0] == 250
    assert running.submissions().noop()[0] == 250


def test_development_certificate_stays_the_same_across_restarts(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    cafile = tmp_path / "state" / "tls" / "dev-cert.pem"
    presented: list[bytes] = []
    for _ in range(2):
        with running_server(smtp_settings(tmp_path / "state", database_url)) as running:
            context = ssl.create_default_context(cafile=str(cafile))
            presented.append(
                presented_certificate(running.port("submissions"), context, starttls=False)
            )

    assert presented[0] == presented[1]


# 2. The fingerprint an operator reads at start-up


@contextlib.contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[tuple[ServeProcess, dict[str, int]]]:
    """`mailcmd serve` in `tmp_path` on free ports with `env` settings, and those ports."""
    environment = clean_environment(**env)
    with serve_process([*mailcmd_command(), "serve"], cwd=tmp_path, env=environment) as served:
        yield served, {name: served.port(name) for name in LISTENERS}


def configured(cert: Path, key: Path) -> dict[str, str]:
    """The environment that tells `mailcmd serve` to use `cert` and `key`."""
    return {"MAILCMD_SMTP__TLS_CERT": str(cert), "MAILCMD_SMTP__TLS_KEY": str(key)}


def printed(served: ServeProcess, label: str) -> str:
    """The value of the start-up line `label: value`."""
    prefix = f"{label}: "
    [value] = [line.removeprefix(prefix) for line in served.lines if line.startswith(prefix)]
    return value


def test_printed_fingerprint_is_that_of_the_certificate_on_the_wire(tmp_path: Path) -> None:
    with serving(tmp_path) as (served, ports):
        cafile = Path(printed(served, "certificate"))
        context = ssl.create_default_context(cafile=str(cafile))
        on_the_wire = [
            presented_certificate(ports[name], context, starttls=name == "submission")
            for name in LISTENERS
        ]
        fingerprint = printed(served, "certificate SHA-256 fingerprint")
        assert served.stop() == 0

    assert [sha256_fingerprint(der) for der in on_the_wire] == [fingerprint, fingerprint]


# 3. Protocol versions


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize(
    ("version", "name"), [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")]
)
def test_tls_1_2_and_1_3_clients_are_accepted(
    start_server: StartServer, tmp_path: Path, listener: str, version: ssl.TLSVersion, name: str
) -> None:
    running = start_server()
    context = client_of_versions(tmp_path / "state" / "tls" / "dev-cert.pem", version, version)

    port = running.port(listener)
    assert negotiated_version(port, context, starttls=listener == "submission") == name


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_clients_are_refused(
    start_server: StartServer, tmp_path: Path, listener: str, version: ssl.TLSVersion
) -> None:
    running = start_server()
    cafile = tmp_path / "state" / "tls" / "dev-cert.pem"
    port, starttls = running.port(listener), listener == "submission"

    with pytest.raises(ssl.SSLError) as refused:
        tls_session(port, client_of_versions(cafile, version, version), starttls=starttls)

    if refused.value.reason in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE"):
        pytest.skip(f"this OpenSSL cannot offer {version.name} at all: {refused.value}")
    # asyncio closes the connection without sending OpenSSL's protocol_version alert.
    assert refused.value.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNEXPECTED_EOF_WHILE_READING")
    # The same client, once it may also speak TLS 1.2, is served: the version was the reason.
    willing = client_of_versions(cafile, version, ssl.TLSVersion.TLSv1_2)
    assert negotiated_version(port, willing, starttls=starttls) == "TLSv1.2"


# 4. A configured certificate


@pytest.mark.parametrize("listener", LISTENERS)
def test_configured_certificate_is_served_and_no_development_one_is_made(
    start_server: StartServer, tmp_path: Path, listener: str
) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_certificate(leaf, cert, key)

    running = start_server(tls_cert=cert, tls_key=key)
    der = presented_certificate(
        running.port(listener), trusting(ca), starttls=listener == "submission"
    )

    assert der == der_of(leaf)
    assert not (tmp_path / "state" / "tls").exists()


def test_serve_prints_the_configured_certificate(tmp_path: Path) -> None:
    leaf = trustme.CA().issue_cert("localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_certificate(leaf, cert, key)

    with serving(tmp_path, **configured(cert, key)) as (served, _):
        assert printed(served, "certificate") == str(cert)
        assert printed(served, "certificate SHA-256 fingerprint") == sha256_fingerprint(
            der_of(leaf)
        )
        assert served.stop() == 0

    assert not (tmp_path / ".mailcmd" / "tls").exists()


# 5. SIGHUP: a new certificate without a restart


def wait_for_log(served: ServeProcess, fragment: str) -> str:
    """Return the first line `mailcmd serve` logged holding `fragment`, waiting <= TIMEOUT.

    The log is gathered by a reader thread that signals nothing, hence the looking again.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = [line for line in list(served.errors) if fragment in line]
        if found:
            return found[0]
        if served.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no log line with {fragment!r}: {served.errors}")
        time.sleep(0.01)


def certificate_after_reload(
    ports: dict[str, int], context: ssl.SSLContext, old: bytes
) -> dict[str, bytes]:
    """Connect afresh until the server presents a certificate other than `old` (<= TIMEOUT).

    Return what each listener presents then.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        der = presented_certificate(ports["submissions"], context, starttls=False)
        if der != old or time.monotonic() > deadline:
            break
    return {
        name: presented_certificate(ports[name], context, starttls=name == "submission")
        for name in LISTENERS
    }


@pytest.fixture
def configured_files(tmp_path: Path) -> tuple[Path, Path]:
    """Where `mailcmd serve` is told its certificate and key are."""
    return tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"


def test_sighup_serves_a_renewed_certificate_without_a_restart(
    tmp_path: Path, configured_files: tuple[Path, Path]
) -> None:
    cert, key = configured_files
    cert.parent.mkdir()
    ca = trustme.CA()
    first = ca.issue_cert("localhost", key_type=trustme.KeyType.ECDSA)
    # A renewal may change the key type; the old certificate must not linger beside it.
    renewed = ca.issue_cert("localhost", key_type=trustme.KeyType.RSA)
    write_certificate(first, cert, key)

    with serving(tmp_path, **configured(cert, key)) as (served, ports):
        before = presented_certificate(ports["submissions"], trusting(ca), starttls=False)
        write_certificate(renewed, cert, key)
        served.process.send_signal(signal.SIGHUP)
        after = certificate_after_reload(ports, trusting(ca), old=before)
        assert served.process.poll() is None
        assert served.stop() == 0

    assert before == der_of(first)
    assert after == {name: der_of(renewed) for name in LISTENERS}


@pytest.mark.parametrize("breakage", ["garbage certificate", "garbage key", "key of another"])
def test_sighup_with_broken_files_keeps_serving_the_old_certificate(
    tmp_path: Path, configured_files: tuple[Path, Path], breakage: str
) -> None:
    cert, key = configured_files
    cert.parent.mkdir()
    ca = trustme.CA()
    first, fixed, other = (ca.issue_cert("localhost") for _ in range(3))
    write_certificate(first, cert, key)

    with serving(tmp_path, **configured(cert, key)) as (served, ports):
        # Broken files, or a half-finished renewal: the new certificate without its key.
        if breakage == "garbage certificate":
            cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
        elif breakage == "garbage key":
            cert.write_bytes(fixed.cert_chain_pems[0].bytes())
            key.write_text("not a key\n")
        else:
            cert.write_bytes(fixed.cert_chain_pems[0].bytes())
            key.write_bytes(other.private_key_pem.bytes())
        served.process.send_signal(signal.SIGHUP)
        error = wait_for_log(served, "kept the old certificate")
        still = {
            name: presented_certificate(ports[name], trusting(ca), starttls=name == "submission")
            for name in LISTENERS
        }
        # Once the files are whole again, the next SIGHUP takes them.
        write_certificate(fixed, cert, key)
        served.process.send_signal(signal.SIGHUP)
        repaired = certificate_after_reload(ports, trusting(ca), old=der_of(first))
        assert served.stop() == 0

    assert "ERROR" in error
    assert str(cert) in error
    assert still == {name: der_of(first) for name in LISTENERS}
    assert repaired == {name: der_of(fixed) for name in LISTENERS}


# Settings an operator can get wrong


def run_serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `mailcmd serve` in `tmp_path` with `env` settings, expecting it to exit by itself."""
    environment = clean_environment(**env)
    return subprocess.run(
        [*mailcmd_command(), "serve"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize(("given", "missing"), [("cert", "key"), ("key", "cert")])
def test_serve_with_only_one_of_cert_and_key_exits_2_naming_them(
    tmp_path: Path, given: str, missing: str
) -> None:
    result = run_serve(tmp_path, **{f"MAILCMD_SMTP__TLS_{given.upper()}": str(tmp_path / "x")})

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: ")
    assert f"tls_{given}" in line
    assert f"tls_{missing}" in line
    assert result.stdout == ""


def test_serve_with_only_a_cert_names_the_variable_that_set_it(tmp_path: Path) -> None:
    result = run_serve(tmp_path, MAILCMD_SMTP__TLS_CERT=str(tmp_path / "x"))

    assert result.returncode == 2
    assert result.stderr.startswith("mailcmd: environment variable MAILCMD_SMTP__TLS_CERT: ")


@pytest.mark.parametrize("problem", ["missing", "mismatched"])
def test_serve_with_an_unusable_certificate_exits_2_naming_the_files(
    tmp_path: Path, problem: str
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ca = trustme.CA()
    if problem == "mismatched":
        cert.write_bytes(ca.issue_cert("localhost").cert_chain_pems[0].bytes())
        key.write_bytes(ca.issue_cert("localhost").private_key_pem.bytes())

    result = run_serve(tmp_path, **configured(cert, key))

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"mailcmd: smtp.tls_cert, smtp.tls_key: cannot load {cert} with {key}")
    assert "listening" not in result.stdout


def test_starttls_is_offered_before_the_upgrade_and_not_after(
    start_server: StartServer,
) -> None:
    running = start_server()
    client = running.submission(starttls=False)
    assert client.has_extn("starttls")

    client.starttls(context=running.tls_client_context)
    client.ehlo("client.test")

    assert not client.has_extn("starttls")
