"""`mailcmd commands`: every address, verb, usage line, policy and help text of the loaded app."""

import json
import textwrap
from itertools import groupby
from typing import Annotated, Any

import typer

from mailcmd.app.loading import (
    MODULE_PREFIX,
    check_folders,
    check_templates,
    load_registry,
    template_folders,
)
from mailcmd.app.rendering import Renderer
from mailcmd.cli.output import print_table
from mailcmd.cli.state import cli_state


def commands(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the app's commands (address, verb, usage, who may use them, what they do) and
    scheduled jobs; with --json, each command's options, description and example too."""
    settings = cli_state(ctx).settings
    registry = load_registry(settings.commands)
    renderer = Renderer(template_folders(settings.templates))
    check_templates(registry, renderer)
    check_folders(registry, renderer)
    rows: list[dict[str, Any]] = [
        {
            "address": f"{command.mailbox}@{settings.domain}",
            "verb": command.verb or "(default)",
            "usage": command.usage(),
            "policy": command.policy.describe(),
            "auth": command.policy.auth,
            "roles": sorted(command.policy.roles),
            "plus_tag": command.tag_parameter,
            "summary": command.summary,
            "description": command.description,
            "options": [
                {"name": name, "description": text}
                for name, text in command.signature.options_help()
            ],
            "example": command.example,
            "builtin": registry.mailboxes[command.mailbox].builtin,
        }
        for command in registry.commands()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    _print_by_address(rows)
    if registry.jobs:
        typer.echo("")
        print_table(
            ["SCHEDULED JOB", "WHEN"],
            [
                [
                    job.name.removeprefix(MODULE_PREFIX),
                    f"{job.trigger.describe()} ({settings.timezone})",
                ]
                for job in registry.jobs.values()
            ],
        )


# The width a terminal shows without wrapping; a usage line longer than that is kept whole.
LISTING_WIDTH = 78


def _print_by_address(rows: list[dict[str, Any]]) -> None:
    """Print each address, then under it each usage line and, indented, what it does."""
    for address, commands in groupby(rows, key=lambda row: row["address"]):
        typer.echo(address)
        for row in commands:
            typer.echo(f"  {row['usage']}")
            what = f"{row['summary']} Who: {row['policy']}."
            typer.echo(
                textwrap.fill(
                    what,
                    LISTING_WIDTH,
                    initial_indent=" " * 6,
                    subsequent_indent=" " * 6,
                    break_on_hyphens=False,
                )
            )
        typer.echo("")
