"""The worker: claims stored messages, runs their commands off the event loop, retries.

Claims are rows in the database: a claim token and a lease. With PostgreSQL several
workers claim with `FOR UPDATE SKIP LOCKED` and wake on `LISTEN/NOTIFY`; with SQLite
the receiver in the same process wakes the worker directly. A worker that dies
leaves a lease that runs out; the message is then claimed again.
"""

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import psycopg

from mailcmd.claims import ClaimedMessage, claim_ready, release
from mailcmd.db.database import Database
from mailcmd.db.engine import is_sqlite
from mailcmd.handler_threads import HandlerThreads
from mailcmd.inbound import NEW_MAIL_CHANNEL
from mailcmd.outcomes import Outcomes
from mailcmd.processing import Attempt, Outcome, Processor
from mailcmd.settings import WorkerSettings

log = logging.getLogger(__name__)

# A claim lasts this many times the handler's time limit, so that a slow commit
# after a handler that just made it is not taken for a dead worker.
LEASE_FACTOR = 2.0
FINAL_STATUSES = frozenset({"done", "failed"})
# A claim takes up to this many times `concurrency` messages, the ones beyond the
# free slots waiting in memory: fewer claim transactions, at the price of a burst
# being shared less evenly between several workers.
CLAIMED_PER_SLOT = 2


class Worker:
    """Processes the inbound queue until stopped, `concurrency` messages at a time."""

    def __init__(
        self,
        settings: WorkerSettings,
        database: Database,
        processor: Processor,
        outcomes: Outcomes[Outcome],
        on_done: Callable[[], None] | None = None,
    ) -> None:
        """Work on `database`'s inbound queue with `processor`.

        Each message's final outcome (done, or failed for good) is published to
        `outcomes` by its id; `on_done` hears of each success.
        """
        self._settings = settings
        self._database = database
        self._processor = processor
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._running: set[asyncio.Task[None]] = set()
        # Claimed messages waiting for a free slot: claiming several at once costs one
        # write transaction instead of one per message. At most `concurrency` wait,
        # so each starts within one handler's time limit, well inside its lease.
        self._backlog: deque[ClaimedMessage] = deque()
        self._main: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        # Handlers get threads of their own, so that slow ones never starve the
        # receiver's database work; one given up on is replaced, so there are always
        # `concurrency` of them for the messages in hand.
        self._threads = HandlerThreads(settings.concurrency, "mailcmd-handler")
        self._outcomes = outcomes
        self._on_done = on_done

    def wake(self) -> None:
        """Look for work now (a message was just stored)."""
        self._wakeup.set()

    def start(self) -> None:
        """Start working on the running loop."""
        self._main = asyncio.create_task(self._run(), name="mailcmd-worker")
        if not is_sqlite(self._database.engine.url):
            self._listener = asyncio.create_task(self._listen(), name="mailcmd-worker-listen")

    async def stop(self) -> None:
        """Stop claiming, and wait for the messages in hand to finish."""
        self._stopping = True
        self._wakeup.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._main is not None:
            # Not cancelled: a claim in a thread must finish before the database closes.
            await self._main
        if self._backlog:
            # Handed back rather than run, so that stopping waits only for what runs.
            unstarted = list(self._backlog)
            self._backlog.clear()
            await asyncio.get_running_loop().run_in_executor(None, self._release, unstarted)
        if self._running:
            await asyncio.wait(self._running)
        # Handlers given up on are not waited for: they hold no thread of the pool,
        # and whatever they still do is rolled back when they end.
        await asyncio.to_thread(self._threads.stop)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        concurrency = self._settings.concurrency
        while not self._stopping:
            # Cleared before claiming: a wake-up during the claim is not lost.
            self._wakeup.clear()
            wanted = CLAIMED_PER_SLOT * concurrency - len(self._running)
            if not self._backlog and wanted > 0:
                self._backlog.extend(await loop.run_in_executor(None, self._claim, wanted))
            while self._backlog and len(self._running) < concurrency:
                task = asyncio.create_task(self._handle(self._backlog.popleft()))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                # A finished message frees a slot: look for more work.
                task.add_done_callback(lambda _: self._wakeup.set())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._settings.poll_seconds)

    async def _handle(self, claim: ClaimedMessage) -> None:
        attempt = Attempt(claim)
        if claim.attempts > self._settings.max_attempts:
            # Claimed again after a worker died on it too many times: a poison message.
            reason = f"gave up after {claim.attempts - 1} attempts that never finished"
            outcome = await self._threads.run(
                partial(self._processor.record_failure, attempt, reason)
            )
            self._report(claim.id, outcome)
            return
        work = self._threads.submit(partial(self._processor.process, attempt))
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(work.result), self._settings.handler_timeout
            )
        except TimeoutError:
            if attempt.abandon():
                # Rolled back, never committed: its thread can be taken from it.
                work.abandon()
                reason = f"the handler ran longer than {self._settings.handler_timeout:g} s"
                outcome = await self._threads.run(
                    partial(self._processor.record_failure, attempt, reason)
                )
            else:
                outcome = await work.result
        self._report(claim.id, outcome)

    def _report(self, queue_id: int, outcome: Outcome) -> None:
        log.info("message %d: %s %s", queue_id, outcome.status, outcome.detail)
        if outcome.retry_in is not None:
            asyncio.get_running_loop().call_later(outcome.retry_in, self.wake)
        if outcome.status == "done" and self._on_done is not None:
            self._on_done()
        if outcome.status in FINAL_STATUSES:
            self._outcomes.publish(queue_id, outcome)

    def _claim(self, limit: int) -> list[ClaimedMessage]:
        token = secrets.token_hex(16)
        lease = timedelta(seconds=self._settings.handler_timeout * LEASE_FACTOR)
        with self._database.writing() as session, session.begin():
            return claim_ready(session.connection(), token, lease, limit)

    def _release(self, claims: list[ClaimedMessage]) -> None:
        with self._database.writing() as session, session.begin():
            release(session.connection(), claims)

    async def _listen(self) -> None:
        # Other processes' receivers announce new mail on a channel; a lost
        # connection only delays work until the next poll, so it is retried quietly.
        url = self._database.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stopping:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {NEW_MAIL_CHANNEL}")
                    async for _ in connection.notifies():
                        self._wakeup.set()
            except psycopg.Error as error:
                log.warning("listening for new mail failed, polling meanwhile: %s", error)
                await asyncio.sleep(self._settings.poll_seconds)
