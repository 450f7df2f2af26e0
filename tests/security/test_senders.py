"""No one speaks as someone else: the author a message claims is one its sender may claim.

One server for the module, on real sockets: submissions log in over implicit TLS, mail
from other servers arrives on the MX port and is judged against DNS records served by a
stub on loopback. Each test counts what got stored: a forged author stores nothing.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import InboundMessage
from mailcmd.outbound.dkim import DkimSigner
from mailcmd.smtp.replies import SmtpReplies
from mailcmd.testing import DOMAIN, Exchange, MailTestClient, scratch_database_url
from tests.conftest import ALICE, PASSWORD
from tests.dns_stub import dns_stub
from tests.servers import relay_sink
from tests.smtp.test_authenticity import make_signer
from tests.smtp.test_external_senders import DMARC_REJECT, SPF_LOOPBACK, command, confirm, key_of

BOB = f"bob@{DOMAIN}"
TASKS = f"tasks@{DOMAIN}"
# alice's confirmed address at another domain, whose SPF passes for the loopback MX client.
EXTERNAL = "alice@ext.test"
MALLORY = "mallory@ext.test"


@pytest.fixture(scope="module")
def ext_signer(tmp_path_factory: pytest.TempPathFactory) -> DkimSigner:
    return make_signer(tmp_path_factory.mktemp("ext"), "ext.test")


@pytest.fixture(scope="module")
def mail(
    tmp_path_factory: pytest.TempPathFactory, ext_signer: DkimSigner
) -> Iterator[MailTestClient]:
    """The bundled app with alice and bob; ext.test publishes SPF, DKIM and DMARC p=reject."""
    records = {**key_of(ext_signer), "ext.test": SPF_LOOPBACK, "_dmarc.ext.test": DMARC_REJECT}
    state: Path = tmp_path_factory.mktemp("senders")
    with (
        scratch_database_url(state / "state") as database_url,
        dns_stub(records) as stub,
        relay_sink() as (_sink, relay_port),
        MailTestClient(
            bundled_path("commands"),
            state / "state",
            database_url=database_url,
            settings={
                "dns_resolver": stub.address,
                "relay": {"host": "127.0.0.1", "port": relay_port, "starttls": "off"},
                "worker": {"poll_seconds": 0.05},
            },
        ) as client,
    ):
        client.add_account(ALICE, password=PASSWORD)
        client.add_account(BOB, password=PASSWORD)
        confirm(client, EXTERNAL)
        yield client


def stored_count(mail: MailTestClient) -> int:
    with mail.database.sessions() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage)) or 0


def stored(mail: MailTestClient, exchange: Exchange) -> InboundMessage:
    assert exchange.queue_id is not None, exchange.text
    with mail.database.sessions() as session:
        row = session.get(InboundMessage, exchange.queue_id)
        assert row is not None
        session.expunge(row)
        return row


def reply_of(exchange: Exchange) -> str:
    return f"{exchange.code} {exchange.text}"


def message(author_fields: str, to: str = BOB) -> bytes:
    return f"{author_fields}To: {to}\r\nSubject: hello\r\n\r\nHi\r\n".encode()


# --- submission: a logged-in account writes as one of its own addresses ---------------


@pytest.mark.parametrize(
    "author_fields",
    [
        'From: "mailcmd tasks" <tasks@app.localhost>\r\n',
        f"From: {BOB}\r\n",
        f"From: Alice <{ALICE}>, Tasks <{TASKS}>\r\n",
        f"From: {ALICE}\r\nFrom: {TASKS}\r\n",
        f"From: team: {ALICE};\r\n",
        "From: undisclosed:;\r\n",
        f"From: {ALICE} <{TASKS}>\r\n",
        f"From: <{ALICE}> {TASKS}\r\n",
        "From: =?utf-8?q?tasks=40app.localhost?=\r\n",
        "From: \r\n",
        f"From: {ALICE}\r\nSender: {TASKS}\r\n",
    ],
    ids=[
        "app-mailbox",
        "another-account",
        "second-author",
        "second-field",
        "group",
        "empty-group",
        "address-as-name",
        "trailing-address",
        "encoded-address",
        "empty",
        "sender-not-owned",
    ],
)
def test_submission_with_a_from_the_account_does_not_own_stores_nothing(
    mail: MailTestClient, author_fields: str
) -> None:
    before = stored_count(mail)

    exchange = mail.send_raw(BOB, message(author_fields), sender=ALICE, login=ALICE)

    assert reply_of(exchange) == SmtpReplies.FROM_NOT_OWNED.with_values(login=ALICE)
    assert stored_count(mail) - before == 0


@pytest.mark.parametrize(
    "author_fields",
    [
        f"From: {ALICE}\r\n",
        "From: =?utf-8?q?Alic=C3=A9_=22tasks=40app=2Elocalhost=22?= <Alice@App.Localhost>\r\n",
        f"From: Alice <{ALICE}>\r\nSender: {ALICE}\r\n",
    ],
    ids=["plain", "encoded-name-any-case", "with-sender"],
)
def test_submission_from_an_owned_address_is_accepted(
    mail: MailTestClient, author_fields: str
) -> None:
    exchange = mail.send_raw(BOB, message(author_fields), sender=ALICE, login=ALICE)

    assert stored(mail, exchange).account_id is not None


def test_submission_without_from_gets_the_envelope_senders(mail: MailTestClient) -> None:
    exchange = mail.send_raw(BOB, message(""), sender=ALICE, login=ALICE)

    raw = stored(mail, exchange).raw
    assert raw.count(b"\r\nFrom: ") == 1
    assert f"\r\nFrom: <{ALICE}>\r\nTo: {BOB}\r\n".encode() in raw


# --- MX: nobody logs in there, so nothing may claim this server's domain --------------


@pytest.mark.parametrize("envelope", [ALICE, "ALICE@APP.LOCALHOST", TASKS, f"nobody@{DOMAIN}"])
def test_mx_envelope_sender_of_the_local_domain_is_refused_at_mail_from(
    mail: MailTestClient, envelope: str
) -> None:
    before = stored_count(mail)

    exchange = mail.send_raw(TASKS, message(f"From: {MALLORY}\r\n", TASKS), sender=envelope)

    assert reply_of(exchange) == SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(domain=DOMAIN)
    assert stored_count(mail) - before == 0


@pytest.mark.parametrize(
    "author",
    [
        ALICE,
        "Alice <ALICE@APP.LOCALHOST>",
        "alice@(note)app.localhost",
        "alice @ app . localhost",
        "alice@app.localhost.",
        f"{MALLORY}, {ALICE}",
        f'"{ALICE}" <{MALLORY}>',
        f"=?utf-8?q?alice=40app.localhost?= <{MALLORY}>",
        f"{'x' * 900}\r\n {'y' * 900} <{ALICE}>",
        TASKS,
    ],
    ids=[
        "plain",
        "upper-case",
        "comment",
        "spaces",
        "root-dot",
        "second-author",
        "quoted-name",
        "encoded-name",
        "past-the-parsed-prefix",
        "app-mailbox",
    ],
)
def test_mx_from_header_of_the_local_domain_is_refused_at_end_of_data(
    mail: MailTestClient, author: str
) -> None:
    before = stored_count(mail)

    exchange = mail.send_raw(TASKS, message(f"From: {author}\r\n", TASKS), sender=MALLORY)

    assert reply_of(exchange) == SmtpReplies.LOCAL_DOMAIN_FROM_OUTSIDE.with_values(domain=DOMAIN)
    assert stored_count(mail) - before == 0


@pytest.mark.parametrize("author", [f"x@{DOMAIN}.ext.test", f"x@sub.{DOMAIN}", "x@localhost"])
def test_mx_from_of_a_lookalike_domain_is_accepted(mail: MailTestClient, author: str) -> None:
    exchange = mail.send_raw(BOB, message(f"From: {author}\r\n"), sender=MALLORY)

    assert stored(mail, exchange).account_id is None


# --- MX: what a verified sender proves ----------------------------------------------


def test_spf_alone_for_another_envelope_sender_does_not_verify_the_from(
    mail: MailTestClient,
) -> None:
    # ext.test's SPF passes for mallory's envelope, so DMARC passes for From alice@ext.test;
    # but SPF proves only who may send for ext.test, not that alice wrote this.
    exchange = mail.send_raw(TASKS, command("add Pay mallory", sender=EXTERNAL), sender=MALLORY)

    row = stored(mail, exchange)
    assert "spf=pass" in (row.authentication_results or "")
    assert "dmarc=pass" in (row.authentication_results or "")
    assert row.verified_from is None
    assert exchange.reply["Subject"].startswith("Not done: add needs an account")
    assert exchange.reply["To"] == MALLORY


@pytest.mark.parametrize("envelope", [EXTERNAL, "Alice@EXT.test"])
def test_spf_alone_verifies_the_from_that_is_the_envelope_sender(
    mail: MailTestClient, envelope: str
) -> None:
    exchange = mail.send_raw(TASKS, command("add Buy milk", sender=EXTERNAL), sender=envelope)

    assert stored(mail, exchange).verified_from == EXTERNAL
    assert exchange.reply["Subject"].startswith("Task ")


def test_aligned_dkim_verifies_the_from_whatever_the_envelope_sender(
    mail: MailTestClient, ext_signer: DkimSigner
) -> None:
    signed = ext_signer.sign(command("add Buy bread", sender=EXTERNAL))

    exchange = mail.send_raw(TASKS, signed, sender="bounces@ext.test")

    assert stored(mail, exchange).verified_from == EXTERNAL
    assert exchange.reply["Subject"].startswith("Task ")
