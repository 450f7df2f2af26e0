"""`mailcmd reply-keys ...`: the secret that signs reply addresses."""

from datetime import timedelta
from typing import Annotated

import typer

from mailcmd.addressing.reply_key_file import ReplyKeyFile
from mailcmd.cli.state import cli_state

app = typer.Typer(help="Manage the secret that signs reply addresses.", no_args_is_help=True)

# A century: longer overlaps mean an old secret that never stops working, and past
# some thousands of years the date cannot be written at all.
MAX_OVERLAP_DAYS = 36_500


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    overlap_days: Annotated[
        float,
        typer.Option(
            "--overlap-days",
            min=0,
            max=MAX_OVERLAP_DAYS,
            help="How long reply addresses signed with the old secret keep working.",
        ),
    ] = 30,
) -> None:
    """Make a new secret for reply addresses; the old one is accepted for the overlap.

    Running servers and workers use the new secret at once. Mail already sent keeps
    working until the overlap ends; after that, answers to it are refused and its
    reader is told to write to the mailbox again.
    """
    key_file = ReplyKeyFile(cli_state(ctx).settings.state_dir)
    until = key_file.rotate(timedelta(days=overlap_days))
    typer.echo(
        f"new reply-key secret in {key_file.path}; the previous one is accepted until "
        f"{until:%Y-%m-%d %H:%M} UTC"
    )
