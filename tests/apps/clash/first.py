"""Declares tasks@ add."""

from mailcmd.app import MailApp
from mailcmd.context import Context

app = MailApp()
notes = app.mailbox("notes")


@notes.command("add")
def add(ctx: Context, title: str) -> None:
    """Add a note."""
