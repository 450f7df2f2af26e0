"""memos@: a test app that keeps its own table, made by its own migrations."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from mailcmd import Context, MailApp, Model, utc_now

app = MailApp()
memos = app.mailbox("memos", help="Short memos, each account its own")


class Memo(Model):
    """One memo, kept for the account that wrote it."""

    __tablename__ = "memos"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


@memos.command("keep", template="memos/list")
def keep(ctx: Context, text: str) -> None:
    """Keep a memo: `keep Call the plumber`."""
    ctx.session.add(Memo(owner_id=ctx.sender.account_id, text=text))
    ctx.session.flush()
    show(ctx)


@memos.command("list", template="memos/list")
def show(ctx: Context) -> None:
    """List your memos."""
    kept = ctx.session.scalars(
        select(Memo.text).where(Memo.owner_id == ctx.sender.account_id).order_by(Memo.id)
    )
    ctx.reply(memos=list(kept))
