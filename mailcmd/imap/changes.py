"""Wake-ups for mailbox sessions when an account's mail changes.

Deliveries in this process and other sessions' writes wake the sessions of the
account at once; changes made by other processes arrive through the notifier
(`mailcmd.db.notifier`, channel `MAILBOX`), see `hear`. Sessions also look again
periodically, so a lost notification only delays the news.
"""

import asyncio
from collections import defaultdict


class MailboxEvents:
    """Per-account wake-up events of the open sessions, on one event loop."""

    def __init__(self) -> None:
        """Start with no sessions."""
        self._events: dict[int, set[asyncio.Event]] = defaultdict(set)

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

    def hear(self, payload: str) -> None:
        """Wake the sessions an announcement names (an account id), or all for anything else."""
        self.wake(int(payload) if payload.isdigit() else None)
