"""What `mailcmd queue purge` and `mailcmd outbox purge` share: purge or count, then report."""

from typing import Annotated

import typer

from mailcmd.cli.state import opened_database
from mailcmd.operations.retention import Kind, count, purge

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print what would be removed, and remove nothing.")
]


def purge_and_report(ctx: typer.Context, kinds: list[Kind], dry_run: bool) -> None:
    """Purge `kinds` (or only count them, for `dry_run`) and print one line for each."""
    if not kinds:
        typer.echo("nothing to purge: the retention settings keep all of it")
        return
    with opened_database(ctx) as database:
        counts = count(database, kinds) if dry_run else purge(database, kinds)
    for counted in counts:
        typer.echo(counted.describe(dry_run))
