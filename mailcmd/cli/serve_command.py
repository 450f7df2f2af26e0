"""`mailcmd serve` and `mailcmd worker`: run the server, or only its worker, in the foreground."""

import asyncio
from typing import Annotated

import typer

from mailcmd.cli.state import cli_state
from mailcmd.db.database import open_database
from mailcmd.logs import configure_logging
from mailcmd.server import serve as run_server


def serve(
    ctx: typer.Context,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Only receive; `mailcmd worker` processes.")
    ] = False,
) -> None:
    """Run the SMTP server and the worker until SIGTERM or Ctrl-C.

    An embedded SQLite schema is upgraded first; a PostgreSQL one must be current.
    """
    _run(ctx, receive=True, work=not no_worker)


def worker(ctx: typer.Context) -> None:
    """Run only the worker (for more workers beside `mailcmd serve --no-worker`)."""
    _run(ctx, receive=False, work=True)


def _run(ctx: typer.Context, *, receive: bool, work: bool) -> None:
    settings = cli_state(ctx).settings
    configure_logging(settings.log_format)
    database = open_database(settings.database_url)
    try:
        asyncio.run(
            run_server(
                settings,
                database,
                announce=lambda line: typer.echo(line),
                receive=receive,
                work=work,
            )
        )
    finally:
        database.close()
