"""`mailcmd db ...`: the database schema: upgrade, inspect, new revisions, for the framework's
history and the app's."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine

from mailcmd.app.loading import schema_histories
from mailcmd.cli.state import cli_state
from mailcmd.db import migrations
from mailcmd.db.engine import open_engine
from mailcmd.db.histories import FRAMEWORK_HISTORY, AppSchemaError, History

app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)

FrameworkOption = Annotated[
    bool,
    typer.Option("--framework", help="Work on mailcmd's own history instead of the app's."),
]


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision of the app's history (or of mailcmd's).")
    ] = "head",
    framework: FrameworkOption = False,
) -> None:
    """Upgrade the schema: mailcmd's own tables, then the app's (to their newest revisions).

    With a revision, only that history moves: the app's, or with --framework mailcmd's.
    """
    with _engine(ctx) as engine:
        moving = [_one(ctx, framework)] if revision != "head" or framework else _histories(ctx)
        for history in moving:
            migrations.upgrade(engine, revision, history)
        _report(engine, moving)


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; `base` drops every table.")],
    framework: FrameworkOption = False,
) -> None:
    """Take the app's schema back to an older revision (before rolling back a release).

    With --framework, mailcmd's own history moves instead; take the app's down first.
    """
    history = _one(ctx, framework)
    with _engine(ctx) as engine:
        migrations.downgrade(engine, revision, history)
        _report(engine, [history])


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the revision each history (mailcmd's, the app's) is at."""
    with _engine(ctx) as engine:
        _report(engine, _histories(ctx))


@app.command("revision")
def revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("--message", "-m", help="What the revision changes.")],
    autogenerate: Annotated[
        bool, typer.Option("--autogenerate", help="Fill the revision from the models' changes.")
    ] = False,
    framework: Annotated[
        bool, typer.Option("--framework", help="Write into mailcmd's own history (its developers).")
    ] = False,
) -> None:
    """Write a new migration revision into the app's migrations folder.

    Autogenerate compares only the app's tables (those its command modules declare
    and those its revisions made) and never writes a drop of a table.
    """
    history = _one(ctx, framework)
    with _engine(ctx) as engine:
        path = migrations.new_revision(engine, message, autogenerate, history)
    typer.echo(f"wrote {path}")


@contextmanager
def _engine(ctx: typer.Context) -> Iterator[Engine]:
    engine = open_engine(cli_state(ctx).settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _histories(ctx: typer.Context) -> list[History]:
    settings = cli_state(ctx).settings
    return schema_histories(settings.commands, settings.app_migrations)


def _one(ctx: typer.Context, framework: bool) -> History:
    if framework:
        return FRAMEWORK_HISTORY
    histories = _histories(ctx)
    if len(histories) == 1:
        settings = cli_state(ctx).settings
        raise AppSchemaError(
            f"the app in {settings.commands} has no migrations folder "
            f"{settings.app_migrations}: make it first (or use --framework)"
        )
    return histories[1]


def _report(engine: Engine, histories: list[History]) -> None:
    with engine.connect() as connection:
        for history in histories:
            at = migrations.current_revision(connection, history)
            head = migrations.head_revision(history)
            state = "head" if at == head else f"behind head {head}: upgrade"
            typer.echo(f"{history.label}: {at or 'base (no tables)'} ({state})")
