"""`mailcmd new DIR`: a new app's folder, ready to serve and to test."""

from pathlib import Path
from typing import Annotated

import typer

from mailcmd.app.projects import create_project


def new(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="The app's folder: new, or empty.")],
) -> None:
    """Make a new app in DIR: a command module with its table, its templates, the table's
    first migration, a test, settings and a README."""
    for path in create_project(folder):
        typer.echo(f"wrote {path}")
    typer.echo(
        f"next, in {folder}: `mailcmd serve --demo` runs the app, `python -m pytest` tests it"
    )
