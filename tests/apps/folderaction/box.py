"""A folder whose move into it names a command its mailbox does not have."""

from mailcmd import Context, FolderContext, FolderItem, MailApp

app = MailApp()
box = app.mailbox("box")


@box.command("finish", tag="number")
def finish(ctx: Context, number: int) -> None:
    """Finish a thing."""


@box.folder("Things", template="tasks/folder-item", arrival="archive")
def things(ctx: FolderContext) -> list[FolderItem]:
    """Shows nothing."""
    return []
