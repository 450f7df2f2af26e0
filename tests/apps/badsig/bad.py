"""A handler whose signature mail cannot fill."""

from mailcmd import Context, MailApp

app = MailApp()
box = app.mailbox("box")


@box.command("go")
def go(ctx: Context, when: set[int]) -> None:
    """Cannot be parsed."""
