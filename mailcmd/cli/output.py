"""How the command line prints: plain aligned tables and ISO timestamps."""

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
