"""notes@: short notes by mail, each kept for the account that wrote it."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailcmd import Account, Context, MailApp, Model, utc_now

app = MailApp()
notes = app.mailbox("notes", help="Short notes, each account its own")


class Note(Model):
    """One note, and the account it belongs to (deleting the account deletes its notes)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    owner: Mapped[Account] = relationship()


@notes.command("add", template="notes/added")
def add(ctx: Context, text: str) -> None:
    """Keep TEXT as a note: `add Call the plumber`."""
    note = Note(owner_id=ctx.sender.account_id, text=text)
    ctx.session.add(note)
    ctx.session.flush()  # the note gets its id, which the reply shows
    ctx.reply(note=note)
