"""The submission ports through real TLS with smtplib: AUTH, envelope rules, durable accept."""

import base64
import logging
import smtplib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcmd.db.engine import open_engine
from mailcmd.db.models import InboundMessage
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.servers import RunningServer

MESSAGE = b"From: alice@app.localhost\r\nSubject: add Buy milk\r\n\r\nThanks!\r\n"


def reply_of(answer: tuple[int, bytes]) -> str:
    """The reply line smtplib got, as `code text`, for comparing with the table of SMTP replies."""
    return f"{answer[0]} {answer[1].decode()}"


def plain(login: str, password: str) -> str:
    return base64.b64encode(f"\0{login}\0{password}".encode()).decode()


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    """A running server with small limits; its database holds alice and a disabled bob."""
    return start_server(max_recipients=3, max_message_size=4096)


def stored_messages(database_url: str) -> list[InboundMessage]:
    engine = open_engine(database_url)
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def test_auth_is_not_offered_before_starttls_and_refused_with_530(server: RunningServer) -> None:
    client = server.submission(starttls=False)

    assert not client.has_extn("auth")
    assert client.has_extn("starttls")
    assert reply_of(client.docmd("AUTH", "PLAIN " + plain(ALICE, PASSWORD))) == str(
        SmtpReplies.STARTTLS_FIRST
    )


def test_auth_plain_after_starttls(server: RunningServer) -> None:
    client = server.submission()

    assert client.has_extn("auth")
    assert reply_of(client.docmd("AUTH", "PLAIN " + plain(ALICE, PASSWORD))) == str(
        SmtpReplies.AUTH_OK
    )


def test_auth_login_uses_username_and_password_challenges(server: RunningServer) -> None:
    client = server.submission()

    first = client.docmd("AUTH", "LOGIN")
    second = client.docmd(base64.b64encode(ALICE.encode()).decode())
    third = client.docmd(base64.b64encode(PASSWORD.encode()).decode())

    assert first == (334, base64.b64encode(b"Username:"))
    assert second == (334, base64.b64encode(b"Password:"))
    assert reply_of(third) == str(SmtpReplies.AUTH_OK)


def test_submissions_port_accepts_auth_from_the_first_command(server: RunningServer) -> None:
    client = server.submissions()

    assert client.login(ALICE, PASSWORD)[0] == SmtpReplies.AUTH_OK.code


@pytest.mark.parametrize(
    ("login", "password"),
    [
        (ALICE, "wrong password"),
        ("nobody@app.localhost", PASSWORD),
        ("bob@app.localhost", PASSWORD),  # disabled
        (ALICE, ""),
    ],
    ids=["wrong-password", "unknown-login", "disabled-account", "empty-password"],
)
def test_wrong_credentials_get_535(server: RunningServer, login: str, password: str) -> None:
    client = server.submission()

    assert reply_of(client.docmd("AUTH", "PLAIN " + plain(login, password))) == str(
        SmtpReplies.AUTH_INVALID
    )


def test_app_password_logs_in_and_a_revoked_one_does_not(server: RunningServer, cli: Cli) -> None:
    added = cli("users", "app-password", "add", ALICE, "--label", "phone")
    kept = cli("users", "app-password", "add", ALICE, "--label", "laptop")
    phone = added.stdout.rsplit(": ", 1)[1].strip()
    laptop = kept.stdout.rsplit(": ", 1)[1].strip()
    assert cli("users", "app-password", "revoke", ALICE, "phone").exit_code == 0

    revoked = server.submission().docmd("AUTH", "PLAIN " + plain(ALICE, phone))
    accepted = server.submission().docmd("AUTH", "PLAIN " + plain(ALICE, laptop))

    assert reply_of(revoked) == str(SmtpReplies.AUTH_INVALID)
    assert reply_of(accepted) == str(SmtpReplies.AUTH_OK)


def test_mail_without_auth_gets_530(server: RunningServer) -> None:
    client = server.submission()

    assert reply_of(client.mail(ALICE)) == str(SmtpReplies.AUTH_REQUIRED)


def test_mail_from_an_address_the_account_does_not_own_gets_553(server: RunningServer) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)

    assert reply_of(client.mail("bob@app.localhost")) == SmtpReplies.SENDER_NOT_OWNED.with_values(
        login=ALICE
    )
    assert reply_of(client.mail("ALICE@App.Localhost")) == str(SmtpReplies.SENDER_OK)


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        (ALICE, str(SmtpReplies.RECIPIENT_OK)),
        (
            "nobody@app.localhost",
            SmtpReplies.UNKNOWN_RECIPIENT.with_values(address="nobody@app.localhost"),
        ),
        (
            "someone@example.com",
            SmtpReplies.RELAY_DENIED.with_values(address="someone@example.com"),
        ),
    ],
    ids=["local-account", "unknown-local", "other-domain"],
)
def test_rcpt_is_decided_at_rcpt_time(server: RunningServer, recipient: str, expected: str) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)
    client.mail(ALICE)

    assert reply_of(client.rcpt(recipient)) == expected


def test_more_than_max_recipients_gets_452(server: RunningServer) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)
    client.mail(ALICE)
    answers = [reply_of(client.rcpt(ALICE)) for _ in range(4)]

    assert answers == [str(SmtpReplies.RECIPIENT_OK)] * 3 + [str(SmtpReplies.TOO_MANY_RECIPIENTS)]


def test_size_is_advertised_and_enforced_at_mail_and_during_data(server: RunningServer) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)
    too_big = SmtpReplies.MESSAGE_TOO_BIG.with_values(limit=4096)

    assert client.esmtp_features["size"] == "4096"
    assert reply_of(client.mail(ALICE, ["SIZE=5000"])) == too_big
    assert reply_of(client.mail(ALICE, ["SIZE=100"])) == str(SmtpReplies.SENDER_OK)
    client.rcpt(ALICE)
    assert reply_of(client.data(MESSAGE + (b"x" * 98 + b"\r\n") * 50)) == too_big


def test_accepted_message_is_in_the_queue_with_its_envelope(
    server: RunningServer, database_url: str
) -> None:
    client = server.submission()
    client.login(ALICE, PASSWORD)
    client.mail(ALICE)
    client.rcpt(ALICE)

    code, text = client.data(MESSAGE)

    [stored] = stored_messages(database_url)
    assert f"{code} {text.decode()}" == SmtpReplies.QUEUED.with_values(queue_id=stored.id)
    assert stored.raw.endswith(MESSAGE)
    assert stored.raw.startswith(b"Received: from client.test ([127.0.0.1])")
    assert b"with ESMTPSA (TLSv1." in stored.raw
    assert stored.mail_from == ALICE
    assert stored.rcpt_tos == [ALICE]
    assert stored.client_address == "127.0.0.1"
    assert stored.helo == "client.test"
    assert stored.tls_protocol in ("TLSv1.2", "TLSv1.3")
    assert stored.tls_cipher
    assert stored.size == len(stored.raw)
    assert stored.account_id is not None


def test_vrfy_reveals_nothing(server: RunningServer) -> None:
    stranger = server.submission()
    member = server.submission()
    member.login(ALICE, PASSWORD)

    assert reply_of(stranger.verify(ALICE)) == str(SmtpReplies.AUTH_REQUIRED)
    assert reply_of(stranger.verify("nobody@app.localhost")) == str(SmtpReplies.AUTH_REQUIRED)
    assert reply_of(member.verify(ALICE)) == str(SmtpReplies.VRFY_NOTHING)
    assert reply_of(member.verify("nobody@app.localhost")) == str(SmtpReplies.VRFY_NOTHING)


def test_every_reply_carries_an_enhanced_status_code(server: RunningServer) -> None:
    client = server.submission()
    answers = [
        client.docmd("FROB"),
        client.docmd("MAIL", "FROM:<alice@app.localhost>"),
        client.docmd("RCPT", "TO:<alice@app.localhost>"),
        client.docmd("NOOP"),
        client.docmd("RSET"),
        client.docmd("EXPN", "staff"),
        client.docmd("HELP"),
    ]

    for code, text in answers:
        assert text.split(b" ")[0].count(b".") == 2, (code, text)
        assert text[:1] == str(code)[:1].encode(), (code, text)


def test_credentials_never_appear_in_the_log(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = plain(ALICE, PASSWORD)

    server.submission().docmd("AUTH", "PLAIN " + secret)
    server.submission().docmd("AUTH", "PLAIN " + plain(ALICE, "wrong and secret"))
    server.submissions().login(ALICE, PASSWORD)

    assert "authenticated alice@app.localhost" in caplog.text
    for leaked in (
        secret,
        PASSWORD,
        "wrong and secret",
        base64.b64encode(PASSWORD.encode()).decode(),
    ):
        assert leaked not in caplog.text


def test_quit_says_bye(server: RunningServer) -> None:
    client = server.submission()

    assert reply_of(client.docmd("QUIT")) == str(SmtpReplies.BYE)


def test_smtplib_sendmail_end_to_end(server: RunningServer, database_url: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=15) as client:
        client.starttls(context=server.tls_client_context)
        client.login(ALICE, PASSWORD)
        refused = client.sendmail(ALICE, [ALICE], MESSAGE)

    assert refused == {}
    assert len(stored_messages(database_url)) == 1


def test_an_account_past_its_hourly_messages_gets_451_at_mail_on_either_port(
    start_server: StartServer, cli: Cli, database_url: str
) -> None:
    server = start_server(account_message_rate_limit=3)
    added = cli("users", "add", "carol@app.localhost", "--password-stdin", input=PASSWORD)
    assert added.exit_code == 0
    client = server.submission()
    client.login(ALICE, PASSWORD)
    for _ in range(2):
        client.sendmail(ALICE, [ALICE], MESSAGE)
    other_port = server.submissions()
    other_port.login(ALICE, PASSWORD)
    other_port.sendmail(ALICE, [ALICE], MESSAGE)
    carol = server.submissions()
    carol.login("carol@app.localhost", PASSWORD)

    refused = reply_of(client.mail(ALICE))
    refused_elsewhere = reply_of(other_port.mail(ALICE))
    client.rset()
    rcpt_after_refusal = reply_of(client.rcpt(ALICE))

    assert refused == SmtpReplies.TOO_MANY_MESSAGES.with_values(login=ALICE, limit=3)
    assert refused.startswith("451 4.7.0 ")
    assert refused.endswith("try again later")
    assert refused_elsewhere == refused
    assert rcpt_after_refusal == str(SmtpReplies.BAD_SEQUENCE)
    assert reply_of(carol.mail("carol@app.localhost")) == str(SmtpReplies.SENDER_OK)
    assert len(stored_messages(database_url)) == 3
