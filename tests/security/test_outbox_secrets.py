"""Secrets at rest in the outbox: a mail that carries one keeps only its header once delivered.

Every path a secret-bearing mail takes is followed for real: an app password
delivered to a local INBOX (read back over IMAP), a reply from account@ relayed to a
confirmed address at another domain, a confirmation code relayed after a temporary
refusal, and one the relay refuses for good. Each time the secret must occur 0 times
in `outbound_messages` (nor in `mailcmd outbox show --raw`) while the person still
has it.
"""

import imaplib
import json
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcmd.app.resources import bundled_path
from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.identity.verified_senders import add_external_address, confirm_external_address
from mailcmd.outbound.delivery import NO_RELAY, NO_RELAY_IN_TIME
from mailcmd.testing import DOMAIN, MailTestClient, scratch_database_url
from tests.conftest import ALICE, PASSWORD, Cli
from tests.servers import TIMEOUT, Sink, relay_sink, wait_until

ACCOUNT = f"account@{DOMAIN}"
FINISHED = {QueueStatus.DONE, QueueStatus.FAILED}


@pytest.fixture(scope="module")
def relayed() -> Iterator[tuple[Sink, int]]:
    with relay_sink() as running:
        yield running


@pytest.fixture
def relay(relayed: tuple[Sink, int]) -> Sink:
    return relayed[0]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox-secrets")


@pytest.fixture(scope="module")
def database_url(state: Path) -> Iterator[str]:
    with scratch_database_url(state / "state") as url:
        yield url


@pytest.fixture(scope="module")
def server(relayed: tuple[Sink, int], state: Path, database_url: str) -> Iterator[MailTestClient]:
    """The bundled app (account@ holds secrets) relaying to the sink; alice has a password."""
    with MailTestClient(
        bundled_path("commands"),
        state / "state",
        database_url=database_url,
        settings={
            "auth": {"cache_seconds": 0, "failure_delay": 0},
            "imap": {"port": None, "tls_port": 0},
            "relay": {
                "host": "127.0.0.1",
                "port": relayed[1],
                "starttls": "off",
                "retry_seconds": 0.05,
            },
            "worker": {"poll_seconds": 0.05},
        },
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


@pytest.fixture(scope="module")
def operator(state: Path, database_url: str) -> Iterator[Cli]:
    """`mailcmd` as the operator types it, from an empty folder, on the server's database."""
    work = state / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        env = {"MAILCMD_DATABASE_URL": database_url, "MAILCMD_STATE_DIR": str(state / "state")}
        yield Cli(env=env)


def outbox_copies(server: MailTestClient, secret: str) -> int:
    """How many mails in the outbox hold `secret` anywhere in their bytes."""
    with server.database.sessions() as session:
        raws = session.scalars(select(OutboundMessage.raw)).all()
    return sum(secret.encode() in raw for raw in raws)


def finished(server: MailTestClient, to: str) -> OutboundMessage:
    """The newest outbound mail to `to`, once delivery is done with it (sent or failed)."""

    def settled() -> OutboundMessage | None:
        with server.database.sessions() as session:
            rows = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()))
            row = next((row for row in rows if to in row.rcpt_tos), None)
            if row is None or row.status not in FINISHED:
                return None
            session.expunge(row)
            return row

    return wait_until(settled, f"the outbound mail to {to} delivered or failed")


def shown_raw(operator: Cli, row: OutboundMessage) -> str:
    shown = operator("outbox", "show", str(row.id), "--raw")
    assert shown.exit_code == 0, shown.stderr
    return shown.stdout


def relayed_to(relay: Sink, address: str) -> EmailMessage:
    """The last mail the relay took for `address`, once it has one."""

    def arrived() -> bytes | None:
        taken = [content for _, rcpts, content in relay.received if address in rcpts]
        return taken[-1] if taken else None

    parsed = message_from_bytes(wait_until(arrived, f"a mail to {address}"), policy=policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def inbox_of_alice(server: MailTestClient) -> list[bytes]:
    """Every message in alice's INBOX, fetched over IMAP with implicit TLS."""
    cert = server.settings.state_dir / "tls" / "dev-cert.pem"
    context = ssl.create_default_context(cafile=str(cert))
    port = server.ports["imaps"]
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=TIMEOUT) as client:
        client.login(ALICE, PASSWORD)
        client.select("INBOX", readonly=True)
        _, found = client.uid("SEARCH", "ALL")
        messages = []
        for uid in found[0].split():
            _, data = client.uid("FETCH", uid, "(BODY.PEEK[])")
            item = data[0]
            assert isinstance(item, tuple)
            messages.append(item[1])
    return messages


def confirm(server: MailTestClient, address: str) -> None:
    """Arrange what the confirmation round trip (tested below) leaves behind."""
    with server.database.writing() as session:
        pending = add_external_address(session, ALICE, address, (DOMAIN,))
        assert confirm_external_address(session, address, pending.code) is not None
        session.commit()


def test_app_password_reply_is_whole_in_the_inbox_and_headers_only_in_the_outbox(
    server: MailTestClient, operator: Cli
) -> None:
    exchange = server.send(ACCOUNT, "app-password add Phone")
    # The test client reads a local reply that held a secret from the INBOX.
    app_password = exchange.reply_text.split("\n\n")[1].strip()
    row = finished(server, ALICE)

    assert row.holds_secret
    assert outbox_copies(server, app_password) == 0
    assert app_password not in shown_raw(operator, row)
    assert sum(app_password.encode() in raw for raw in inbox_of_alice(server)) == 1
    assert server.can_log_in(ALICE, app_password)
    # The operator's record: who, when and which mail, without what it said.
    assert row.message_id is not None
    assert row.message_id.encode() in row.raw
    assert b"was removed once its delivery ended: it held a secret" in row.raw
    assert b"Subject:" not in row.raw


def test_relayed_reply_from_account_is_redacted_once_the_relay_takes_it(
    server: MailTestClient, relay: Sink, operator: Cli
) -> None:
    outside = "alice@example.org"
    confirm(server, outside)
    mail = EmailMessage()
    mail["From"] = outside
    mail["To"] = ACCOUNT
    mail["Subject"] = "whoami"
    mail["Message-ID"] = make_msgid(domain="example.org")
    mail.set_content("\n")

    server.send_raw(ACCOUNT, mail.as_bytes(policy=policy.SMTP), sender=outside)
    received = relayed_to(relay, outside)
    row = finished(server, outside)

    # account@ holds secrets: all it sends is kept as header only, whoami's answer too.
    said = text_of(received)
    assert "from a confirmed address, verified by DKIM or SPF" in said
    assert row.status == QueueStatus.DONE
    assert row.holds_secret
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    assert sum(outbox_copies(server, line) for line in lines) == 0
    assert not any(line in shown_raw(operator, row) for line in lines)


def test_confirmation_code_leaves_the_outbox_once_relayed_after_a_retry(
    server: MailTestClient, relay: Sink, operator: Cli
) -> None:
    address = "carol@example.net"
    relay.answers.append("451 4.7.1 greylisted, try again")

    added = operator("users", "add-address", ALICE, address)
    confirmation = relayed_to(relay, address)
    row = finished(server, address)
    reply_to = str(confirmation["Reply-To"])
    code = reply_to.partition("+")[2].partition("@")[0]
    answer = EmailMessage()
    answer["From"] = address
    answer["To"] = reply_to
    answer["Subject"] = f"Re: {confirmation['Subject']}"
    answer["Message-ID"] = make_msgid(domain="example.net")
    answer.set_content("Yes, that is me.\n")
    confirmed = server.send_raw(reply_to, answer.as_bytes(policy=policy.SMTP), sender=address)

    assert added.exit_code == 0, added.stderr
    assert len(code) == 10
    assert code in text_of(confirmation)
    assert (row.status, row.attempts, row.holds_secret) == (QueueStatus.DONE, 2, True)
    assert outbox_copies(server, code) == 0
    assert code not in shown_raw(operator, row)
    assert b"Reply-To:" not in row.raw
    # The person had the code: answering with it confirmed the address.
    assert confirmed.outcome is not None
    assert confirmed.outcome.status == "done"
    shown = json.loads(operator("users", "show", ALICE, "--json").stdout)
    assert {
        entry["address"]: entry["confirmed_at"] is not None for entry in shown["external_addresses"]
    }[address]


def test_confirmation_the_relay_refuses_for_good_keeps_no_code_and_is_not_resent(
    server: MailTestClient, relay: Sink, operator: Cli
) -> None:
    address = "nobody@example.com"
    relay.answers.append("550 5.1.1 no such user")

    added = operator("users", "add-address", ALICE, address)
    row = finished(server, address)
    retried = operator("outbox", "retry", str(row.id))
    header, _, text = row.raw.partition(b"\r\n\r\n")

    assert added.exit_code == 0, added.stderr
    assert (row.status, row.holds_secret) == (QueueStatus.FAILED, True)
    assert "550 5.1.1 no such user" in (row.last_error or "")
    # Nobody ever had this code, so it is looked for where it was: Subject, Reply-To, text.
    assert text.startswith(b"[the text of this message was removed once its delivery ended")
    assert text.count(b"\r\n") == 1
    assert b"Subject:" not in header
    assert b"Reply-To:" not in header
    assert b"confirm+" not in header
    assert not any(address in rcpts for _, rcpts, _ in relay.received)
    assert retried.exit_code == 1
    assert "held a secret" in retried.stderr


def test_confirmation_waiting_for_a_relay_too_long_fails_and_keeps_no_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = "dave@example.org"
    with (
        scratch_database_url(tmp_path / "state") as url,
        MailTestClient(
            bundled_path("commands"),
            tmp_path / "state",
            database_url=url,
            settings={"worker": {"poll_seconds": 0.05}},
        ) as server,
    ):
        server.add_account(ALICE, password=PASSWORD)
        monkeypatch.chdir(tmp_path)
        state = str(tmp_path / "state")
        operator = Cli(env={"MAILCMD_DATABASE_URL": url, "MAILCMD_STATE_DIR": state})
        added = operator("users", "add-address", ALICE, address)
        waiting = wait_until(
            lambda: _waiting_for_a_relay(server), "the confirmation waiting for a relay"
        )
        # Arranged: it has waited longer than relay.max_delivery_age (five days).
        with server.database.writing() as session:
            row = session.get(OutboundMessage, waiting)
            assert row is not None
            row.created_at = utc_now() - timedelta(days=6)
            row.next_attempt_at = utc_now()
            session.commit()
        failed = finished(server, address)

    assert added.exit_code == 0, added.stderr
    assert failed.last_error == NO_RELAY_IN_TIME
    assert (failed.status, failed.holds_secret) == (QueueStatus.FAILED, True)
    assert b"Reply-To:" not in failed.raw
    assert failed.raw.endswith(b"was removed once its delivery ended: it held a secret]\r\n")


def _waiting_for_a_relay(server: MailTestClient) -> int | None:
    with server.database.sessions() as session:
        return session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.last_error == NO_RELAY)
        )
