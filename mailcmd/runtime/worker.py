"""The worker: claims stored messages in batches, runs their commands off the event loop, retries.

Claims are rows in the database: a claim token and a lease. Each batch is processed
in one transaction, in a thread of its own (see `batches`). Several workers, in one
process or many, claim with `FOR UPDATE SKIP LOCKED` where the database has it
(PostgreSQL) and one writer at a time where it has not (SQLite); they are woken by
the receiver of their own process directly and by other processes' through the
notifier (`mailcmd.db.notifier`). A worker that dies leaves a lease that runs out;
the message is then claimed again.
"""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from functools import partial

from mailcmd.db.database import Database
from mailcmd.db.models import QueueStatus
from mailcmd.db.queue_states import FINAL
from mailcmd.db.queue_timing import lease_for, retry_delay
from mailcmd.operations.metrics.instruments import count_processed
from mailcmd.operations.traces import traced
from mailcmd.runtime.attempts import Attempt, Batch, Outcome, time_limit_passed
from mailcmd.runtime.claims import ClaimedMessage, claim_ready
from mailcmd.runtime.handler_threads import HandlerThreads
from mailcmd.runtime.outcomes import Outcomes
from mailcmd.runtime.processing import Processor
from mailcmd.runtime.services import Wakeup
from mailcmd.settings import WorkerSettings

log = logging.getLogger(__name__)

# A batch is claimed, processed and committed together: one claim and one commit
# for this many messages, at the price of a message waiting for those before it in
# its batch, and of a burst being shared less evenly between several workers.
MESSAGES_PER_BATCH = 10
# How often the loop looks at which message of a batch runs, for its time limit.
CHECK_SECONDS = 0.05
# After a claim fails (the database away for a moment), the loop waits this long,
# doubling with each failure in a row up to the most: it recovers quickly from a
# blip and never hammers a database that is down.
CLAIM_RETRY_SECONDS = 0.1
CLAIM_RETRY_MAX_SECONDS = 10.0


class Worker:
    """Processes the inbound queue until stopped, `concurrency` batches at a time (a `Service`)."""

    name = "worker"

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
        self._wakeup = Wakeup()
        self._running: set[asyncio.Task[None]] = set()
        self._batches: set[Batch] = set()
        # What ended a batch that could not even record its failure (the database gone
        # under it): the worker stops, and `run` raises it.
        self._fault: BaseException | None = None
        # Batches get threads of their own, so that slow handlers never starve the
        # receiver's database work; one given up on is replaced, so there are always
        # `concurrency` of them for the batches in hand.
        self._threads = HandlerThreads(settings.concurrency, "mailcmd-handler")
        self._outcomes = outcomes
        self._on_done = on_done

    def wake(self) -> None:
        """Look for work now (a message was just stored, here or by another process)."""
        self._wakeup.wake()

    async def start(self) -> None:
        """Nothing to take before the work begins."""

    async def stop(self) -> None:
        """Stop claiming; `run` then waits for the messages in hand, and returns."""
        self._wakeup.stop()

    async def run(self) -> None:
        """Claim and process messages until stopped; then finish those in hand.

        Messages claimed but not begun when the stop comes go back to the queue.
        """
        await self._claim_until_stopped()
        for batch in self._batches:
            # Messages not yet begun are handed back, so that stopping waits only for
            # the one running in each batch.
            batch.stopping.set()
        if self._running:
            log.info(
                "worker stopping: waiting for %d batch(es) in hand; messages not begun go back"
                " to the queue",
                len(self._running),
            )
            await asyncio.wait(self._running)
        # Handlers given up on hold no thread of the pool, and whatever they still do
        # is rolled back when they end: they are waited for one time limit at most,
        # so that they give their connections back before the database closes.
        await asyncio.to_thread(self._threads.stop, self._settings.handler_timeout)
        if self._fault is not None:
            raise self._fault

    async def _claim_until_stopped(self) -> None:
        # Not cancelled by a stop: a claim in a thread must finish before the database
        # closes, so the loop ends between claims.
        loop = asyncio.get_running_loop()
        failures = 0  # claims that failed in a row
        while not self._wakeup.stopping:
            # Cleared before claiming: a wake-up during the claim is not lost.
            self._wakeup.begin_round()
            wait = self._settings.poll_seconds
            while len(self._running) < self._settings.concurrency and not self._wakeup.stopping:
                try:
                    claims = await loop.run_in_executor(None, self._claim, MESSAGES_PER_BATCH)
                except Exception:
                    failures += 1
                    wait = retry_delay(failures, CLAIM_RETRY_SECONDS, CLAIM_RETRY_MAX_SECONDS)
                    reference = secrets.token_hex(6)
                    log.exception(
                        "claiming messages failed (reference %s); trying again in %.1f s",
                        reference,
                        wait,
                    )
                    break
                failures = 0
                if not claims:
                    break
                task = asyncio.create_task(self._handle(claims))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                task.add_done_callback(self._batch_ended)
            await self._wakeup.pause(wait)

    def _batch_ended(self, task: "asyncio.Task[None]") -> None:
        fault = None if task.cancelled() else task.exception()
        if fault is None:
            # A finished batch frees a slot: look for more work.
            self._wakeup.wake()
        elif self._fault is None:
            self._fault = fault
            self._wakeup.stop()

    async def _handle(self, claims: list[ClaimedMessage]) -> None:
        batch = Batch([Attempt(claim) for claim in claims])
        self._batches.add(batch)
        try:
            made = await self._process(batch)
        except Exception as error:
            log.exception("a batch of %d messages failed as a whole", len(claims))
            if len(claims) > 1:
                # Nothing of it was committed: each message alone, so that one that
                # breaks the transaction is not counted against the others.
                for claim in claims:
                    await self._handle([claim])
                return
            attempt = Attempt(claims[0])
            outcome = await self._threads.run(
                partial(self._processor.record_failure, attempt, error)
            )
            made = [(attempt, outcome)]
        finally:
            self._batches.discard(batch)
        for attempt, outcome in made:
            count_processed(outcome, attempt.message.received_at)
            with traced(attempt.message.trace_id):
                self._report(attempt.queue_id, outcome)

    async def _process(self, batch: Batch) -> list[tuple[Attempt, Outcome]]:
        """Run `batch` in a thread, giving up on a handler past its time limit.

        A handler given up on is interrupted, and its message fails in the batch. One
        that does not stop within half a time limit more (blocked outside Python)
        makes the loop give up on the whole batch, which then never commits: that
        message's failure is recorded on its own, before its lease runs out, and the
        others are claimed again when theirs do.
        """
        work = self._threads.submit(partial(self._processor.process_batch, batch))
        limit = self._settings.handler_timeout
        while True:
            wait = min(limit, CHECK_SECONDS)
            running = batch.running
            started = running.started_at if running is not None else None
            if running is not None and started is not None:
                late = time.monotonic() - started - limit
                if late < 0:
                    wait = max(-late, CHECK_SECONDS)
                elif running.abandon() and late >= limit / 2 and batch.give_up():
                    work.abandon()
                    reason = time_limit_passed(limit)
                    outcome = await self._threads.run(
                        partial(self._processor.record_failure, running, reason)
                    )
                    return [(running, outcome)]
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(work.result), wait)

    def _report(self, queue_id: int, outcome: Outcome) -> None:
        if outcome.detail:
            log.info("message %d: %s %s", queue_id, outcome.status, outcome.detail)
        else:
            log.info("message %d: %s", queue_id, outcome.status)
        if outcome.retry_in is not None:
            asyncio.get_running_loop().call_later(outcome.retry_in, self.wake)
        if outcome.status == QueueStatus.DONE and self._on_done is not None:
            self._on_done()
        if outcome.status in FINAL:
            self._outcomes.publish(queue_id, outcome)

    def _claim(self, limit: int) -> list[ClaimedMessage]:
        token = secrets.token_hex(16)
        # One message's lease, not the batch's: a crash is noticed as soon. A message
        # whose lease runs out while it waits in a long batch may be claimed again; the
        # older claim then finds its token gone when it finishes, and rolls back.
        lease = lease_for(self._settings.handler_timeout)
        with self._database.writing() as session, session.begin():
            claims = claim_ready(session.connection(), token, lease, limit)
        for claim in claims:
            with traced(claim.trace_id):
                log.info("message %d claimed: attempt %d", claim.id, claim.attempts)
        return claims
