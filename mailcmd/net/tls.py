"""TLS for every listener: the configured certificate or a self-signed development one."""

import datetime
import hashlib
import ipaddress
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailcmd.db.private_files import private_folder, write_private
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError

log = logging.getLogger(__name__)

DEVELOPMENT_CERT_DAYS = 825  # the longest validity macOS and others accept


@dataclass(frozen=True)
class CertificateFiles:
    """Where a PEM certificate chain and its private key live."""

    cert: Path
    key: Path


def development_certificate(state_dir: Path, domain: str) -> CertificateFiles:
    """Return the development certificate under `state_dir`, creating it on first use.

    It is self-signed and names `domain`, `localhost` and `127.0.0.1` (some clients
    ignore IP entries, so the names come first).
    """
    folder = state_dir / "tls"
    files = CertificateFiles(cert=folder / "dev-cert.pem", key=folder / "dev-key.pem")
    if files.cert.exists() and files.key.exists():
        return files
    private_folder(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(domain)]
    if domain != "localhost":
        alt_names.append(x509.DNSName("localhost"))
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DEVELOPMENT_CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key is written first and readable by the owner only.
    write_private(files.key, key_pem)
    files.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    log.info("created a self-signed development certificate for %s at %s", domain, files.cert)
    return files


def fingerprint(cert: Path) -> str:
    """Return the SHA-256 fingerprint of the certificate in `cert`, as mail clients show it."""
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


class CertificateError(MailcmdError):
    """A certificate and key could not be loaded; the message is one line for the operator."""

    exit_code = EXIT_BAD_SETTINGS


class ServerTls:
    """A server-side TLS context (TLS 1.2 or newer) that can take a new certificate live.

    Every listener shares `context`. A reload loads the files into a fresh context and
    switches each later handshake over to it, so a certificate of another key type
    replaces the old one, and broken files leave the one in use untouched. Sessions
    already encrypted keep the certificate they were handshaken with.
    """

    def __init__(self, files: CertificateFiles) -> None:
        """Load `files`; raises `CertificateError` if they are unusable."""
        self.files = files
        self.context, self.fingerprint = _load_context(files)
        self._current = self.context
        self.context.sni_callback = self._use_current

    def reload(self) -> bool:
        """Load the certificate files again; keep the old certificate if they are broken."""
        try:
            self._current, self.fingerprint = _load_context(self.files)
        except CertificateError as error:
            log.error("kept the old certificate: %s", error)
            return False
        log.info("loaded certificate %s (SHA-256 %s)", self.files.cert, self.fingerprint)
        return True

    def _use_current(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> None:
        # OpenSSL asks on every handshake, whether or not the client named a server;
        # OpenSSL cannot empty a context's certificate slots, hence the switch.
        if connection.context is not self._current:
            connection.context = self._current


def _load_context(files: CertificateFiles) -> tuple[ssl.SSLContext, str]:
    """Return a new server context holding the certificate in `files`, and its fingerprint."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        certificate_fingerprint = fingerprint(files.cert)
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        if isinstance(error, OSError) and error.filename is not None:
            # Which of the two files, and why, without Python's errno decoration.
            reason = f"{error.filename}: {error.strerror}"
        else:
            reason = " ".join(str(error).split())
        raise CertificateError(f"cannot load {files.cert} with {files.key}: {reason}") from None
    return context, certificate_fingerprint
