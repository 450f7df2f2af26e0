"""Watching for the replies of an end-to-end load, and when each was stored.

Replies to a local account are watched in its INBOX (the database); replies that
leave by SMTP (mailcmd's `[relay]`, Salmon) in the counting sink's log.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select

from bench.installations import Installation, open_installation_database
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


class Watch(Protocol):
    """Where the replies of a system under measurement are found."""

    def mark(self) -> None:
        """Count only replies stored from now on."""

    def wait(self, expected: int, timeout: float, stall: float) -> list[StoredReply]:
        """Wait for `expected` replies, at most `timeout` s, and give up after `stall` s of none."""

    def close(self) -> None:
        """Let go of what the watch holds open."""


def wait_for(count: Callable[[], int], expected: int, timeout: float, stall: float) -> None:
    """Poll `count` until it reaches `expected`, `timeout` s pass, or it stalls for `stall` s."""
    deadline = time.monotonic() + timeout
    seen, progress_at = -1, time.monotonic()
    while True:
        now = time.monotonic()
        found = count()
        if found != seen:
            seen, progress_at = found, now
        if found >= expected or now >= deadline or now - progress_at >= stall:
            return
        time.sleep(POLL_SECONDS)


class ReplyWatch:
    """Finds the replies stored in the mailboxes of a database since the last `mark`."""

    def __init__(self, database: Database) -> None:
        """Watch the mailboxes in `database`, which the watch closes when it is closed."""
        self._database = database
        self._after = self._newest()

    def mark(self) -> None:
        """Count only replies stored from now on."""
        self._after = self._newest()

    def wait(self, expected: int, timeout: float, stall: float) -> list[StoredReply]:
        """Wait for `expected` replies, at most `timeout` s, and give up after `stall` s of none."""
        wait_for(self._count, expected, timeout, stall)
        return self._replies()

    def close(self) -> None:
        """Close the database."""
        self._database.close()

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


class SinkWatch:
    """Finds the replies the counting sink (`bench.sink`) logged since the last `mark`."""

    def __init__(self, log_path: Path) -> None:
        """Watch the sink's log at `log_path`."""
        self._path = log_path
        self._after = self._size()

    def mark(self) -> None:
        """Count only replies received from now on."""
        self._after = self._size()

    def wait(self, expected: int, timeout: float, stall: float) -> list[StoredReply]:
        """Wait for `expected` replies, at most `timeout` s, and give up after `stall` s of none."""
        wait_for(lambda: len(self._lines()), expected, timeout, stall)
        found = []
        for line in self._lines():
            stamp, _, answers = line.partition(" ")
            if answers.startswith("<"):
                found.append(StoredReply(answers, float(stamp)))
        return found

    def close(self) -> None:
        """Nothing is held open between polls."""

    def _size(self) -> int:
        return self._path.stat().st_size if self._path.exists() else 0

    def _lines(self) -> list[str]:
        if not self._path.exists():
            return []
        with self._path.open("rb") as log:
            log.seek(self._after)
            text = log.read().decode()
        # A line still being written has no newline yet: it is counted next time.
        return text.split("\n")[:-1]


def open_watch(installation: Installation) -> Watch:
    """The watch on `installation`'s replies: its sink's log, or else its mailboxes."""
    if installation.sink_log is not None:
        return SinkWatch(installation.sink_log)
    return ReplyWatch(open_installation_database(installation))
