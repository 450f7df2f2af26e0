"""Secrets at rest: the state folder and every file in it are their owner's alone."""

import os
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailcmd.db.database import open_database
from mailcmd.db.models import InboundMessage, OutboundMessage
from mailcmd.operations.demo import CREDENTIALS_FILE, ensure_demo_account
from mailcmd.outbound.dkim import key_path
from mailcmd.testing import MailTestClient
from tests.conftest import ALICE, PASSWORD, Cli, StartServer, postgres_url

PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Run with umask 0, so that only the modes mailcmd sets itself keep others out."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_state_folder_keys_and_demo_password_are_private_whatever_the_umask(
    no_umask: None, start_server: StartServer, accounts: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    assert accounts("dkim", "keygen", "--ed25519").exit_code == 0
    server = start_server()
    with server.server.database.writing() as session:
        ensure_demo_account(session, server.settings)
        session.commit()

    secrets = [
        server.server.tls.files.key if server.server.tls is not None else None,
        key_path(state, server.settings.dkim.selector),
        state / CREDENTIALS_FILE,
    ]
    assert all(path is not None for path in secrets)
    assert {str(path): mode(path) for path in secrets if path is not None} == {
        str(path): PRIVATE_FILE for path in secrets if path is not None
    }
    folders = [state, state / "tls", state / "dkim"]
    assert {str(folder): mode(folder) for folder in folders} == {
        str(folder): PRIVATE_FOLDER for folder in folders
    }


@pytest.mark.skipif(postgres_url() is not None, reason="the SQLite files of the embedded default")
def test_sqlite_database_wal_and_shm_are_private_whatever_the_umask(
    no_umask: None, start_server: StartServer, database_url: str, tmp_path: Path
) -> None:
    server = start_server()
    client = server.submissions()
    client.login(ALICE, PASSWORD)
    client.sendmail(ALICE, ["tasks@app.localhost"], b"Subject: add milk\r\n\r\nmilk\r\n")

    database = Path(database_url.removeprefix("sqlite:///"))
    files = [database, database.with_name("mailcmd.db-wal"), database.with_name("mailcmd.db-shm")]
    assert {str(path): mode(path) for path in files} == {str(path): PRIVATE_FILE for path in files}
    assert mode(database.parent) == PRIVATE_FOLDER


@pytest.mark.skipif(postgres_url() is not None, reason="the SQLite files of the embedded default")
def test_an_older_installation_is_made_private_when_opened(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    # What earlier versions left: a 0755 state folder with a 0644 database and WAL.
    database = Path(database_url.removeprefix("sqlite:///"))
    wal = database.with_name("mailcmd.db-wal")
    wal.touch()
    for path, loose in ((database.parent, 0o755), (database, 0o644), (wal, 0o644)):
        os.chmod(path, loose)

    opened = open_database(database_url)
    try:
        assert (mode(database), mode(wal)) == (PRIVATE_FILE, PRIVATE_FILE)
    finally:
        opened.close()


# --- A mail that carries a password keeps none of it, whatever path it takes -------

ACCOUNT = "account@app.localhost"
SECRET = "a secret nobody may keep 42"


def stored_copies(client: MailTestClient, secret: str) -> int:
    """How many stored mails (queue and outbox) hold `secret` anywhere in their bytes."""
    with client.database.sessions() as session:
        raws = [
            *session.scalars(select(InboundMessage.raw)),
            *session.scalars(select(OutboundMessage.raw)),
        ]
    return sum(secret.encode() in raw for raw in raws)


def passwd_mail(client: MailTestClient, subject: str = "passwd", **headers: str) -> EmailMessage:
    return client.compose(ACCOUNT, subject, f"{SECRET}\n", ALICE, headers)


def test_passwd_on_the_normal_path_keeps_no_copy(account_mail: MailTestClient) -> None:
    exchange = account_mail.send(ACCOUNT, message=passwd_mail(account_mail))

    assert exchange.reply["Subject"] == "Password changed"
    assert stored_copies(account_mail, SECRET) == 0


def test_passwd_sent_twice_with_one_message_id_keeps_no_copy(account_mail: MailTestClient) -> None:
    mail = passwd_mail(account_mail)
    first = account_mail.send(ACCOUNT, message=mail)
    # The first changed the password: the copy comes with the new one.
    again = account_mail.send(ACCOUNT, message=mail, password=SECRET)

    assert first.outcome is not None
    assert again.outcome is not None
    assert again.outcome.detail == "ignored: Message-ID seen before"
    assert stored_copies(account_mail, SECRET) == 0


def test_auto_submitted_passwd_is_not_run_and_keeps_no_copy(account_mail: MailTestClient) -> None:
    mail = passwd_mail(account_mail, **{"Auto-Submitted": "auto-generated"})

    exchange = account_mail.send(ACCOUNT, message=mail)

    assert exchange.outcome is not None
    assert exchange.outcome.detail == "ignored: automatic or list mail"
    assert stored_copies(account_mail, SECRET) == 0


def test_refused_passwd_from_an_app_password_keeps_no_copy(account_mail: MailTestClient) -> None:
    added = account_mail.send(ACCOUNT, "app-password add Phone")
    phone = added.reply_text.split("\n\n")[1].strip()

    refused = account_mail.send(ACCOUNT, message=passwd_mail(account_mail), password=phone)

    assert "needs a session that logged in with your account's password" in refused.reply_text
    assert stored_copies(account_mail, SECRET) == 0
    assert account_mail.can_log_in(ALICE, PASSWORD)


def test_password_in_the_subject_is_neither_kept_nor_echoed(account_mail: MailTestClient) -> None:
    in_subject = "hunter2hunter2hunter2"

    exchange = account_mail.send(ACCOUNT, message=passwd_mail(account_mail, f"passwd {in_subject}"))

    assert exchange.replies
    assert stored_copies(account_mail, in_subject) == 0
    assert not account_mail.can_log_in(ALICE, in_subject)
