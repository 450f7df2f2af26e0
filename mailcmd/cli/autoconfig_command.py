"""`mailcmd autoconfig`: the mail-client autoconfiguration document, as the listener serves it."""

import typer

from mailcmd.autoconfig import autoconfig_document
from mailcmd.cli.state import cli_state


def autoconfig(ctx: typer.Context) -> None:
    """Print Thunderbird's autoconfig XML for this server (serve it at autoconfig.<domain>)."""
    typer.echo(autoconfig_document(cli_state(ctx).settings), nl=False)
