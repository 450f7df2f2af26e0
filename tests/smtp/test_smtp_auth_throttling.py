"""Guessing passwords gets slower and then locked out; the operator can unlock; caching."""

import asyncio
import base64
import logging
import smtplib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from mailcmd.db.database import Database, open_database
from mailcmd.db.models import LoginThrottle
from mailcmd.db.types import utc_now
from mailcmd.identity import logins
from mailcmd.identity.logins import Authenticator
from mailcmd.identity.throttling import failure_delay
from mailcmd.settings import AuthSettings
from mailcmd.smtp.replies import SmtpReplies
from tests.conftest import ALICE, PASSWORD, Cli, StartServer
from tests.servers import RunningServer

FAST_LOCKOUT = {
    "failure_delay": 0.01,
    "max_failure_delay": 0.05,
    "lockout_failures": 3,
    "client_lockout_failures": 50,
}


def attempt(server: RunningServer, login: str, password: str) -> str:
    """One AUTH PLAIN on a fresh connection; the reply line, or 'closed' if it was dropped."""
    client = server.submission()
    token = base64.b64encode(f"\0{login}\0{password}".encode()).decode()
    code, text = client.docmd("AUTH", "PLAIN " + token)
    reply = f"{code} {text.decode()}"
    if code == SmtpReplies.LOCKED_OUT.code:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    return reply


def test_failure_delay_doubles_up_to_its_cap() -> None:
    policy = AuthSettings(failure_delay=0.5, max_failure_delay=3.0)

    delays = [failure_delay(failures, policy) for failures in range(0, 6)]

    assert delays == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]


def test_repeated_failures_lock_the_login_until_unlocked(
    start_server: StartServer, accounts: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server(auth=FAST_LOCKOUT)
    caplog.set_level(logging.INFO)

    failures = [attempt(server, ALICE, f"guess {n}") for n in range(3)]
    locked = attempt(server, ALICE, PASSWORD)
    unlocked = accounts("users", "unlock", ALICE)
    after = attempt(server, ALICE, PASSWORD)

    assert failures == [str(SmtpReplies.AUTH_INVALID)] * 3
    assert locked == str(SmtpReplies.LOCKED_OUT)
    assert "locked login 'alice@app.localhost'" in caplog.text
    assert unlocked.stdout == f"unlocked {ALICE}\n"
    assert after == str(SmtpReplies.AUTH_OK)


def test_unlock_of_a_login_that_is_not_locked_says_so(accounts: Cli) -> None:
    result = accounts("users", "unlock", ALICE)

    assert result.exit_code == 0
    assert result.stdout == f"{ALICE} was not locked\n"


def test_guessing_many_logins_locks_the_client_address(start_server: StartServer) -> None:
    server = start_server(auth={**FAST_LOCKOUT, "client_lockout_failures": 3})

    guesses = [attempt(server, f"user{n}@app.localhost", "guess") for n in range(3)]
    refused = attempt(server, ALICE, PASSWORD)

    assert guesses == [str(SmtpReplies.AUTH_INVALID)] * 3
    assert refused == str(SmtpReplies.LOCKED_OUT)


def test_a_success_forgets_earlier_failures(start_server: StartServer) -> None:
    server = start_server(auth=FAST_LOCKOUT)

    replies = [
        attempt(server, ALICE, "guess"),
        attempt(server, ALICE, "guess"),
        attempt(server, ALICE, PASSWORD),
        attempt(server, ALICE, "guess"),
        attempt(server, ALICE, "guess"),
        attempt(server, ALICE, PASSWORD),
    ]

    assert replies == [str(SmtpReplies.AUTH_INVALID)] * 2 + [str(SmtpReplies.AUTH_OK)] + [
        str(SmtpReplies.AUTH_INVALID)
    ] * 2 + [str(SmtpReplies.AUTH_OK)]


def test_repeated_login_is_served_from_the_cache(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    caplog.set_level(logging.INFO, logger="mailcmd")

    first = attempt(server, ALICE, PASSWORD)
    second = attempt(server, ALICE, PASSWORD)

    assert first == second == str(SmtpReplies.AUTH_OK)
    assert f"authenticated {ALICE} (password)" in caplog.text
    assert f"authenticated {ALICE} (password, cached)" in caplog.text


def test_a_wrong_password_is_never_served_from_the_cache(start_server: StartServer) -> None:
    server = start_server()

    assert attempt(server, ALICE, PASSWORD) == str(SmtpReplies.AUTH_OK)
    assert attempt(server, ALICE, PASSWORD + "x") == str(SmtpReplies.AUTH_INVALID)


@pytest.fixture
def authenticator(accounts: Cli, database_url: str) -> Iterator[tuple[Authenticator, Database]]:
    """An authenticator on the test database (alice's password is `PASSWORD`)."""
    database = open_database(database_url)
    try:
        yield Authenticator(database, AuthSettings(**FAST_LOCKOUT)), database
    finally:
        database.close()


def count_state_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every read of a login's lockout state from the database."""
    reads: list[str] = []
    original = Authenticator._state

    def counted(self: Authenticator, login: str, client: str) -> Any:
        reads.append(login)
        return original(self, login, client)

    monkeypatch.setattr(Authenticator, "_state", counted)
    return reads


async def test_cached_logins_skip_the_database_between_rechecks(
    authenticator: tuple[Authenticator, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, _ = authenticator
    reads = count_state_reads(monkeypatch)

    outcomes = [await auth.authenticate(ALICE, PASSWORD, "192.0.2.1") for _ in range(3)]

    assert all(outcome.verified is not None for outcome in outcomes)
    assert reads == []


async def test_a_failure_here_makes_the_next_cached_login_read_the_lockout_state(
    authenticator: tuple[Authenticator, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, _ = authenticator
    reads = count_state_reads(monkeypatch)

    await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")
    failed = await auth.authenticate(ALICE, "guess", "192.0.2.1")
    again = await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")

    assert failed.verified is None
    assert again.verified is not None
    assert reads == [ALICE]


async def test_a_lockout_from_another_front_end_stops_cached_logins_at_the_recheck(
    authenticator: tuple[Authenticator, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, database = authenticator
    monkeypatch.setattr(logins, "LOCKOUT_RECHECK_SECONDS", 0.0)
    assert (await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")).verified is not None
    with database.sessions.begin() as session:
        until = utc_now() + timedelta(minutes=5)
        session.add(LoginThrottle(login=ALICE, client="192.0.2.1", failures=3, locked_until=until))

    first = await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")
    second = await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")

    assert first.locked
    assert second.locked


async def test_simultaneous_logins_with_the_same_credentials_run_argon2_once(
    authenticator: tuple[Authenticator, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    auth, _ = authenticator
    checks: list[str] = []
    original = logins.verify_credentials

    def counted(session: Any, login: str, password: str) -> Any:
        checks.append(login)
        return original(session, login, password)

    monkeypatch.setattr(logins, "verify_credentials", counted)

    outcomes = await asyncio.gather(
        *(auth.authenticate(ALICE, PASSWORD, "192.0.2.1") for _ in range(5))
    )

    assert all(outcome.verified is not None for outcome in outcomes)
    assert checks == [ALICE]


async def test_simultaneous_wrong_passwords_each_count_as_a_failure(
    authenticator: tuple[Authenticator, Database],
) -> None:
    auth, _ = authenticator

    outcomes = await asyncio.gather(
        *(auth.authenticate(ALICE, "guess", "192.0.2.1") for _ in range(3))
    )
    after = await auth.authenticate(ALICE, PASSWORD, "192.0.2.1")

    assert all(outcome.verified is None for outcome in outcomes)
    assert after.locked
