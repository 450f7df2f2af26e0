"""The MX port: mail from other servers, without AUTH, only to local addresses."""

import json
import logging
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from mailcmd.identity.authenticity import StaticResolver
from mailcmd.outbound.dkim import generate_key, load_signer
from mailcmd.settings import Settings
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.servers import RawClient, RunningServer, running_server, smtp_settings
from tests.smtp.test_smtp_submission import stored_messages


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    return start_server(mx_port=0)


@pytest.fixture
def mx(server: RunningServer) -> RawClient:
    client = RawClient(server.port("mx"))
    assert client.reply().startswith("220 ")
    yield client
    client.close()


def test_mx_offers_starttls_and_never_auth(server: RunningServer, mx: RawClient) -> None:
    before = mx.command("EHLO mx.example.org")
    mx.command("STARTTLS")
    mx.starttls(server.tls_client_context)
    after = mx.command("EHLO mx.example.org")

    assert "STARTTLS" in before
    assert "AUTH" not in before
    assert "AUTH" not in after
    assert mx.command("AUTH PLAIN AGFsaWNlAHB3") == str(SmtpReplies.UNKNOWN_MECHANISM)


def test_mx_accepts_mail_for_a_local_address_without_auth(mx: RawClient, database_url: str) -> None:
    mx.command("EHLO mx.example.org")

    assert mx.command("MAIL FROM:<someone@example.org>") == str(SmtpReplies.SENDER_OK)
    assert mx.command(f"RCPT TO:<{ALICE}>") == str(SmtpReplies.RECIPIENT_OK)
    mx.command("DATA")
    reply = mx.command("From: someone@example.org\r\nSubject: add Hello\r\n\r\nHi\r\n.")

    [stored] = stored_messages(database_url)
    assert reply == SmtpReplies.QUEUED.with_values(queue_id=stored.id)
    assert stored.account_id is None
    assert stored.mail_from == "someone@example.org"
    assert stored.helo == "mx.example.org"
    assert stored.client_address == "127.0.0.1"
    assert stored.tls_protocol is None
    assert b"with ESMTP;" in stored.raw or b"with ESMTP\r\n" in stored.raw


def test_mx_accepts_the_null_sender_of_bounces(mx: RawClient, database_url: str) -> None:
    mx.command("EHLO mx.example.org")

    assert mx.command("MAIL FROM:<>") == str(SmtpReplies.SENDER_OK)
    mx.command(f"RCPT TO:<{ALICE}>")
    mx.command("DATA")
    mx.command("Subject: Undelivered Mail\r\n\r\nbounce\r\n.")

    [stored] = stored_messages(database_url)
    assert stored.mail_from == ""


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        (
            "nobody@app.localhost",
            SmtpReplies.UNKNOWN_RECIPIENT.with_values(address="nobody@app.localhost"),
        ),
        ("victim@example.com", SmtpReplies.RELAY_DENIED.with_values(address="victim@example.com")),
    ],
    ids=["unknown-local", "relay"],
)
def test_mx_refuses_other_recipients(mx: RawClient, recipient: str, expected: str) -> None:
    mx.command("EHLO mx.example.org")
    mx.command("MAIL FROM:<someone@example.org>")

    assert mx.command(f"RCPT TO:<{recipient}>") == expected


def test_null_sender_is_refused_on_submission(server: RunningServer) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)

    code, text = client.docmd("MAIL", "FROM:<>")

    assert f"{code} {text.decode()}" == SmtpReplies.SENDER_NOT_OWNED.with_values(login=ALICE)


def test_relay_for_logged_in_accounts_only_when_configured(start_server: StartServer) -> None:
    closed = start_server()
    open_for_accounts = start_server(relay_authenticated=True)
    answers = []
    for server in (closed, open_for_accounts):
        client = server.submission()
        client.login(ALICE, PASSWORD)
        client.mail(ALICE)
        code, text = client.rcpt("friend@example.com")
        answers.append(f"{code} {text.decode()}")

    assert answers == [
        SmtpReplies.RELAY_DENIED.with_values(address="friend@example.com"),
        str(SmtpReplies.RECIPIENT_OK),
    ]


def test_each_transaction_is_one_log_line_with_its_result(
    server: RunningServer, mx: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailcmd.smtp.transactions")
    mx.command("EHLO mx.example.org")
    mx.command("MAIL FROM:<someone@example.org>")
    mx.command("RCPT TO:<nobody@app.localhost>")
    mx.command(f"RCPT TO:<{ALICE}>")
    mx.command("DATA")
    mx.command("Subject: x\r\n\r\nhello\r\n.")

    records = [record for record in caplog.records if record.name.endswith("transactions")]

    assert len(records) == 2
    refused, queued = (record.getMessage() for record in records)
    assert "port=mx client=127.0.0.1 helo=mx.example.org" in refused
    assert 'result="550 5.1.1 No such mailbox here: nobody@app.localhost"' in refused
    assert queued.startswith("queue_id=")
    assert f"mail_from=someone@example.org rcpt_to=<{ALICE}>" in queued
    assert "tls=none" in queued
    assert 'result="250 2.0.0 Ok: queued as' in queued
    fields = json.loads(json.dumps(records[1].smtp))  # what the JSON log format writes
    assert fields["rcpt_to"] == [ALICE]
    assert fields["result"].startswith("250 2.0.0")


def test_mx_records_the_authentication_results_and_drops_forged_ones(
    accounts: Cli, database_url: str, tmp_path: Path
) -> None:
    key = generate_key(tmp_path / "example", "sel", "rsa", 1024, domain="example.org")
    signer = load_signer(
        Settings(domain="example.org", state_dir=tmp_path / "example", dkim={"selector": "sel"})
    )
    assert signer is not None
    resolver = StaticResolver(
        {
            key.record_name: {"TXT": [key.record_value]},
            "example.org": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
            "_dmarc.example.org": {"TXT": ["v=DMARC1; p=reject"]},
        }
    )
    forged = b"Authentication-Results: app.localhost; dkim=pass header.d=app.localhost\r\n"
    mail = EmailMessage()
    mail["From"] = "carol@example.org"
    mail["To"] = ALICE
    mail["Subject"] = "hello"
    mail.set_content("Hi Alice")
    signed = signer.sign(forged + mail.as_bytes(policy=SMTP))
    settings = smtp_settings(tmp_path / "state", database_url, mx_port=0)

    with running_server(settings, resolver=resolver) as server:
        client = RawClient(server.port("mx"))
        client.reply()
        client.command("EHLO mx.example.org")
        client.command("MAIL FROM:<carol@example.org>")
        client.command(f"RCPT TO:<{ALICE}>")
        client.command("DATA")
        reply = client.command(signed.decode().removesuffix("\r\n") + "\r\n.")
        client.close()

    [stored] = stored_messages(database_url)
    assert reply.startswith("250 2.0.0 Ok: queued")
    results = [
        line for line in stored.raw.split(b"\r\n") if line.startswith(b"Authentication-Results:")
    ]
    assert results == [
        b"Authentication-Results: app.localhost; dkim=pass header.d=example.org;"
        b" spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"
    ]
