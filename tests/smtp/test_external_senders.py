"""Commands from a person's ordinary mailbox: confirmed addresses, judged by DKIM, SPF and DMARC.

Everything runs for real: mail arrives on the MX port, mailcmd looks DKIM keys and
SPF records up over DNS in a stub server on loopback (the `dns_resolver` setting),
and replies to other domains leave through a relay sink.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.identity.verified_senders import add_external_address, confirm_external_address
from mailcmd.outbound.dkim import DkimSigner
from mailcmd.smtp.replies import SmtpReplies
from mailcmd.testing import DOMAIN, MailTestClient
from tests.conftest import ALICE, PASSWORD, Cli
from tests.dns_stub import Records, dns_stub
from tests.servers import Sink, wait_until
from tests.smtp.test_authenticity import make_signer

EXTERNAL = "alice@example.org"
SPF_LOOPBACK = {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}
SPF_ELSEWHERE = {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]}
DMARC_REJECT = {"TXT": ["v=DMARC1; p=reject"]}


@pytest.fixture(scope="module")
def example_signer(tmp_path_factory: pytest.TempPathFactory) -> DkimSigner:
    return make_signer(tmp_path_factory.mktemp("example"), "example.org")


@pytest.fixture(scope="module")
def impostor_signer(tmp_path_factory: pytest.TempPathFactory) -> DkimSigner:
    """Signs as example.org with a key example.org never published."""
    return make_signer(tmp_path_factory.mktemp("impostor"), "example.org")


@pytest.fixture(scope="module")
def other_signer(tmp_path_factory: pytest.TempPathFactory) -> DkimSigner:
    return make_signer(tmp_path_factory.mktemp("other"), "other.org")


def key_of(signer: DkimSigner) -> Records:
    return {signer.key.record_name: {"TXT": [signer.key.record_value]}}


@contextmanager
def running(
    tmp_path: Path, database_url: str, records: Records, relay_port: int
) -> Iterator[MailTestClient]:
    """The bundled app with alice, judging MX mail against `records` served over DNS."""
    with (
        dns_stub(records) as stub,
        MailTestClient(
            bundled_path("commands"),
            tmp_path / "state",
            database_url=database_url,
            settings={
                "dns_resolver": stub.address,
                "relay": {"host": "127.0.0.1", "port": relay_port, "starttls": "off"},
                "worker": {"poll_seconds": 0.05},
            },
        ) as mail,
    ):
        mail.add_account(ALICE, password=PASSWORD)
        yield mail


def command(subject: str, sender: str = EXTERNAL, to: str = f"tasks@{DOMAIN}") -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    mail["Message-ID"] = make_msgid(domain="example.org")
    mail.set_content("Oat milk, please.\n")
    return mail.as_bytes(policy=policy.SMTP)


def confirm(mail: MailTestClient, address: str = EXTERNAL) -> None:
    """Arrange what the confirmation round trip (tested below) leaves behind."""
    with mail.database.writing() as session:
        pending = add_external_address(session, ALICE, address, (DOMAIN,))
        assert confirm_external_address(session, address, pending.code) is not None
        session.commit()


def test_confirmed_address_with_a_valid_signature_runs_as_the_account(
    tmp_path: Path,
    database_url: str,
    sink: tuple[Sink, int],
    cli: Cli,
    example_signer: DkimSigner,
) -> None:
    records = {**key_of(example_signer), "_dmarc.example.org": DMARC_REJECT}
    with running(tmp_path, database_url, records, sink[1]) as mail:
        confirm(mail)
        exchange = mail.send_raw(
            f"tasks@{DOMAIN}", example_signer.sign(command("add Buy milk")), sender=EXTERNAL
        )
        listing = mail.send_raw(
            f"tasks@{DOMAIN}", example_signer.sign(command("list")), sender=EXTERNAL
        )
        shown = json.loads(cli("queue", "show", str(exchange.queue_id), "--json").stdout)

    assert exchange.reply["Subject"] == "Task 1 added: Buy milk"
    assert exchange.reply["To"] == EXTERNAL
    assert shown["verified_from"] == EXTERNAL
    assert "dkim=pass header.d=example.org" in shown["authentication_results"]
    assert "dmarc=pass header.from=example.org" in shown["authentication_results"]
    assert "Buy milk" in listing.reply_text


def test_spf_pass_aligned_with_from_runs_as_the_account(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int]
) -> None:
    with running(tmp_path, database_url, {"example.org": SPF_LOOPBACK}, sink[1]) as mail:
        confirm(mail)
        exchange = mail.send_raw(f"tasks@{DOMAIN}", command("add Buy milk"), sender=EXTERNAL)

    assert exchange.reply["Subject"] == "Task 1 added: Buy milk"


def tampered(signer: DkimSigner) -> bytes:
    return signer.sign(command("add Buy milk")).replace(b"Oat milk", b"Goat milk")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("tampered body", "dkim=fail"),
        ("wrong key", "dkim=fail"),
        ("missing key record", "dkim=fail"),
        ("spf passes for another domain", "spf=pass"),
        ("signed by another domain", "dmarc=fail"),
    ],
)
def test_unverifiable_mail_acts_for_no_account_and_says_why(
    tmp_path: Path,
    database_url: str,
    sink: tuple[Sink, int],
    example_signer: DkimSigner,
    impostor_signer: DkimSigner,
    other_signer: DkimSigner,
    case: str,
    expected: str,
) -> None:
    dmarc = {"_dmarc.example.org": DMARC_REJECT}
    arranged: dict[str, tuple[Records, bytes]] = {
        "tampered body": ({**key_of(example_signer), **dmarc}, tampered(example_signer)),
        "wrong key": (
            {**key_of(example_signer), **dmarc},
            impostor_signer.sign(command("add Buy milk")),
        ),
        "missing key record": (dmarc, example_signer.sign(command("add Buy milk"))),
        "spf passes for another domain": (
            {"example.org": SPF_ELSEWHERE, **dmarc},
            command("add Buy milk"),
        ),
        "signed by another domain": (
            {**key_of(other_signer), **dmarc},
            other_signer.sign(command("add Buy milk")),
        ),
    }
    records, raw = arranged[case]
    # The envelope sender's own domain vouches for it, so that it may be answered.
    records = {**records, "example.net": SPF_LOOPBACK}
    with running(tmp_path, database_url, records, sink[1]) as mail:
        confirm(mail)
        exchange = mail.send_raw(f"tasks@{DOMAIN}", raw, sender="bounces@example.net")

    text = " ".join(exchange.reply_text.split())
    assert exchange.reply["Subject"].startswith("Not done: add needs an account")
    assert f"could not be verified as coming from {EXTERNAL}" in text
    assert expected in text


def test_verified_but_unconfirmed_address_is_told_so(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int], example_signer: DkimSigner
) -> None:
    with running(tmp_path, database_url, key_of(example_signer), sink[1]) as mail:
        exchange = mail.send_raw(
            f"tasks@{DOMAIN}", example_signer.sign(command("add Buy milk")), sender=EXTERNAL
        )

    assert exchange.reply["Subject"].startswith("Not done: add needs an account")
    assert f"{EXTERNAL} is not a confirmed address of any account here" in " ".join(
        exchange.reply_text.split()
    )


def test_forged_from_of_a_local_account_does_not_act_as_it(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int]
) -> None:
    # SPF of the forger's own domain passes; the From claims alice's local address,
    # which only alice, logged in, may write as: the mail is refused, not answered.
    with running(tmp_path, database_url, {"forger.example": SPF_LOOPBACK}, sink[1]) as mail:
        exchange = mail.send_raw(
            f"tasks@{DOMAIN}",
            command("add Pay the forger", sender=ALICE),
            sender="x@forger.example",
        )

    assert f"{exchange.code} {exchange.text}" == SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(
        domain=DOMAIN
    )
    assert exchange.queue_id is None


def test_address_is_confirmed_by_answering_the_mailed_code(
    tmp_path: Path,
    database_url: str,
    sink: tuple[Sink, int],
    cli: Cli,
    example_signer: DkimSigner,
) -> None:
    relay, port = sink
    with running(tmp_path, database_url, key_of(example_signer), port) as mail:
        added = cli("users", "add-address", ALICE, EXTERNAL)
        confirmation = delivered_to(relay, EXTERNAL)
        reply_to = str(confirmation["Reply-To"])
        code = reply_to.partition("+")[2].partition("@")[0]
        answer = EmailMessage()
        answer["From"] = EXTERNAL
        answer["To"] = reply_to
        answer["Subject"] = f"Re: {confirmation['Subject']}"
        answer["Message-ID"] = make_msgid(domain="example.org")
        answer["In-Reply-To"] = str(confirmation["Message-ID"])
        answer.set_content(f"Yes, that is me.\n\n> {code}\n")
        wrong = mail.send_raw(
            f"confirm@{DOMAIN}",
            example_signer.sign(command("Re: confirm abcdefghjk", to=f"confirm@{DOMAIN}")),
            sender=EXTERNAL,
        )
        unconfirmed = json.loads(cli("users", "show", ALICE, "--json").stdout)
        confirmed = mail.send_raw(
            reply_to, example_signer.sign(answer.as_bytes(policy=policy.SMTP)), sender=EXTERNAL
        )
        shown = json.loads(cli("users", "show", ALICE, "--json").stdout)
        task = mail.send_raw(
            f"tasks@{DOMAIN}", example_signer.sign(command("add Buy milk")), sender=EXTERNAL
        )

    assert added.exit_code == 0, added.stderr
    assert f"added {EXTERNAL} to {ALICE}, unconfirmed" in added.stdout
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert reply_to.startswith("confirm+")
    assert reply_to.endswith(f"@{DOMAIN}")
    assert re.fullmatch(r"[a-z2-9]{10}", code)
    assert code in confirmation["Subject"]
    assert code in confirmation.get_body(preferencelist=("plain",)).get_content()
    # (a subject this long is folded onto its own line, hence the strip)
    assert wrong.reply["Subject"].strip().startswith("Not done: no confirmation code")
    assert unconfirmed["external_addresses"] == [{"address": EXTERNAL, "confirmed_at": None}]
    assert confirmed.reply["Subject"] == f"Confirmed: {EXTERNAL}"
    assert shown["external_addresses"][0]["confirmed_at"] is not None
    assert task.reply["Subject"] == "Task 1 added: Buy milk"


@pytest.mark.parametrize(
    ("address", "error"),
    [
        (f"alice2@{DOMAIN}", "is in this server's domain"),
        (ALICE, "is in this server's domain"),
        ("not an address", "not a mail address"),
    ],
)
def test_add_address_refuses_what_cannot_be_an_external_address(
    accounts: Cli, address: str, error: str
) -> None:
    result = accounts("users", "add-address", ALICE, address)

    assert result.exit_code == 1
    assert error in result.stderr


def test_an_address_declared_by_another_account_is_refused(accounts: Cli) -> None:
    assert accounts("users", "add-address", ALICE, EXTERNAL).exit_code == 0

    result = accounts("users", "add-address", "bob@app.localhost", EXTERNAL)

    assert result.exit_code == 1
    assert "declared by another account" in result.stderr


def test_remove_address_forgets_it(accounts: Cli) -> None:
    accounts("users", "add-address", ALICE, EXTERNAL)

    removed = accounts("users", "remove-address", ALICE, EXTERNAL)
    again = accounts("users", "remove-address", ALICE, EXTERNAL)

    assert removed.exit_code == 0
    assert json.loads(accounts("users", "show", ALICE, "--json").stdout)["external_addresses"] == []
    assert again.exit_code == 1
    assert f"has no external address {EXTERNAL}" in again.stderr


def delivered_to(relay: Sink, address: str, nth: int = 0) -> EmailMessage:
    """The `nth` mail (from 0) the relay took for `address`, once it has."""

    def arrived() -> EmailMessage | None:
        contents = [content for _, recipients, content in relay.received if address in recipients]
        if len(contents) <= nth:
            return None
        parsed = message_from_bytes(contents[nth], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    return wait_until(arrived, f"mail {nth} to {address} at the relay")


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


def test_mail_from_a_verified_address_cannot_change_the_password(
    tmp_path: Path, database_url: str, sink: tuple[Sink, int]
) -> None:
    relay, port = sink
    raw = command("passwd", to=f"account@{DOMAIN}")
    with running(tmp_path, database_url, {"example.org": SPF_LOOPBACK}, port) as mail:
        confirm(mail)
        mail.send_raw(
            f"account@{DOMAIN}", command("whoami", to=f"account@{DOMAIN}"), sender=EXTERNAL
        )
        whoami = delivered_to(relay, EXTERNAL)
        mail.send_raw(f"account@{DOMAIN}", raw, sender=EXTERNAL)
        # account@'s mail is read where it arrived: the outbox keeps only its header.
        refused = delivered_to(relay, EXTERNAL, nth=1)
        still = mail.can_log_in(ALICE, PASSWORD)

    assert "from a confirmed address, verified by DKIM or SPF" in text_of(whoami)
    assert "needs a session that logged in with your account's password" in text_of(refused)
    assert still
