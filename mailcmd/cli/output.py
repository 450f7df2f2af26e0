"""How the command line prints: plain aligned tables and ISO timestamps."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import typer


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
