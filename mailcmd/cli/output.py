"""How the command line prints: plain aligned tables and ISO timestamps."""

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

from mailcmd.db.models import QueueStatus

# Options shared by the commands that list and show stored messages.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
StatusOption = Annotated[
    QueueStatus | None, typer.Option("--status", "-s", help="Only messages in this state.")
]
LimitOption = Annotated[int, typer.Option("--limit", min=1, help="At most this many.")]
RawOption = Annotated[bool, typer.Option("--raw", help="Print the message exactly as stored.")]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` under `headers` in left-aligned columns, or a note when there are none."""
    if not rows:
        typer.echo("(none)")
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, *rows):
        cells = (str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


def timestamp(moment: datetime | None) -> str | None:
    """Return `moment` as an ISO 8601 UTC timestamp to the second, or None."""
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds")


def shown_value(value: Any) -> str:
    """Return `value` as a table cell: '-' for nothing, lists joined with commas."""
    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(str(entry) for entry in value)
    return str(value)


def print_record(item: dict[str, Any], raw: bytes | None, as_json: bool) -> None:
    """Print one stored message: its bytes exactly (`raw`), JSON, or a field table."""
    if raw is not None:
        stdout = typer.get_binary_stream("stdout")
        stdout.write(raw)
        stdout.flush()
    elif as_json:
        typer.echo(json.dumps(item, indent=2))
    else:
        print_table(["FIELD", "VALUE"], [[key, shown_value(value)] for key, value in item.items()])


def print_listing(
    described: list[dict[str, Any]],
    as_json: bool,
    headers: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[str]],
) -> None:
    """Print described records as JSON, or as a table of `row(item)` under `headers`."""
    if as_json:
        typer.echo(json.dumps(described, indent=2))
    else:
        print_table(headers, [row(item) for item in described])
