"""One of two mailboxes that declare the same folder."""

from mailcmd import FolderContext, FolderItem, MailApp

app = MailApp()
box = app.mailbox("one")


@box.folder("Things", template="tasks/folder-item")
def first(ctx: FolderContext) -> list[FolderItem]:
    """Shows nothing."""
    return []
