"""Declares tasks@ add."""

from mailcmd import Context, MailApp

app = MailApp()
notes = app.mailbox("notes")


@notes.command("add")
def add(ctx: Context, title: str) -> None:
    """Add a note."""
