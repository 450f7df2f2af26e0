"""The worker: claims stored messages, runs their commands off the event loop, retries.

Claims are rows in the database: a claim token and a lease. Several workers, in
one process or many, claim with `FOR UPDATE SKIP LOCKED` where the database has it
(PostgreSQL) and one writer at a time where it has not (SQLite); they are woken by
the receiver of their own process directly and by other processes' through the
notifier (`mailcmd.db.notifier`). A worker that dies leaves a lease that runs out;
the message is then claimed again.
"""

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import and_, or_, select, update

from mailcmd.db.database import Database
from mailcmd.db.models import InboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.handler_threads import HandlerThreads
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


@dataclass(frozen=True)
class _Claim:
    queue_id: int
    token: str
    attempts: int


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
        self._backlog: deque[_Claim] = deque()
        self._main: asyncio.Task[None] | None = None
        # Handlers get threads of their own, so that slow ones never starve the
        # receiver's database work; one given up on is replaced, so there are always
        # `concurrency` of them for the messages in hand.
        self._threads = HandlerThreads(settings.concurrency, "mailcmd-handler")
        self._outcomes = outcomes
        self._on_done = on_done

    def wake(self) -> None:
        """Look for work now (a message was just stored, here or by another process)."""
        self._wakeup.set()

    def start(self) -> None:
        """Start working on the running loop."""
        self._main = asyncio.create_task(self._run(), name="mailcmd-worker")

    async def stop(self) -> None:
        """Stop claiming, and wait for the messages in hand to finish."""
        self._stopping = True
        self._wakeup.set()
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

    async def _handle(self, claim: _Claim) -> None:
        attempt = Attempt(queue_id=claim.queue_id, claim_token=claim.token)
        if claim.attempts > self._settings.max_attempts:
            # Claimed again after a worker died on it too many times: a poison message.
            reason = f"gave up after {claim.attempts - 1} attempts that never finished"
            outcome = await self._threads.run(
                partial(self._processor.record_failure, attempt, reason)
            )
            self._report(claim.queue_id, outcome)
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
        self._report(claim.queue_id, outcome)

    def _report(self, queue_id: int, outcome: Outcome) -> None:
        log.info("message %d: %s %s", queue_id, outcome.status, outcome.detail)
        if outcome.retry_in is not None:
            asyncio.get_running_loop().call_later(outcome.retry_in, self.wake)
        if outcome.status == "done" and self._on_done is not None:
            self._on_done()
        if outcome.status in FINAL_STATUSES:
            self._outcomes.publish(queue_id, outcome)

    def _claim(self, limit: int) -> list[_Claim]:
        now = utc_now()
        ready = or_(
            and_(
                InboundMessage.status.in_([QueueStatus.QUEUED, QueueStatus.DEFERRED]),
                InboundMessage.next_attempt_at <= now,
            ),
            and_(
                InboundMessage.status == QueueStatus.PROCESSING,
                InboundMessage.claimed_until < now,
            ),
        )
        candidates = select(InboundMessage.id).where(ready).order_by(InboundMessage.id).limit(limit)
        if self._database.capabilities.skip_locked:
            candidates = candidates.with_for_update(skip_locked=True)
        token = secrets.token_hex(16)
        lease = timedelta(seconds=self._settings.handler_timeout * LEASE_FACTOR)
        with self._database.writing() as session, session.begin():
            ids = list(session.scalars(candidates))
            if not ids:
                return []
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.id.in_(ids))
                .values(
                    status=QueueStatus.PROCESSING,
                    claim_token=token,
                    claimed_until=now + lease,
                    attempts=InboundMessage.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(InboundMessage.id, InboundMessage.attempts)
                .where(InboundMessage.id.in_(ids))
                .where(InboundMessage.claim_token == token)
            ).all()
        return [_Claim(queue_id=row[0], token=token, attempts=row[1]) for row in rows]

    def _release(self, claims: list[_Claim]) -> None:
        # Back to the queue as if never claimed: the attempt was not made.
        with self._database.writing() as session, session.begin():
            for claim in claims:
                session.execute(
                    update(InboundMessage)
                    .where(InboundMessage.id == claim.queue_id)
                    .where(InboundMessage.claim_token == claim.token)
                    .values(
                        status=QueueStatus.QUEUED,
                        claim_token=None,
                        claimed_until=None,
                        attempts=InboundMessage.attempts - 1,
                    )
                    .execution_options(synchronize_session=False)
                )
