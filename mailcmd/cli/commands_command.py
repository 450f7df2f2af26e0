"""`mailcmd commands`: every address, verb, usage line, policy and help text of the loaded app."""

import json
import textwrap
from itertools import groupby
from typing import Annotated, Any

import typer

from mailcmd.app.folders import FolderActions
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
    """List the app's commands (address, verb, usage, who may use them, what they do),
    scheduled jobs and what a client's actions in its folders run; with --json, each
    command's options, description and example."""
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
    actions = [
        [folder.name, when, command]
        for folder in registry.folders
        for when, command in _folder_actions(folder.actions)
    ]
    if actions:
        typer.echo("")
        print_table(["APP FOLDER", "WHEN A CLIENT", "RUNS"], actions)


def _folder_actions(actions: FolderActions) -> list[tuple[str, str]]:
    """What a client may do in a folder, in words, and the command line each runs."""
    found = []
    for flag, (when_set, when_cleared) in actions.flags.items():
        found += [(f"sets {flag}", when_set), (f"clears {flag}", when_cleared)]
    found += [("moves a message in", actions.arrival), ("deletes a message", actions.delete)]
    return [(when, command) for when, command in found if command is not None]


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
