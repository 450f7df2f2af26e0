"""No one speaks as someone else: logins lock per address, accounts own no server address."""

import base64
import smtplib
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailcmd.app.registry import RegistrationError
from mailcmd.db.database import open_database
from mailcmd.db.models import AccountAddress
from mailcmd.identity.accounts import create_account
from mailcmd.identity.logins import Authenticator
from mailcmd.identity.throttling import MAX_SHARED_DELAY, client_key
from mailcmd.runtime.server import Server
from mailcmd.settings import AuthSettings
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.servers import TIMEOUT, RunningServer, smtp_settings

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


# --- Logins: a guesser locks out only the address it guesses from -----------------

GUESSER, OWNER, ELSEWHERE = "127.0.0.2", "127.0.0.3", "127.0.0.4"
QUICK = {"failure_delay": 0.01, "max_failure_delay": 0.05}


def smtp_login(server: RunningServer, source: str, login: str, password: str) -> int:
    """AUTH PLAIN from the loopback address `source` on the submissions port; the code."""
    with smtplib.SMTP_SSL(
        "127.0.0.1",
        server.port("submissions"),
        timeout=TIMEOUT,
        context=server.tls_client_context,
        source_address=(source, 0),
    ) as client:
        client.ehlo("client.test")
        token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
        code, _ = client.docmd("AUTH", "PLAIN " + token)
        return code


def imap_login(server: RunningServer, source: str, login: str, password: str) -> bytes:
    """LOGIN from the loopback address `source` on the IMAP TLS port; the tagged reply."""
    raw = socket.create_connection(
        ("127.0.0.1", server.port("imaps")), timeout=TIMEOUT, source_address=(source, 0)
    )
    with server.tls_client_context.wrap_socket(raw, server_hostname="localhost") as tls:
        stream = tls.makefile("rb")
        stream.readline()  # the greeting
        tls.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (login.encode(), password.encode()))
        for _ in range(20):
            line = stream.readline()
            if line.startswith(b"a1 "):
                return line.rstrip()
        raise AssertionError("no tagged reply to LOGIN")


def test_ten_wrong_passwords_lock_that_address_only_and_the_owner_still_gets_in(
    start_server: StartServer, accounts: Cli
) -> None:
    app_password = accounts("users", "app-password", "add", ALICE, "--label", "Phone")
    phone = app_password.stdout.rsplit(": ", 1)[1].strip()
    server = start_server(auth=QUICK)
    lockout = server.settings.auth.lockout_failures

    guesses = [smtp_login(server, GUESSER, ALICE, f"guess {n}") for n in range(lockout)]
    guesser_now = smtp_login(server, GUESSER, ALICE, PASSWORD)
    guesser_imap = imap_login(server, GUESSER, ALICE, PASSWORD)
    started = time.monotonic()
    owner_smtp = smtp_login(server, OWNER, ALICE, PASSWORD)
    owner_phone = smtp_login(server, ELSEWHERE, ALICE, phone)
    owner_imap = imap_login(server, OWNER, ALICE, PASSWORD)
    owner_seconds = time.monotonic() - started

    assert guesses == [SmtpReplies.AUTH_INVALID.code] * lockout
    assert guesser_now == SmtpReplies.LOCKED_OUT.code
    assert guesser_imap.startswith(b"a1 NO [UNAVAILABLE]")
    # The owner, from any address without failures: password and app password, both
    # protocols, at once, without the delay the guesser earned.
    assert owner_smtp == owner_phone == SmtpReplies.AUTH_OK.code
    assert owner_imap.startswith(b"a1 OK")
    assert owner_seconds < 3.0


def test_failures_spread_over_addresses_never_lock_the_login(
    start_server: StartServer,
) -> None:
    server = start_server(auth={**QUICK, "lockout_failures": 4})
    lockout = server.settings.auth.lockout_failures
    sources = [f"127.0.1.{n}" for n in range(1, 4)]

    # Just under the lockout from each of three addresses: three times the threshold.
    guesses = [
        smtp_login(server, source, ALICE, "guess") for source in sources for _ in range(lockout - 1)
    ]
    owner = smtp_login(server, OWNER, ALICE, PASSWORD)

    assert guesses == [SmtpReplies.AUTH_INVALID.code] * (3 * (lockout - 1))
    assert owner == SmtpReplies.AUTH_OK.code


async def test_failures_from_everywhere_add_at_most_the_shared_delay(
    accounts: Cli, database_url: str
) -> None:
    database = open_database(database_url)
    policy = AuthSettings(failure_delay=0.5, max_failure_delay=8.0, lockout_failures=100)
    auth = Authenticator(database, policy)
    try:
        for n in range(8):
            await auth.authenticate(ALICE, "guess", f"192.0.2.{n % 4}")
        fresh = await auth.authenticate(ALICE, "guess", "198.51.100.7")
        repeated = [await auth.authenticate(ALICE, "guess", "192.0.2.1") for _ in range(3)]
        owner = await auth.authenticate(ALICE, PASSWORD, "198.51.100.8")
    finally:
        database.close()

    # A new address pays the login's shared delay, capped; the address that keeps
    # guessing pays its own growing delay; the owner pays nothing.
    assert fresh.delay <= MAX_SHARED_DELAY
    assert repeated[-1].delay == policy.max_failure_delay
    assert owner.verified is not None
    assert owner.delay == 0.0


def test_an_ipv6_client_is_counted_by_its_64_network() -> None:
    first, second = "2001:db8:1:2::1", "2001:db8:1:2:ffff::9"

    assert client_key(first) == client_key(second) == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key(first)
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_operator_unlock_clears_the_login_from_every_address(
    start_server: StartServer, accounts: Cli
) -> None:
    server = start_server(auth=QUICK)
    lockout = server.settings.auth.lockout_failures
    for _ in range(lockout):
        smtp_login(server, GUESSER, ALICE, "guess")

    locked = smtp_login(server, GUESSER, ALICE, PASSWORD)
    unlocked = accounts("users", "unlock", ALICE)
    after = smtp_login(server, GUESSER, ALICE, PASSWORD)

    assert locked == SmtpReplies.LOCKED_OUT.code
    assert unlocked.stdout == f"unlocked {ALICE}\n"
    assert after == SmtpReplies.AUTH_OK.code
