"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL if set) and the CLI."""

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import Column, Integer, MetaData, Table, Text, select
from typer.testing import CliRunner, Result

from mailcmd.app.loading import load_registry
from mailcmd.app.resources import bundled_path
from mailcmd.cli.root import app
from mailcmd.db.histories import History, app_history
from mailcmd.settings import default_migrations
from mailcmd.testing import TEST_DATABASE_ENV, MailTestClient, scratch_database_url
from tests.servers import RunningServer, Sink, relay_sink, running_server, smtp_settings

# The mailbox server's fixtures (`server`, `connect`) for tests/imap/.
pytest_plugins = ["tests.imap_support"]

# The README's notes app is tested inside the app that tests/process/test_new_app.py
# makes, where its test finds the app's own conftest.py.
collect_ignore = ["examples/notesapp"]


def postgres_url() -> str | None:
    """Return the PostgreSQL URL the suite runs against, or None for SQLite."""
    return os.environ.get(TEST_DATABASE_ENV) or None


def bundled_app_history() -> History:
    """The bundled app's schema history, its modules loaded."""
    commands = bundled_path("commands")
    load_registry(commands)
    history = app_history(commands, default_migrations(commands))
    assert history is not None
    return history


@pytest.fixture
def certificate_authority() -> trustme.CA:
    """A CA of the test's own that signs a server's certificate; a client is told to trust it."""
    return trustme.CA()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database that only this test uses."""
    with scratch_database_url(tmp_path / "state") as url:
        yield url


@dataclass
class Cli:
    """Runs `mailcmd` in-process, the way an operator would type it, on the test's database."""

    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run `mailcmd ARGS...`; a traceback fails the test instead of being hidden.

        `serve` points the root logger at the runner's stderr, which closes when the
        command ends: the test's own logging is put back afterwards.
        """
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            return CliRunner().invoke(
                app, list(args), input=input, env=self.env, catch_exceptions=False
            )
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)


@pytest.fixture
def empty_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The command line, run from an empty folder against this test's empty database."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in list(os.environ):
        if name.startswith("MAILCMD_") and name != TEST_DATABASE_ENV:
            monkeypatch.delenv(name)
    return Cli(
        env={"MAILCMD_DATABASE_URL": database_url, "MAILCMD_STATE_DIR": str(tmp_path / "state")}
    )


@pytest.fixture
def cli(empty_cli: Cli) -> Cli:
    """The command line on a database an operator has upgraded with `mailcmd db upgrade`."""
    result = empty_cli("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    return empty_cli


PASSWORD = "correct horse battery"
ALICE = "alice@app.localhost"


@pytest.fixture
def accounts(cli: Cli) -> Cli:
    """The test database holds alice (password `PASSWORD`) and a disabled bob."""
    assert cli("users", "add", ALICE, "--password-stdin", input=PASSWORD).exit_code == 0
    assert (
        cli("users", "add", "bob@app.localhost", "--password-stdin", input=PASSWORD).exit_code == 0
    )
    assert cli("users", "disable", "bob@app.localhost").exit_code == 0
    return cli


StartServer = Callable[..., RunningServer]


@pytest.fixture
def start_server(accounts: Cli, database_url: str, tmp_path: Path) -> Iterator[StartServer]:
    """Start a server on this test's database with settings overrides; stopped at the end."""
    with contextlib.ExitStack() as stack:

        def start(auth: dict[str, Any] | None = None, **smtp: Any) -> RunningServer:
            settings = smtp_settings(tmp_path / "state", database_url, auth=auth, **smtp)
            return stack.enter_context(running_server(settings))

        yield start


LAB_COMMANDS = Path(__file__).parent / "apps" / "lab"
LAB_TEMPLATES = Path(__file__).parent / "apps" / "lab_templates"
# The settings that make a `mailcmd` process serve the lab app.
LAB_ENVIRONMENT = {"MAILCMD_COMMANDS": str(LAB_COMMANDS), "MAILCMD_TEMPLATES": str(LAB_TEMPLATES)}


@pytest.fixture
def mail(database_url: str, tmp_path: Path) -> Iterator[MailTestClient]:
    """The bundled app running on this test's database, with alice logged in by default."""
    with MailTestClient(
        bundled_path("commands"), tmp_path / "mail", database_url=database_url
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


@pytest.fixture
def account_mail(database_url: str, tmp_path: Path) -> Iterator[MailTestClient]:
    """The bundled app without the login cache, so a changed password counts at once."""
    with MailTestClient(
        bundled_path("commands"),
        tmp_path / "mail",
        database_url=database_url,
        settings={"auth": {"cache_seconds": 0, "failure_delay": 0}},
    ) as client:
        client.add_account(ALICE, password=PASSWORD)
        yield client


@pytest.fixture
def lab_settings() -> dict[str, Any]:
    """Settings for the lab app; tests override retries and limits here."""
    return {"worker": {"max_attempts": 2, "retry_seconds": 0.05, "handler_timeout": 2.0}}


@pytest.fixture
def lab(
    database_url: str, tmp_path: Path, lab_settings: dict[str, Any]
) -> Iterator[MailTestClient]:
    """The framework's test app (tests/apps/lab) running, with its notes table."""
    with MailTestClient(
        LAB_COMMANDS,
        tmp_path / "lab",
        database_url=database_url,
        templates=LAB_TEMPLATES,
        settings=lab_settings,
    ) as client:
        LAB_NOTES.create(client.database.engine)
        client.add_account(ALICE, password=PASSWORD)
        yield client


LAB_NOTES = Table(
    "lab_notes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("words", Text),
)


def lab_notes(client: MailTestClient) -> list[str]:
    """The notes the lab app's handlers left in the database."""
    with client.database.engine.connect() as connection:
        return list(
            connection.execute(select(LAB_NOTES.c.words).order_by(LAB_NOTES.c.id)).scalars()
        )


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    """A relay on loopback that records what it accepts; yields it and its port."""
    with relay_sink() as running:
        yield running
