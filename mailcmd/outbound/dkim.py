"""DKIM: signing keys, the DNS records that publish them, signing and verifying messages.

The only module that imports dkimpy. Signing and verifying are CPU work in pure
Python, so code on the event loop runs them in a thread, for example
`await asyncio.to_thread(signer.sign, raw)`.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailcmd.db.private_files import write_private
from mailcmd.errors import EXIT_BAD_SETTINGS, MailcmdError
from mailcmd.settings import DKIM_SELECTOR_PATTERN, Settings

KeyKind = Literal["rsa", "ed25519"]
_PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

DEFAULT_RSA_BITS = 2048
MIN_RSA_BITS = 1024
# Larger keys take minutes to make and give records that many DNS hosts refuse.
MAX_RSA_BITS = 4096

# Signed when the message has them, each as often as it occurs. From is required,
# and is signed once more than it occurs, so that a From added later breaks the
# signature instead of changing the sender a reader sees.
SIGNED_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Reply-To",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
)

# RFC 1035: one character-string in a TXT record holds at most 255 octets.
TXT_STRING_LIMIT = 255

_ALGORITHMS: dict[KeyKind, bytes] = {"rsa": b"rsa-sha256", "ed25519": b"ed25519-sha256"}


class DkimError(MailcmdError):
    """A key cannot be made, read or used; the message is one line for the operator."""

    exit_code = EXIT_BAD_SETTINGS


class DkimKeyExistsError(DkimError):
    """A key with this selector exists already and would be overwritten."""


@dataclass(frozen=True)
class DkimKey:
    """The public half of a signing key, whose DNS record it is, and where its private half is."""

    selector: str
    domain: str
    kind: KeyKind
    public_key: bytes = field(repr=False)
    """DER SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519 (RFC 8463)."""
    private_key_file: Path

    @property
    def record_name(self) -> str:
        """The DNS name receivers look the key up at: `<selector>._domainkey.<domain>`."""
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record_value(self) -> str:
        """The TXT record's value as one string: `v=DKIM1; k=rsa; p=...`."""
        return f"v=DKIM1; k={self.kind}; p={base64.b64encode(self.public_key).decode('ascii')}"

    @property
    def record_file(self) -> Path:
        """Where `generate_key` wrote the record, beside the private key."""
        return self.private_key_file.with_suffix(".txt")


def dns_record(key: DkimKey) -> str:
    """Return the zone-file line that publishes `key`, exactly as it is to be entered.

    A value longer than one TXT string (255 characters, as for RSA keys) is split
    into several quoted strings in parentheses, which resolvers join back into
    `key.record_value`.
    """
    value = key.record_value
    if len(value) <= TXT_STRING_LIMIT:
        return f'{key.record_name}. IN TXT "{value}"'
    tags, _, public = value.rpartition("p=")
    public = "p=" + public
    strings = [tags] + [
        public[start : start + TXT_STRING_LIMIT]
        for start in range(0, len(public), TXT_STRING_LIMIT)
    ]
    quoted = " ".join(f'"{string}"' for string in strings)
    return f"{key.record_name}. IN TXT ( {quoted} )"


def key_path(state_dir: Path, selector: str, domain: str | None = None) -> Path:
    """Return where `generate_key` keeps the private key of `selector`.

    The default domain's (`domain` None) is `state_dir/dkim/<selector>.key`, where
    it was before mailcmd answered for several domains; another domain's is
    `state_dir/dkim/<domain>/<selector>.key`.
    """
    folder = state_dir / "dkim"
    return (folder if domain is None else folder / domain) / f"{selector}.key"


def domain_key_path(settings: Settings, selector: str, domain: str) -> Path:
    """Return where `generate_key` keeps the key of `selector` for `domain`, one of ours."""
    return key_path(settings.state_dir, selector, None if domain == settings.domain else domain)


def generate_key(
    state_dir: Path,
    selector: str,
    kind: KeyKind,
    bits: int = DEFAULT_RSA_BITS,
    *,
    domain: str,
    force: bool = False,
    path: Path | None = None,
) -> DkimKey:
    """Make a key pair for `selector` and `domain`, and return its public half.

    The private key is written as PEM to `path` (default: `key_path(state_dir,
    selector)`, the default domain's place), readable only by its owner, and
    `dns_record` of the key to `<selector>.txt` beside it.
    `bits` is the size of an RSA key (1024 to 4096) and is ignored for Ed25519.
    Raises `DkimKeyExistsError` if the key file exists, unless `force` is true,
    and `DkimError` for a bad selector or size.
    """
    _check_selector(selector)
    if kind == "rsa" and not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise DkimError(
            f"an RSA key has {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, not {bits}"
            f" ({DEFAULT_RSA_BITS} is the usual size)"
        )
    path = path or key_path(state_dir, selector)
    if path.exists() and not force:
        raise DkimKeyExistsError(f"a DKIM key for selector {selector} exists: {path}")
    private: _PrivateKey
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(path, pem)
    key = _public_half(private, selector, path, domain)
    key.record_file.write_text(dns_record(key) + "\n")
    return key


def load_key(
    settings: Settings, selector: str | None = None, domain: str | None = None
) -> DkimKey | None:
    """Return the key of `selector` (default: the `[dkim]` selector) for `domain` (default:
    the default domain), or None if there is none.

    The default domain's configured selector's key is `[dkim] key_file` if that is
    set, else `domain_key_path`'s; any other key's is the latter. Raises `DkimError`
    if a configured `key_file` is missing or any key file is unreadable.
    """
    domain = domain or settings.domain
    found = _find_private(settings, selector, domain)
    return None if found is None else _public_half(*found, domain)


@dataclass(frozen=True)
class DkimSigner:
    """Signs messages for one domain with one key; immutable, so threads may share it."""

    key: DkimKey
    private_material: bytes = field(repr=False)
    """The private key as dkimpy takes it: PKCS#1 PEM for RSA, the base64 seed for Ed25519."""

    def sign(self, raw: bytes) -> bytes:
        """Return `raw` with a `DKIM-Signature:` header field prepended.

        The signature is relaxed/relaxed, `d=` the key's domain, over the
        `SIGNED_HEADERS` the message has and the whole body; RSA keys sign
        `rsa-sha256` and Ed25519 keys `ed25519-sha256`. The new field's lines end
        as the message's first line does (CRLF, as `email.policy.SMTP` writes).
        This is CPU work: callers on the event loop run it in a thread. Raises
        `DkimError` for a message without a From field or one dkimpy cannot parse.
        """
        first_line = raw.split(b"\n", 1)[0]
        linesep = b"\r\n" if first_line.endswith(b"\r") else b"\n"
        try:
            message = dkim.DKIM(
                raw, signature_algorithm=_ALGORITHMS[self.key.kind], linesep=linesep
            )
            present = [name.lower() for name, _value in message.headers]
            if b"from" not in present:
                raise DkimError("cannot sign a message without a From header field")
            names: list[bytes] = []
            for name in SIGNED_HEADERS:
                lowered = name.lower().encode("ascii")
                names += [lowered] * present.count(lowered)
            names.append(b"from")
            header: bytes = message.sign(
                self.key.selector.encode("ascii"),
                self.key.domain.encode("ascii"),
                self.private_material,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=names,
            )
        except dkim.DKIMException as error:
            raise DkimError(f"cannot sign the message: {error}") from error
        return header + raw


def load_signer(settings: Settings, domain: str | None = None) -> DkimSigner | None:
    """Return the signer for `domain`'s configured key (default: the default domain's),
    or None if no key is configured or made for it.

    Raises `DkimError` if a configured `key_file` is missing or unreadable: mail that
    the operator meant to sign is never sent unsigned by mistake.
    """
    domain = domain or settings.domain
    found = _find_private(settings, None, domain)
    if found is None:
        return None
    private, selector, path = found
    if isinstance(private, rsa.RSAPrivateKey):
        # dkimpy reads PKCS#1 PEM with LF line ends, whatever the file on disk holds.
        material = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    else:
        # dkimpy (through PyNaCl) takes the 32-byte Ed25519 seed in base64.
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        material = base64.b64encode(seed)
    return DkimSigner(_public_half(private, selector, path, domain), material)


def verify(raw: bytes | bytearray, dns_txt: Callable[[bytes], bytes | None]) -> bool:
    """Return whether the first (topmost) DKIM signature of `raw` is valid.

    `dns_txt(name)` returns the TXT record published at `name` (such as
    `b"mailcmd._domainkey.app.example"`, without a final dot), its strings joined,
    or None if there is none. A message without a signature, a missing or bad key,
    and any change after signing all give False. CPU work, like `DkimSigner.sign`.
    """

    def lookup(name: bytes, timeout: float = 5.0) -> bytes | None:
        return dns_txt(name.rstrip(b"."))

    try:
        return bool(dkim.verify(raw, dnsfunc=lookup))
    except dkim.DKIMException:
        return False


def _find_private(
    settings: Settings, selector: str | None, domain: str
) -> tuple[_PrivateKey, str, Path] | None:
    chosen = selector or settings.dkim.selector
    _check_selector(chosen)
    # `[dkim] key_file` names one file: the default domain's key, as it did before.
    configured = (
        settings.dkim.key_file
        if chosen == settings.dkim.selector and domain == settings.domain
        else None
    )
    path = configured or domain_key_path(settings, chosen, domain)
    if configured is None and not path.exists():
        return None
    return _read_private(path), chosen, path


def _check_selector(selector: str) -> None:
    if not DKIM_SELECTOR_PATTERN.fullmatch(selector):
        raise DkimError(
            f"{selector!r} is not a DKIM selector: letters, digits and hyphens,"
            " with dots between labels"
        )


def _read_private(path: Path) -> _PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DkimError(f"cannot read the DKIM key {path}: {error.strerror or error}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise DkimError(
            f"{path}: the DKIM key is encrypted; mailcmd needs it unencrypted"
        ) from None
    except ValueError:
        raise DkimError(f"{path}: not a PEM private key") from None
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < MIN_RSA_BITS:
            raise DkimError(f"{path}: an RSA key of {private.key_size} bits is too small")
        return private
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return private
    raise DkimError(f"{path}: DKIM keys are RSA or Ed25519, not {type(private).__name__}")


def _public_half(private: _PrivateKey, selector: str, path: Path, domain: str) -> DkimKey:
    try:
        # The DNS and the d= tag know only ASCII names.
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise DkimError(f"cannot sign for {domain!r}: not a domain name") from None
    if isinstance(private, rsa.RSAPrivateKey):
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return DkimKey(selector, domain, "rsa", public, path)
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return DkimKey(selector, domain, "ed25519", raw, path)
