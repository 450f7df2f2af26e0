"""A handler whose signature mail cannot fill."""

from mailcmd.app import MailApp
from mailcmd.context import Context

app = MailApp()
box = app.mailbox("box")


@box.command("go")
def go(ctx: Context, when: set[int]) -> None:
    """Cannot be parsed."""
