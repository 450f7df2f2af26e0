"""tasks@: a to-do list by mail. Each account sees its own tasks."""

from datetime import date, datetime
from typing import Literal

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from mailcmd.app import MailApp
from mailcmd.context import CommandError, Context
from mailcmd.db.models import Base
from mailcmd.db.types import utc_now

Priority = Literal["low", "normal", "high"]

app = MailApp()
tasks = app.mailbox("tasks", help="Your to-do list")


class Task(Base):
    """One task of one account."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None]
    tags: Mapped[list[str]] = mapped_column(default=list)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    done_at: Mapped[datetime | None]


def _own_task(ctx: Context, task_id: int) -> Task:
    task = ctx.session.get(Task, task_id)
    if task is None or task.owner_id != ctx.sender.account_id:
        raise CommandError(f"you have no task {task_id}")
    return task


@tasks.command("add", template="tasks/task")
def add(
    ctx: Context,
    title: str,
    due: date | None = None,
    tag: list[str] = [],  # noqa: B006 - read only: the parser builds a new list each time
    priority: Priority = "normal",
) -> None:
    """Add a task; the mail's text becomes its description."""
    if ctx.sender.account_id is None:
        raise CommandError("tasks belong to accounts")
    task = Task(
        owner_id=ctx.sender.account_id,
        title=title[:200],
        description=ctx.body.strip(),
        due=due,
        tags=sorted(set(tag)),
        priority=priority,
    )
    ctx.session.add(task)
    ctx.session.flush()
    ctx.reply(task=task, event="added", tag=task.id)


@tasks.command("list", template="tasks/list")
def list_(ctx: Context, all: bool = False, tag: str | None = None) -> None:
    """List your open tasks (with --all, the done ones too)."""
    query = select(Task).where(Task.owner_id == ctx.sender.account_id).order_by(Task.id)
    if not all:
        query = query.where(Task.done_at.is_(None))
    found = [task for task in ctx.session.scalars(query) if tag is None or tag in task.tags]
    ctx.reply(tasks=found, showing_all=all)


@tasks.command("show", template="tasks/task", tag="task_id")
def show(ctx: Context, task_id: int) -> None:
    """Show one task."""
    task = _own_task(ctx, task_id)
    ctx.reply(task=task, event="shown", tag=task.id)


@tasks.command("done", template="tasks/task", tag="task_id")
def done(ctx: Context, task_id: int) -> None:
    """Mark a task done."""
    task = _own_task(ctx, task_id)
    if task.done_at is None:
        task.done_at = utc_now()
    ctx.reply(task=task, event="done", tag=task.id)
