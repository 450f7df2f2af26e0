"""Showing in the app folders what the worker's transactions changed, soon after they commit.

The worker names the accounts whose objects a message's commands changed; once its
transaction commits, the syncer brings those accounts' folders up to date
(`FolderViews.sync`) in a transaction of its own. An account just synced rests four
times as long as its sync took before the next: syncing takes at most a fifth of the
time, and under a stream of commands one sync shows the changes of many, instead of
each command paying for a folder of hundreds of objects, while a lone command's
change shows at once. The folders are derived
state: a sync lost to a crash is made good by the account's next command or login.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session

from mailcmd.db.database import Database
from mailcmd.operations.traces import current_trace_id, traced
from mailcmd.runtime.folder_views import FolderViews
from mailcmd.runtime.services import Wakeup

log = logging.getLogger(__name__)

# How many times as long as its last sync took an account's folders rest before the next.
REST_FACTOR = 4.0
# Where, in `session.info`, the accounts to sync once it commits wait.
_DUE = "mailcmd_folders_due"


class FolderSyncer:
    """Syncs the app folders of the accounts committed transactions changed."""

    name = "folder syncer"

    def __init__(
        self,
        database: Database,
        views: FolderViews,
        on_synced: Callable[[], None] | None = None,
    ) -> None:
        """Sync with `views` in `database`; `on_synced` hears when a sync has committed
        (this process's mailbox sessions look again)."""
        self._database = database
        self._on_synced = on_synced
        self._views = views
        self._wakeup = Wakeup()
        self._lock = threading.Lock()
        # The accounts to sync, each with the trace of the last message that changed it.
        self._owed: dict[int, str | None] = {}
        # When each account synced may be synced again (`REST_FACTOR`).
        self._rested_at: dict[int, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def sync_after_commit(self, session: Session, account_ids: Iterable[int | None]) -> None:
        """Have these accounts' folders synced once `session`'s transaction commits.

        Nothing is synced if it rolls back. Each account is synced in the trace of
        the last message that named it. Callable from any thread.
        """
        if not self._views.declared:
            return
        due: dict[int, str | None] | None = session.info.get(_DUE)
        if due is None:
            due = session.info[_DUE] = {}
            event.listen(session, "after_commit", self._committed, once=True)
        for account_id in account_ids:
            if account_id is not None:
                due.pop(account_id, None)
                due[account_id] = current_trace_id()

    def _committed(self, session: Session) -> None:
        due: dict[int, str | None] = session.info.pop(_DUE, {})
        with self._lock:
            for account_id, trace_id in due.items():
                self._owed.pop(account_id, None)
                self._owed[account_id] = trace_id
        loop = self._loop
        if due and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.wake)

    async def start(self) -> None:
        """Note the event loop that committing threads wake the syncer on."""
        self._loop = asyncio.get_running_loop()

    async def run(self) -> None:
        """Sync what is owed, each account once it has rested, until stopped; then
        sync what is still owed, at once."""
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.begin_round()
            stopping = self._wakeup.stopping
            now = loop.time()
            with self._lock:
                ready = {
                    account_id: trace_id
                    for account_id, trace_id in self._owed.items()
                    if stopping or self._wait(account_id, now) == 0.0
                }
                for account_id in ready:
                    del self._owed[account_id]
            if ready:
                started = loop.time()
                await asyncio.to_thread(self._sync, ready)
                if self._on_synced is not None:
                    self._on_synced()
                ended = loop.time()
                for account_id in ready:
                    self._rested_at[account_id] = ended + (ended - started) * REST_FACTOR
            if stopping:
                return
            await self._wakeup.pause(self._next_wait(loop.time()))

    def _next_wait(self, now: float) -> float | None:
        """Seconds until the first owed account may be synced; None if none is owed."""
        with self._lock:
            waits = [self._wait(account_id, now) for account_id in self._owed]
        return min(waits) if waits else None

    def _wait(self, account_id: int, now: float) -> float:
        """Seconds until the account's folders may be synced again (0: now)."""
        return max(self._rested_at.get(account_id, now) - now, 0.0)

    def _sync(self, ready: dict[int, str | None]) -> None:
        """Sync each account of `ready` in its trace, in one transaction."""
        try:
            with self._database.writing() as session, session.begin():
                for account_id, trace_id in ready.items():
                    with traced(trace_id):
                        self._views.sync(session, [account_id])
        except Exception:
            # The next change or login of these accounts syncs them again.
            log.exception("app folders of accounts %s not synced", sorted(ready))

    async def stop(self) -> None:
        """Sync what is owed, then return."""
        self._wakeup.stop()
