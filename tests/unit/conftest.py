"""Fixtures of the unit tests: settings read as a fresh process would read them."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No `MAILCMD_*` variable set, and an empty current folder; returns it."""
    for name in list(os.environ):
        if name.startswith("MAILCMD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
