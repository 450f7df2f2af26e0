"""`mailcmd serve`: run the server in the foreground."""

import asyncio

import typer

from mailcmd.cli.state import cli_state
from mailcmd.db.database import open_database
from mailcmd.logs import configure_logging
from mailcmd.server import serve as run_server


def serve(ctx: typer.Context) -> None:
    """Run the SMTP server until SIGTERM or Ctrl-C (an embedded SQLite schema is upgraded)."""
    settings = cli_state(ctx).settings
    configure_logging(settings.log_format)
    database = open_database(settings.database_url)
    try:
        asyncio.run(run_server(settings, database, announce=lambda line: typer.echo(line)))
    finally:
        database.close()
