"""Points mailcmd's pytest plugin at this app: `mailcmd_client` then serves these folders."""

from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent


@pytest.fixture
def mailcmd_commands() -> Path:
    """This app's command modules."""
    return APP / "commands"


@pytest.fixture
def mailcmd_templates() -> Path:
    """This app's reply templates."""
    return APP / "templates"


@pytest.fixture
def mailcmd_migrations() -> Path:
    """This app's migrations, which make its tables in each test's fresh database."""
    return APP / "migrations"
