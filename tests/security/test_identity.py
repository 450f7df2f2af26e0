"""No one speaks as someone else: logins lock per address, accounts own no server address."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailcmd.accounts import create_account
from mailcmd.app import RegistrationError
from mailcmd.db.database import open_database
from mailcmd.db.models import AccountAddress
from mailcmd.server import Server
from tests.conftest import PASSWORD, Cli
from tests.servers import smtp_settings

SERVED_ADDRESSES = [
    "tasks@app.localhost",
    "tasks+7@app.localhost",
    "account@app.localhost",
    "help@app.localhost",
    "confirm+abc@app.localhost",
    "postmaster@app.localhost",
    "Tasks@App.Localhost",
]


def owned_addresses(database_url: str) -> int:
    database = open_database(database_url)
    try:
        with database.sessions() as session:
            return session.scalar(select(func.count()).select_from(AccountAddress)) or 0
    finally:
        database.close()


@pytest.mark.parametrize("address", SERVED_ADDRESSES)
def test_users_add_refuses_an_address_the_app_or_mailcmd_answers_on(
    cli: Cli, database_url: str, address: str
) -> None:
    as_login = cli("users", "add", address, "--password-stdin", input=PASSWORD)
    as_address = cli(
        "users", "add", "carol", "--address", address, "--password-stdin", input=PASSWORD
    )

    for result in (as_login, as_address):
        assert result.exit_code == 1
        [line] = result.stderr.splitlines()
        assert "cannot belong to an account: mailcmd answers" in line
    assert owned_addresses(database_url) == 0


def test_users_add_address_refuses_this_servers_domain(cli: Cli, database_url: str) -> None:
    assert cli("users", "add", "carol", "--password-stdin", input=PASSWORD).exit_code == 0

    result = cli("users", "add-address", "carol", "tasks@app.localhost")

    assert result.exit_code == 1
    assert "in this server's domain" in result.stderr
    assert owned_addresses(database_url) == 0


def test_server_refuses_to_start_while_an_account_owns_an_app_mailbox(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    # An account made before the app gained its tasks@ mailbox (or by a tool that
    # does not load the app): the clash is a start-up error, not a quiet hijack.
    database = open_database(database_url)
    try:
        with database.writing() as session:
            create_account(session, "tasks@app.localhost", PASSWORD)
            session.commit()
        settings = smtp_settings(tmp_path / "state", database_url)

        with pytest.raises(RegistrationError, match=r"tasks@app\.localhost"):
            Server(settings, database)
    finally:
        database.close()
