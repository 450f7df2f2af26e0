"""A folder named as one every account has of its own."""

from mailcmd import FolderContext, FolderItem, MailApp

app = MailApp()
box = app.mailbox("box")


@box.folder("Inbox/Things", template="tasks/folder-item")
def things(ctx: FolderContext) -> list[FolderItem]:
    """Shows nothing, in a place it may not."""
    return []
