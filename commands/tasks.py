"""tasks@: a to-do list by mail. Each account sees its own tasks and those shared with it.

Every reply shows the task as it stands and carries `Reply-To: tasks+ID.KEY@`, so
that answering it continues the task: a plain answer adds a comment, and `done`,
`reopen` or `edit --due friday`, as the first line of the answer or in its
subject, need no number; its links send done / reopen / delete / list. `delete`
and `share` ask first and act on the confirming reply. `import` adds the tasks of
an attached CSV file, and `export` sends them back as one.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import partial
from typing import Annotated, Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    UnaryExpression,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload

from mailcmd import (
    Accepts,
    Account,
    CommandError,
    Context,
    Csv,
    FolderContext,
    FolderItem,
    Help,
    MailApp,
    Model,
    ScheduledContext,
    csv_attachment,
    utc_now,
)

Priority = Literal["low", "normal", "high"]
PRIORITY_ORDER = {"high": 0, "normal": 1, "low": 2}
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# One import is one transaction, run within the worker's time limit for a handler.
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_ROWS = 1000
# When the daily summary goes out, in the `timezone` setting: the job runs then, and
# `digest on` says so.
DIGEST_AT = time(7, 0)

app = MailApp()
tasks = app.mailbox("tasks", help="Your to-do list")


# What help says of the task a command acts on: in an answer to a task mail, the
# address names it.
TaskNumber = Annotated[int, Help("the task's number; not needed in an answer to its mail")]

# Task numbers come from what people write (`done 42`, `tasks+42@`), up to 64 bits:
# a 32-bit column on PostgreSQL would turn a long number into a database error.
TASK_ID = BigInteger().with_variant(Integer(), "sqlite")


class Task(Model):
    """One task: its owner, and the accounts it is shared with."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(TASK_ID, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None]
    tags: Mapped[list[str]] = mapped_column(default=list)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    done_at: Mapped[datetime | None]
    # The due day its owner was reminded on, so that a reminder goes out once.
    reminded_for: Mapped[date | None]
    # Bumped, with the time, on every change its mail tells (`_answer`): the folder's
    # message of a task whose revision is the same is not rendered again.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    changed_at: Mapped[datetime | None]

    owner: Mapped[Account] = relationship()
    comments: Mapped[list["TaskComment"]] = relationship(
        cascade="all, delete-orphan", order_by="TaskComment.id"
    )
    attachments: Mapped[list["TaskAttachment"]] = relationship(
        cascade="all, delete-orphan", order_by="TaskAttachment.id"
    )
    shares: Mapped[list["TaskShare"]] = relationship(cascade="all, delete-orphan")


class TaskComment(Model):
    """What someone wrote in answer to a task mail."""

    __tablename__ = "task_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        TASK_ID, ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    author: Mapped[Account] = relationship()


class TaskAttachment(Model):
    """A file that came with the mail that added a task or commented on it."""

    __tablename__ = "task_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        TASK_ID, ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class TaskShare(Model):
    """Another account that sees a task and hears of its changes."""

    __tablename__ = "task_shares"

    task_id: Mapped[int] = mapped_column(
        TASK_ID, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )

    account: Mapped[Account] = relationship()


class TaskDigest(Model):
    """An account that asked for a daily summary of its open tasks."""

    __tablename__ = "task_digests"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )


@dataclass(frozen=True)
class TaskRow:
    """One task as a row of tasks.csv: what `import` reads and `export` writes."""

    title: str
    due: date | None
    tags: list[str] = field(default_factory=list)
    priority: Priority = "normal"


def _visible(ctx: Context) -> ColumnElement[bool]:
    """The condition for tasks the sender owns or that are shared with them."""
    return _visible_to(ctx.sender.account_id)


def _visible_to(account_id: int | None) -> ColumnElement[bool]:
    """The condition for tasks the account owns or that are shared with it."""
    shared = select(TaskShare.task_id).where(TaskShare.account_id == account_id)
    return or_(Task.owner_id == account_id, Task.id.in_(shared))


def _task(ctx: Context, task_id: int) -> Task:
    task = ctx.session.get(Task, task_id)
    if task is None or not _sees(task, ctx.sender.account_id):
        raise CommandError(f"you have no task {task_id}")
    return task


def _sees(task: Task, account_id: int | None) -> bool:
    return task.owner_id == account_id or any(s.account_id == account_id for s in task.shares)


def _address(account: Account) -> str | None:
    """Where mail for `account` goes: its first address, or its login if that is one."""
    if account.addresses:
        return account.addresses[0].address
    return account.login if "@" in account.login else None


def _answer(ctx: Context, task: Task, event: str, *, concerned: Account | None = None) -> None:
    """Reply with the task as it stands, and tell everyone else who shares it; the
    `concerned` account (the one the change is about) hears it told to them."""
    ctx.session.flush()  # a new task's defaults are its row's
    task.revision += 1
    task.changed_at = utc_now()
    ctx.reply("tasks/task", task=task, event=event, tag=task.id)
    others = [task.owner] + [share.account for share in task.shares]
    changed_by = ctx.sender.login or ctx.sender.address
    for account in others:
        address = _address(account) if account.id != ctx.sender.account_id else None
        if address is not None:
            told = "shared with you" if account is concerned else event
            ctx.notify(
                address,
                "tasks/task",
                task=task,
                event=f"{told} by {changed_by}",
                tag=task.id,
            )


def _store_attachments(ctx: Context, task: Task) -> None:
    for attachment in ctx.attachments:
        if len(attachment.data) > MAX_ATTACHMENT_BYTES:
            raise CommandError(
                f"the attachment {attachment.filename or 'without a name'} is larger than"
                f" {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB"
            )
        task.attachments.append(
            TaskAttachment(
                filename=(attachment.filename or "attachment")[:255],
                content_type=attachment.content_type[:127],
                size=len(attachment.data),
                data=attachment.data,
            )
        )


# What a person's star, keyword and deletion do in either folder of tasks.
FOLDER_FLAGS = {
    "\\Flagged": ("edit --priority high", "edit --priority normal"),
    "$Done": ("done", "reopen"),
}


@tasks.folder(
    "Tasks", template="tasks/folder-item", flags=FOLDER_FLAGS, arrival="reopen", delete="delete"
)
def open_tasks(ctx: FolderContext) -> list[FolderItem]:
    """The open tasks the account sees, the newest first: its Tasks folder. A task moved
    here is reopened; one starred is of high priority; one deleted asks to confirm."""
    shown = _visible_to(ctx.account_id), Task.done_at.is_(None)
    return _folder_items(ctx, shown, (Task.id.desc(),))


@tasks.folder(
    "Tasks/Done", template="tasks/folder-item", flags=FOLDER_FLAGS, arrival="done", delete="delete"
)
def done_tasks(ctx: FolderContext) -> list[FolderItem]:
    """The done tasks the account sees, the last done first: its Tasks/Done folder. A
    task moved here is done."""
    shown = _visible_to(ctx.account_id), Task.done_at.is_not(None)
    return _folder_items(ctx, shown, (Task.done_at.desc(), Task.id.desc()))


def _folder_items(
    ctx: FolderContext,
    where: tuple[ColumnElement[bool], ...],
    order: tuple[UnaryExpression[Any], ...],
) -> list[FolderItem]:
    """The first `ctx.limit` tasks `where` says, in `order`, as their folder shows them,
    each dated by its last change and versioned by its revision."""
    # Only the columns that decide whether a task's message is still right: the
    # task itself (with its owner, comments and shares) is loaded only to render it.
    query = (
        select(
            Task.id, Task.revision, Task.priority, Task.created_at, Task.done_at, Task.changed_at
        )
        .where(*where)
        .order_by(*order)
        .limit(ctx.limit)
    )
    rows = ctx.session.execute(query).all()
    tasks = _ShownTasks(ctx.session, [row.id for row in rows])
    items = []
    for row in rows:
        flags = {"\\Flagged"} if row.priority == "high" else set()
        if row.done_at is not None:
            flags.add("$Done")
        items.append(
            FolderItem(
                key=str(row.id),
                changed_at=row.changed_at or row.done_at or row.created_at,
                values=partial(tasks.values, row.id),
                flags=frozenset(flags),
                version=str(row.revision),
            )
        )
    return items


class _ShownTasks:
    """The folder's tasks, loaded whole (owner, comments, shares) only when one is
    rendered, with the others of its chunk of the folder: a folder rendered from
    nothing costs a few queries per chunk, not a few per task."""

    CHUNK = 50

    def __init__(self, session: Session, ids: list[int]) -> None:
        self._session = session
        self._ids = ids
        self._loaded: dict[int, Task] = {}

    def values(self, task_id: int) -> dict[str, Task | None]:
        """What the folder's template sees of the task `task_id`."""
        if task_id not in self._loaded:
            # The chunk of the folder's order it is in, whatever order renders them.
            start = self._ids.index(task_id) // self.CHUNK * self.CHUNK
            chunk = self._ids[start : start + self.CHUNK]
            query = (
                select(Task)
                .where(Task.id.in_(chunk))
                .options(
                    selectinload(Task.owner),
                    selectinload(Task.comments).selectinload(TaskComment.author),
                    selectinload(Task.shares).selectinload(TaskShare.account),
                )
            )
            self._loaded.update((task.id, task) for task in self._session.scalars(query))
        return {"task": self._loaded.get(task_id)}


@tasks.command("add", example="add Buy milk --due +2w --tag home")
def add(
    ctx: Context,
    title: Annotated[str, Help("what is to be done (the rest of the subject)")],
    due: Annotated[date | None, Help("the day it is due, when its owner is reminded")] = None,
    tag: Annotated[list[str], Help("a word to find it by with list --tag")] = [],  # noqa: B006 - read only: the parser builds a new list each time
    priority: Annotated[Priority, Help("how urgent it is")] = "normal",
) -> None:
    """Add a task; the mail's text becomes its description, its attachments stay with it."""
    if ctx.sender.account_id is None:
        raise CommandError("tasks belong to accounts")
    task = Task(
        owner=ctx.session.get(Account, ctx.sender.account_id),
        title=title[:200],
        description=ctx.body.strip(),
        due=due,
        tags=sorted(set(tag)),
        priority=priority,
        # A new task's collections are known to be empty: no query needs to say so.
        comments=[],
        attachments=[],
        shares=[],
    )
    ctx.session.add(task)
    _store_attachments(ctx, task)
    _answer(ctx, task, "added")


@tasks.command("list", template="tasks/list", example="list --tag home --sort due")
def list_(
    ctx: Context,
    all: Annotated[bool, Help("the done tasks too")] = False,
    tag: Annotated[str | None, Help("only the tasks with this tag")] = None,
    due_before: Annotated[date | None, Help("only the tasks due before this day")] = None,
    sort: Annotated[
        Literal["due", "priority", "created"], Help("the order of the list")
    ] = "created",
) -> None:
    """List your open tasks and those shared with you (with --all, the done ones too)."""
    query = _listed(ctx, all)
    if due_before is not None:
        query = query.where(Task.due < due_before)
    found = [task for task in ctx.session.scalars(query) if tag is None or tag in task.tags]
    if sort == "due":
        found.sort(key=lambda task: (task.due is None, task.due or date.max, task.id))
    elif sort == "priority":
        found.sort(key=lambda task: (PRIORITY_ORDER.get(task.priority, 1), task.id))
    else:
        found.sort(key=lambda task: task.id)
    # What narrowed the list, so that an empty one says why it is empty.
    narrowed = [f"tagged {tag}"] if tag is not None else []
    narrowed += [f"due before {due_before.isoformat()}"] if due_before is not None else []
    ctx.reply(tasks=found, showing_all=all, narrowed=narrowed)


def _listed(ctx: Context, include_done: bool) -> Select[tuple[Task]]:
    """The sender's open tasks and those shared with them (with `include_done`, all)."""
    query = select(Task).where(_visible(ctx))
    return query if include_done else query.where(Task.done_at.is_(None))


@tasks.command("import", template="tasks/imported", example="import")
def import_(
    ctx: Context,
    csv: Annotated[Csv[TaskRow], Accepts(max_bytes=MAX_IMPORT_BYTES), Help("the tasks to add")],
) -> None:
    """Add the tasks of an attached CSV file (title, due, tags, priority): all, or none."""
    if len(csv) > MAX_IMPORT_ROWS:
        raise CommandError(f"at most {MAX_IMPORT_ROWS} tasks in one import, got {len(csv)}")
    owner = ctx.session.get(Account, ctx.sender.account_id)
    added = [
        Task(
            owner=owner,
            title=row.title[:200],
            due=row.due,
            tags=sorted(set(row.tags)),
            priority=row.priority,
            comments=[],
            attachments=[],
            shares=[],
        )
        for row in csv
    ]
    ctx.session.add_all(added)
    ctx.session.flush()
    ctx.reply(tasks=added, filename=csv.filename or "the CSV file")


@tasks.command("export", template="tasks/exported", example="export --all")
def export(ctx: Context, all: Annotated[bool, Help("the done tasks too")] = False) -> None:
    """Mail your open tasks and those shared with you as tasks.csv (--all: the done ones too)."""
    found = ctx.session.scalars(_listed(ctx, all).order_by(Task.id)).all()
    rows = [
        TaskRow(title=task.title, due=task.due, tags=list(task.tags), priority=task.priority)
        for task in found
    ]
    exported = csv_attachment("tasks.csv", TaskRow, rows)
    ctx.reply(tasks=found, showing_all=all, attachments=[exported])


@tasks.command("show", tag="task_id", example="show 42")
def show(ctx: Context, task_id: TaskNumber) -> None:
    """Show one task, with its comments and attachments."""
    task = _task(ctx, task_id)
    ctx.reply("tasks/task", task=task, event="shown", tag=task.id)


@tasks.command("done", tag="task_ids", example="done 42 43")
def done(
    ctx: Context,
    task_ids: Annotated[
        list[int], Help("the tasks' numbers; not needed in an answer to a task mail")
    ],
) -> None:
    """Mark one or more tasks done."""
    for task_id in task_ids:
        task = _task(ctx, task_id)
        if task.done_at is None:
            task.done_at = utc_now()
        _answer(ctx, task, "done")


@tasks.command("reopen", tag="task_id", example="reopen 42")
def reopen(ctx: Context, task_id: TaskNumber) -> None:
    """Open a done task again."""
    task = _task(ctx, task_id)
    task.done_at = None
    _answer(ctx, task, "reopened")


@tasks.command("edit", tag="task_id", example="edit 42 --due fri --priority high")
def edit(
    ctx: Context,
    task_id: TaskNumber,
    title: Annotated[str | None, Help("the new title")] = None,
    due: Annotated[date | None, Help("the new due day")] = None,
    tag: Annotated[list[str], Help("the new tags, replacing the old")] = [],  # noqa: B006 - read only: the parser builds a new list each time
    priority: Annotated[Priority | None, Help("the new priority")] = None,
) -> None:
    """Change a task's title, due date, tags (replacing them) or priority."""
    task = _task(ctx, task_id)
    if title is None and due is None and not tag and priority is None:
        raise CommandError("nothing to change: give --title, --due, --tag or --priority")
    if title is not None:
        task.title = title[:200]
    if due is not None:
        task.due = due
        task.reminded_for = None
    if tag:
        task.tags = sorted(set(tag))
    if priority is not None:
        task.priority = priority
    _answer(ctx, task, "changed")


@tasks.command("delete", tag="task_id", template="tasks/deleted", confirm=True, example="delete 42")
def delete(ctx: Context, task_id: TaskNumber) -> None:
    """Delete a task you own, with its comments and attachments (after you confirm)."""
    task = _task(ctx, task_id)
    if task.owner_id != ctx.sender.account_id:
        raise CommandError(f"only {task.owner.login} can delete task {task_id}")
    ctx.confirm("tasks/delete-question", task=task)
    ctx.reply(task_id=task.id, title=task.title)
    ctx.session.delete(task)


@tasks.command("share", tag="task_id", confirm=True, example="share 42 bob@app.example")
def share(
    ctx: Context, task_id: TaskNumber, login: Annotated[str, Help("the other account's login")]
) -> None:
    """Share a task with another account (after you confirm): it sees the task and hears
    of each change."""
    task = _task(ctx, task_id)
    wanted = login.strip().lower()
    other = ctx.session.scalar(select(Account).where(Account.login == wanted))
    if other is None or not other.enabled:
        raise CommandError(f"there is no account {login!r}")
    if other.id == task.owner_id or any(s.account_id == other.id for s in task.shares):
        raise CommandError(f"task {task_id} is already {other.login}'s")
    ctx.confirm("tasks/share-question", task=task, login=other.login)
    task.shares.append(TaskShare(account_id=other.id, account=other))
    _answer(ctx, task, f"shared with {other.login}", concerned=other)


@tasks.command("digest", template="tasks/digest-setting", example="digest on")
def digest(
    ctx: Context, state: Annotated[Literal["on", "off"], Help("on to receive it, off to stop")]
) -> None:
    """Turn the daily summary of your open tasks on or off."""
    current = ctx.session.get(TaskDigest, ctx.sender.account_id)
    if state == "on" and current is None:
        ctx.session.add(TaskDigest(account_id=ctx.sender.account_id))
    if state == "off" and current is not None:
        ctx.session.delete(current)
    ctx.reply(state=state, at=DIGEST_AT.strftime("%H:%M"), timezone=ctx.timezone)


@tasks.default(tag="task_id")
def comment(ctx: Context, task_id: int) -> None:
    """Answering a task mail adds your text (without the quote) and attachments to it."""
    task = _task(ctx, task_id)
    text = ctx.body.strip()
    if not text and not ctx.attachments:
        raise CommandError(
            "nothing to add: write above the quoted text, or put a command in the subject"
        )
    if text:
        assert ctx.sender.account_id is not None  # _task found the sender's task
        task.comments.append(TaskComment(author_id=ctx.sender.account_id, text=text))
    _store_attachments(ctx, task)
    _answer(ctx, task, "commented")


@app.schedule("0 8 * * *")
def remind(run: ScheduledContext) -> None:
    """On the morning a task is due, remind its owner (once)."""
    today = run.now.date()
    due = select(Task).where(
        Task.due == today,
        Task.done_at.is_(None),
        or_(Task.reminded_for.is_(None), Task.reminded_for != today),
    )
    for task in run.session.scalars(due):
        address = _address(task.owner)
        task.reminded_for = today
        if address is not None:
            run.send(
                address, "tasks/task", mailbox="tasks", task=task, event="due today", tag=task.id
            )


@app.schedule(f"{DIGEST_AT.minute} {DIGEST_AT.hour} * * *")
def send_digests(run: ScheduledContext) -> None:
    """Each morning, mail the open tasks to every account that turned the digest on."""
    for entry in run.session.scalars(select(TaskDigest)):
        account = run.session.get(Account, entry.account_id)
        address = _address(account) if account is not None else None
        if account is None or address is None:
            continue
        shared = select(TaskShare.task_id).where(TaskShare.account_id == account.id)
        open_tasks = run.session.scalars(
            select(Task)
            .where(or_(Task.owner_id == account.id, Task.id.in_(shared)))
            .where(Task.done_at.is_(None))
            .order_by(Task.due.is_(None), Task.due, Task.id)
        ).all()
        run.send(address, "tasks/digest", mailbox="tasks", tasks=open_tasks, day=run.now.date())
