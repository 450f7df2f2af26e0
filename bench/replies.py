"""Watching an account's INBOX for the replies of an end-to-end load, and when each was stored."""

import re
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from mailcmd.db.database import Database
from mailcmd.db.models import MailMessage

IN_REPLY_TO = re.compile(rb"^In-Reply-To:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
# The header of a reply is read, never the whole message.
HEADER_BYTES = 8192
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class StoredReply:
    """A reply found in the mailbox: the Message-ID it answers, and when it was stored."""

    answers: str
    stored_at: float  # wall clock, seconds since the epoch


class ReplyWatch:
    """Finds the replies stored since the last `mark`."""

    def __init__(self, database: Database) -> None:
        """Watch the mailboxes in `database`."""
        self._database = database
        self._after = self._newest()

    def mark(self) -> None:
        """Count only replies stored from now on."""
        self._after = self._newest()

    def wait(self, expected: int, timeout: float, stall: float) -> list[StoredReply]:
        """Wait for `expected` replies, at most `timeout` s, and give up after `stall` s of none."""
        deadline = time.monotonic() + timeout
        seen, progress_at = -1, time.monotonic()
        while True:
            now = time.monotonic()
            count = self._count()
            if count != seen:
                seen, progress_at = count, now
            if count >= expected or now >= deadline or now - progress_at >= stall:
                break
            time.sleep(POLL_SECONDS)
        return self._replies()

    def _newest(self) -> int:
        with self._database.sessions() as session:
            return int(session.scalar(select(func.max(MailMessage.id))) or 0)

    def _count(self) -> int:
        with self._database.sessions() as session:
            query = select(func.count()).where(MailMessage.id > self._after)
            return int(session.scalar(query) or 0)

    def _replies(self) -> list[StoredReply]:
        with self._database.sessions() as session:
            rows = session.execute(
                select(func.substr(MailMessage.raw, 1, HEADER_BYTES), MailMessage.internal_at)
                .where(MailMessage.id > self._after)
                .order_by(MailMessage.id)
            ).all()
        found = []
        for head, stored_at in rows:
            match = IN_REPLY_TO.search(bytes(head))
            if match is not None:
                found.append(StoredReply(match.group(1).decode(), stored_at.timestamp()))
        return found
