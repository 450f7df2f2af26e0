"""What the root command hands to every subcommand: the settings file, loaded on demand."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from mailcmd.addressing.domains import one_of_ours
from mailcmd.db.database import Database, open_database
from mailcmd.errors import MailcmdError
from mailcmd.settings import LoadedSettings, Settings, load_settings


class RefusedError(MailcmdError):
    """A command cannot do what was asked; the message is one line for the operator."""


@dataclass
class CliState:
    """The `--config` choice and, once read, the settings it leads to."""

    config_file: Path | None
    _loaded: LoadedSettings | None = field(default=None, init=False)

    @property
    def loaded(self) -> LoadedSettings:
        """The settings with their sources, read on first use."""
        if self._loaded is None:
            self._loaded = load_settings(self.config_file)
        return self._loaded

    @property
    def settings(self) -> Settings:
        """The effective settings."""
        return self.loaded.settings


def chosen_domain(settings: Settings, domain: str | None) -> str:
    """The domain a `--domain` option names, as the settings keep it (default: the default
    domain); refused unless it is one of mailcmd's."""
    if domain is None:
        return settings.domain
    try:
        return one_of_ours(domain, settings.domains)
    except ValueError as error:
        raise RefusedError(str(error)) from None


def cli_state(ctx: typer.Context) -> CliState:
    """Return the state the root command stored for this invocation."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        raise RuntimeError("the root command did not run")
    return state


@contextmanager
def database_session(ctx: typer.Context) -> Iterator[Session]:
    """Yield a session on the configured database, committed if the block succeeds.

    The transaction takes SQLite's write lock as it begins, so that a command run
    beside a busy server waits its turn instead of failing as "database is locked".
    """
    with opened_database(ctx) as database, database.writing() as session:
        yield session
        session.commit()


@contextmanager
def opened_database(ctx: typer.Context) -> Iterator[Database]:
    """Yield the configured database, for a command that makes transactions of its own."""
    settings = cli_state(ctx).settings
    database = open_database(settings.database_url, settings.worker.handler_timeout)
    try:
        yield database
    finally:
        database.close()
