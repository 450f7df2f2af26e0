"""DKIM: `mailcmd dkim keygen` and `show`, and signatures that independent verifiers accept."""

import base64
import email.policy
import re
import shutil
import stat
import subprocess
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailcmd.outbound import dkim
from mailcmd.settings import Settings
from tests.conftest import Cli

DOMAIN = "app.localhost"
KINDS: list[dkim.KeyKind] = ["rsa", "ed25519"]
# The headers the issue names, and the MIME ones that say how to read the body.
SIGNED = {"from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references"}
SIGNED |= {"reply-to", "auto-submitted", "mime-version", "content-type"}


# --- the command line -------------------------------------------------------------


def state_dir(cli: Cli) -> Path:
    return Path(cli.env["MAILCMD_STATE_DIR"])


def record_line(output: str) -> str:
    """The one zone-file line in a command's output."""
    [line] = [line for line in output.splitlines() if " IN TXT " in line]
    return line


def parse_record(line: str) -> tuple[str, str]:
    """Read a zone-file TXT line the way a DNS server does: the name and the joined strings."""
    name, separator, data = line.partition(". IN TXT ")
    assert separator
    strings = re.findall(r'"([^"]*)"', data)
    assert strings
    assert all(len(string) <= dkim.TXT_STRING_LIMIT for string in strings)
    return name, "".join(strings)


def record_tags(value: str) -> dict[str, str]:
    pairs = (part.strip().split("=", 1) for part in value.split(";") if part.strip())
    return {tag: data for tag, data in pairs}


def test_keygen_writes_an_owner_only_key_and_prints_a_record_that_parses(
    empty_cli: Cli,
) -> None:
    result = empty_cli("dkim", "keygen")

    assert result.exit_code == 0, result.stderr
    key_file = state_dir(empty_cli) / "dkim" / "mailcmd.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in result.stdout
    name, value = parse_record(record_line(result.stdout))
    assert name == f"mailcmd._domainkey.{DOMAIN}"
    tags = record_tags(value)
    assert (tags["v"], tags["k"]) == ("DKIM1", "rsa")
    published = serialization.load_der_public_key(base64.b64decode(tags["p"]))
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(published, rsa.RSAPublicKey)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert published.key_size == 2048
    assert published.public_numbers() == private.public_key().public_numbers()
    assert f"value: {value}" in result.stdout
    assert (key_file.with_suffix(".txt")).read_text() == record_line(result.stdout) + "\n"


def test_keygen_ed25519_publishes_the_raw_public_key(empty_cli: Cli) -> None:
    result = empty_cli("dkim", "keygen", "--ed25519")

    assert result.exit_code == 0, result.stderr
    line = record_line(result.stdout)
    assert "(" not in line  # short enough for one TXT string
    tags = record_tags(parse_record(line)[1])
    assert tags["k"] == "ed25519"
    key_file = state_dir(empty_cli) / "dkim" / "mailcmd.key"
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert base64.b64decode(tags["p"]) == private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


@pytest.mark.parametrize("options", [(), ("--ed25519",), ("--bits", "4096")])
def test_show_prints_the_record_keygen_printed(empty_cli: Cli, options: tuple[str, ...]) -> None:
    made = empty_cli("dkim", "keygen", *options)
    assert made.exit_code == 0, made.stderr

    shown = empty_cli("dkim", "show")

    assert shown.exit_code == 0, shown.stderr
    assert record_line(shown.stdout) == record_line(made.stdout)


def test_show_without_a_key_is_one_line_and_exit_1(empty_cli: Cli) -> None:
    result = empty_cli("dkim", "show")

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mailcmd: no DKIM key for selector mailcmd in ")
    assert "mailcmd dkim keygen" in line
    assert result.stdout == ""


def test_second_keygen_refuses_and_keeps_the_key_until_forced(empty_cli: Cli) -> None:
    first = empty_cli("dkim", "keygen")
    key_file = state_dir(empty_cli) / "dkim" / "mailcmd.key"
    original = key_file.read_bytes()

    again = empty_cli("dkim", "keygen")

    assert again.exit_code == 1
    [line] = again.stderr.splitlines()
    assert line.startswith("mailcmd: a DKIM key for selector mailcmd exists: ")
    assert "--force" in line
    assert key_file.read_bytes() == original

    forced = empty_cli("dkim", "keygen", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert key_file.read_bytes() != original
    assert record_line(forced.stdout) != record_line(first.stdout)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--bits", "512"), "mailcmd: an RSA key has 1024 to 4096 bits, not 512"),
        (("--bits", "8192"), "mailcmd: an RSA key has 1024 to 4096 bits, not 8192"),
        (("--ed25519", "--bits", "2048"), "mailcmd: --bits sizes RSA keys"),
        (("--selector", "../etc"), "mailcmd: '../etc' is not a DKIM selector"),
        (("--selector", "-x"), "mailcmd: '-x' is not a DKIM selector"),
    ],
)
def test_keygen_refuses_bad_sizes_and_selectors_in_one_line(
    empty_cli: Cli, options: tuple[str, ...], message: str
) -> None:
    result = empty_cli("dkim", "keygen", *options)

    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(message)
    assert not (state_dir(empty_cli) / "dkim").exists()


def test_keygen_for_another_selector_says_how_to_sign_with_it(empty_cli: Cli) -> None:
    result = empty_cli("dkim", "keygen", "--selector", "2026-05", "--bits", "1024")

    assert result.exit_code == 0, result.stderr
    assert parse_record(record_line(result.stdout))[0] == f"2026-05._domainkey.{DOMAIN}"
    assert 'set `selector = "2026-05"` in [dkim]' in result.stdout
    assert empty_cli("dkim", "show").exit_code == 1
    assert empty_cli("dkim", "show", "--selector", "2026-05").exit_code == 0


def test_record_names_the_configured_domain(empty_cli: Cli) -> None:
    cli = Cli(env={**empty_cli.env, "MAILCMD_DOMAIN": "mail.example.org"})

    result = cli("dkim", "keygen", "--ed25519")

    assert result.exit_code == 0, result.stderr
    assert record_line(result.stdout).startswith("mailcmd._domainkey.mail.example.org. IN TXT ")


def test_bad_selector_setting_names_the_variable_with_exit_2(empty_cli: Cli) -> None:
    cli = Cli(env={**empty_cli.env, "MAILCMD_DKIM__SELECTOR": "a/b"})

    result = cli("dkim", "show")

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "mailcmd: environment variable MAILCMD_DKIM__SELECTOR: dkim.selector: Value error, not a"
    )


# --- signing ----------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(domain=DOMAIN, state_dir=tmp_path / "state")


@pytest.fixture(params=KINDS)
def signer(request: pytest.FixtureRequest, settings: Settings) -> dkim.DkimSigner:
    """A signer for the settings' domain with a freshly made RSA or Ed25519 key."""
    dkim.generate_key(settings.state_dir, "mailcmd", request.param, domain=DOMAIN)
    made = dkim.load_signer(settings)
    assert made is not None
    return made


def reply(**changes: str | None) -> bytes:
    """A reply as mailcmd sends one, with every header that matters for DKIM."""
    message = EmailMessage()
    fields = {
        "From": f"tasks@{DOMAIN}",
        "To": "Alice Example <alice@example.org>",
        "Cc": "bob@example.org",
        "Subject": "Re: add Buy milk",
        "Date": "Fri, 01 May 2026 09:30:00 +0000",
        "Message-ID": f"<reply-1@{DOMAIN}>",
        "In-Reply-To": "<command-1@example.org>",
        "References": "<start@example.org> <command-1@example.org>",
        "Reply-To": f"tasks+42@{DOMAIN}",
        "Auto-Submitted": "auto-replied",
        "X-Mailer": "mailcmd",
    }
    fields.update(changes)
    for name, value in fields.items():
        if value is not None:
            message[name] = value
    message.set_content("Added task 42: Buy milk — due Friday.\n\n-- \nmailcmd\n")
    return message.as_bytes(policy=email.policy.SMTP)


def signature_tags(signed: bytes) -> dict[str, str]:
    header, _, _ = signed.partition(b"\r\n\r\n")
    match = re.match(rb"DKIM-Signature: (.*?)\r\n(?=\S)", header, re.DOTALL)
    assert match is not None
    unfolded = re.sub(r"\s+", "", match.group(1).decode("ascii"))
    return record_tags(unfolded)


def published(key: dkim.DkimKey) -> Callable[[bytes], bytes | None]:
    """A DNS that holds only the record `mailcmd dkim keygen` told the operator to publish."""
    name, value = parse_record(dkim.dns_record(key))

    def lookup(query: bytes) -> bytes | None:
        return value.encode("ascii") if query.decode("ascii").lower() == name else None

    return lookup


def tampered(signed: bytes, part: str) -> bytes:
    """`signed` with the body's or the Subject's milk turned into beer."""
    header, _, body = signed.partition(b"\r\n\r\n")
    if part == "body":
        body = body.replace(b"Buy milk", b"Buy beer")
    else:
        header = header.replace(b"Subject: Re: add Buy milk", b"Subject: Re: add Buy beer")
    changed = header + b"\r\n\r\n" + body
    assert changed != signed
    return changed


def test_signature_is_relaxed_and_covers_the_headers_that_matter(
    signer: dkim.DkimSigner,
) -> None:
    signed = signer.sign(reply())

    tags = signature_tags(signed)
    algorithm = "rsa-sha256" if signer.key.kind == "rsa" else "ed25519-sha256"
    assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
        algorithm,
        "relaxed/relaxed",
        DOMAIN,
        "mailcmd",
    )
    names = tags["h"].lower().split(":")
    assert set(names) == SIGNED
    assert names.count("from") == 2  # a From added later breaks the signature


def test_signing_prepends_one_crlf_header_and_keeps_the_message(
    signer: dkim.DkimSigner,
) -> None:
    raw = reply()

    signed = signer.sign(raw)

    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(raw)
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert signed.count(b"DKIM-Signature:") == 1


def test_headers_the_message_lacks_are_not_signed(signer: dkim.DkimSigner) -> None:
    signed = signer.sign(reply(Cc=None, **{"In-Reply-To": None, "References": None}))

    names = set(signature_tags(signed)["h"].lower().split(":"))
    assert names == SIGNED - {"cc", "in-reply-to", "references"}


def test_signature_verifies_with_the_published_record(signer: dkim.DkimSigner) -> None:
    signed = signer.sign(reply())

    assert dkim.verify(signed, published(signer.key))


@pytest.mark.parametrize("part", ["body", "subject"])
def test_change_after_signing_fails_verification(signer: dkim.DkimSigner, part: str) -> None:
    signed = signer.sign(reply())

    assert not dkim.verify(tampered(signed, part), published(signer.key))


def test_verification_without_the_record_or_signature_fails(signer: dkim.DkimSigner) -> None:
    signed = signer.sign(reply())

    assert not dkim.verify(signed, lambda name: None)
    assert not dkim.verify(reply(), published(signer.key))


def test_message_with_lf_line_ends_gets_an_lf_header(signer: dkim.DkimSigner) -> None:
    raw = reply().replace(b"\r\n", b"\n")

    signed = signer.sign(raw)

    assert b"\r" not in signed
    assert dkim.verify(signed, published(signer.key))


def test_message_without_from_is_refused(signer: dkim.DkimSigner) -> None:
    with pytest.raises(dkim.DkimError, match="without a From header field"):
        signer.sign(reply(From=None))


def test_no_key_means_no_signer(settings: Settings) -> None:
    assert dkim.load_signer(settings) is None
    assert dkim.load_key(settings) is None


def test_configured_key_file_is_used_and_must_exist(settings: Settings, tmp_path: Path) -> None:
    made = dkim.generate_key(tmp_path / "elsewhere", "mailcmd", "ed25519", domain=DOMAIN)
    configured = settings.model_copy(
        update={"dkim": settings.dkim.model_copy(update={"key_file": made.private_key_file})}
    )

    signer = dkim.load_signer(configured)

    assert signer is not None
    assert signer.key == made
    made.private_key_file.unlink()
    with pytest.raises(dkim.DkimError, match="cannot read the DKIM key"):
        dkim.load_signer(configured)


# --- independent verifiers --------------------------------------------------------


def opendkim_report(message: bytes, key: dkim.DkimKey, tmp_path: Path) -> str:
    """What OpenDKIM's `opendkim -t` says of `message`, with the published record as its DNS.

    `opendkim-testmsg` can verify only against the live DNS; the filter's test mode
    reads keys from a `TestPublicKeys` file instead, so nothing leaves the machine.
    """
    program = shutil.which("opendkim") or shutil.which("opendkim", path="/usr/sbin")
    if program is None:
        pytest.skip(
            "OpenDKIM is not installed: `apt-get install opendkim` (Debian package"
            " opendkim) provides `opendkim -t`, the independent verifier"
        )
    name, value = parse_record(dkim.dns_record(key))
    keys = tmp_path / "opendkim-keys"
    keys.write_text(f"{name} {value}\n")
    config = tmp_path / "opendkim.conf"
    config.write_text(f"Mode v\nSyslog no\nTestPublicKeys {keys}\nTemporaryDirectory {tmp_path}\n")
    result = subprocess.run(
        [program, "-x", str(config), "-t", "-"],
        input=message,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return (result.stdout + result.stderr).decode("utf-8", "replace")


def test_opendkim_accepts_the_signature(signer: dkim.DkimSigner, tmp_path: Path) -> None:
    report = opendkim_report(signer.sign(reply()), signer.key, tmp_path)

    assert re.search(
        rf"verification \(s=mailcmd, d={re.escape(DOMAIN)}, \d+-bit key\) succeeded", report
    ), report


@pytest.mark.parametrize("part", ["body", "subject"])
def test_opendkim_rejects_a_changed_message(
    signer: dkim.DkimSigner, tmp_path: Path, part: str
) -> None:
    report = opendkim_report(tampered(signer.sign(reply()), part), signer.key, tmp_path)

    assert "failed: signature verification failed" in report, report
    assert "succeeded" not in report


# Mail::DKIM asks Mail::DKIM::DNS::query for the key; this answers from the command
# line instead, with the value split into TXT strings as a DNS server holds it.
MAIL_DKIM_VERIFIER = r"""
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;
my ($name, $value) = @ARGV;
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        return () unless $type eq 'TXT' && lc $domain eq lc $name;
        return Net::DNS::RR->new(
            name => $name, type => 'TXT', txtdata => [ $value =~ /(.{1,255})/gs ]);
    };
}
my $verifier = Mail::DKIM::Verifier->new;
binmode STDIN;
while (my $line = <STDIN>) {
    $line =~ s/\015?\012\z//;
    $verifier->PRINT("$line\015\012");
}
$verifier->CLOSE;
print $verifier->result_detail, "\n";
"""


def perl_has(perl: str, module: str) -> bool:
    found = subprocess.run([perl, f"-M{module}", "-e1"], capture_output=True, check=False)
    return found.returncode == 0


def mail_dkim_result(message: bytes, key: dkim.DkimKey) -> str:
    """What Perl's Mail::DKIM says of `message`, with the published record as its DNS."""
    perl = shutil.which("perl")
    if perl is None or not perl_has(perl, "Mail::DKIM::Verifier"):
        pytest.skip("Mail::DKIM is not installed: `apt-get install libmail-dkim-perl`")
    if key.kind == "ed25519" and not perl_has(perl, "Mail::DKIM::Algorithm::ed25519_sha256"):
        pytest.skip(
            "this Mail::DKIM has no ed25519-sha256 (Debian 12's libmail-dkim-perl"
            " 1.20230212 has none); OpenDKIM checks the Ed25519 signatures"
        )
    name, value = parse_record(dkim.dns_record(key))
    result = subprocess.run(
        [perl, "-e", MAIL_DKIM_VERIFIER, name, value],
        input=message,
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout.decode("utf-8", "replace").strip()


def test_mail_dkim_accepts_the_signature(signer: dkim.DkimSigner) -> None:
    assert mail_dkim_result(signer.sign(reply()), signer.key) == "pass"


@pytest.mark.parametrize("part", ["body", "subject"])
def test_mail_dkim_rejects_a_changed_message(signer: dkim.DkimSigner, part: str) -> None:
    result = mail_dkim_result(tampered(signer.sign(reply()), part), signer.key)

    assert result.startswith("fail"), result
