"""The bundled account@ app: whoami, passwd and app passwords, by mail."""

import pytest
from sqlalchemy import select

from mailcmd.db.models import InboundMessage
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD

ACCOUNT = "account@app.localhost"
NEW_PASSWORD = "a much better passphrase"


@pytest.fixture
def mail(account_mail: MailTestClient) -> MailTestClient:
    """Every test here runs the bundled app without the login cache."""
    return account_mail


def app_password(mail: MailTestClient, label: str = "Phone") -> str:
    added = mail.send(ACCOUNT, f"app-password add {label}")
    assert added.reply["Subject"] == f"App password {label}"
    return added.reply_text.split("\n\n")[1].strip()


def test_whoami_shows_login_addresses_and_how_the_mail_proved_itself(
    mail: MailTestClient,
) -> None:
    with_password = mail.send(ACCOUNT, "whoami")
    with_app_password = mail.send(ACCOUNT, "whoami", password=app_password(mail))

    assert with_password.reply["Subject"] == f"You are {ALICE}"
    assert f"Addresses: {ALICE}" in with_password.reply_text
    assert "logged in with your password" in with_password.reply_text
    assert "logged in with an app password" in with_app_password.reply_text


def test_passwd_sets_the_password_from_the_text_and_forgets_the_mail(
    mail: MailTestClient,
) -> None:
    exchange = mail.send(ACCOUNT, "passwd", f"{NEW_PASSWORD}\n\n-- \nAlice\n")

    with mail.database.sessions() as session:
        stored = session.scalars(
            select(InboundMessage.raw).where(InboundMessage.id == exchange.queue_id)
        ).one()
    assert exchange.reply["Subject"] == "Password changed"
    assert mail.can_log_in(ALICE, NEW_PASSWORD)
    assert not mail.can_log_in(ALICE, PASSWORD)
    assert NEW_PASSWORD.encode() not in stored
    assert b"Subject:" not in stored
    assert b"was removed after processing" in stored


def test_passwd_refuses_a_weak_password_and_still_forgets_it(mail: MailTestClient) -> None:
    exchange = mail.send(ACCOUNT, "passwd", "short\n")

    with mail.database.sessions() as session:
        stored = session.scalars(
            select(InboundMessage.raw).where(InboundMessage.id == exchange.queue_id)
        ).one()
    assert "shorter than 10 characters" in exchange.reply_text
    assert b"short" not in stored.partition(b"\r\n\r\n")[2]
    assert mail.can_log_in(ALICE, PASSWORD)


def test_passwd_with_an_app_password_is_refused(mail: MailTestClient) -> None:
    exchange = mail.send(ACCOUNT, "passwd", f"{NEW_PASSWORD}\n", password=app_password(mail))

    assert "needs a session that logged in with your account's password" in " ".join(
        exchange.reply_text.split()
    )
    assert mail.can_log_in(ALICE, PASSWORD)


def test_passwd_without_text_says_where_the_password_goes(mail: MailTestClient) -> None:
    exchange = mail.send(ACCOUNT, "passwd", "")

    assert "first line of the mail's text" in exchange.reply_text


def test_app_passwords_are_added_listed_and_revoked(mail: MailTestClient) -> None:
    secret = app_password(mail, "Thunderbird")
    works = mail.can_log_in(ALICE, secret)
    listed = mail.send(ACCOUNT, "app-password list")
    twice = mail.send(ACCOUNT, "app-password add Thunderbird")
    revoked = mail.send(ACCOUNT, "app-password revoke Thunderbird")

    assert works
    assert "Thunderbird  created" in listed.reply_text
    assert "already has an app password labelled 'Thunderbird'" in twice.reply_text
    assert revoked.reply["Subject"] == "App password Thunderbird revoked"
    assert not mail.can_log_in(ALICE, secret)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("app-password add", "needs a LABEL"),
        ("app-password rename x", "use add LABEL, list, or revoke LABEL"),
        ("app-password revoke Nothing", "has no app password labelled 'Nothing'"),
    ],
)
def test_app_password_mistakes_are_explained(
    mail: MailTestClient, subject: str, expected: str
) -> None:
    assert expected in mail.send(ACCOUNT, subject).reply_text


def test_a_stranger_cannot_use_account(mail: MailTestClient) -> None:
    exchange = mail.send(ACCOUNT, "whoami", login="", sender="someone@example.org")

    assert "whoami needs an account" in exchange.reply_text
