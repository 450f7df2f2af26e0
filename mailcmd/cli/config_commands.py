"""`mailcmd config ...`: the effective settings and where each came from."""

import json
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from mailcmd.cli.output import print_table
from mailcmd.cli.state import cli_state
from mailcmd.settings import flat_settings

app = typer.Typer(help="Inspect the settings.", no_args_is_help=True)

# Settings whose values hold secrets, and how to mask each.
_URL_KEYS = frozenset({"database_url"})


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print every effective setting, secrets masked, with its source."""
    loaded = cli_state(ctx).loaded
    values = {key: _masked(key, value) for key, value in flat_settings(loaded.settings).items()}
    if as_json:
        typer.echo(
            json.dumps(
                {
                    key: {"value": value, "source": str(loaded.sources[key])}
                    for key, value in values.items()
                },
                indent=2,
            )
        )
        return
    typer.echo(f"config file: {loaded.config_file or '(none: defaults and environment only)'}")
    print_table(
        ["KEY", "VALUE", "SOURCE"],
        [[key, _shown(value), str(loaded.sources[key])] for key, value in values.items()],
    )


def _masked(key: str, value: Any) -> Any:
    if key in _URL_KEYS and isinstance(value, str):
        return make_url(value).render_as_string(hide_password=True)
    if hasattr(value, "get_secret_value"):
        return "***" if value.get_secret_value() else ""
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
