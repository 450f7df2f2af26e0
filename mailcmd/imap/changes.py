"""Wake-ups for mailbox sessions when an account's mail changes.

Deliveries in this process and other sessions' writes wake the sessions of the
account at once; with PostgreSQL, changes made by other processes arrive by
LISTEN/NOTIFY. Sessions also look again periodically, so a lost notification only
delays the news.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict

import psycopg

from mailcmd.db.database import Database
from mailcmd.db.engine import is_sqlite
from mailcmd.mailstore import MAILBOX_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 5.0


class MailboxEvents:
    """Per-account wake-up events of the open sessions, on one event loop."""

    def __init__(self) -> None:
        """Start with no sessions."""
        self._events: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None

    def register(self, account_id: int) -> asyncio.Event:
        """Return an event that is set whenever the account's mail changes."""
        event = asyncio.Event()
        self._events[account_id].add(event)
        return event

    def unregister(self, account_id: int, event: asyncio.Event) -> None:
        """Stop waking `event`."""
        events = self._events.get(account_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[account_id]

    def wake(self, account_id: int | None = None) -> None:
        """Wake the sessions of `account_id`, or of every account for None."""
        if account_id is None:
            targets = [event for events in self._events.values() for event in events]
        else:
            targets = list(self._events.get(account_id, ()))
        for event in targets:
            event.set()

    def start(self, database: Database) -> None:
        """With PostgreSQL, listen for other processes' changes on the running loop."""
        if not is_sqlite(database.engine.url):
            self._listener = asyncio.create_task(self._listen(database), name="imap-listen")

    async def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self, database: Database) -> None:
        url = database.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {MAILBOX_CHANNEL}")
                    async for notice in connection.notifies():
                        self.wake(int(notice.payload) if notice.payload.isdigit() else None)
            except psycopg.Error as error:
                log.warning("listening for mailbox changes failed, polling meanwhile: %s", error)
                await asyncio.sleep(RECONNECT_SECONDS)
