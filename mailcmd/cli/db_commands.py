"""`mailcmd db ...`: the database schema: upgrade, inspect, new revisions."""

from collections.abc import Callable
from typing import Annotated

import typer
from sqlalchemy import Engine

from mailcmd.cli.state import cli_state
from mailcmd.db import migrations
from mailcmd.db.engine import open_engine
from mailcmd.loading import load_registry

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (to the newest revision by default)."""
    current = _migrate(ctx, migrations.upgrade, revision)
    typer.echo(f"database schema at {current}{_head_marker(current)}")


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; `base` drops every table.")],
) -> None:
    """Take the database schema back to an older revision (before rolling back a release)."""
    current = _migrate(ctx, migrations.downgrade, revision)
    typer.echo(f"database schema at {current or 'base (no tables)'}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the revision the database schema is at."""
    engine = open_engine(cli_state(ctx).settings.database_url)
    try:
        with engine.connect() as connection:
            revision = migrations.current_revision(connection)
    finally:
        engine.dispose()
    if revision is None:
        typer.echo(
            f"no schema yet (head is {migrations.head_revision()}): run `mailcmd db upgrade`"
        )
        return
    typer.echo(f"{revision}{_head_marker(revision)}")


@app.command("revision")
def revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")],
    autogenerate: Annotated[
        bool, typer.Option("--autogenerate", help="Fill the revision from the models' changes.")
    ] = False,
) -> None:
    """Write a new migration revision into the migrations folder.

    The app's command modules are loaded first, so that autogenerate sees the
    tables they declare as well as mailcmd's own.
    """
    settings = cli_state(ctx).settings
    load_registry(settings.commands)
    engine = open_engine(settings.database_url)
    try:
        path = migrations.new_revision(engine, message, autogenerate)
    finally:
        engine.dispose()
    typer.echo(f"wrote {path}")


def _migrate(ctx: typer.Context, step: Callable[[Engine, str], None], revision: str) -> str | None:
    engine = open_engine(cli_state(ctx).settings.database_url)
    try:
        step(engine, revision)
        with engine.connect() as connection:
            return migrations.current_revision(connection)
    finally:
        engine.dispose()


def _head_marker(revision: str | None) -> str:
    return " (head)" if revision == migrations.head_revision() else " (behind head: upgrade)"
