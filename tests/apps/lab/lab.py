"""A test app exercising the framework: failures, time limits, async handlers, roles, files."""

import asyncio
import contextlib
import time
from datetime import date
from pathlib import Path
from typing import Annotated

from sqlalchemy import text

from mailcmd import Accepts, Attachment, CommandError, Context, MailApp, Reply

app = MailApp()
lab = app.mailbox("lab", help="Framework test bench")
public = app.mailbox("public", help="Anyone may write here", auth="public")


@lab.command("echo", template="lab/echo")
def echo(ctx: Context, words: str = "", times: int = 1) -> None:
    """Echo the words back, `times` times."""
    ctx.reply(words=words, times=times, body=ctx.body, tag=ctx.tag)


@lab.command("note", template="lab/echo")
def note(ctx: Context, words: str) -> None:
    """Store a note, then reply."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": words})
    ctx.reply(words=words, times=1, body="", tag=None)


@lab.command("refuse", template="lab/echo")
def refuse(ctx: Context, words: str) -> None:
    """Store a note, then raise a CommandError (the note must not stay)."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": words})
    raise CommandError(f"cannot do {words!r}")


@lab.command("crash")
def crash(ctx: Context) -> None:
    """Fail with an unexpected exception."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES ('crash')"))
    raise RuntimeError("internal detail that must not reach the sender")


@lab.command("overflow")
def overflow(ctx: Context, number: int) -> None:
    """Store a number in a column too small for it: PostgreSQL refuses it as data."""
    ctx.session.execute(text("SELECT CAST(:n AS SMALLINT)"), {"n": number})


@lab.command("slow")
def slow(ctx: Context, seconds: float) -> None:
    """Sleep longer than the time limit."""
    time.sleep(seconds)


@lab.command("spin")
def spin(ctx: Context) -> None:
    """Store a note, then loop forever, swallowing every ordinary exception."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES ('spin')"))
    turns = 0
    while True:
        try:
            turns += 1
        except Exception:  # noqa: S112 - what a careless handler does
            continue


@lab.command("doze")
def doze(ctx: Context) -> None:
    """Store a note, then sleep forever, a little at a time (a poll that never ends)."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES ('doze')"))
    while True:
        time.sleep(0.01)


@lab.command("block", template="lab/echo")
def block(ctx: Context, words: str, until: str, started: str = "") -> None:
    """Store a note, then wait until the file `until` exists (for crash tests).

    With `started`, that file is made once the note is stored: the test knows the
    handler runs.
    """
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": words})
    ctx.session.flush()
    if started:
        Path(started).touch()
    marker = Path(until)
    for _ in range(600):
        if marker.exists():
            break
        time.sleep(0.05)
    ctx.reply(words=words, times=1, body="", tag=None)


@lab.command("wait", template="lab/echo")
async def wait(ctx: Context, words: str) -> Reply:
    """An async handler."""
    await asyncio.sleep(0)
    return Reply(template="lab/echo", values={"words": words, "times": 1, "body": "", "tag": None})


@lab.command("admin", roles={"admin"}, template="lab/echo")
def admin(ctx: Context) -> None:
    """Only for admins."""
    ctx.reply(words="admin", times=1, body="", tag=None)


@lab.command("tell", template="lab/echo")
def tell(ctx: Context, to: str, words: str, files: list[Attachment] = []) -> None:  # noqa: B006
    """Notify another local account, passing on the attached files."""
    ctx.notify(to, "lab/echo", words=words, times=1, body="", tag=None, attachments=files)
    ctx.reply(words=f"told {to}", times=1, body="", tag=None)


@lab.command("item", tag="number", template="lab/echo")
def item(ctx: Context, number: int) -> None:
    """Show an item; the plus-tag of lab+N@ gives the number."""
    ctx.reply(words=f"item {number}", times=1, body="", tag=number)


@lab.default(tag="number", template="lab/echo")
def comment(ctx: Context, number: int | None = None) -> None:
    """A reply to lab+N@ without a command comments on item N."""
    ctx.reply(words=f"comment on {number}: {ctx.body.strip()}", times=1, body="", tag=number)


@lab.command("files", template="lab/files")
def files(
    ctx: Context,
    files: Annotated[
        list[Attachment],
        Accepts(types=("image/*", ".txt"), max_bytes=100, max_total_bytes=150, max_count=2),
    ],
) -> None:
    """Store a note for each file, and send the files back."""
    for file in files:
        ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": file.filename})
    ctx.reply(files=files, attachments=files)


@public.command("copy", template="lab/files")
def copy(ctx: Context, file: Attachment | None = None) -> None:
    """Send the attached file back to anyone, or a greeting file without one."""
    sent = file or Attachment("hello.txt", "text/plain", b"hello\n", charset="us-ascii")
    ctx.reply(files=[sent], attachments=[sent])


@public.command("ping", template="lab/echo")
def ping(ctx: Context) -> None:
    """Answer anyone."""
    ctx.reply(words="pong", times=1, body="", tag=None)


@lab.command("wipe", confirm=True, template="lab/echo")
def wipe(ctx: Context, words: str) -> None:
    """Store a note once confirmed; it says nothing of what it would do (the generic question)."""
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": words})
    ctx.reply(words=f"wiped {words}", times=1, body=ctx.body, tag=None)


@lab.command("plan", template="lab/echo")
def plan(ctx: Context, day: date, words: str) -> None:
    """Store a note of `day`, asking first only when the words say `big`."""
    if "big" in words:
        ctx.confirm("lab/question", words=f"{words} on {day}")
    note = f"{day} {words}"
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": note})
    ctx.reply(words=note, times=1, body=ctx.body, tag=ctx.tag)


@lab.command("sneak", template="lab/echo")
def sneak(ctx: Context, words: str) -> None:
    """Ask, catch the signal as a careless handler would, and store a note all the same."""
    with contextlib.suppress(Exception):  # what a careless handler does
        ctx.confirm("lab/question", words=words)
    ctx.session.execute(text("INSERT INTO lab_notes (words) VALUES (:w)"), {"w": words})
    ctx.reply(words=words, times=1, body="", tag=None)
