"""The other of two mailboxes that declare the same folder."""

from mailcmd import FolderContext, FolderItem, MailApp

app = MailApp()
box = app.mailbox("two")


@box.folder("things", template="tasks/folder-item")
def second(ctx: FolderContext) -> list[FolderItem]:
    """Shows nothing."""
    return []
