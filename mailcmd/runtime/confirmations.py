"""Confirmations: commands held back until their sender confirms by replying, then run once.

A held message keeps its command lines as written, the day they were written, its
tag and its text; the confirming reply parses them again as of that day, so the
commands run exactly as first parsed. Whether a reply confirms, cancels or comes too
late is decided here; the commands themselves run in `mailcmd.runtime.execution`.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from mailcmd.app.dispatch import command_lines
from mailcmd.db.models import Confirmation
from mailcmd.db.types import utc_now
from mailcmd.message import MessageView
from mailcmd.parsing import strip_subject_prefixes

# What an answer says, in its subject or on its first line, to cancel instead.
CANCEL_WORDS = frozenset({"no", "cancel"})


@dataclass(frozen=True)
class HeldLine:
    """One command line of a held message, as written."""

    text: str
    # A line of a body with several commands (it then reads no text of its own).
    from_body: bool


def hold(
    session: Session,
    *,
    mailbox: str,
    tag: str | None,
    holder: str,
    lines: list[HeldLine],
    text: str,
    asked_on: date,
    lifetime: timedelta,
) -> Confirmation:
    """Keep `lines` for `holder` until the confirming reply, at most `lifetime`; the
    caller commits."""
    confirmation = Confirmation(
        mailbox=mailbox,
        tag=tag,
        holder=holder,
        lines=[{"line": line.text, "from_body": line.from_body} for line in lines],
        text=text,
        asked_on=asked_on,
        expires_at=utc_now() + lifetime,
    )
    session.add(confirmation)
    session.flush()
    return confirmation


def held_lines(confirmation: Confirmation) -> list[HeldLine]:
    """The command lines `confirmation` holds."""
    return [HeldLine(str(line["line"]), bool(line["from_body"])) for line in confirmation.lines]


def key_expiry(confirmation: Confirmation) -> date:
    """The last day the confirmation's reply address acts.

    A key's expiry is a whole day, checked against the local date: the day after the
    confirmation's own moment, so that no clock refuses an address the confirmation
    still accepts; the confirmation's `expires_at` is the exact bound.
    """
    return (confirmation.expires_at + timedelta(days=1)).date()


def why_closed(confirmation: Confirmation, now: datetime) -> str | None:
    """Why a reply to `confirmation` runs nothing now (done, cancelled, expired), or None."""
    if confirmation.done_at is not None:
        return (
            f"this was already confirmed, and done, at {_moment(confirmation.done_at)}."
            " A confirmation works once."
        )
    if confirmation.cancelled_at is not None:
        return f"this was cancelled at {_moment(confirmation.cancelled_at)}."
    if confirmation.expires_at <= now:
        return (
            f"this confirmation expired at {_moment(confirmation.expires_at)}."
            f" Write to {confirmation.mailbox}@ again to be asked anew."
        )
    return None


def wants_cancel(view: MessageView) -> bool:
    """Whether an answer says `no` or `cancel` (its subject, or its first line)."""
    lines = command_lines(view.new_text)
    said = [strip_subject_prefixes(view.subject), lines[0] if lines else ""]
    return any(words.strip().lower().rstrip("!.") in CANCEL_WORDS for words in said)


def close(session: Session, confirmation: Confirmation, *, cancel: bool = False) -> bool:
    """Mark `confirmation` done (or cancelled) if it is still open; False if it is not.

    One statement that checks and marks, so that of two answers processed at once
    only one finds it open, on any engine.
    """
    now = utc_now()
    marked = session.execute(
        update(Confirmation)
        .where(
            Confirmation.id == confirmation.id,
            Confirmation.done_at.is_(None),
            Confirmation.cancelled_at.is_(None),
            Confirmation.expires_at > now,
        )
        .values({"cancelled_at" if cancel else "done_at": now})
        .execution_options(synchronize_session=False)
    )
    session.refresh(confirmation)
    return bool(marked.rowcount == 1)  # type: ignore[attr-defined]


def _moment(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
