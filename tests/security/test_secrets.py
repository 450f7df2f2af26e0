"""Secrets at rest: the state folder and every file in it are their owner's alone."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcmd.db.database import open_database
from mailcmd.demo import CREDENTIALS_FILE, ensure_demo_account
from mailcmd.dkim import key_path
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
