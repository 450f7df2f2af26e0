"""journal@: a diary by mail, each account its own; the example this app starts from.

`write Slept well, then a long walk` keeps an entry for the account that sent it, and
`read` answers with that account's latest entries. The entries are rows of the table
`journal_entries`, declared here on `mailcmd.Model` and made by the revision in
`migrations/`. Add your own modules beside this one, or change it into your app.
"""

from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mailcmd import CommandError, Context, Help, MailApp, Model, utc_now

app = MailApp()
journal = app.mailbox("journal", help="A diary by mail, each account its own")


class JournalEntry(Model):
    """One entry, kept for the account that wrote it and deleted with that account."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(1000))
    written_at: Mapped[datetime] = mapped_column(default=utc_now)


# `help write` shows the docstring, each parameter's `Help` and the example.
@journal.command("write", template="journal/written", example="write Slept well, then a walk")
def write(ctx: Context, text: Annotated[str, Help("the entry (the rest of the subject)")]) -> None:
    """Keep TEXT as a new entry."""
    entry = JournalEntry(author_id=ctx.sender.account_id, text=text)
    ctx.session.add(entry)
    # The reply names the entry's number, which the database gives it on flush.
    ctx.session.flush()
    ctx.reply(entry=entry)


@journal.command("read", template="journal/entries", example="read --last 3")
def read(ctx: Context, last: Annotated[int, Help("how many entries")] = 10) -> None:
    """List your latest entries, newest first."""
    if last < 1:
        raise CommandError("--last takes a number of entries, 1 or more")
    entries = ctx.session.scalars(
        select(JournalEntry)
        .where(JournalEntry.author_id == ctx.sender.account_id)
        .order_by(JournalEntry.id.desc())
        .limit(last)
    )
    ctx.reply(entries=list(entries))
