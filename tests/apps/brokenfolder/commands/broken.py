"""box@: a test app whose folder's function fails, to show that its commands still run."""

from mailcmd import Context, FolderContext, FolderItem, MailApp

app = MailApp()
box = app.mailbox("box", help="Answers; its folder cannot be shown")


@box.command("go", template="box/went")
def go(ctx: Context) -> None:
    """Answer that it went."""
    ctx.reply()


@box.folder("Things", template="box/thing")
def things(ctx: FolderContext) -> list[FolderItem]:
    """Fails, as an app's mistake would."""
    raise LookupError("no things here")
