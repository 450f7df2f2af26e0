"""pytest fixtures for app authors, registered automatically when mailcmd is installed.

Override `mailcmd_commands`, `mailcmd_templates` and, if the app keeps them elsewhere
than beside its commands, `mailcmd_migrations` in your `conftest.py` to point at your
app's folders; `mailcmd_client` is then a running `MailTestClient` for it, on a fresh
database whose tables the app's migrations made: SQLite, or a PostgreSQL schema of
its own when `MAILCMD_TEST_DATABASE_URL` names a PostgreSQL database.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcmd.app.resources import bundled_path
from mailcmd.testing import MailTestClient, scratch_database_url


@pytest.fixture
def mailcmd_commands() -> Path:
    """The folder of command modules under test (default: mailcmd's bundled app)."""
    return bundled_path("commands")


@pytest.fixture
def mailcmd_templates() -> Path:
    """The folder of reply templates under test (default: mailcmd's bundled ones)."""
    return bundled_path("templates")


@pytest.fixture
def mailcmd_migrations() -> Path | None:
    """The app's migrations folder (default None: `migrations/` beside the commands)."""
    return None


@pytest.fixture
def mailcmd_client(
    mailcmd_commands: Path,
    mailcmd_templates: Path,
    mailcmd_migrations: Path | None,
    tmp_path: Path,
) -> Iterator[MailTestClient]:
    """A running mailcmd for the app under test, on a fresh database."""
    state = tmp_path / "mailcmd"
    with (
        scratch_database_url(state) as url,
        MailTestClient(
            mailcmd_commands,
            state,
            database_url=url,
            templates=mailcmd_templates,
            migrations=mailcmd_migrations,
        ) as client,
    ):
        yield client
