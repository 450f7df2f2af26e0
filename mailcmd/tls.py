"""TLS for every listener: the configured certificate or a self-signed development one."""

import datetime
import hashlib
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
    folder.mkdir(parents=True, exist_ok=True)
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
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)
    files.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    log.info("created a self-signed development certificate for %s at %s", domain, files.cert)
    return files


def fingerprint(cert: Path) -> str:
    """Return the SHA-256 fingerprint of the certificate in `cert`, as mail clients show it."""
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


class ServerTls:
    """A server-side TLS context (TLS 1.2 or newer) that can take a new certificate live.

    Every listener shares the one context, so a reload reaches all of them; sessions
    already encrypted keep the certificate they were handshaken with.
    """

    def __init__(self, files: CertificateFiles) -> None:
        """Load `files`; raises `OSError` or `ssl.SSLError` if they are unusable."""
        self.files = files
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.options |= ssl.OP_NO_COMPRESSION
        self.context.load_cert_chain(files.cert, files.key)

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint of the certificate in use."""
        return fingerprint(self.files.cert)

    def reload(self) -> bool:
        """Load the certificate files again; keep the old certificate if they are broken."""
        try:
            self.context.load_cert_chain(self.files.cert, self.files.key)
        except (OSError, ssl.SSLError) as error:
            log.error("kept the old certificate: cannot load %s: %s", self.files.cert, error)
            return False
        log.info("loaded certificate %s (SHA-256 %s)", self.files.cert, self.fingerprint)
        return True
