"""A folder of two fixed notes whose star asks to pin one, which is always refused, and
that maps no move and no deletion."""

from datetime import UTC, datetime

from mailcmd import CommandError, Context, FolderContext, FolderItem, MailApp

app = MailApp()
notes = app.mailbox("notes")


@notes.command("pin", tag="number")
def pin(ctx: Context, number: int) -> None:
    """Pin a note: never today."""
    raise CommandError(f"note {number} cannot be pinned today")


@notes.folder("Notes", template="notes/note", flags={"\\Flagged": ("pin", None)})
def shown(ctx: FolderContext) -> list[FolderItem]:
    """The two notes."""
    written = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return [
        FolderItem(key=str(number), changed_at=written, values={"number": number})
        for number in (2, 1)
    ]
