"""`mailcmd commands`: every address, verb, usage line, policy and help text of the loaded app."""

import json
from typing import Annotated, Any

import typer

from mailcmd.app.loading import MODULE_PREFIX, check_templates, load_registry, template_folders
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
    check_templates(registry, Renderer(template_folders(settings.templates)))
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
    print_table(
        ["ADDRESS", "VERB", "USAGE", "WHO", "SUMMARY"],
        [
            [row["address"], row["verb"], row["usage"], row["policy"], row["summary"]]
            for row in rows
        ],
    )
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
