"""pytest fixtures for app authors, registered automatically when mailcmd is installed.

Override `mailcmd_commands` (and `mailcmd_templates`) in your `conftest.py` to point
at your app's folders; `mailcmd_client` is then a running `MailTestClient` for it.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcmd.resources import bundled_path
from mailcmd.testing import MailTestClient


@pytest.fixture
def mailcmd_commands() -> Path:
    """The folder of command modules under test (default: mailcmd's bundled app)."""
    return bundled_path("commands")


@pytest.fixture
def mailcmd_templates() -> Path:
    """The folder of reply templates under test (default: mailcmd's bundled ones)."""
    return bundled_path("templates")


@pytest.fixture
def mailcmd_client(
    mailcmd_commands: Path, mailcmd_templates: Path, tmp_path: Path
) -> Iterator[MailTestClient]:
    """A running mailcmd for the app under test, on a fresh SQLite database."""
    with MailTestClient(
        mailcmd_commands, tmp_path / "mailcmd", templates=mailcmd_templates
    ) as client:
        yield client
