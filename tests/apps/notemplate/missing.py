"""A command naming a template that does not exist."""

from mailcmd import Context, MailApp

app = MailApp()
box = app.mailbox("box")


@box.command("go", template="box/nowhere")
def go(ctx: Context) -> None:
    """Replies with a missing template."""
