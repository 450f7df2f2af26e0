"""The root `mailcmd` command: global options, error reporting, and the command groups."""

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from mailcmd.cli import (
    autoconfig_command,
    commands_command,
    config_commands,
    db_commands,
    dkim_commands,
    new_command,
    outbox_commands,
    queue_commands,
    reply_keys_commands,
    serve_command,
    users_commands,
)
from mailcmd.cli.state import CliState
from mailcmd.errors import EXIT_REFUSED, MailcmdError


class _ReportingGroup(TyperGroup):
    """Turns the errors an operator can act on into one line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; expected failures become a message, never a traceback."""
        try:
            return super().invoke(ctx)
        except MailcmdError as error:
            _fail(str(error), error.exit_code)
        except OperationalError as error:
            # Drivers explain over several lines; the operator gets them as one.
            reason = " ".join(str(error.orig or error).split())
            _fail(f"cannot use the database (database_url): {reason}", EXIT_REFUSED)


def _fail(message: str, code: int) -> None:
    typer.echo(f"mailcmd: {message}", err=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=_ReportingGroup,
    help="mailcmd: email as an application's user interface.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Settings file (default: $MAILCMD_CONFIG, else ./mailcmd.toml if present).",
        ),
    ] = None,
) -> None:
    """Serve, and manage accounts, the database and settings."""
    ctx.obj = CliState(config_file=config)


app.add_typer(users_commands.app, name="users")
app.add_typer(db_commands.app, name="db")
app.add_typer(dkim_commands.app, name="dkim")
app.add_typer(config_commands.app, name="config")
app.add_typer(queue_commands.app, name="queue")
app.add_typer(outbox_commands.app, name="outbox")
app.add_typer(reply_keys_commands.app, name="reply-keys")
app.command("new")(new_command.new)
app.command("serve")(serve_command.serve)
app.command("worker")(serve_command.worker)
app.command("commands")(commands_command.commands)
app.command("autoconfig")(autoconfig_command.autoconfig)
